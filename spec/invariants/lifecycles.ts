// The statecharts as specifications of the trace: each entity's state changes, as the trace
// records them, must follow its lifecycle chart (src/core/lifecycle). The edges are read from the
// charts themselves, so a chart that changes changes what this checker allows.
//
// A trace does not record every chart event (a task's DEPS_READY, an object's RECONSTRUCT, a
// worker's REGISTERED...). Each entity names its silent events: a traced change from A to B is
// allowed when the chart leads from A to B through any number of silent events and then one
// event of any kind. Traced, with the events that drive each chart:
// - actor: every actor.state the GCS publishes (its states are the chart's);
// - node: node.registered begins a life (ALIVE), node.dead ends it; a node that registers again
//   after it was declared dead is a new life;
// - task (the owner's view): task.submitted, task.retry (an error retried, or a lost output
//   resubmitted) and task.failed; a worker's task.started of the current attempt moves a task
//   not yet failed to RUNNING. A worker's task.finished is not the owner's SUCCEEDED: its reply
//   may be lost with the worker, and the owner then retries or fails a task it saw RUNNING; nor
//   is a zombie execution's report a change of the owner's chart (the other checkers judge those);
// - object (the owner's view): a task's return object is PENDING from task.submitted; the primary
//   copy (not one a node declared dead still stores) or the inline value makes it READY;
//   object.lost, object.out-of-scope; a generator's item is READY once recorded (generator.item) and
//   again once restored (generator.restored);
// - worker: lease.granted (LEASED), lease.returned (back to IDLE), worker.died (DEAD, final);
// - lease: lease.granted, lease.returned, keyed by lease id. A raylet traces a blocked worker's
//   lent resources as a return and their retaking as a grant of the same lease, so a traced
//   return moves a lease to BLOCKED, a grant of it then to GRANTED; it is RETURNED (silently: a
//   blocked lease's end is not traced) once its worker takes another lease or dies;
// - placement group: every pg.state the GCS traces;
// - bundle reservation: bundle.reserved (PREPARED) and bundle.released, per node; a bundle
//   reserved again after its release, or after its node was declared dead, is a new reservation;
// - job (submitted to the head's Jobs API): every job.state the job manager traces.
// An object pull traces only its completion (object.transferred), which every pull state may lead to through silent events,
// so its chart (src/core/lifecycle/pull.ts) is drawn but holds no traced transition to check.
import { actorChart, nodeChart, taskChart, objectChart, workerChart, leaseChart, placementGroupChart, bundleChart, jobChart } from "../../src/core/lifecycle/index.ts";
import { isGeneratorItemId, nodeOf, returnIdOf } from "../../src/core/types.ts";
import type { TraceEvent } from "../trace.ts";
import { violationAt, type Checker, type Violation } from "./types.ts";

const NAME = "lifecycles";

type Config = { initial?: unknown; states?: Record<string, { on?: Record<string, unknown> }> };

/** A chart's edges: state → event → the states that event may lead to (guards ignored). */
interface Edges {
  readonly name: string;
  readonly initial: string;
  readonly next: ReadonlyMap<string, ReadonlyMap<string, ReadonlySet<string>>>;
  readonly silent: ReadonlySet<string>;
}

function edges(name: string, chart: { config: unknown }, silent: readonly string[] = []): Edges {
  const c = chart.config as Config;
  const next = new Map<string, Map<string, Set<string>>>();
  const targetOf = (t: unknown): string | undefined =>
    typeof t === "string" ? t : typeof t === "object" && t !== null && typeof (t as { target?: unknown }).target === "string" ? (t as { target: string }).target : undefined;
  for (const [s, node] of Object.entries(c.states ?? {})) {
    const byEvent = new Map<string, Set<string>>();
    for (const [event, t] of Object.entries(node.on ?? {})) {
      const out = new Set<string>();
      for (const branch of Array.isArray(t) ? t : [t]) {
        const target = targetOf(branch);
        if (target !== undefined) out.add(target);
      }
      byEvent.set(event, out);
    }
    next.set(s, byEvent);
  }
  for (const e of silent) {
    if (![...next.values()].some((m) => m.has(e))) throw new Error(`${name} chart has no event ${e}`);
  }
  return { name, initial: String(c.initial), next, silent: new Set(silent) };
}

/** Whether the chart leads from `from` to `to` through silent events and then one event. */
function allows(chart: Edges, from: string, to: string): boolean {
  const seen = new Set([from]);
  const todo = [from];
  while (todo.length > 0) {
    const s = todo.pop()!;
    for (const [event, targets] of chart.next.get(s) ?? []) {
      if (targets.has(to)) return true;
      if (!chart.silent.has(event)) continue;
      for (const t of targets) if (!seen.has(t)) (seen.add(t), todo.push(t));
    }
  }
  return false;
}

