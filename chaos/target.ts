// What a chaos target is: a cluster of tsray daemons somewhere (local processes, containers,
// Kubernetes pods) that the experiment runner (experiment.ts) drives the same way — it runs the
// workload from this process against `address`, injects the faults through these operations,
// and judges the traces the target collects into `dir` with the invariant checkers.

import type { SeededBug } from "../src/core/bugs.ts";
import type { NetFaultSpec } from "../src/runtime/daemon/net-faults.ts";

export interface ChaosNode {
  readonly id: string;
  readonly cpus: number;
}

export type ChaosTargetName = "local" | "containers" | "kubernetes";
export const CHAOS_TARGETS: readonly ChaosTargetName[] = ["local", "containers", "kubernetes"];

export interface ChaosCluster {
  readonly target: ChaosTargetName;
  /** host:port of the GCS, as this process reaches it. */
  readonly address: string;
  readonly token: string;
  /** Where the traces (and logs) end up on this machine. */
  readonly dir: string;
  /** What to keep for a failed run (a directory on this machine). */
  readonly home: string;
  /** Kills node `id`'s raylet (its pod, its container) for good. */
  killNode(id: string): void | Promise<void>;
  /** Starts node `id` again under its id: a new incarnation, as a restarted pod. */
  join(id: string): Promise<void>;
  /** Freezes node `id`'s raylet for `ms`. */
  pause(id: string, ms: number): Promise<void>;
  /** Kills the GCS and starts it again on its storage `downMs` later. */
  restartGcs(downMs: number): Promise<void>;
  /** Kills node `id`'s Ray container and lets it restart in place (container-kill); targets without containers kill and rejoin. */
  restartContainer?(id: string): Promise<void>;
  /** Sets the network fault rules of every daemon of node `id`. */
  setNetFaults(id: string, spec: NetFaultSpec): Promise<void>;
  /** Every trace file, copied into `dir` if it was elsewhere. */
  traces(): Promise<string[]>;
  stop(): Promise<void>;
  remove(): void;
}

/** Starts a cluster of `nodes` (the head first) on `target`; `bugs` are switched on in every daemon. */
export async function startCluster(target: ChaosTargetName, nodes: readonly ChaosNode[], bugs: readonly SeededBug[] = []): Promise<ChaosCluster> {
  switch (target) {
    case "local": return (await import("./local-cluster.ts")).LocalCluster.start(nodes, bugs);
    case "containers": return (await import("./containers-cluster.ts")).ContainersCluster.start(nodes, bugs);
    case "kubernetes":
      throw new Error(`chaos: the ${target} target is not built yet (docs/chaos.md); use --target local or containers`);
  }
}
