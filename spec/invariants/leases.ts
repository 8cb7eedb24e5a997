// Invariant (leases): a lease is returned once its holder is done with it. At each quiet point
// after the program ended (every task settled, every crash detected) a lease still held on a
// live node by a worker that hosts no live actor is a leak: its CPUs stay in use and nothing
// will return them. A host marks two such points: once the program has dropped its references
// (the leases its own work took must be back) and, after that, once its job is over and the
// GCS has buried its driver (the driver's actors are dead then, so their leases must be back
// too). A run reaches a quiet point only after failure detection has declared every crashed
// node and gone driver dead, so a lease granted to a process that died unseen has had its
// chance to come back.
import { lastQuietIndex, violationAt, type Checker, type Violation } from "./types.ts";

const NAME = "leases";

export const checkLeases: Checker = (events) => {
  const out: Violation[] = [];
  const lastQuiet = lastQuietIndex(events);
  if (lastQuiet < 0) return out;

  /** lease -> its worker and node, while held in the node's current life. */
  const held = new Map<string, { worker: string; node: string }>();
  /** worker -> the actor it hosts (or hosted): an actor keeps its lease for its lifetime. */
  const actorOn = new Map<string, string>();
  /** actor -> its latest state, and the epoch of its latest incarnation. */
  const actorState = new Map<string, string>();
  const actorEpoch = new Map<string, number>();
  /** The incarnation a creation task (`${actor}:create:${epoch}`) makes. */
  const epochOf = (task: string | undefined) => Number(task?.slice(task.lastIndexOf(":") + 1));
  /** Leases already reported, so a leak is named once. */
  const reported = new Set<string>();
  let ended = false;
  for (let i = 0; i <= lastQuiet; i++) {
    const e = events[i];
    switch (e.kind) {
      case "lease.granted":
        held.set(e.lease, { worker: e.worker, node: e.node });
        // A lease for the creation of an actor's current incarnation hosts it from the grant (its
        // constructor may still wait for an argument, as one whose owner exited waits until the
        // owner is buried). A grant for an incarnation already over is given back.
        if (e.actor !== undefined && epochOf(e.task) === (actorEpoch.get(e.actor) ?? 0)) actorOn.set(e.worker, e.actor);
        break;
      case "lease.returned":
        held.delete(e.lease);
        break;
      case "node.dead":
        // The node's leases died with it (its raylet starts over with none).
        for (const [id, l] of held) if (l.node === e.id) held.delete(id);
        break;
      case "actor.state":
        if (e.worker !== undefined) actorOn.set(e.worker, e.actor);
        actorState.set(e.actor, e.state);
        actorEpoch.set(e.actor, e.epoch);
        break;
      case "program.end":
        ended = true;
        break;
      case "cluster.quiet": {
        if (!ended) break;
        for (const [lease, l] of held) {
          const actor = actorOn.get(l.worker);
          if ((actor !== undefined && actorState.get(actor) !== "DEAD") || reported.has(lease)) continue;
          reported.add(lease);
          const why = actor === undefined ? "no task holds it" : `its actor ${actor} is dead`;
          out.push(violationAt(NAME, events, i, `leak: lease ${lease} (worker ${l.worker} on ${l.node}) never returned, though the program ended and ${why}`));
        }
        break;
      }
    }
  }
  return out;
};
