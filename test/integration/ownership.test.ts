// Ownership and borrowing on the simulator: Ray's results for refs nested in values, refs held
// by actors, refs passed on by a borrower, an actor handle passed on before its actor is
// registered, and dropped refs.

import assert from "node:assert/strict";
import { test } from "node:test";
import { simulate, type SimResult } from "../../sim/index.ts";
import type { Ray } from "../../src/api/ray.ts";
import type { ObjectRef } from "../../src/api/handles.ts";
import type { SeededBug } from "../../src/core/bugs.ts";

const cluster = [
  { id: "head", resources: { CPU: 1 } },
  { id: "node-1", resources: { CPU: 2 } },
];
/** Over the inline limit: the value lives in a store. */
const BIG = 20_000;

async function run<T>(program: (ray: Ray) => Promise<T>, bugs: SeededBug[] = []): Promise<SimResult<T>> {
  return simulate({ seed: 7, nodes: cluster, program, config: { bugs: new Set(bugs) } });
}

function clean(r: SimResult<unknown>): void {
  assert.equal(r.error, undefined);
  assert.deepEqual(r.violations, [], "invariant violations");
}

const storeCount = (r: SimResult<unknown>) => {
  let n = 0;
  for (const e of r.trace) {
    if (e.kind === "object.created" && e.comp === "store") n++;
    if (e.kind === "object.deleted") n--;
  }
  return n;
};

/** A task that puts a big value and returns its ref inside a (large or small) value. */
const makeNested = (ray: Ray, large: boolean) => ray.remote(async (n: number, pad: boolean) => {
  const inner = await ray.put(new Float64Array(n).fill(5));
  return { inner, pad: pad ? new Float64Array(n) : 0 };
}).options({ schedulingStrategy: { nodeId: "node-1", soft: false } }).remote(BIG, large) as unknown as ObjectRef<{ inner: ObjectRef<Float64Array> }>;

for (const large of [false, true]) {
  test(`a ref nested in a ${large ? "large" : "small"} return value is readable after its task ended`, async () => {
    const r = await run(async (ray) => {
      const outer = makeNested(ray, large);
      const v = await ray.get(outer);
      await ray.sleep(500); // the task's scope ended long ago
      const inner = await ray.get(v.inner);
      return [inner.length, inner[0]];
    });
    clean(r);
    assert.deepEqual(r.result, [BIG, 5]);
  });
}

test("a ref stored in an actor stays alive after the driver released its own", async () => {
  const r = await run(async (ray) => {
    class Keeper {
      kept: ObjectRef<Float64Array>[] = [];
      keep(box: { r: ObjectRef<Float64Array> }) { this.kept.push(box.r); return 1; }
      async read() { const v = await ray.get(this.kept[0]); return v[0] + v.length; }
    }
    const k = ray.remote(Keeper).remote();
    const ref = await ray.put(new Float64Array(BIG).fill(3));
    await ray.get(k.keep.remote({ r: ref }));
    ray.release(ref);
    await ray.sleep(500);
    return ray.get(k.read.remote());
  });
  clean(r);
  assert.equal(r.result, 3 + BIG);
});

test("a ref passed task → task → actor is read by the actor after the tasks and the driver let go", async () => {
  const r = await run(async (ray) => {
    class Keeper {
      kept: ObjectRef<Float64Array> | undefined;
      keep(box: { r: ObjectRef<Float64Array> }) { this.kept = box.r; return 1; }
      async read() { const v = await ray.get(this.kept!); return v[0]; }
    }
    const k = ray.remote(Keeper).remote();
    type Keep = { keep: { remote(b: unknown): ObjectRef<number> } };
    type Fn = { remote(...a: unknown[]): ObjectRef<number> };
    const second = ray.remote(async (box: { r: ObjectRef<Float64Array> }, keeper: Keep) => ray.get(keeper.keep.remote({ r: box.r })));
    const first = ray.remote(async (box: { r: ObjectRef<Float64Array> }, next: Fn, keeper: Keep) => ray.get(next.remote({ r: box.r }, keeper)));
    const ref = await ray.put(new Float64Array(BIG).fill(9));
    await ray.get(first.remote({ r: ref }, second as never, k as never));
    ray.release(ref);
    await ray.sleep(500);
    return ray.get(k.read.remote());
  });
  clean(r);
  assert.equal(r.result, 9);
});

test("a handle passed to a task before its actor is registered (its constructor's argument still computing) reaches the actor", async () => {
  const r = await run(async (ray) => {
    const slow = ray.remote(async (x: number) => { await ray.sleep(500); return x; });
    class Holder { constructor(readonly v: number) {} get() { return this.v; } }
    const a = ray.remote(Holder).remote(slow.remote(7));
    const viaTask = ray.remote(async (h: typeof a) => ray.get(h.get.remote()));
    return ray.get(viaTask.remote(a));
  });
  clean(r);
  assert.equal(r.result, 7);
});

test("a dropped ref is freed: the store count is back to its baseline", async () => {
  const r = await run(async (ray) => {
    for (let i = 0; i < 8; i++) ray.release(await ray.put(new Float64Array(BIG).fill(i)));
    const kept = await ray.put(new Float64Array(BIG).fill(1));
    // A value holding a ref, dropped: both go.
    const box = await ray.put({ r: kept, pad: new Float64Array(BIG) });
    ray.release(kept);
    ray.release(box);
    await ray.sleep(500);
    return 0;
  });
  clean(r);
  assert.equal(storeCount(r), 0);
});

test("seeded bug free-borrowed: the references checker sees a borrowed object freed", async () => {
  const r = await run(async (ray) => {
    class Keeper {
      kept: ObjectRef<Float64Array> | undefined;
      keep(box: { r: ObjectRef<Float64Array> }) { this.kept = box.r; return 1; }
    }
    const k = ray.remote(Keeper).remote();
    const ref = await ray.put(new Float64Array(BIG).fill(3));
    await ray.get(k.keep.remote({ r: ref }));
    ray.release(ref);
    await ray.sleep(500);
    return 0;
  }, ["free-borrowed"]);
  assert.ok(r.violations.some((v) => v.invariant === "references" && /still borrows/.test(v.message)), JSON.stringify(r.violations));
});
