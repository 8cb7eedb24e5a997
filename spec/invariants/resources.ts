// Invariant 5 (resources): no node ever hands out more than its capacity, no placement-group
// bundle more than it reserved (a bundle's reservation counts on its node, its leases on it),
// a created group respects its strategy (STRICT_SPREAD: distinct nodes; STRICT_PACK: one), and
// what runs in a group runs in its bundles: a task or actor placed in one, and (captureChildTasks)
// its children that named no strategy, their children, and so on.
import type { Resources } from "../trace.ts";
import { violationAt, type Checker, type Violation } from "./types.ts";

const NAME = "resources";
const EPS = 1e-9;

interface Bundle {
  resources: Resources;
  used: Map<string, number>;
  life: number;
}

interface Lease {
  node: string;
  /** The bundle reservation it was charged to, if any (null: one not reserved, reported at the grant): it gives back to that one reservation. */
  bundle?: Bundle | null;
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
  const bundles = new Map<string, Bundle>();
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

  // Where the program asked each task or actor to run (`placement.asked`), the group it must
  // run in as worked out from that (memoized), and the bundle each worker's latest lease is in.
  const asked = new Map<string, { pg?: string; capture?: true; parent?: string }>();
  const placed = new Map<string, { pg: string; capture: boolean } | null>();
  const placement = (id: string): { pg: string; capture: boolean } | null => {
    let p = placed.get(id);
    if (p !== undefined) return p;
    const a = asked.get(id);
    if (a?.pg !== undefined) p = { pg: a.pg, capture: a.capture === true };
    else if (a?.parent !== undefined) {
      // A captured child captures its own children in turn (Ray passes the flag down).
      const parent = placement(a.parent);
      p = parent?.capture ? parent : null;
    } else p = null;
    placed.set(id, p);
    return p;
  };
  const leaseBundle = new Map<string, string | undefined>();
  const strayed = new Set<string>();

  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    switch (e.kind) {
      case "placement.asked":
        asked.set(e.actor ?? e.task ?? "", { ...(e.pg !== undefined ? { pg: e.pg } : {}), ...(e.capture ? { capture: true } : {}), ...(e.parent !== undefined ? { parent: e.parent } : {}) });
        break;
      case "task.started": {
        const id = e.actor ?? e.task;
        const p = placement(id);
        if (p === null || strayed.has(id)) break;
        const bundle = leaseBundle.get(e.worker);
        if (bundle !== undefined && bundle.startsWith(`${p.pg}#`)) break;
        strayed.add(id);
        const why = asked.get(id)?.pg !== undefined ? "placed in it" : "captured into it through its parents";
        at(i, `${e.actor !== undefined ? `actor ${e.actor}` : `task ${e.task}`} (${why}) runs outside placement group ${p.pg}: worker ${e.worker}'s lease is ${bundle === undefined ? "in no bundle" : `in bundle ${bundle}`}`);
        break;
      }
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
        leaseBundle.set(e.worker, e.bundle);
        if (held.has(e.lease)) at(i, `lease ${e.lease} granted while already held`);
        const b = e.bundle === undefined ? undefined : bundles.get(`${e.node}|${e.bundle}`);
        held.set(e.lease, { node: e.node, resources: e.resources, life: life.get(e.node) ?? 0, ...(e.bundle !== undefined ? { bundle: b ?? null } : {}) });
        if (e.bundle !== undefined) {
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
        if (l.bundle !== undefined) {
          // The reservation outlives the node's declared death until its zombie releases it (or the
          // next life reserves it anew), and the zombie may grant in it meanwhile: the lease gives
          // back to the reservation it was charged to, whatever happened to the node since.
          const b = l.bundle;
          if (b) for (const k in l.resources) b.used.set(k, (b.used.get(k) ?? 0) - l.resources[k]);
          break;
        }
        if (l.life !== (life.get(l.node) ?? 0)) break; // its node died since; usage already dropped
        const used = usage.get(l.node)!;
        for (const k in l.resources) used.set(k, used.get(k)! - l.resources[k]);
        break;
      }
    }
  }
  return out;
};
