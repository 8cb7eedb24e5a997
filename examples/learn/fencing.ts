// Course chapter "Fencing and split brain" (docs/learn/10-fencing.md). A parent task on node-1
// runs forty 100 ms children on workers it leases there and on node-2. A partition cuts
// node-1 off from the head from 50 ms to 750 ms: the GCS misses node-1's heartbeats and declares
// it dead, and the driver retries the parent on node-2. When the partition heals, node-1 learns it
// was declared dead and fences itself: it kills its workers, so the cut-off parent runs nothing more.
import type { Ray } from "../../src/api/ray.ts";

export default async function fencing(ray: Ray): Promise<number> {
  const parent = ray.remote(async (n: number) => {
    const child = ray.remote(async (i: number) => {
      await ray.sleep(100);
      return i;
    });
    const done = await ray.get(Array.from({ length: n }, (_, i) => child.remote(i)));
    return done.length;
  }).options({ schedulingStrategy: { nodeId: "node-1", soft: true } });
  return ray.get(parent.remote(40));
}
