// Streaming generators (Ray's ObjectRefGenerator) as a Ray user meets them, written once and run
// on every host (simulator, embedded cluster, daemons): test/integration/api-streaming.test.ts
// and daemons.test.ts hold each host to the same answers (Ray's).
import type { ObjectRef } from "../../src/api/handles.ts";
import type { ObjectRefGenerator } from "../../src/api/generator.ts";
import type { Ray } from "../../src/api/ray.ts";

/** Each item of a stream, in order: "ok:VALUE", or the name of the error its get throws and its cause's. */
async function drain(ray: Ray, gen: ObjectRefGenerator<unknown>): Promise<string[]> {
  const out: string[] = [];
  for await (const ref of gen) out.push(await outcome(ray, ref));
  return out;
}

async function outcome(ray: Ray, ref: ObjectRef, timeoutMs?: number): Promise<string> {
  try { return `ok:${JSON.stringify(await ray.get(ref, timeoutMs === undefined ? {} : { timeoutMs }))}`; } catch (e) {
    const c = (e as Error & { cause?: Error }).cause;
    return c ? `${(e as Error).name}/${c.name}: ${c.message}` : (e as Error).name;
  }
}

/** Polls `probe` until it holds (bounded: a host that never gets there fails the comparison, not the run). */
async function until(ray: Ray, probe: () => Promise<boolean>): Promise<boolean> {
  for (let i = 0; i < 400; i++) { if (await probe()) return true; await ray.sleep(10); }
  return false;
}

export interface StreamingSeen {
  values: string[]; asyncValues: string[]; firstBeforeFinish: string; errorLast: string[]; afterEnd: boolean;
  retried: string[]; attempts: number; heldAt: number; heldStill: number; bounded: string[]; yieldedInAll: number;
  cancelled: { prefix: string[]; last: string; ended: boolean }; actorValues: string[]; actorAsync: string[]; byName: string[]; byNamePlain: string[];
  passedOn: number; large: number[]; iteratedInTask: string; crashed?: string[];
}

