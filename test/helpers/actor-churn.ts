// An actor that drops refs, for the real hosts' ownership tests (embedded cluster and daemons):
// there an actor's refs are released when its thread's garbage collector takes them, so the
// store goes back to its baseline once the actor collected. Not for the simulator, which never
// releases on collection.
import assert from "node:assert/strict";
import type { Ray } from "../../src/api/ray.ts";
import type { ObjectRef } from "../../src/api/handles.ts";

/**
 * The actor puts 8 objects of `big` doubles and drops them, then takes a put of the driver's in
 * its argument and drops that too (the driver releases its own). Asks the actor to collect
 * garbage until the store count is back to where it was before (its gc() is exposed by the test's
 * flags), within `tries` rounds.
 */
export async function actorDropsRefs(ray: Ray, storeCount: () => number | Promise<number>, big: number, tries = 200): Promise<void> {
  class Churn {
    async churn(n: number, size: number) {
      for (let i = 0; i < n; i++) await ray.put(new Float64Array(size).fill(i)); // made, and dropped
      return n;
    }
    look(box: { r: ObjectRef<Float64Array> }) { return box.r !== undefined; } // the argument's ref, dropped
    collect() { (globalThis as unknown as { gc(): void }).gc(); return 1; }
  }
  const c = ray.remote(Churn).remote();
  const opts = { timeoutMs: 30_000 };
  await ray.get(c.collect.remote(), opts);
  const base = await storeCount();
  await ray.get(c.churn.remote(8, big), opts);
  assert.ok((await storeCount()) >= base + 8, "the actor's puts reached the store");
  const arg = await ray.put(new Float64Array(big).fill(1));
  assert.equal(await ray.get(c.look.remote({ r: arg }), opts), true);
  ray.release(arg);
  for (let i = 0; i < tries && (await storeCount()) > base; i++) {
    await ray.get(c.collect.remote(), opts);
    await new Promise((r) => setTimeout(r, 50));
  }
  // At or below: the driver's earlier dropped refs may go meanwhile.
  const left = (await storeCount()) - base;
  assert.ok(left <= 0, `the store holds ${left} more objects than before the actor's calls`);
  ray.kill(c);
}
