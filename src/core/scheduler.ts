// Scheduling policies: pure functions from a demand and a cluster view to a node. Raylets use
// them for task leases, the GCS for actor placement. Randomness comes in as an argument.

import { add, fits, subtract, utilization, type ResourceSet } from "./resources.ts";
import { bundleKey, type NodeId, type NodeView, type PlacementGroupId, type PlacementStrategy, type SchedulingStrategy } from "./types.ts";

/** Hybrid policy: pack onto a node until this much of its critical resource is used. */
export const SPREAD_THRESHOLD = 0.5;
/** Hybrid policy: choose randomly among this fraction of the best nodes (at least one). */
export const TOP_K_FRACTION = 0.2;

/**
 * Where a demand goes. `infeasible` with `waits` means no live node has the resources: as in Ray,
 * the demand stays pending (and is reported to the autoscaler) until a node that fits joins.
 * Without `waits` it can never run (hard affinity to a dead node) and fails.
 */
export type Placement =
  | { readonly kind: "node"; readonly node: NodeId }
  | { readonly kind: "infeasible"; readonly reason: string; readonly waits: boolean };

export interface PlacementInput {
  readonly resources: ResourceSet;
  readonly strategy: SchedulingStrategy;
  /** The deciding raylet's node (ties and "pack locally" favour it). */
  readonly local: NodeId;
  /** Every known node, in a stable order. */
  readonly nodes: readonly NodeView[];
  readonly random: () => number;
  /** Round-robin position for SPREAD, owned by the caller. */
  readonly spreadCursor: number;
}

export function place(p: PlacementInput): Placement & { spreadCursor: number } {
  const s = p.strategy;
  if (typeof s === "object" && "placementGroup" in s) return withCursor(inBundle(p, s.placementGroup, s.bundleIndex), p.spreadCursor);
  if (typeof s === "object") return withCursor(nodeAffinity(p, s.nodeId, s.soft), p.spreadCursor);
  if (s === "SPREAD") return spread(p);
  return withCursor(hybrid(p), p.spreadCursor);
}

/** A placement with the cursor it leaves (literals of fixed shape: a spread copies through V8's slow path). */
function withCursor(pl: Placement, spreadCursor: number): Placement & { spreadCursor: number } {
  return pl.kind === "node" ? { kind: "node", node: pl.node, spreadCursor } : { kind: "infeasible", reason: pl.reason, waits: pl.waits, spreadCursor };
}

function feasibleNodes(p: PlacementInput): NodeView[] {
  const out: NodeView[] = [];
  for (const n of p.nodes) if (n.alive && fits(p.resources, n.total)) out.push(n);
  return out;
}

function infeasible(p: PlacementInput): Placement {
  return { kind: "infeasible", reason: `no node in the cluster has ${JSON.stringify(p.resources)}`, waits: true };
}

/**
 * Ray's default: keep work on the local node while it is below the spread threshold, then
 * choose randomly among the least-utilized nodes that can run it now. If none can run it now,
 * queue it where it is feasible, preferring the local node.
 */
export function hybrid(p: PlacementInput): Placement {
  // The common case first, without the arrays and closures below (a raylet decides for every
  // lease request): the local node can run it now and is below the threshold. It is the answer
  // the full policy gives too: the local node is feasible and ready, and scores 0.
  const here = nodeNamed(p.nodes, p.local);
  if (here !== undefined && here.alive && fits(p.resources, here.total) && fits(p.resources, here.available) && utilization(here.total, here.available) < SPREAD_THRESHOLD) {
    return { kind: "node", node: here.node };
  }
  const feasible = feasibleNodes(p);
  if (feasible.length === 0) return infeasible(p);
  const ready = feasible.filter((n) => fits(p.resources, n.available));
  if (ready.length === 0) {
    const local = feasible.find((n) => n.node === p.local);
    if (local) return { kind: "node", node: local.node };
    return { kind: "node", node: leastUtilized(feasible).node };
  }
  const score = (n: NodeView) => {
    const u = utilization(n.total, n.available);
    return u < SPREAD_THRESHOLD ? 0 : u;
  };
  const local = ready.find((n) => n.node === p.local);
  if (local && score(local) === 0) return { kind: "node", node: local.node };
  // Stable sort by score keeps the view's order among equals, so the choice depends only on inputs.
  const ranked = ready.map((n) => ({ n, s: score(n) })).sort((a, b) => a.s - b.s);
  const k = Math.max(1, Math.ceil(ranked.length * TOP_K_FRACTION));
  const top = ranked.slice(0, k);
  return { kind: "node", node: top[Math.floor(p.random() * top.length)].n.node };
}

