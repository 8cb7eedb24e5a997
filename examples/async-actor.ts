// An async actor: its methods return promises, so calls overlap (up to maxConcurrency, 1000 by
// Run it: `tsray sim examples/async-actor.ts --seed 1 --nodes 2`  →  { results: [0, 10, 20, 30], peak: 4 }
// default, as in Ray's asyncio actors). Here four `work` calls wait together on one signal that
// a fifth call sets: on a serial actor the first `work` would wait forever.
import type { Ray } from "../src/api/ray.ts";

export default async function asyncActor(ray: Ray) {
  class Gate {
    open = false;
    running = 0;
    peak = 0;
    async work(i: number): Promise<number> {
      this.running++;
      this.peak = Math.max(this.peak, this.running);
      while (!this.open) await ray.sleep(5);
      this.running--;
      return i * 10;
    }
    async release(): Promise<void> { this.open = true; }
    peakConcurrency(): number { return this.peak; }
  }
  const gate = ray.remote(Gate).remote();
  const results = [0, 1, 2, 3].map((i) => gate.work.remote(i));
  await ray.sleep(50); // all four are now waiting for the signal
  await ray.get(gate.release.remote());
  return { results: await ray.get(results), peak: await ray.get(gate.peakConcurrency.remote()) };
}
