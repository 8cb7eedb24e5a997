// Placement groups in the GCS, as Ray's GcsPlacementGroupManager: a group's bundles are reserved
// atomically across nodes in two phases (prepare on every chosen node, then commit on all of
// them, or release what was prepared and try again later); bundles lost with a node are placed
// again under the same strategy; removal (or the creator's death, unless detached) releases them.

import { assertNever } from "../assert.ts";
import type { Msg } from "../messages.ts";
import { placeBundles } from "../scheduler.ts";
import { bundleKey, rayletAddr, type Addr, type NodeId, type NodeView, type PendingDemand, type PlacementGroupId, type PlacementGroupSpec } from "../types.ts";
import type { TraceBody } from "../../../spec/trace.ts";
import { RecentDeaths } from "../recent-deaths.ts";

/** Ray's placement-group states (RESCHEDULING: some bundles were lost with their node). */
export type GroupState = "PENDING" | "CREATED" | "RESCHEDULING" | "REMOVED";

interface Attempt {
  readonly attempt: number;
  /** The node each new bundle goes to. */
  readonly assignment: ReadonlyMap<number, NodeId>;
  /** Nodes that have not answered the prepare yet. */
  readonly waiting: Set<NodeId>;
  /** Nodes that reserved their part. */
  readonly prepared: Set<NodeId>;
  failed: boolean;
}

export interface GroupEntry {
  readonly spec: PlacementGroupSpec;
  state: GroupState;
  /** The node of each committed bundle (undefined: not placed, or lost with its node). */
  readonly placement: (NodeId | undefined)[];
  /** The last reservation attempt's number (volatile: a recovered GCS counts on from its own firstAttempt). */
  attempts: number;
  /** The two-phase reservation in flight (volatile). */
  trying?: Attempt;
  /** Attempts that were committed: a duplicated "prepared" of one of them must not release it. */
  readonly committed: Set<number>;
  /** Since when some bundle waits for room (volatile): a pending demand. */
  pendingSince?: number;
}

/** What the manager needs of the GCS. */
export interface GroupPorts {
  send(to: Addr, m: Msg): void;
  trace(body: TraceBody): void;
  /** Persists a group's row (undefined deletes it). */
  persist(id: PlacementGroupId, row: unknown): void;
  now(): number;
  view(): NodeView[];
  /** The cluster view changed (bundles placed or lost): broadcast it. */
  viewChanged(): void;
  /** A group was removed: what was placed in it is not placed again. */
  groupRemoved(pgId: PlacementGroupId): void;
}

export class PlacementGroups {
  readonly groups = new Map<PlacementGroupId, GroupEntry>();
  /** The removed groups still in `groups`, removed longest first: past `removedKept`, the first is forgotten. */
  private readonly removed: RecentDeaths<PlacementGroupId>;

  /**
   * `firstAttempt`: this GCS's reservation attempts are numbered from it, above every earlier
   * GCS's, so a raylet can tell a bundle an earlier GCS reserved (see Gcs.registered).
   */
  constructor(private readonly io: GroupPorts, readonly firstAttempt: number, removedKept: number) {
    this.removed = new RecentDeaths(removedKept);
  }

  /** Rows of a recovered GCS: committed placements stand; anything mid-reservation is tried again. */
  load(rows: Iterable<[string, unknown]>): void {
    for (const [, row] of rows) {
      const r = row as { spec: PlacementGroupSpec; state: GroupState; placement: (NodeId | null)[]; committed: number[] };
      this.groups.set(r.spec.pgId, { spec: r.spec, state: r.state, placement: r.placement.map((n) => n ?? undefined), attempts: this.firstAttempt - 1, committed: new Set(r.committed) });
    }
  }

  create(spec: PlacementGroupSpec): void {
    if (this.groups.has(spec.pgId)) return; // a duplicated request
    const g: GroupEntry = { spec, state: "PENDING", placement: spec.bundles.map(() => undefined), attempts: this.firstAttempt - 1, committed: new Set() };
    this.groups.set(spec.pgId, g);
    this.save(g);
    this.schedule(g);
  }

  remove(pgId: PlacementGroupId): void {
    const g = this.groups.get(pgId);
    if (!g || g.state === "REMOVED") return;
    const nodes = new Set<NodeId>([...g.placement.filter((n): n is NodeId => n !== undefined), ...(g.trying ? g.trying.assignment.values() : [])]);
    for (const n of nodes) this.io.send(rayletAddr(n), { type: "ReleaseBundles", pgId });
    g.trying = undefined;
    g.state = "REMOVED";
    g.placement.fill(undefined);
    this.io.trace({ kind: "pg.state", comp: "gcs", pg: pgId, state: "REMOVED" });
    this.save(g);
    // Kept so that a repeated create makes nothing; groups come and go, so only the latest are.
    const forgotten = this.removed.add(pgId);
    if (forgotten !== undefined) this.groups.delete(forgotten);
    this.io.viewChanged();
    this.io.groupRemoved(pgId);
  }

  /** Groups whose creator died go with it, unless detached (as in Ray). */
  creatorsDied(dead: (a: Addr) => boolean): void {
    for (const [id, g] of this.groups) if (g.spec.lifetime !== "detached" && dead(g.spec.creator)) this.remove(id);
  }

