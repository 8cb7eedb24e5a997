// Refs that arguments pass are in use until the task (or the actor) is done with them, whatever
// the submitter does with its own handles: refs nested in a value as well as refs passed as the
// argument itself; for an actor's constructor, until the actor is dead for good (a restart runs
// the constructor again, with the same arguments). Simulator programs, whose traces the checkers
// judge too.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Ray } from "../../src/api/ray.ts";
import type { ObjectRef } from "../../src/api/handles.ts";
import { simulate } from "../../sim/simulate.ts";
import { checkTrace } from "../../spec/index.ts";

const NODES = [{ id: "head", resources: { CPU: 1 } }, { id: "node-1", resources: { CPU: 2 } }];

async function run<T>(program: (ray: Ray) => Promise<T>) {
  const r = await simulate({ seed: 3, nodes: NODES, program, check: false });
  assert.equal(r.error, undefined);
  assert.deepEqual(checkTrace(r.trace, { expectEnd: true }).map((v) => `${v.invariant}: ${v.message}`), []);
  return r;
}

// Remote code, shipped as source: `ray` is the worker's, in its scope.
declare const ray: Ray;
const read = async (box: { r: ObjectRef<number> }) => (await ray.get(box.r)) + 1;
/** Returns the child's ref without waiting for it: the task's scope ends before the child reads. */
const parent = async (child: { remote(b: unknown): ObjectRef<number> }, v: number) => ({ r: child.remote({ r: await ray.put(v) }) });

test("a ref a task put and lent to its child inside a value outlives the task's scope", async () => {
  const r = await run(async (api) => {
    const box = await api.get(api.remote(parent).remote(api.remote(read) as never, 41)) as { r: ObjectRef<number> };
    return api.get(box.r);
  });
  assert.equal(r.result, 42);
});

class Holder {
  v: unknown;
  constructor(x: unknown) { this.v = x; }
  async read(): Promise<number> {
    const x = this.v as Float64Array | { r: ObjectRef<Float64Array> };
    return ArrayBuffer.isView(x) ? x[0] : (await ray.get(x.r))[0];
  }
}

for (const how of ["nested in a value", "passed large as the argument itself"] as const) {
  test(`an actor's constructor argument (${how}) stays in use after the driver released it, across a restart, until the actor is dead`, async () => {
    let id = "";
    const r = await run(async (api) => {
      const ref = await api.put(new Float64Array(16_384).fill(7));
      id = ref.id;
      const H = api.remote(Holder, { maxRestarts: 1 });
      const h = how === "nested in a value" ? H.remote({ r: ref }) : H.remote(ref);
      api.release(ref);
      await api.sleep(2_000);
      const first = await api.get(h.read.remote());
      api.kill(h, { noRestart: false }); // restarts: the constructor runs again
      await api.sleep(2_000);
      const again = await api.get(h.read.remote());
      api.kill(h);
      await api.sleep(2_000);
      return [first, again];
    });
    assert.deepEqual(r.result, [7, 7]);
    const dead = r.trace.findIndex((e) => e.kind === "actor.state" && e.state === "DEAD");
    const freed = r.trace.findIndex((e) => e.kind === "object.out-of-scope" && e.obj === id);
    assert.ok(dead >= 0 && freed > dead, `freed at event ${freed}, the actor dead at ${dead}: not held until it died, or never released`);
  });
}

// A task's borrow passed to two children: the first child's end leaves one pending hold, so the
// task's scope end drops only its own hold, and the second child's end the last one.
const slowRead = async (box: { r: ObjectRef<number> }) => { await ray.sleep(500); return (await ray.get(box.r)) + 1; };
const twoChildren = async (fast: { remote(b: unknown): ObjectRef<number> }, slow: { remote(b: unknown): ObjectRef<number> }, box: unknown) => {
  const first = fast.remote(box);
  const second = slow.remote(box);
  await ray.get(first); // the first child ends while the task runs; the second outlives its scope
  return { r: second };
};

test("a borrowed ref a task passes to two children is let go once the last of them ends, the task's scope ending between them", async () => {
  let id = "";
  const r = await run(async (api) => {
    const ref = await api.put(41);
    id = ref.id;
    const out = await api.get(api.remote(twoChildren).remote(api.remote(read) as never, api.remote(slowRead) as never, { r: ref })) as { r: ObjectRef<number> };
    api.release(ref);
    return api.get(out.r);
  });
  assert.equal(r.result, 42);
  const borrowers = (kind: "ref.borrowed" | "ref.unborrowed") => r.trace.flatMap((e) => (e.kind === kind && e.obj === id ? [e.borrower] : [])).sort();
  assert.ok(borrowers("ref.borrowed").length > 0, "nobody borrowed the ref");
  assert.deepEqual(borrowers("ref.unborrowed"), borrowers("ref.borrowed"), "a borrower never let the ref go");
});
