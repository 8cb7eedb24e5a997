// Invariant 5 (resources): no node ever hands out more than its capacity.
import type { Resources } from "../trace.ts";
import { violationAt, type Checker, type Violation } from "./types.ts";

const NAME = "resources";
const EPS = 1e-9;

interface Lease {
  node: string;
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
      case "lease.granted": {
        if (held.has(e.lease)) at(i, `lease ${e.lease} granted while already held`);
        held.set(e.lease, { node: e.node, resources: e.resources, life: life.get(e.node) ?? 0 });
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
        const used = usage.get(l.node)!;
        for (const k in l.resources) used.set(k, used.get(k)! - l.resources[k]);
        break;
      }
    }
  }
  return out;
};