const ACTOR = edges("actor", actorChart);
/** Where the GCS's registration puts an actor. */
const REGISTERED = "PENDING_CREATION";
if (!ACTOR.next.has(REGISTERED)) throw new Error(`actor chart has no state ${REGISTERED}`);
const NODE = edges("node", nodeChart);
const TASK = edges("task", taskChart, ["DEPS_READY", "DISPATCHED", "BOUNCED"]);
const OBJECT = edges("object", objectChart, ["RECONSTRUCT"]);
const WORKER = edges("worker", workerChart, ["REGISTERED", "BECAME_ACTOR"]);
const LEASE = edges("lease", leaseChart);
const PG = edges("placement group", placementGroupChart);
const JOB = edges("job", jobChart);
const BUNDLE = edges("bundle", bundleChart, ["COMMITTED"]);

/** Whether the chart leads from `from` to `to` by any path (any events, guards ignored). */
function reachable(chart: Edges, from: string, to: string): boolean {
  const seen = new Set([from]);
  const todo = [from];
  while (todo.length > 0) {
    for (const targets of chart.next.get(todo.pop()!)?.values() ?? []) {
      if (targets.has(to)) return true;
      for (const t of targets) if (!seen.has(t)) (seen.add(t), todo.push(t));
    }
  }
  return false;
}

/** One entity's place in its chart, as far as the trace has told. */
/** `deadNode`: a bundle reservation on a node since declared dead (its zombie may still release it). */
/** `recovered`: an actor known only from a restarted GCS's recovered table (state: where registration puts it). */
type Place = { state: string; attempt?: number; epoch?: number; deadNode?: true; recovered?: true };

export const checkLifecycles: Checker = (events) => new LifecycleWalk(events).run();

/**
 * One pass over a trace. A class rather than closures inside the checker: V8 keeps a closure's
 * optimised code only while a closure of it is alive, so closures made anew for every trace were
 * optimised again (on a compiler thread, competing with other explorations) after each collection.
 */
class LifecycleWalk {
  readonly out: Violation[] = [];
  /** key: chart name + entity id. */
  readonly places = new Map<string, Place>();
  /** worker → the last lease granted to it. */
  readonly held = new Map<string, string>();
  /** A force-cancelled task's result → the node of the worker destroyed for it. */
  readonly killedOutputs = new Map<string, string>();

  constructor(readonly events: readonly TraceEvent[]) {}

  run(): Violation[] {
    for (let i = 0; i < this.events.length; i++) this.step(this.events[i], i);
    return this.out;
  }

  at(chart: Edges, id: string): Place | undefined { return this.places.get(`${chart.name}\u0000${id}`); }

  set(chart: Edges, id: string, p: Place): void { this.places.set(`${chart.name}\u0000${id}`, p); }

  /** Moves `id` to `to`, reporting the move when its chart does not allow it. */
  move(i: number, chart: Edges, id: string, to: string, extra: Omit<Place, "state"> = {}): void {
    const prev = this.at(chart, id);
    const from = prev?.state ?? chart.initial;
    if (!allows(chart, from, to)) {
      const allowed = [...(chart.next.get(from)?.values() ?? [])].flatMap((s) => [...s]);
      this.out.push(violationAt(NAME, this.events, i, `${chart.name} ${id} went ${from} → ${to}, which its chart does not allow (from ${from}: ${allowed.length > 0 ? [...new Set(allowed)].join(", ") : "nothing, it is final"})`));
    }
    this.set(chart, id, { ...prev, ...extra, state: to });
  }

  /** The worker's last lease, if blocked, has ended: it is taking another or it died. */
  endBlocked(worker: string): void {
    const lease = this.held.get(worker);
    if (lease !== undefined && this.at(LEASE, lease)?.state === "BLOCKED") this.set(LEASE, lease, { state: "RETURNED" });
    this.held.delete(worker);
  }

