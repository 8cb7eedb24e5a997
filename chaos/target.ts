// What a chaos target is: a cluster of tsray daemons somewhere (local processes, containers,
// Kubernetes pods) that the experiment runner (experiment.ts) drives the same way — it runs the
// workload from this process against `address`, injects the faults through these operations,
// and judges the traces the target collects into `dir` with the invariant checkers. The driver
// is this process's on every target, so a kill-driver fault needs no operation here: every
// target runs it (experiment.ts), and collects each driver's trace file from `dir`.

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
  /** The node the driver attaches to (absent: the head). A cluster whose head may be killed puts it elsewhere, as a driver outside the head pod is. */
  readonly driverNode?: string;
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

export interface ClusterOptions {
  /**
   * GCS fault tolerance with Redis, as KubeRay's gcsFaultToleranceOptions: the GCS keeps its
   * tables in a Redis beside the cluster, so the head's pod can be killed and come back with them.
   */
  readonly redis?: boolean;
}

/** Starts a cluster of `nodes` (the head first) on `target`; `bugs` are switched on in every daemon. */
export async function startCluster(target: ChaosTargetName, nodes: readonly ChaosNode[], bugs: readonly SeededBug[] = [], opts: ClusterOptions = {}): Promise<ChaosCluster> {
  switch (target) {
    case "local":
      if (opts.redis) throw new Error("chaos: the local target keeps the GCS's tables in a file (restart-gcs restarts it on them); Redis GCS fault tolerance is for --target containers or kubernetes");
      return (await import("./local-cluster.ts")).LocalCluster.start(nodes, bugs);
    case "containers": return (await import("./containers-cluster.ts")).ContainersCluster.start(nodes, bugs, opts);
    case "kubernetes": return (await import("./kubernetes-cluster.ts")).KubernetesCluster.start(nodes, bugs, opts);
  }
}
