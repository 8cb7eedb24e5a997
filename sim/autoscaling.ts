// The simulator's node provider: each worker group has `maxReplicas` simulated machines, down
// until the autoscaler asks for one; a machine starts after a seeded provisioning delay, or
// fails to start with a seeded probability, so scaling replays exactly from the seed.

import type { WorkerGroup } from "../src/core/autoscaler/autoscaler.ts";
import type { ResourceSet } from "../src/core/resources.ts";
import type { NodeId } from "../src/core/types.ts";
import type { Autoscaling } from "../src/runtime/autoscaler/config.ts";
import type { NodeProvider } from "../src/runtime/autoscaler/host.ts";
import type { SimCluster, SimNode } from "./cluster.ts";
import { Prng } from "./prng.ts";

export interface SimAutoscaling {
  readonly autoscaling: Autoscaling;
  /** How long a machine takes to start, uniform in [min, max] virtual ms. */
  readonly provisionMs: readonly [number, number];
  /** The share of launches whose machine fails to start. */
  readonly launchFailureRate: number;
}

/** The most machines a worker group may have in the simulator (each is a network endpoint). */
export const MAX_SIM_REPLICAS = 32;

/** A worker group's machine ids: `<group>-1` … `<group>-<maxReplicas>`. */
export function groupSlots(g: WorkerGroup): NodeId[] {
  if (g.maxReplicas > MAX_SIM_REPLICAS) throw new RangeError(`the simulator allows at most ${MAX_SIM_REPLICAS} replicas per worker group; ${g.name} has maxReplicas ${g.maxReplicas}`);
  return Array.from({ length: g.maxReplicas }, (_, i) => `${g.name}-${i + 1}`);
}

/** The standby machines of every group, to add to the simulated cluster's nodes. */
export function standbyNodes(a: Autoscaling): SimNode[] {
  return a.config.groups.flatMap((g) => groupSlots(g).map((id) => ({ id, resources: g.resources as ResourceSet, standby: true as const })));
}

export class SimNodeProvider implements NodeProvider {
  private readonly rng: Prng;
  /** Slots taken (starting, up, or stopping). */
  private readonly taken = new Set<NodeId>();
  private readonly first: { node: NodeId; group: string }[] = [];

  constructor(private readonly sim: SimCluster, private readonly cfg: SimAutoscaling) {
    this.rng = new Prng(sim.cfg.seed, "autoscaler");
    const [lo, hi] = cfg.provisionMs;
    if (!(lo >= 0 && hi >= lo)) throw new RangeError(`provisionMs must be [min, max] with 0 <= min <= max, got [${lo}, ${hi}]`);
    if (!(cfg.launchFailureRate >= 0 && cfg.launchFailureRate < 1)) throw new RangeError(`launchFailureRate must be in [0, 1), got ${cfg.launchFailureRate}`);
    // The initial replicas start with the cluster.
    for (const g of cfg.autoscaling.config.groups) {
      for (const node of groupSlots(g).slice(0, cfg.autoscaling.initialReplicas.get(g.name) ?? 0)) {
        this.taken.add(node);
        this.first.push({ node, group: g.name });
        sim.startNode(node);
      }
    }
  }

  initial() { return this.first; }

  launch(_launch: string, group: WorkerGroup, done: (r: { ok: true; node: NodeId } | { ok: false; reason: string }) => void): void {
    const node = groupSlots(group).find((n) => !this.taken.has(n));
    if (node === undefined) return done({ ok: false, reason: `no machine left for ${group.name}` });
    this.taken.add(node);
    const [lo, hi] = this.cfg.provisionMs;
    const delay = lo + this.rng.next() * (hi - lo);
    const fails = this.rng.next() < this.cfg.launchFailureRate;
    this.sim.schedule(delay, () => {
      if (fails) {
        this.taken.delete(node);
        return done({ ok: false, reason: `machine ${node} failed to start (simulated)` });
      }
      this.sim.startNode(node);
      done({ ok: true, node });
    });
  }

  terminate(node: NodeId, _group: WorkerGroup, done: () => void): void {
    this.sim.stopNode(node);
    this.taken.delete(node);
    done();
  }
}