  step(e: TraceEvent, i: number): void {
    const { out, places, held, killedOutputs, events } = this;
    switch (e.kind) {
      case "actor.state": {
        const prev = this.at(ACTOR, e.actor);
        // The GCS publishes an actor's state again after a restart of its own: the same state of
        // the same incarnation is news repeated, not a transition.
        if (prev && prev.state === e.state && prev.epoch === e.epoch) return;
        // Registered by a GCS whose trace of it died with it: whatever state it was in since.
        if (prev?.recovered && reachable(ACTOR, prev.state, e.state)) return this.set(ACTOR, e.actor, { state: e.state, epoch: e.epoch });
        if (prev && e.epoch < prev.epoch!) out.push(violationAt(NAME, events, i, `actor ${e.actor}'s epoch went back from ${prev.epoch} to ${e.epoch}`));
        // The table's first state may be its initial one or one step past it (published on creation).
        if (prev === undefined && e.state === ACTOR.initial) return this.set(ACTOR, e.actor, { state: e.state, epoch: e.epoch });
        return this.move(i, ACTOR, e.actor, e.state, { epoch: e.epoch });
      }
      case "gcs.recovered":
        // The old GCS registered these actors: storage acknowledged them, even when its trace of
        // doing so died with it (a SIGKILLed daemon loses its last few ms of trace).
        for (const a of e.actorIds ?? []) if (this.at(ACTOR, a) === undefined) this.set(ACTOR, a, { state: REGISTERED, recovered: true });
        return;
      case "node.registered": {
        const prev = this.at(NODE, e.id)?.state;
        if (prev === "ALIVE") return; // registered again in the same life (a GCS restart's re-registration)
        // A node declared dead that registers again is a new life: its chart starts over.
        if (prev === "DEAD") places.delete(`${NODE.name}\u0000${e.id}`);
        return this.move(i, NODE, e.id, "ALIVE");
      }
      case "node.dead": {
        if (this.at(NODE, e.id)?.state === "DEAD") return; // the same death heard again (e.g. after a GCS restart)
        // The node's reservations die with it: one made on its next life is a new reservation,
        // though until it learns of its death the node (a zombie) may still release the old one.
        const onNode = `@${e.id}`;
        for (const [key, p] of places) if (key.startsWith(`${BUNDLE.name}\u0000`) && key.endsWith(onNode)) p.deadNode = true;
        return this.move(i, NODE, e.id, "DEAD");
      }
      case "task.submitted":
        this.set(OBJECT, e.returns, { state: OBJECT.initial });
        return this.move(i, TASK, e.task, "WAITING_FOR_DEPS", { attempt: 0 });
      case "task.started": {
        const t = this.at(TASK, e.task);
        // Only the current attempt of a task its owner still has in flight moves its chart.
        if (t === undefined || t.attempt !== e.attempt || t.state === "FAILED") return;
        return this.move(i, TASK, e.task, "RUNNING");
      }
      case "task.retry":
        return this.move(i, TASK, e.task, "WAITING_FOR_DEPS", { attempt: e.attempt });
      case "task.failed":
        return this.move(i, TASK, e.task, "FAILED");
      case "task.cancelled":
        if (e.worker !== undefined) killedOutputs.set(returnIdOf(e.task), nodeOf(e.worker));
        return;
      case "object.created": {
        if (e.where === "store" && e.primary !== true) return; // a secondary copy: no change for the owner
        // A copy a zombie node stores after it was declared dead (a stale attempt's output) is
        // never the owner's: the owner has retried or freed the object by then.
        if (e.where === "store" && this.at(NODE, e.node)?.state === "DEAD") return;
        // Nor is one that a worker destroyed by a forced cancel stores before it dies: the owner
        // settled the task without it (TaskCancelledError), and drops the copy once it is dead.
        if (e.where === "store" && killedOutputs.get(e.obj) === e.node) return;
        // A streaming generator's item is the owner's once it records it (generator.item): a
        // store copy may be a retry's duplicate, stored after the item was freed, and dropped.
        if (e.where === "store" && isGeneratorItemId(e.obj)) return;
        const o = this.at(OBJECT, e.obj);
        if (o?.state === "READY") return; // another primary (a re-executed task's): news repeated
        return this.move(i, OBJECT, e.obj, "READY");
      }
      case "generator.item":
        if (this.at(OBJECT, e.obj)?.state === "READY") return; // an inline item: its creation said so
        return this.move(i, OBJECT, e.obj, "READY");
      case "generator.restored": // a lost item yielded again (its reconstruction)
        return this.move(i, OBJECT, e.obj, "READY");
      case "object.lost":
        return this.move(i, OBJECT, e.obj, "LOST");
      case "object.out-of-scope":
        return this.move(i, OBJECT, e.obj, "FREED");
      case "lease.granted": {
        const lease = `${e.lease}@${e.node}`;
        const prev = held.get(e.worker);
        if (prev !== lease) this.endBlocked(e.worker);
        held.set(e.worker, lease);
        this.move(i, LEASE, lease, "GRANTED");
        return this.move(i, WORKER, e.worker, "LEASED");
      }
      case "lease.returned":
        this.move(i, LEASE, `${e.lease}@${e.node}`, "BLOCKED");
        if (this.at(WORKER, e.worker)?.state === "DEAD") return; // returned because the worker died
        return this.move(i, WORKER, e.worker, "IDLE");
      case "worker.died":
        this.endBlocked(e.worker);
        return this.move(i, WORKER, e.worker, "DEAD");
      case "pg.state":
        if (this.at(PG, e.pg)?.state === e.state) return; // told again after a GCS restart
        return this.move(i, PG, e.pg, e.state);
      case "bundle.reserved": {
        const key = `${e.bundle}@${e.node}`;
        const prev = this.at(BUNDLE, key);
        if (prev?.state === "RELEASED" || prev?.deadNode) places.delete(`${BUNDLE.name}\u0000${key}`);
        return this.move(i, BUNDLE, key, "PREPARED");
      }
      case "job.state":
        // A job's first trace is its submission (PENDING), or a later state if tracing began after it.
        if (this.at(JOB, e.job) === undefined && e.state === JOB.initial) return this.set(JOB, e.job, { state: e.state });
        return this.move(i, JOB, e.job, e.state);
      case "bundle.released": {
        const key = `${e.bundle}@${e.node}`;
        // A zombie giving back what it held when it was declared dead: that reservation ends here.
        if (this.at(BUNDLE, key)?.deadNode) return void places.delete(`${BUNDLE.name}\u0000${key}`);
        return this.move(i, BUNDLE, key, "RELEASED");
      }
      default:
        return;
    }
  }
}
