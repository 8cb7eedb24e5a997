// A ref inside a stored value is held by that value: freeing the value lets the ref go too, as
// Ray's owner drops a freed object's nested refs. Checked before the driver exits (its exit
// frees everything at once, which would hide a ref kept for ever).
// A task's finish says whether its value holds refs its worker made: the results checker
// excuses a retry's different value only then.

import assert from "node:assert/strict";
import { test } from "node:test";
import { simulate } from "../../sim/simulate.ts";
import type { Ray } from "../../src/api/ray.ts";
import { formatViolations } from "../../spec/invariants/index.ts";

const NODES = [{ id: "head", resources: { CPU: 1 } }, { id: "node-1", resources: { CPU: 1 } }];

test("releasing a value that holds a ref lets that ref go, in the driver and in a task", async () => {
  const program = async (ray: Ray) => {
    const inner = await ray.put(new Float64Array(20_000).fill(1));
    const box = await ray.put({ r: inner });
    ray.release(inner); // the box still holds it
    await ray.sleep(50);
    ray.release(box);
    // In a task: its own put inside its own put, both dropped before it returns.
    const inTask = ray.remote(async () => {
      const i = await ray.put(new Float64Array(20_000).fill(2));
      const b = await ray.put({ r: i });
      ray.release(i);
      ray.release(b);
      await ray.sleep(50);
      return 0;
    });
    await ray.get(inTask.remote());
    await ray.sleep(100);
    return [inner.id, box.id];
  };
  const r = await simulate({ seed: 2, nodes: NODES, program });
  assert.equal(r.error, undefined, r.error?.stack);
  assert.deepEqual(r.violations, [], formatViolations(r.violations));
  // Before the driver's exit, which frees all it owns.
  const end = r.trace.findIndex((e) => e.kind === "owner.exited" && e.owner === "head/driver");
  const freedBeforeEnd = r.trace.slice(0, end).filter((e) => e.kind === "object.out-of-scope").map((e) => (e as { obj: string }).obj);
  const [innerId, boxId] = r.result as string[];
  assert.ok(freedBeforeEnd.includes(boxId), "the box was freed");
  assert.ok(freedBeforeEnd.includes(innerId), "the ref inside the box went with it");
  assert.equal(freedBeforeEnd.filter((id) => !id.startsWith("head/driver")).length, 2, "the task's put and the put holding it went before it returned");
});

test("a task's finish is traced as holding refs of its own only when its value holds a ref its worker made, beside others' or not", async () => {
  const program = async (ray: Ray) => {
    const mine = ray.remote(async () => ({ r: await ray.put(new Float64Array(20_000).fill(3)) }));
    const passedOn = ray.remote(async (box: { r: unknown }) => box);
    const plain = ray.remote(async () => 7);
    const mixed = ray.remote(async (box: { r: unknown }) => ({ ...box, mine: await ray.put(new Float64Array(20_000).fill(5)) }));
    const driverRef = await ray.put(new Float64Array(20_000).fill(4));
    await ray.get(mine.remote());
    await ray.get(passedOn.remote({ r: driverRef }));
    await ray.get(plain.remote());
    await ray.get(mixed.remote({ r: driverRef }));
    return 0;
  };
  const r = await simulate({ seed: 2, nodes: NODES, program });
  assert.equal(r.error, undefined, r.error?.stack);
  const finished = r.trace.filter((e) => e.kind === "task.finished" && e.ok);
  assert.deepEqual(finished.map((e) => (e as { ownsRefs?: true }).ownsRefs), [true, undefined, undefined, true]);
});

test("a ref held by a value a task owns outlives the task's scope: the value holds it until the value is freed", async () => {
  const program = async (ray: Ray) => {
    // A put of a box around a ref the task borrowed, and around one it put itself; the task
    // returns each box's ref, and the driver lets go of its own ref before it reads through them.
    const borrowedInBox = ray.remote(async (box: { r: unknown }) => ({ outer: await ray.put({ r: box.r }) }));
    const ownedInBox = ray.remote(async () => ({ outer: await ray.put({ r: await ray.put(6) }) }));
    const inner = await ray.put(5);
    const ra = borrowedInBox.remote({ r: inner });
    const a = (await ray.get(ra)) as { outer: never };
    ray.release(inner);
    const rb = ownedInBox.remote();
    const b = (await ray.get(rb)) as { outer: never };
    await ray.sleep(200); // both workers' scopes ended long ago
    const innerA = ((await ray.get(a.outer)) as { r: never }).r;
    const innerB = ((await ray.get(b.outer)) as { r: never }).r;
    const values = [await ray.get(innerA), await ray.get(innerB)];
    // Once the boxes go (the tasks' answers held them too) and so do the refs read from them,
    // what the boxes held goes, before the driver's exit frees all.
    for (const r of [ra, rb, a.outer, b.outer, innerA, innerB]) ray.release(r);
    await ray.sleep(200);
    return { values, innerId: inner.id };
  };
  for (const seed of [1, 2]) {
    const r = await simulate({ seed, nodes: NODES, program });
    assert.equal(r.error, undefined, r.error?.stack);
    assert.deepEqual(r.violations, [], formatViolations(r.violations));
    assert.deepEqual(r.result?.values, [5, 6]);
    const end = r.trace.findIndex((e) => e.kind === "owner.exited" && e.owner === "head/driver");
    const freed = r.trace.slice(0, end).filter((e) => e.kind === "object.out-of-scope").map((e) => (e as { obj: string }).obj);
    assert.ok(freed.includes(r.result!.innerId), "the driver's put went once the box around it did");
    assert.equal(freed.filter((id) => !id.startsWith("head/driver")).length, 3, "both boxes and the put inside one went before the driver's exit");
  }
});