/** `crash`: the retried generator kills its worker's thread once (embedded and daemons; the simulator kills workers by faults). */
export async function streamingGenerators(ray: Ray, opts: { crash?: boolean } = {}): Promise<StreamingSeen> {
  class Counter {
    n: Record<string, number> = {};
    inc(k: string): number { this.n[k] = (this.n[k] ?? 0) + 1; return this.n[k]; }
    get(k: string): number { return this.n[k] ?? 0; }
  }
  class Signal {
    opened = false;
    waiting: (() => void)[] = [];
    send(): void { this.opened = true; for (const w of this.waiting) w(); this.waiting = []; }
    async wait(): Promise<boolean> { if (!this.opened) await new Promise<void>((r) => this.waiting.push(r)); return true; }
  }
  // A task holding every CPU of a node iterates a generator pinned to that node: while next()
  // waits, the task lends its CPUs back (as in a get), so the generator runs (Ray's next() waits on
  // the item's ref, which does the same). A host that kept them would show GetTimeoutError.
  const node = (await ray.nodes()).filter((n) => n.alive).sort((a, b) => (b.resources.CPU ?? 0) - (a.resources.CPU ?? 0))[0];
  const there = { nodeId: node.nodeId, soft: false };
  const digits = ray.remote(function* digits() { yield 1; yield 2; });
  const summing = ray.remote(async (gen: any, where: any) => {
    let sum = 0;
    for await (const ref of gen.options({ schedulingStrategy: where }).remote()) sum += await ray.get(ref as ObjectRef<number>);
    return sum;
  });
  const summed = summing.options({ numCpus: node.resources.CPU, schedulingStrategy: there }).remote(digits, there);
  const iteratedInTask = await outcome(ray, summed, 20_000);
  if (iteratedInTask === "GetTimeoutError") ray.cancel(summed, { force: true }); // give the node back, so the rest can run

  const counter = ray.remote(Counter).remote();

  // Order: one ref per yielded value, in order, then the end.
  const count = ray.remote(function* count(n: number) { for (let i = 0; i < n; i++) yield i * 10; });
  const values = await drain(ray, count.remote(4));
  const asyncGen = ray.remote(async function* letters(n: number) { for (let i = 0; i < n; i++) { await ray.sleep(1); yield `v${i}`; } });
  const asyncValues = await drain(ray, asyncGen.remote(3));

  // Streaming: the first item reaches the caller while the task still waits for the caller's signal.
  const signal = ray.remote(Signal).remote();
  const gated = ray.remote(async function* gated(s: any) { yield "first"; await ray.get(s.wait.remote()); yield "second"; });
  const g = gated.remote(signal);
  const first = await g.next();
  const firstBeforeFinish = first.done ? "done" : await outcome(ray, first.value);
  signal.send.remote();
  await drain(ray, g);

  // An exception ends the stream with one more item whose get throws the task's error; next() then says done.
  const failing = ray.remote(function* failing() { yield 1; yield 2; throw new RangeError("boom"); }, { maxRetries: 0 });
  const fg = failing.remote();
  const errorLast = await drain(ray, fg);
  const afterEnd = (await fg.next()).done === true;

  // Retried (retryExceptions): the first attempt yields two items, then fails; the retry yields
  // them again (dropped by the owner) and goes on. The caller sees each item once, in order.
  const flaky = ray.remote(async function* flaky(c: any, crash: boolean) {
    const attempt = await ray.get(c.inc.remote("flaky"));
    for (let i = 0; i < 4; i++) {
      if (i === 2 && attempt === 1) {
        if (crash) (globalThis as any).process.exit(1);
        throw new Error("first attempt fails after two items");
      }
      yield `item${i}`;
    }
  }, { maxRetries: 2, retryExceptions: true });
  const retried = await drain(ray, flaky.remote(counter, false));
  const attempts = await ray.get(counter.get.remote("flaky"));
  let crashed: string[] | undefined;
  if (opts.crash) {
    const crashy = ray.remote(async function* crashy(c: any) {
      const attempt = await ray.get(c.inc.remote("crashy"));
      for (let i = 0; i < 4; i++) {
        if (i === 2 && attempt === 1) (globalThis as any).process.exit(1);
        yield `item${i}`;
      }
    }, { maxRetries: 2 });
    crashed = await drain(ray, crashy.remote(counter));
  }

  // Back-pressure: with generatorBackpressureNumObjects 2 the task holds after two unconsumed items.
  const producer = ray.remote(async function* producer(c: any) {
    for (let i = 0; i < 6; i++) { await ray.get(c.inc.remote("produced")); yield i; }
  }, { generatorBackpressureNumObjects: 2 });
  const pg = producer.remote(counter);
  await until(ray, async () => (await ray.get(counter.get.remote("produced"))) >= 2);
  const heldAt = await ray.get(counter.get.remote("produced"));
  await ray.sleep(100); // time for a producer that ignored the bound to run on
  const heldStill = await ray.get(counter.get.remote("produced"));
  const bounded = await drain(ray, pg);
  const yieldedInAll = await ray.get(counter.get.remote("produced"));

  // ray.cancel(generator): the stream ends with a TaskCancelledError item.
  const endless = ray.remote(function* endless() { for (let i = 0; ; i++) yield i; }, { generatorBackpressureNumObjects: 1 });
  const eg = endless.remote();
  const prefix = [await outcome(ray, (await eg.next()).value!), await outcome(ray, (await eg.next()).value!)];
  ray.cancel(eg);
  const rest = await drain(ray, eg);
  const cancelled = { prefix, last: rest[rest.length - 1] ?? "none", ended: (await eg.next()).done === true };

  // Actor methods that are generators stream too, through a handle from getActor as well (naming numReturns "streaming" or not).
  class Source {
    *range(n: number) { for (let i = 0; i < n; i++) yield i; }
    async *ticks(n: number) { for (let i = 0; i < n; i++) { await ray.sleep(1); yield `t${i}`; } }
  }
  const src = ray.remote(Source, { name: "streaming-source" }).remote();
  const actorValues = await drain(ray, src.range.remote(3));
  const actorAsync = await drain(ray, src.ticks.remote(2));
  const byNameHandle = await ray.getActor("streaming-source");
  const byName = await drain(ray, byNameHandle.range.options({ numReturns: "streaming" }).remote(2) as unknown as ObjectRefGenerator<unknown>);
  // The GCS tells a lookup which methods are generators, as Ray's handle knows them from the class.
  const byNamePlain = await drain(ray, byNameHandle.range.remote(2) as unknown as ObjectRefGenerator<unknown>);
  // Held to here: a lookup handle does not keep the actor alive, the program's handle does.
  ray.release(src);

  // Items are refs owned by the caller like any return: passed on to another task.
  const plusOne = ray.remote((x: number) => x + 1);
  const one = await count.remote(2).next();
  const passedOn = await ray.get(plusOne.remote(one.value as ObjectRef<number>));

  // Large items go through the executor's object store (over maxInlineBytes).
  const big = ray.remote(function* big() { for (let i = 1; i <= 2; i++) yield new Uint8Array(200_000).fill(i); });
  const large: number[] = [];
  for await (const ref of big.remote()) { const b = await ray.get(ref) as Uint8Array; large.push(b.length, b[0], b[b.length - 1]); }

  return {
    values, asyncValues, firstBeforeFinish, errorLast, afterEnd, retried, attempts, heldAt, heldStill, bounded, yieldedInAll, cancelled,
    actorValues, actorAsync, byName, byNamePlain, passedOn, large, iteratedInTask, ...(crashed ? { crashed } : {}),
  };
}

/** What Ray gives for the same program. */
export const EXPECTED_STREAMING: StreamingSeen = {
  values: ["ok:0", "ok:10", "ok:20", "ok:30"],
  asyncValues: ['ok:"v0"', 'ok:"v1"', 'ok:"v2"'],
  firstBeforeFinish: 'ok:"first"',
  errorLast: ["ok:1", "ok:2", "TaskError/RangeError: boom"],
  afterEnd: true,
  retried: ['ok:"item0"', 'ok:"item1"', 'ok:"item2"', 'ok:"item3"'],
  attempts: 2,
  heldAt: 2,
  heldStill: 2,
  bounded: ["ok:0", "ok:1", "ok:2", "ok:3", "ok:4", "ok:5"],
  yieldedInAll: 6,
  cancelled: { prefix: ["ok:0", "ok:1"], last: "TaskCancelledError", ended: true },
  actorValues: ["ok:0", "ok:1", "ok:2"],
  actorAsync: ['ok:"t0"', 'ok:"t1"'],
  byName: ["ok:0", "ok:1"],
  byNamePlain: ["ok:0", "ok:1"],
  passedOn: 1,
  large: [200_000, 1, 1, 200_000, 2, 2],
  iteratedInTask: "ok:3",
};
