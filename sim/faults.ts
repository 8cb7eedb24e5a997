// The fault vocabulary, one JSON format for the simulator and for chaos runs on real daemons.
// A plan is a schedule of timed faults plus network conditions for the whole run.

import type { NodeId } from "../src/core/types.ts";

export type Fault =
  | { readonly at: number; readonly kind: "kill-node"; readonly node: NodeId }
  | { readonly at: number; readonly kind: "restart-node"; readonly node: NodeId }
  | { readonly at: number; readonly kind: "kill-worker"; readonly node: NodeId }
  /** Crash the GCS and start it again `downMs` later (default 200) from its persisted tables. */
  | { readonly at: number; readonly kind: "restart-gcs"; readonly downMs?: number }
  | { readonly at: number; readonly until: number; readonly kind: "pause"; readonly node: NodeId }
  /** Messages between groups wait until `until` (as TCP retransmits); `oneWay`: only groups[0] → groups[1]. */
  | { readonly at: number; readonly until: number; readonly kind: "partition"; readonly groups: readonly (readonly NodeId[])[]; readonly oneWay?: boolean }
  | { readonly at: number; readonly until: number; readonly kind: "clock-skew"; readonly node: NodeId; readonly ms: number }
  /** The node's store memory admits nothing: puts wait (back-pressure) and may fail with ObjectStoreFullError. */
  | { readonly at: number; readonly until: number; readonly kind: "store-full"; readonly node: NodeId }
  /** Extra one-way latency on every message to or from `nodes` (default all). */
  | { readonly at: number; readonly until: number; readonly kind: "delay"; readonly ms: number; readonly nodes?: readonly NodeId[] }
  /** Lost transmissions, each retransmitted after a timeout (a stream never loses an acknowledged message). */
  | { readonly at: number; readonly until: number; readonly kind: "drop"; readonly rate: number }
  /** Messages delivered twice (an RPC retried after its reply was lost). */
  | { readonly at: number; readonly until: number; readonly kind: "duplicate"; readonly rate: number }
  /**
   * The driver process dies (SIGKILL): its program stops where it is, its gets and waits never
   * return. The GCS declares it dead after the grace period; its leases, non-detached actors,
   * owned objects and submitted tasks go with it, and its borrowers get OwnerDiedError.
   */
  | { readonly at: number; readonly kind: "kill-driver" };

export type FaultKind = Fault["kind"];

export interface NetworkConditions {
  /** Probability that a transmission is lost and retransmitted. */
  readonly dropRate?: number;
  /** Probability that a message is delivered twice. */
  readonly duplicateRate?: number;
  /** One-way latency between nodes, uniform in [min, max] ms. */
  readonly latencyMs?: readonly [number, number];
}

export interface FaultPlan {
  readonly schedule: readonly Fault[];
  readonly network?: NetworkConditions;
}

const KINDS: Record<FaultKind, { window: boolean; node: boolean }> = {
  "kill-node": { window: false, node: true },
  "restart-node": { window: false, node: true },
  "kill-worker": { window: false, node: true },
  "restart-gcs": { window: false, node: false },
  pause: { window: true, node: true },
  partition: { window: true, node: false },
  "clock-skew": { window: true, node: true },
  "store-full": { window: true, node: true },
  delay: { window: true, node: false },
  drop: { window: true, node: false },
  duplicate: { window: true, node: false },
  "kill-driver": { window: false, node: false },
};

/** Every fault kind the simulator injects. */
export const FAULT_KINDS = Object.keys(KINDS) as readonly FaultKind[];

