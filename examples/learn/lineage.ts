// Course chapter "Lineage reconstruction" (docs/learn/07-lineage.md). A 160 kB result lives only
// in node-1's store; the driver waits for it without fetching it (fetchLocal: false; by default a
// wait copies the value to the driver's node, as Ray's does), then sleeps 1 s (virtual) while the
// chapter's fault plan kills node-1 at 100 ms. Reading it afterwards, the owner finds every copy
// gone and re-runs the task that made it, on another node. The program never sees the failure.
import type { Ray } from "../../src/api/ray.ts";

export default async function lineage(ray: Ray): Promise<number> {
  const make = ray.remote((n: number) => new Float64Array(n).fill(7)).options({ schedulingStrategy: { nodeId: "node-1", soft: true } });
  const ref = make.remote(20_000);
  await ray.wait([ref], { fetchLocal: false }); // the only copy stays on node-1
  await ray.sleep(1000); // node-1 dies meanwhile (the fault plan's kill-node at 100 ms)
  return (await ray.get(ref))[0];
}
