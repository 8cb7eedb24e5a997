// Course chapter "Autoscaling" (docs/learn/12-autoscaling.md). The head has no CPU for tasks:
// six 300 ms tasks wait as pending demands, the autoscaler launches worker nodes for them (up to
// its group's maxReplicas), and drains them again once they have been idle past the timeout.
import type { Ray } from "../../src/api/ray.ts";

export default async function autoscaling(ray: Ray): Promise<string[]> {
  const work = ray.remote(async () => { await ray.sleep(300); return ray.context.nodeId; });
  const nodes = await ray.get([1, 2, 3, 4, 5, 6].map(() => work.remote()));
  // Stay a while with nothing to do: the idle nodes are drained and removed.
  await ray.sleep(3_000);
  return nodes;
}