/** Checks a plan against the cluster's nodes; every problem is named with its place in the plan. */
export function validatePlan(plan: unknown, nodes: readonly NodeId[]): FaultPlan {
  const bad = (where: string, what: string): never => { throw new TypeError(`fault plan: ${where}: ${what}`); };
  if (typeof plan !== "object" || plan === null) bad("plan", "must be an object { schedule: [...], network?: {...} }");
  const p = plan as Record<string, unknown>;
  if (!Array.isArray(p.schedule)) bad("schedule", "must be an array of faults");
  const head = nodes[0];
  const known = new Set(nodes);
  const node = (where: string, n: unknown) => {
    if (typeof n !== "string" || !known.has(n)) bad(where, `unknown node ${JSON.stringify(n)} (nodes: ${nodes.join(", ")}; "${head}" is the head)`);
  };
  const num = (where: string, v: unknown, min = 0, max = Infinity) => {
    if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max) bad(where, `must be a number in [${min}, ${max}], got ${JSON.stringify(v)}`);
  };
  (p.schedule as unknown[]).forEach((f, i) => {
    const w = `schedule[${i}]`;
    if (typeof f !== "object" || f === null) bad(w, "must be an object");
    const x = f as Record<string, unknown>;
    const k = KINDS[x.kind as FaultKind];
    if (!k) bad(`${w}.kind`, `unknown fault ${JSON.stringify(x.kind)}; one of ${Object.keys(KINDS).join(", ")}`);
    num(`${w}.at`, x.at);
    if (k.window) {
      num(`${w}.until`, x.until);
      if ((x.until as number) < (x.at as number)) bad(`${w}.until`, "must not be before at");
    }
    if (k.node) node(`${w}.node`, x.node);
    if (x.kind === "restart-gcs" && x.downMs !== undefined) num(`${w}.downMs`, x.downMs);
    if (x.kind === "clock-skew") num(`${w}.ms`, x.ms, -3_600_000, 3_600_000);
    if (x.kind === "delay") {
      num(`${w}.ms`, x.ms);
      if (x.nodes !== undefined) {
        if (!Array.isArray(x.nodes)) bad(`${w}.nodes`, "must be an array of node ids");
        (x.nodes as unknown[]).forEach((n, j) => node(`${w}.nodes[${j}]`, n));
      }
    }
    if (x.kind === "drop" || x.kind === "duplicate") num(`${w}.rate`, x.rate, 0, 0.9);
    if (x.kind === "partition") {
      if (!Array.isArray(x.groups) || x.groups.length < 2) bad(`${w}.groups`, "must be at least two arrays of node ids");
      const seen = new Set<string>();
      (x.groups as unknown[]).forEach((g, j) => {
        if (!Array.isArray(g) || g.length === 0) bad(`${w}.groups[${j}]`, "must be a non-empty array of node ids");
        (g as unknown[]).forEach((n, m) => {
          node(`${w}.groups[${j}][${m}]`, n);
          if (seen.has(n as string)) bad(`${w}.groups`, `node ${n} is in two groups`);
          seen.add(n as string);
        });
      });
    }
  });
  if (p.network !== undefined) {
    if (typeof p.network !== "object" || p.network === null) bad("network", "must be an object");
    const n = p.network as Record<string, unknown>;
    if (n.dropRate !== undefined) num("network.dropRate", n.dropRate, 0, 0.9);
    if (n.duplicateRate !== undefined) num("network.duplicateRate", n.duplicateRate, 0, 0.9);
    if (n.latencyMs !== undefined) {
      const l = n.latencyMs;
      if (!Array.isArray(l) || l.length !== 2) bad("network.latencyMs", "must be [min, max]");
      num("network.latencyMs[0]", (l as unknown[])[0]);
      num("network.latencyMs[1]", (l as unknown[])[1], (l as number[])[0]);
    }
  }
  return p as unknown as FaultPlan;
}

/** The virtual time after which the plan injects nothing more. */
export function planEnd(plan: FaultPlan): number {
  let end = 0;
  for (const f of plan.schedule) end = Math.max(end, "until" in f ? f.until : f.kind === "restart-gcs" ? f.at + (f.downMs ?? 200) : f.at);
  return end;
}
