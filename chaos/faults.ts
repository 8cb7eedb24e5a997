// The faults a chaos experiment injects into real processes, named as Chaos Mesh names them
// (PodChaos pod-kill, pod-failure, container-kill; NetworkChaos partition, delay, loss,
// duplicate) beside tsray's own process faults (a raylet killed for good, killed and rejoining,
// frozen; the GCS restarted on its storage; the driver killed mid-run). `at` is ms after the
// workload starts; a fault with `ms` heals after that long.

import fc from "fast-check";
import type { NetDirection, NetFaultRule } from "../src/runtime/daemon/net-faults.ts";

/** Which nodes a network fault cuts the node off from (absent: every other node) and which way. */
interface NetScope {
  readonly node: string;
  readonly peers?: readonly string[];
  /** Chaos Mesh's direction: "to" what the node sends, "from" what it receives. */
  readonly direction: NetDirection;
  readonly ms: number;
}

export type ChaosFault =
  /** SIGKILL a worker node's raylet (and so its workers); it stays down. */
  | { readonly kind: "kill-node"; readonly at: number; readonly node: string }
  /** SIGKILL a worker node's raylet, and start it again under its id `downMs` later. */
  | { readonly kind: "restart-node"; readonly at: number; readonly node: string; readonly downMs: number }
  /** Freeze a worker node's raylet (SIGSTOP) for `ms`; past 3 s the GCS declares it dead, and it fences itself when it wakes. */
  | { readonly kind: "pause"; readonly at: number; readonly node: string; readonly ms: number }
  /** SIGKILL the GCS, and start it again on its storage (a file, or Redis) `downMs` later. */
  | { readonly kind: "restart-gcs"; readonly at: number; readonly downMs: number }
  /** PodChaos pod-kill: the node's pod is killed, and its restart policy starts it again at once (a new incarnation). The head's: its GCS. */
  | { readonly kind: "pod-kill"; readonly at: number; readonly node: string }
  /** PodChaos pod-failure: the node's pod is unavailable for `ms`, then runs again (a new incarnation). */
  | { readonly kind: "pod-failure"; readonly at: number; readonly node: string; readonly ms: number }
  /** PodChaos container-kill: the node's Ray container is killed and restarted in its pod. */
  | { readonly kind: "container-kill"; readonly at: number; readonly node: string }
  /** NetworkChaos partition: messages between the node and its peers wait until it heals. */
  | ({ readonly kind: "partition"; readonly at: number } & NetScope)
  /** NetworkChaos delay: `latencyMs` ± `jitterMs` more on each message. */
  | ({ readonly kind: "delay"; readonly at: number; readonly latencyMs: number; readonly jitterMs: number } & NetScope)
  /** NetworkChaos loss: each transmission lost with probability `rate` (TCP resends it). */
  | ({ readonly kind: "loss"; readonly at: number; readonly rate: number } & NetScope)
  /** NetworkChaos duplicate: each message delivered twice with probability `rate`. */
  | ({ readonly kind: "duplicate"; readonly at: number; readonly rate: number } & NetScope)
  /**
   * The experiment's driver dies as a SIGKILLed process does, mid-round: nothing released, no
   * goodbye; the GCS learns of it by its own failure detection. A new driver (a new job) takes
   * over the rounds at once.
   */
  | { readonly kind: "kill-driver"; readonly at: number };

export type ChaosFaultKind = ChaosFault["kind"];
export type NetChaosFault = Extract<ChaosFault, { kind: "partition" | "delay" | "loss" | "duplicate" }>;

export const NET_FAULT_KINDS: ReadonlySet<ChaosFaultKind> = new Set(["partition", "delay", "loss", "duplicate"]);

export function isNetFault(f: ChaosFault): f is NetChaosFault {
  return NET_FAULT_KINDS.has(f.kind);
}

/** How long a pod-kill's or container-kill's restart takes (the kubelet restarts a container at once the first time). */
export const POD_RESTART_MS = 200;

/** The rule the node's network fault layer applies while `f` lasts. */
export function netRule(f: NetChaosFault): NetFaultRule {
  const scope = { direction: f.direction, ...(f.peers ? { peers: [...f.peers] } : {}) };
  switch (f.kind) {
    case "partition": return { ...scope, partition: true };
    case "delay": return { ...scope, delayMs: f.latencyMs, ...(f.jitterMs > 0 ? { jitterMs: f.jitterMs } : {}) };
    case "loss": return { ...scope, loss: f.rate };
    case "duplicate": return { ...scope, duplicate: f.rate };
  }
}

