// Invariant (leases): a lease is returned once its holder is done with it. At the cluster's
// last quiet point (the program ended, every task settled) a lease still held on a live node
// by a worker that hosts no actor is a leak: its CPUs stay in use and nothing will return them.
// A run reaches that point only after failure detection has declared every crashed node dead,
// so a lease granted to a worker that died unseen has had its chance to come back.
import { violationAt, type Checker, type Violation } from "./types.ts";

const NAME = "leases";

export const checkLeases: Checker = (events) => {
  const out: Violation[] = [];
  let lastQuiet = -1;
  for (let i = events.length - 1; i >= 0; i--) {
    if (events[i].kind === "cluster.quiet") { lastQuiet = i; break; }
  }
  if (lastQuiet < 0) return out;

  /** lease -> its worker and node, while held in the node's current life. */
  const held = new Map<string, { worker: string; node: string }>();
  /** Workers that hosted an actor: an actor keeps its lease for its lifetime. */
  const actorHosts = new Set<string>();
  for (let i = 0; i < lastQuiet; i++) {
    const e = events[i];
    switch (e.kind) {
      case "lease.granted":
        held.set(e.lease, { worker: e.worker, node: e.node });
        break;
      case "lease.returned":
        held.delete(e.lease);
        break;
      case "node.dead":
        // The node's leases died with it (its raylet starts over with none).
        for (const [id, l] of held) if (l.node === e.id) held.delete(id);
        break;
      case "actor.state":
        if (e.worker !== undefined) actorHosts.add(e.worker);
        break;
    }
  }
  for (const [lease, l] of held) {
    if (actorHosts.has(l.worker)) continue;
    out.push(violationAt(NAME, events, lastQuiet, `leak: lease ${lease} (worker ${l.worker} on ${l.node}) never returned, though the program ended and no task holds it`));
  }
  return out;
};
