// A family of tasks for captureChildTasks, run the same on every host: a parent task in a
// one-bundle STRICT_PACK group that takes its node's every CPU (so nothing outside the group runs
// there) submits a child, a grandchild (through a nested task) and an actor, all naming no
// strategy, and two children that opt out: one naming DEFAULT, one `placementGroup: null`.

import type { Ray } from "../../src/api/ray.ts";

export interface Family { parent: string; child: string; grandchild: string; actor: string; named: string; none: string }

/** Runs the family (`cpus`: the CPUs of the group's one bundle, its node's all); returns the node each member ran on. */
export async function captureFamily(ray: Ray, captureChildTasks: boolean, cpus: number): Promise<Family> {
  const pg = ray.placementGroup({ bundles: [{ CPU: cpus }], strategy: "STRICT_PACK" });
  await ray.get(pg.ready(), { timeoutMs: 60_000 });
  const where = ray.remote(() => ray.context.nodeId);
  const nested = ray.remote(async (w: { remote(): unknown }) => ray.get(w.remote() as never));
  const W = ray.remote(class { where() { return ray.context.nodeId; } });
  const parent = ray.remote(async (w: typeof where, n: typeof nested, A: typeof W) => {
    const a = A.remote();
    const [child, grandchild, actor, named, none] = await ray.get([
      w.remote(), n.remote(w), a.where.remote(),
      w.options({ schedulingStrategy: "DEFAULT" }).remote(), w.options({ placementGroup: null }).remote(),
    ] as never[]);
    ray.kill(a);
    return { parent: ray.context.nodeId, child, grandchild, actor, named, none };
  });
  const out = await ray.get(parent.options({ placementGroup: pg, captureChildTasks }).remote(where, nested, W), { timeoutMs: 60_000 });
  ray.removePlacementGroup(pg);
  return out as Family;
}