/** Round-robin over the nodes that can run the task now (or, failing that, that ever can). */
export function spread(p: PlacementInput): Placement & { spreadCursor: number } {
  const feasible = feasibleNodes(p);
  if (feasible.length === 0) return { ...infeasible(p), spreadCursor: p.spreadCursor };
  const ready = feasible.filter((n) => fits(p.resources, n.available));
  const pool = ready.length > 0 ? ready : feasible;
  const i = p.spreadCursor % pool.length;
  return { kind: "node", node: pool[i].node, spreadCursor: p.spreadCursor + 1 };
}

/**
 * Node affinity as Ray defines it: the task runs on that node if it is alive and could ever run
 * it (it queues there while the node is busy). Otherwise hard affinity fails, and soft affinity
 * falls back to the hybrid policy.
 */
export function nodeAffinity(p: PlacementInput, nodeId: NodeId, soft: boolean): Placement {
  const n = p.nodes.find((x) => x.node === nodeId);
  if (n && n.alive && fits(p.resources, n.total)) return { kind: "node", node: nodeId };
  if (soft) return hybrid(p);
  return { kind: "infeasible", reason: n && n.alive ? `node ${nodeId} does not have ${JSON.stringify(p.resources)}` : `node ${nodeId} is not alive`, waits: false };
}

/**
 * Into a placement group's bundle: the node that holds it (any of the group's bundles for index
 * -1, the local one first). A bundle not placed yet (the group is pending, or being rescheduled
 * after its node died) makes the task wait, as Ray's tasks wait for their group.
 */
export function inBundle(p: PlacementInput, pg: PlacementGroupId, index: number): Placement {
  const holds = (n: NodeView) => n.alive && (n.bundles ?? []).some((b) => (index < 0 ? b.startsWith(`${pg}#`) : b === bundleKey(pg, index)));
  const local = p.nodes.find((n) => n.node === p.local && holds(n));
  const node = local ?? p.nodes.find(holds);
  if (node) return { kind: "node", node: node.node };
  return { kind: "infeasible", reason: `placement group ${pg} has no ${index < 0 ? "bundle" : `bundle ${index}`} placed on a live node`, waits: true };
}

/**
 * Where a placement group's bundles go (Ray's bundle policies), or undefined if the live nodes'
 * free resources cannot take them now. `fixed` holds bundles already placed (a rescheduling
 * after a node died places only the others, still respecting the strategy). Deterministic:
 * nodes are tried in the view's order.
 */
export function placeBundles(strategy: PlacementStrategy, bundles: readonly ResourceSet[], nodes: readonly NodeView[], fixed: ReadonlyMap<number, NodeId> = new Map()): NodeId[] | undefined {
  const live = nodes.filter((n) => n.alive);
  const free = new Map(live.map((n) => [n.node, n.available] as const));
  const out: NodeId[] = [];
  for (const [i, n] of fixed) out[i] = n;
  const todo = bundles.map((_, i) => i).filter((i) => !fixed.has(i));
  const used = () => new Set(out.filter((n) => n !== undefined));
  const take = (i: number, node: NodeId) => { out[i] = node; free.set(node, subtract(free.get(node)!, bundles[i])); };
  if (strategy === "STRICT_PACK" || strategy === "PACK") {
    const sum = todo.reduce<ResourceSet>((acc, i) => add(acc, bundles[i]), {});
    const anchor = used().size === 1 ? [...used()][0] : undefined;
    const one = live.find((n) => (anchor === undefined || n.node === anchor) && fits(sum, n.available));
    if (one) { for (const i of todo) take(i, one.node); return out; }
    if (strategy === "STRICT_PACK") return undefined;
  }
  for (const i of todo) {
    const fitting = live.filter((n) => fits(bundles[i], free.get(n.node)!));
    const taken = used();
    let pick: NodeView | undefined;
    if (strategy === "STRICT_SPREAD") pick = fitting.find((n) => !taken.has(n.node));
    else if (strategy === "SPREAD") pick = fitting.find((n) => !taken.has(n.node)) ?? fitting[0];
    else pick = fitting.find((n) => taken.has(n.node)) ?? fitting[0]; // PACK: onto the group's nodes first
    if (!pick) return undefined;
    take(i, pick.node);
  }
  return out;
}

function nodeNamed(nodes: readonly NodeView[], node: NodeId): NodeView | undefined {
  for (const n of nodes) if (n.node === node) return n;
  return undefined;
}

function leastUtilized(nodes: readonly NodeView[]): NodeView {
  let best = nodes[0];
  let bu = utilization(best.total, best.available);
  for (const n of nodes) {
    const u = utilization(n.total, n.available);
    if (u < bu) { best = n; bu = u; }
  }
  return best;
}

/** Locality: the node that holds the most bytes of a task's arguments, if any. */
export function localityNode(bytesByNode: ReadonlyMap<NodeId, number>): NodeId | undefined {
  let best: NodeId | undefined;
  let bytes = 0;
  for (const [node, b] of bytesByNode) if (b > bytes) { best = node; bytes = b; }
  return best;
}
