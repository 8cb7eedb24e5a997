// Named actors in namespaces (Ray 2.x): one live actor holds a name within its namespace (a
// second registration of it is refused), a lookup finds only an actor registered under that
// name in the namespace asked, and a detached actor outlives its owner: without a fault, it
// dies only through a ray.kill of its own (or, being created, by a refused name or a failed constructor).
import { violationAt, type Checker, type Violation } from "./types.ts";

const NAME = "names";

const keyOf = (namespace: string, name: string) => `${namespace}\u0000${name}`;
const show = (key: string) => `"${key.slice(key.indexOf("\u0000") + 1)}" in namespace "${key.slice(0, key.indexOf("\u0000"))}"`;

export const checkNames: Checker = (events) => {
  const out: Violation[] = [];
  const at = (i: number, msg: string) => out.push(violationAt(NAME, events, i, msg));

  const actors = new Map<string, { key?: string; detached: boolean; dead: boolean }>();
  /** The live actor holding each name. */
  const holders = new Map<string, string>();
  /** Registered while another live actor held the name: must be refused (its next state DEAD). */
  const mustRefuse = new Map<string, string>();
  const killed = new Set<string>();
  /** Actor creation tasks by task id, and the actors whose constructor failed (they die, detached or not). */
  const creations = new Map<string, string>();
  const failedCreation = new Set<string>();
  let faulted = false;

  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    switch (e.kind) {
      case "fault":
        faulted = true;
        break;
      case "actor.killed":
      case "actor.exited":
        killed.add(e.actor);
        break;
      case "task.started":
        if (e.actor !== undefined && e.seq === undefined) creations.set(e.task, e.actor);
        break;
      case "task.finished": {
        const actor = creations.get(e.task);
        if (actor !== undefined && !e.ok) failedCreation.add(actor);
        break;
      }
      case "actor.registered": {
        if (actors.has(e.actor)) break; // registered again (a resent creation): judged the first time
        const key = e.name === undefined ? undefined : keyOf(e.namespace ?? "", e.name);
        actors.set(e.actor, { key, detached: e.detached, dead: false });
        if (key === undefined) break;
        const holder = holders.get(key);
        if (holder !== undefined) mustRefuse.set(e.actor, holder);
        else holders.set(key, e.actor);
        break;
      }
      case "actor.state": {
        const a = actors.get(e.actor);
        if (!a) break;
        const holder = mustRefuse.get(e.actor);
        const refused = holder !== undefined;
        if (holder !== undefined) {
          mustRefuse.delete(e.actor);
          if (e.state !== "DEAD") at(i, `actor ${e.actor} was taken under the name ${show(a.key!)}, which live actor ${holder} holds: a duplicate must be refused`);
        }
        if (e.state !== "DEAD" || a.dead) break;
        a.dead = true;
        if (a.key !== undefined && holders.get(a.key) === e.actor) holders.delete(a.key);
        // Before it ever ran too: a detached actor is not killed with an owner that dies while
        // it is still being created (only a refused name or a failed constructor ends it then).
        if (a.detached && !refused && !failedCreation.has(e.actor) && !faulted && !killed.has(e.actor)) {
          at(i, `detached actor ${e.actor} died with no ray.kill of it and no fault: a detached actor outlives its owner`);
        }
        break;
      }
      case "actor.lookup": {
        if (e.found === undefined) break;
        const a = actors.get(e.found);
        const asked = keyOf(e.namespace, e.name);
        if (a && a.key !== asked) at(i, `a lookup of ${show(asked)} found actor ${e.found}, registered ${a.key === undefined ? "without a name" : `as ${show(a.key)}`}`);
        break;
      }
    }
  }
  return out;
};