  /** Places the group's unplaced bundles, if the free resources allow it now: phase one. */
  private schedule(g: GroupEntry): void {
    if (g.trying || g.state === "REMOVED") return;
    const fixed = new Map<number, NodeId>();
    g.placement.forEach((n, i) => { if (n !== undefined) fixed.set(i, n); });
    if (fixed.size === g.spec.bundles.length) return;
    const out = placeBundles(g.spec.strategy, g.spec.bundles, this.io.view(), fixed);
    if (!out) { g.pendingSince ??= this.io.now(); return; }
    const assignment = new Map<number, NodeId>();
    out.forEach((n, i) => { if (!fixed.has(i)) assignment.set(i, n); });
    const attempt = ++g.attempts;
    const byNode = new Map<NodeId, { index: number; resources: PlacementGroupSpec["bundles"][number] }[]>();
    for (const [i, n] of assignment) {
      let list = byNode.get(n);
      if (!list) byNode.set(n, (list = []));
      list.push({ index: i, resources: g.spec.bundles[i] });
    }
    g.trying = { attempt, assignment, waiting: new Set(byNode.keys()), prepared: new Set(), failed: false };
    for (const [n, bundles] of byNode) this.io.send(rayletAddr(n), { type: "PrepareBundles", pgId: g.spec.pgId, attempt, bundles });
  }

  prepared(pgId: PlacementGroupId, attempt: number, node: NodeId, ok: boolean): void {
    const g = this.groups.get(pgId);
    const t = g?.trying;
    if (g?.committed.has(attempt) && g.state !== "REMOVED") return; // a duplicated answer of a committed attempt
    if (!g || !t || t.attempt !== attempt || !t.waiting.has(node)) {
      // An answer to an attempt given up (or to a removed group): give back what it reserved.
      if (ok) this.io.send(rayletAddr(node), { type: "ReleaseBundles", pgId, attempt });
      return;
    }
    t.waiting.delete(node);
    if (ok) t.prepared.add(node); else t.failed = true;
    this.settle(g);
  }

  /** Every node answered: commit everywhere (phase two), or release what was prepared. */
  private settle(g: GroupEntry): void {
    const t = g.trying!;
    if (t.waiting.size > 0) return;
    g.trying = undefined;
    if (t.failed) {
      for (const n of t.prepared) this.io.send(rayletAddr(n), { type: "ReleaseBundles", pgId: g.spec.pgId, attempt: t.attempt });
      g.pendingSince ??= this.io.now();
      return; // tried again on the next period
    }
    for (const n of t.prepared) this.io.send(rayletAddr(n), { type: "CommitBundles", pgId: g.spec.pgId, attempt: t.attempt });
    for (const [i, n] of t.assignment) g.placement[i] = n;
    g.committed.add(t.attempt);
    g.pendingSince = undefined;
    g.state = "CREATED";
    this.io.trace({ kind: "pg.state", comp: "gcs", pg: g.spec.pgId, state: "CREATED", strategy: g.spec.strategy, nodes: g.placement.map((n) => n ?? "") });
    this.save(g);
    this.io.viewChanged();
  }

  /** A node died: its answer will never come, and its committed bundles are placed again. */
  nodeDied(node: NodeId): void {
    for (const g of this.groups.values()) {
      if (g.state === "REMOVED") continue;
      const t = g.trying;
      if (t && t.waiting.delete(node)) { t.failed = true; this.settle(g); } else if (t?.prepared.delete(node)) t.failed = true;
      if (!g.placement.includes(node)) continue;
      for (let i = 0; i < g.placement.length; i++) if (g.placement[i] === node) g.placement[i] = undefined;
      g.state = "RESCHEDULING";
      this.io.trace({ kind: "pg.state", comp: "gcs", pg: g.spec.pgId, state: "RESCHEDULING" });
      this.save(g);
      this.io.viewChanged();
      this.schedule(g);
    }
  }

  /** Periodically (and when nodes join): groups still waiting for room try again. */
  retry(): void {
    for (const g of this.groups.values()) if (g.state === "PENDING" || g.state === "RESCHEDULING") this.schedule(g);
  }

  /** The committed bundles on `node`, as the cluster view lists them. */
  bundlesOn(node: NodeId): string[] {
    const out: string[] = [];
    for (const g of this.groups.values()) g.placement.forEach((n, i) => { if (n === node) out.push(bundleKey(g.spec.pgId, i)); });
    return out;
  }

  /** Unplaced bundles, by shape: demands for the autoscaler and `tsray status`. */
  demands(): PendingDemand[] {
    const out: PendingDemand[] = [];
    for (const g of this.groups.values()) {
      if (g.state === "REMOVED" || g.pendingSince === undefined) continue;
      g.placement.forEach((n, i) => { if (n === undefined) out.push({ resources: g.spec.bundles[i], count: 1, ageMs: this.io.now() - g.pendingSince! }); });
    }
    return out;
  }

  /** A row for the API and the state API. */
  info(id: PlacementGroupId): { state: GroupState; nodes: (NodeId | null)[] } | undefined {
    const g = this.groups.get(id);
    return g && { state: g.state, nodes: g.placement.map((n) => n ?? null) };
  }

  private save(g: GroupEntry): void {
    switch (g.state) {
      case "REMOVED": return this.io.persist(g.spec.pgId, undefined);
      case "PENDING": case "CREATED": case "RESCHEDULING":
        return this.io.persist(g.spec.pgId, { spec: g.spec, state: g.state, placement: g.placement.map((n) => n ?? null), committed: [...g.committed] });
      default: return assertNever("a placement group's state", g.state);
    }
  }
}
