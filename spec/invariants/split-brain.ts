// Invariant 4 (no split brain): at most one live instance of an actor has its results
// accepted, and a node the cluster declared dead runs nothing once it has fenced itself.
import { workerIncarnation } from "./owners.ts";
import { violationAt, type Checker, type Violation } from "./types.ts";

const NAME = "split-brain";

interface Fence {
  index: number;
  /** The highest worker incarnation seen on the node up to the fence: workers of that life or older are dead. */
  inc: number;
}

export const checkSplitBrain: Checker = (events) => {
  const out: Violation[] = [];
  const at = (i: number, msg: string) => out.push(violationAt(NAME, events, i, msg));

  const maxInc = new Map<string, number>(); // node -> highest worker incarnation seen on it
  const fenced = new Map<string, Fence>(); // node -> its fence, until it registers again
  const accepted = new Map<string, number>(); // actor\0caller -> highest epoch accepted
  const alive = new Map<string, number>(); // actor -> highest epoch published ALIVE

  const sawWorker = (node: string, worker: string) => {
    const inc = workerIncarnation(worker);
    if (inc !== undefined && inc > (maxInc.get(node) ?? 0)) maxInc.set(node, inc);
  };

  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    switch (e.kind) {
      case "lease.granted":
        sawWorker(e.node, e.worker);
        break;
      case "node.fenced":
        fenced.set(e.id, { index: i, inc: maxInc.get(e.id) ?? 0 });
        break;
      case "node.registered":
        fenced.delete(e.id); // the node restarted: a new life
        break;
      case "task.started": {
        const f = fenced.get(e.node);
        // A worker of a later life than any seen before the fence belongs to a restarted
        // raylet whose registration is still on its way.
        const inc = workerIncarnation(e.worker);
        if (f && !(inc !== undefined && inc > f.inc)) {
          at(i, `task ${e.task} started on worker ${e.worker} of node ${e.node} after the node fenced itself (at t=${events[f.index].t})`);
        }
        sawWorker(e.node, e.worker);
        break;
      }
      case "actor.state":
        if (e.state === "ALIVE" && e.epoch > (alive.get(e.actor) ?? -Infinity)) alive.set(e.actor, e.epoch);
        break;
      case "actor.result": {
        const live = alive.get(e.actor);
        const key = `${e.actor}\0${e.caller}`;
        const prev = accepted.get(key);
        if (live !== undefined && e.epoch < live) {
          at(i, `result accepted from a stale incarnation: ${e.caller} accepted task ${e.task} of actor ${e.actor} from epoch ${e.epoch}, but epoch ${live} was already ALIVE`);
        } else if (prev !== undefined && e.epoch < prev) {
          at(i, `${e.caller} accepted task ${e.task} of actor ${e.actor} from epoch ${e.epoch} after accepting results from epoch ${prev} (epochs went backwards)`);
        }
        if (prev === undefined || e.epoch > prev) accepted.set(key, e.epoch);
        break;
      }
    }
  }
  return out;
};