/** When the fault is over (its window healed, its node back), ms after the start; undefined: never (a node killed for good). */
export function healsAt(f: ChaosFault): number | undefined {
  switch (f.kind) {
    case "kill-node": return undefined;
    // Its successor connects at once; the cluster's cleanup after it is what the checkers judge.
    case "kill-driver": return f.at;
    case "restart-node": return f.at + f.downMs;
    case "restart-gcs": return f.at + f.downMs;
    case "pod-kill": case "container-kill": return f.at + POD_RESTART_MS;
    case "pause": case "pod-failure": case "partition": case "delay": case "loss": case "duplicate": return f.at + f.ms;
  }
}

export function describe(f: ChaosFault): string {
  const peers = (x: NetScope) => `${x.node} ${x.direction === "to" ? "→" : x.direction === "from" ? "←" : "↔"} ${x.peers ? x.peers.join(",") : "all"} for ${x.ms} ms`;
  switch (f.kind) {
    case "kill-node": return `SIGKILL ${f.node}'s raylet`;
    case "restart-node": return `SIGKILL ${f.node}'s raylet, rejoin after ${f.downMs} ms`;
    case "pause": return `SIGSTOP ${f.node}'s raylet for ${f.ms} ms`;
    case "restart-gcs": return `SIGKILL the GCS, restart after ${f.downMs} ms`;
    case "pod-kill": return `pod-kill ${f.node}`;
    case "pod-failure": return `pod-failure ${f.node} for ${f.ms} ms`;
    case "container-kill": return `container-kill ${f.node}`;
    case "partition": return `partition ${peers(f)}`;
    case "delay": return `delay ${f.latencyMs}±${f.jitterMs} ms ${peers(f)}`;
    case "loss": return `loss ${Math.round(f.rate * 100)}% ${peers(f)}`;
    case "duplicate": return `duplicate ${Math.round(f.rate * 100)}% ${peers(f)}`;
    case "kill-driver": return "kill the driver (as SIGKILL: no release, no goodbye)";
  }
}

/**
 * One fault of any kind on the given nodes (the head first), in the first `withinMs`. The
 * head's raylet is spared by process faults, as the simulator spares it (the driver is attached
 * there); network faults may take any node.
 */
export function faultArb(nodes: readonly string[], withinMs = 1_500): fc.Arbitrary<ChaosFault> {
  const workers = nodes.slice(1);
  const worker = fc.constantFrom(...workers);
  const any = fc.constantFrom(...nodes);
  const at = fc.integer({ min: 0, max: withinMs });
  const direction = fc.constantFrom<NetDirection>("to", "from", "both");
  const net = <K extends string>(kind: K) => ({
    kind: fc.constant(kind), at, node: any, direction, ms: fc.integer({ min: 100, max: 3_000 }),
    peers: fc.option(fc.subarray([...nodes], { minLength: 1 }), { nil: undefined }),
  });
  // Peers are the other nodes named (none left, or none named: all of them).
  const scoped = <F extends { node: string; peers?: string[] }>(f: F): F => {
    const { peers, ...rest } = f;
    const others = peers?.filter((p) => p !== f.node);
    return (others && others.length > 0 ? { ...rest, peers: others } : rest) as F;
  };
  return fc.oneof(
    fc.record({ kind: fc.constant("kill-node" as const), at, node: worker }),
    fc.record({ kind: fc.constant("restart-node" as const), at, node: worker, downMs: fc.integer({ min: 100, max: 4_000 }) }),
    fc.record({ kind: fc.constant("pause" as const), at, node: worker, ms: fc.integer({ min: 100, max: 5_000 }) }),
    fc.record({ kind: fc.constant("restart-gcs" as const), at, downMs: fc.integer({ min: 100, max: 2_000 }) }),
    fc.record({ kind: fc.constant("pod-kill" as const), at, node: worker }),
    fc.record({ kind: fc.constant("pod-failure" as const), at, node: worker, ms: fc.integer({ min: 100, max: 4_000 }) }),
    fc.record({ kind: fc.constant("container-kill" as const), at, node: worker }),
    fc.record(net("partition")).map(scoped),
    fc.record({ ...net("delay"), latencyMs: fc.integer({ min: 1, max: 300 }), jitterMs: fc.integer({ min: 0, max: 50 }) }).map(scoped),
    fc.record({ ...net("loss"), rate: fc.double({ min: 0.01, max: 0.5, noNaN: true }).map((r) => Math.round(r * 100) / 100) }).map(scoped),
    fc.record({ ...net("duplicate"), rate: fc.double({ min: 0.01, max: 0.5, noNaN: true }).map((r) => Math.round(r * 100) / 100) }).map(scoped),
    fc.record({ kind: fc.constant("kill-driver" as const), at }),
  );
}
