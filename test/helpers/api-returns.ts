// numReturns as a Ray user meets it, written once and run on every host (simulator, embedded
// cluster, daemons): test/integration/api-returns.test.ts and daemons.test.ts hold each host to
// the same answers (Ray's).
import type { ObjectRef } from "../../src/api/handles.ts";
import type { Ray } from "../../src/api/ray.ts";

export interface ReturnsSeen {
  values: unknown[]; passedOn: number; separateIds: boolean; actorValues: unknown[]; single: unknown;
  wrongLength: string[]; taskError: string[]; refused: string[];
}

/** What each ref's get gives: its error's name and its cause's name and message, or the value. */
async function failures(ray: Ray, refs: readonly ObjectRef[]): Promise<string[]> {
  const out: string[] = [];
  for (const r of refs) {
    try { out.push(`ok:${JSON.stringify(await ray.get(r))}`); } catch (e) {
      const c = (e as Error & { cause?: Error }).cause;
      out.push(`${(e as Error).name}/${c?.name}: ${c?.message}`);
    }
  }
  return out;
}

export async function multipleReturns(ray: Ray): Promise<ReturnsSeen> {
  const three = ray.remote((x: number) => [x, `two-${x}`, { three: x * 3 }], { numReturns: 3 });
  const refs = three.remote(1) as unknown as ObjectRef[];
  const values = await ray.get(refs);
  const plusOne = ray.remote((x: number) => x + 1);
  const passedOn = await ray.get(plusOne.remote(refs[0] as ObjectRef<number>));
  const separateIds = new Set(refs.map((r) => r.id)).size === 3;
  class Pair { split(a: number, b: number): [number, number] { return [b, a]; } }
  const pair = ray.remote(Pair).remote();
  const actorValues = await ray.get(pair.split.options({ numReturns: 2 }).remote(1, 2) as unknown as ObjectRef[]);
  const single = await ray.get(ray.remote(() => [1, 2], { numReturns: 1 }).remote());
  const short = ray.remote(() => [1, 2], { numReturns: 3, maxRetries: 0 });
  const wrongLength = await failures(ray, short.remote() as unknown as ObjectRef[]);
  const throws = ray.remote((): number[] => { throw new RangeError("no values"); }, { numReturns: 2, maxRetries: 0 });
  const taskError = await failures(ray, throws.remote() as unknown as ObjectRef[]);
  const refused: string[] = [];
  for (const n of [0, 1.5, "dynamic"]) {
    try { ray.remote((x: number) => [x], { numReturns: n as never }); refused.push("accepted"); } catch (e) { refused.push((e as Error).message); }
  }
  return { values, passedOn, separateIds, actorValues, single, wrongLength, taskError, refused };
}

const WRONG = "TaskError/TypeError: remote function anonymous has numReturns: 3, so it must return an array of 3 values; it returned an array of 2";
export const EXPECTED_RETURNS: ReturnsSeen = {
  values: [1, "two-1", { three: 3 }], passedOn: 2, separateIds: true, actorValues: [2, 1], single: [1, 2],
  wrongLength: [WRONG, WRONG, WRONG],
  taskError: ["TaskError/RangeError: no values", "TaskError/RangeError: no values"],
  refused: [
    'anonymous: option "numReturns" must be an integer >= 1 or "streaming", got 0',
    'anonymous: option "numReturns" must be an integer >= 1 or "streaming", got 1.5',
    'anonymous: option "numReturns" must be an integer >= 1 or "streaming", got "dynamic"',
  ],
};
