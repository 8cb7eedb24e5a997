// Invariant 5 (resources): no node ever hands out more than its capacity, no placement-group
// bundle more than it reserved (a bundle's reservation counts on its node, its leases on it),
// and a created group respects its strategy (STRICT_SPREAD: distinct nodes; STRICT_PACK: one).
import type { Resources } from "../trace.ts";
import { violationAt, type Checker, type Violation } from "./types.ts";

const NAME = "resources";
const EPS = 1e-9;

interface Lease {
  node: string;
  /** The bundle it was charged to, if any (by the bundle's key and node life). */
  bundle?: string;
  resources: Resources;
  /** The node incarnation it was granted in; a node.dead ends the incarnation and its leases. */
  life: number;
}

export const checkResources: Checker = (events) => {
  const out: Violation[] = [];
  const at = (i: number, msg: string) => out.push(violationAt(NAME, events, i, msg));

  const capacity = new Map<string, Resources>();
  const usage = new Map<string, Map<string, number>>();
  // Bumped by node.dead so that dropping a node's leases is O(1): leases of an older life
  // are simply ignored when they come back, rather than searched for at death.
  const life = new Map<string, number>();
  const held = new Map<string, Lease>();
  const returned = new Set<string>();
  /** Bundles reserved per node+key: capacity, usage by leases, and the node life they belong to. */
  const bundles = new Map<string, { resources: Resources; used: Map<string, number>; life: number }>();
  const grow = (node: string, r: Resources, sign: number) => {
    let used = usage.get(node);
    if (!used) usage.set(node, (used = new Map()));
    for (const k in r) used.set(k, (used.get(k) ?? 0) + sign * r[k]);
    return used;
  };
  const overNode = (i: number, node: string, r: Resources, what: string) => {
    const cap = capacity.get(node);
    if (cap === undefined) return at(i, `${what} on node ${node}, which never registered`);
    const used = usage.get(node)!;
    for (const k in r) {
      const u = used.get(k)!, c = cap[k] ?? 0;
      if (u > c + EPS) at(i, `node ${node} over capacity after ${what}: ${k} in use ${u} > capacity ${c}`);
    }
  };

  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    switch (e.kind) {
      case "node.registered":
        capacity.set(e.id, e.resources);
        break;
      case "node.dead":
        usage.delete(e.id);
        life.set(e.id, (life.get(e.id) ?? 0) + 1);
        break;
      case "bundle.reserved": {
        bundles.set(`${e.node}|${e.bundle}`, { resources: e.resources, used: new Map(), life: life.get(e.node) ?? 0 });
        grow(e.node, e.resources, 1);
        overNode(i, e.node, e.resources, `reserving bundle ${e.bundle}`);
        break;
      }
      case "bundle.released": {
        const b = bundles.get(`${e.node}|${e.bundle}`);
        bundles.delete(`${e.node}|${e.bundle}`);
        if (b && b.life === (life.get(e.node) ?? 0)) grow(e.node, b.resources, -1);
        break;
      }
      case "pg.state": {
        if (e.state !== "CREATED" || !e.nodes) break;
        const distinct = new Set(e.nodes).size;
        if (e.strategy === "STRICT_SPREAD" && distinct !== e.nodes.length) at(i, `STRICT_SPREAD group ${e.pg} has bundles sharing a node: ${e.nodes.join(", ")}`);
        if (e.strategy === "STRICT_PACK" && distinct !== 1) at(i, `STRICT_PACK group ${e.pg} spans ${distinct} nodes: ${e.nodes.join(", ")}`);
        break;
      }
      case "lease.granted": {
        if (held.has(e.lease)) at(i, `lease ${e.lease} granted while already held`);
        held.set(e.lease, { node: e.node, resources: e.resources, life: life.get(e.node) ?? 0, ...(e.bundle !== undefined ? { bundle: e.bundle } : {}) });
        if (e.bundle !== undefined) {
          const b = bundles.get(`${e.node}|${e.bundle}`);
          if (!b) { at(i, `lease ${e.lease} granted in bundle ${e.bundle}, not reserved on node ${e.node}`); break; }
          for (const k in e.resources) {
            const u = (b.used.get(k) ?? 0) + e.resources[k];
            b.used.set(k, u);
            if (u > (b.resources[k] ?? 0) + EPS) at(i, `bundle ${e.bundle} over-committed after lease ${e.lease}: ${k} in use ${u} > reserved ${b.resources[k] ?? 0}`);
          }
          break;
        }
        let used = usage.get(e.node);
        if (!used) usage.set(e.node, (used = new Map()));
        for (const k in e.resources) used.set(k, (used.get(k) ?? 0) + e.resources[k]);
        const cap = capacity.get(e.node);
        if (cap === undefined) {
          at(i, `lease ${e.lease} granted on node ${e.node}, which never registered`);
          break;
        }
        // Only the granted keys grew, so only they can have gone over.
        for (const k in e.resources) {
          const u = used.get(k)!, c = cap[k] ?? 0;
          if (u > c + EPS) at(i, `node ${e.node} over capacity after lease ${e.lease}: ${k} in use ${u} > capacity ${c}`);
        }
        break;
      }
      case "lease.returned": {
        const l = held.get(e.lease);
        if (l === undefined) {
          at(i, returned.has(e.lease) ? `lease ${e.lease} returned twice` : `lease ${e.lease} returned but unknown (never granted)`);
          break;
        }
        held.delete(e.lease);
        returned.add(e.lease);
        if (l.life !== (life.get(l.node) ?? 0)) break; // its node died since; usage already dropped
        if (l.bundle !== undefined) {
          const b = bundles.get(`${l.node}|${l.bundle}`);
          if (b) for (const k in l.resources) b.used.set(k, (b.used.get(k) ?? 0) - l.resources[k]);
          break;
        }
        const used = usage.get(l.node)!;
        for (const k in l.resources) used.set(k, used.get(k)! - l.resources[k]);
        break;
      }
    }
  }
  return out;
};
