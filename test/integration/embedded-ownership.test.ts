// Ownership on the embedded cluster (real worker threads): refs nested in values, refs kept by an
// actor, refs passed on by borrowers, an actor handle passed on before its actor is registered,
// and refs freed when dropped — explicitly or by the GC.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import * as ray from "../../src/index.ts";
import type { ObjectRef } from "../../src/api/handles.ts";
import { actorDropsRefs } from "../helpers/actor-churn.ts";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const BIG = 20_000;
const storeCount = () => ray.cluster()!.storeStats().head.store.count;

before(async () => { await ray.init({ numCpus: 2 }); });
after(async () => { await ray.shutdown(); });

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (ok()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

for (const large of [false, true]) {
  test(`a ref nested in a ${large ? "large" : "small"} return value is readable after its task ended`, async () => {
    const make = ray.remote(async (n: number, pad: boolean) => ({ inner: await ray.put(new Float64Array(n).fill(5)), pad: pad ? new Float64Array(n) : 0 }));
    const v = (await ray.get(make.remote(BIG, large))) as { inner: ObjectRef<Float64Array> };
    await new Promise((r) => setTimeout(r, 100));
    const inner = await ray.get(v.inner);
    assert.deepEqual([inner.length, inner[0]], [BIG, 5]);
  });
}

test("an actor's dropped refs are freed once its thread collects them: the puts it made, the refs its arguments held", async () => {
  await actorDropsRefs(ray.driver(), storeCount, BIG);
});

test("a handle passed to a task before its actor is registered (its constructor's argument still computing) reaches the actor", async () => {
  const slow = ray.remote(async (x: number) => { await new Promise((r) => setTimeout(r, 200)); return x; });
  class Holder { constructor(readonly v: number) {} get() { return this.v; } }
  const a = ray.remote(Holder).remote(slow.remote(7));
  const viaTask = ray.remote(async (h: typeof a) => ray.get(h.get.remote()));
  assert.equal(await ray.get(viaTask.remote(a)), 7);
});

test("a ref stored in an actor is read after the driver released its own", async () => {
  class Holder {
    held: ObjectRef<Float64Array> | undefined;
    hold(box: { r: ObjectRef<Float64Array> }) { this.held = box.r; return 1; }
    async read() { return (await ray.get(this.held!))[0]; }
  }
  const h = ray.remote(Holder).remote();
  const ref = await ray.put(new Float64Array(BIG).fill(4));
  await ray.get(h.hold.remote({ r: ref }));
  ray.release(ref);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(await ray.get(h.read.remote()), 4);
});

test("a ref passed task → task → actor is read by the actor after the driver released its own", async () => {
  class Keeper {
    kept: ObjectRef<Float64Array> | undefined;
    keep(box: { r: ObjectRef<Float64Array> }) { this.kept = box.r; return 1; }
    async read() { return (await ray.get(this.kept!))[0]; }
  }
  type Keep = { keep: { remote(b: unknown): ObjectRef<number> } };
  type Fn = { remote(...a: unknown[]): ObjectRef<number> };
  const k = ray.remote(Keeper).remote();
  const second = ray.remote(async (box: { r: ObjectRef<Float64Array> }, keeper: Keep) => ray.get(keeper.keep.remote({ r: box.r })));
  const first = ray.remote(async (box: { r: ObjectRef<Float64Array> }, next: Fn, keeper: Keep) => ray.get(next.remote({ r: box.r }, keeper)));
  const ref = await ray.put(new Float64Array(BIG).fill(9));
  await ray.get(first.remote({ r: ref }, second as never, k as never));
  ray.release(ref);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(await ray.get(k.read.remote()), 9);
});

test("dropped refs are freed when the garbage collector takes them: the store count is back to its baseline", async () => {
  const base = storeCount();
  await (async () => {
    for (let i = 0; i < 8; i++) await ray.put(new Float64Array(BIG).fill(i)); // dropped at once
  })();
  assert.ok(storeCount() > base, "the puts reached the store");
  // At or below: earlier tests' dropped results may go in the same collection.
  await until("the store back to its baseline", () => { gc(); return storeCount() <= base; });
});
