// Course chapter "Actors and restarts" (docs/learn/08-actors.md). A counter actor that may
// restart once lives on node-1; the fault plan kills node-1 at 100 ms. The GCS restarts the actor
// elsewhere with a new epoch (its state starts over) and the caller's next call reaches the new
// incarnation.
import type { Ray } from "../../src/api/ray.ts";

export default async function actorRestart(ray: Ray): Promise<number[]> {
  class Counter {
    n = 0;
    add(): number { return ++this.n; }
  }
  const c = ray.remote(Counter, { maxRestarts: 1, maxTaskRetries: 1, schedulingStrategy: { nodeId: "node-1", soft: true } }).remote();
  const before = await ray.get(c.add.remote());
  await ray.sleep(1000); // node-1 dies meanwhile
  const after = await ray.get(c.add.remote());
  return [before, after];
}
