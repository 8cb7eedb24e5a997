// Course chapter "Placement groups" (docs/learn/11-placement-groups.md). Two 1-CPU bundles,
// STRICT_SPREAD: the GCS prepares them on two nodes, commits both (two-phase), and tasks run
// inside the bundles, charged to them rather than to their nodes.
import type { Ray } from "../../src/api/ray.ts";

export default async function placementGroups(ray: Ray): Promise<string[]> {
  const pg = ray.placementGroup({ bundles: [{ CPU: 1 }, { CPU: 1 }], strategy: "STRICT_SPREAD" });
  await ray.get(pg.ready()); // a ref to the reservation: get waits for it (an ObjectRef is not a promise)
  const where = ray.remote(() => ray.context.nodeId);
  const refs = [0, 1, 0, 1].map((i) => where.options({ placementGroup: pg, bundleIndex: i }).remote());
  const nodes = await ray.get(refs);
  ray.removePlacementGroup(pg);
  return nodes;
}
