// Course chapter "The hybrid scheduling policy and spillback" (docs/learn/04-hybrid-policy.md).
// Eight 20 ms tasks submitted at once on three 2-CPU nodes: the head's raylet keeps work local
// while its node is below half load, then spills lease requests back to the least loaded of the
// other nodes.
import type { Ray } from "../../src/api/ray.ts";

export default async function hybrid(ray: Ray): Promise<string[]> {
  const work = ray.remote(async (i: number) => {
    await ray.sleep(20);
    return `${i}@${ray.context.nodeId}`;
  });
  return ray.get([0, 1, 2, 3, 4, 5, 6, 7].map((i) => work.remote(i)));
}
