// Actor scheduling, on the worker that hosts an actor: its calls are released in each caller's
// order (by sequence number), whatever order they arrive in; calls that arrive early wait for
// their turn, duplicates of calls already run are dropped, and seqs the caller says it will
// never send (closed: answered by an earlier incarnation, failed, cancelled) are passed over.
// A sync actor runs one call at a time; an async actor (maxConcurrency > 1) starts the next
// call while earlier ones await, as Ray's asyncio actors do, up to maxConcurrency at once.
// With concurrency groups (Ray's concurrency_groups), each group has its own queue and limit:
// a call released in its caller's order waits only for slots of its own group, so a busy group
// never holds back another's calls (nor are calls of different groups started in order).

import type { TaskResult } from "../messages.ts";
import { Fifo } from "../fifo.ts";
import { removeAt } from "../list.ts";
import type { ActorId, Addr, ErrorInfo, SchedulingStrategy, TaskSpec } from "../types.ts";
import type { Ctx } from "./context.ts";
import { isDead } from "./object-recovery.ts";
import { prepare, type Execution } from "./task-receiver.ts";

export interface HostedActor {
  readonly actorId: ActorId;
  /** The incarnation this worker runs (the GCS counts restarts). */
  readonly epoch: number;
  /** Each caller's place in its order. */
  readonly callers: Map<Addr, CallerOrder>;
  /** Its concurrency groups by name; DEFAULT_GROUP's limit is the actor's maxConcurrency. */
  readonly groups: ReadonlyMap<string, GroupSlots>;
  /** The group each method named in a group's `methods` runs in (the others: DEFAULT_GROUP). */
  readonly groupOfMethod: ReadonlyMap<string, string>;
  /** Calls started and not yet answered, in start order, every group's. */
  readonly running: Execution[];
  /** The constructor's outcome, repeated if the creation is pushed again (a restarted GCS asks). */
  created: TaskResult | undefined;
  /** How the actor was placed: its calls' children may inherit its placement group (worker/placement-groups.ts). */
  readonly strategy: SchedulingStrategy;
  /** Which method called ray.exitActor(): the actor is over, and this worker runs none of its calls any more. */
  exited: string | undefined;
}

/** One concurrency group's calls: released and waiting for a slot, and how many hold one. */
export interface GroupSlots {
  readonly name: string;
  /** How many of its calls may run at once (1: one at a time). */
  readonly limit: number;
  readonly runnable: Fifo<Execution>;
  running: number;
}

/** The group of the calls that neither name a group nor call a method a group lists (Ray's "default"). */
export const DEFAULT_GROUP = "";

/** Where one caller's calls stand on this incarnation. */
export interface CallerOrder {
  /** The next seq to run. */
  next: number;
  /** Calls that arrived ahead of their turn, by seq. */
  readonly early: Map<number, Execution>;
  /** Seqs above `next` the caller will never send (a PushTask's closedSeqs): not waited for. */
  readonly closed: Set<number>;
}

export interface ActorScheduling {
  /** The actor this worker hosts, once its creation was pushed here. */
  actor: HostedActor | undefined;
}

export function newActorScheduling(): ActorScheduling {
  return { actor: undefined };
}

export function newHostedActor(spec: TaskSpec): HostedActor {
  const slots = (name: string, limit: number): GroupSlots => ({ name, limit, runnable: new Fifo(), running: 0 });
  const groups = new Map([[DEFAULT_GROUP, slots(DEFAULT_GROUP, spec.maxConcurrency ?? 1)]]);
  const groupOfMethod = new Map<string, string>();
  for (const g of spec.concurrencyGroups ?? []) {
    groups.set(g.name, slots(g.name, g.maxConcurrency));
    for (const m of g.methods) groupOfMethod.set(m, g.name);
  }
  return { actorId: spec.actorId!, epoch: spec.attempt, callers: new Map(), groups, groupOfMethod, running: [], created: undefined, strategy: spec.strategy, exited: undefined };
}

/** Whether calls of `h` may start out of their callers' order: more than one may run at once, or it has groups. */
export function runsConcurrently(h: HostedActor): boolean {
  return h.groups.size > 1 || h.groups.get(DEFAULT_GROUP)!.limit > 1;
}

/** The group a call runs in: the one it names, else its method's; undefined if it names one the actor does not have. */
export function groupOf(h: HostedActor, spec: TaskSpec): GroupSlots | undefined {
  return h.groups.get(spec.concurrencyGroup ?? h.groupOfMethod.get(spec.name) ?? DEFAULT_GROUP);
}

/** Whether `spec` creates the very incarnation `h` is. */
export function sameActorCreation(h: HostedActor, spec: TaskSpec): boolean {
  return h.actorId === spec.actorId && h.epoch === spec.attempt;
}

/** An actor call pushed here, with what its caller says of its other calls (see the PushTask message). */
export function queueActorCall(w: Ctx, e: Execution, minPendingSeq: number | undefined, closedSeqs: readonly number[] | undefined): void {
  const h = w.actor;
  if (!h || h.actorId !== e.spec.actorId) return refuseCall(w, e, { type: "ActorDiedError", message: `worker ${w.addr} does not host actor ${e.spec.actorId}` });
  if (h.exited !== undefined) return refuseCall(w, e, exitedError(h), h.epoch);
  const caller = e.spec.caller!;
  // Sent before its caller died (held on the way, or duplicated): its caller's place in order is
  // gone (callersDied), and one made afresh could run it twice or never. Nobody waits for it.
  if (isDead(w, caller)) return;
  let q = h.callers.get(caller);
  if (!q) h.callers.set(caller, (q = { next: w.cfg.bugs.has("actor-first-call-dropped") ? 1 : 0, early: new Map(), closed: new Set() }));
  if (minPendingSeq !== undefined && minPendingSeq > q.next) skipTo(q, minPendingSeq);
  if (closedSeqs) for (const s of closedSeqs) if (s >= q.next) q.closed.add(s);
  const seq = e.spec.seq!;
  if (seq < q.next) return releaseInOrder(w, h, q); // a duplicate of a call already run
  if (seq === q.next) {
    // Its turn (calls mostly arrive in order): straight to the run queue. Parked among the early
    // ones and taken out at once, it would empty that map on every call, and V8 shrinks an
    // emptied Map, allocating a new table each time.
    q.closed.delete(seq);
    release(w, h, e);
    q.next++;
  } else q.early.set(seq, e);
  releaseInOrder(w, h, q);
}

/** Answers a call this worker will not run; `epoch`: of the incarnation it hosts, if it hosts the call's actor (its caller judges the answer by it). */
function refuseCall(w: Ctx, e: Execution, error: ErrorInfo, epoch?: number): void {
  w.fx.send(e.from, { type: "TaskReply", taskId: e.spec.taskId, returnId: e.spec.returnId, attempt: e.spec.attempt, result: { kind: "error", error, retryable: false }, epoch });
}

/** What every call of an actor that exited is answered with, from the one that exited on. */
export function exitedError(h: HostedActor): ErrorInfo {
  return { type: "ActorDiedError", message: `the actor exited: its method ${h.exited} called ray.exitActor()` };
}

/**
 * A method of the actor called ray.exitActor(): the actor ends for good, as a Ray actor whose
 * process exits intentionally. The GCS is told (it declares the actor DEAD whatever its restart
 * budget, and returns its lease, which ends this worker); until then the worker runs none of the
 * actor's calls: those waiting here and those that come are answered with ActorDiedError, and
 * so are those running beside it (an async actor's) when they end.
 */
export function exitActor(w: Ctx, h: HostedActor, method: string): void {
  h.exited = method;
  w.fx.trace({ kind: "actor.exited", comp: "worker", actor: h.actorId, worker: w.addr, epoch: h.epoch, method });
  tellExit(w, h);
  for (const g of h.groups.values()) for (const e of g.runnable.drain()) refuseCall(w, e, exitedError(h), h.epoch);
  for (const q of h.callers.values()) {
    for (const e of q.early.values()) refuseCall(w, e, exitedError(h), h.epoch);
    q.early.clear();
  }
}

/** Tells the GCS that the actor exited (again, to a GCS that restarted and may have lost it). */
export function tellExit(w: Ctx, h: HostedActor): void {
  w.fx.send(w.cfg.gcs, { type: "KillActor", actorId: h.actorId, exited: true, epoch: h.epoch });
}

/**
 * Callers known dead send no more calls: their places in order go, with the calls that waited
 * there for an earlier one (which could only come late, and is refused then). Calls released
 * already run on. Ray keeps every caller's queue for the actor's life.
 */
export function callersDied(w: Ctx, dead: (a: Addr) => boolean): void {
  const h = w.actor;
  if (h) for (const c of h.callers.keys()) if (dead(c)) h.callers.delete(c);
}

/** Everything below `seq` is done, the caller says: what waited for it is dropped. */
function skipTo(q: CallerOrder, seq: number): void {
  q.next = seq;
  for (const s of q.early.keys()) if (s < seq) q.early.delete(s);
  for (const s of q.closed) if (s < seq) q.closed.delete(s);
}

/** Moves a caller's calls that are next in line to the run queue, passing over closed seqs. */
function releaseInOrder(w: Ctx, h: HostedActor, q: CallerOrder): void {
  for (;;) {
    const e = q.early.get(q.next);
    if (e) {
      q.early.delete(q.next);
      q.closed.delete(q.next);
      release(w, h, e);
    } else if (!q.closed.delete(q.next)) break;
    q.next++;
  }
  runActor(w, h);
}

/**
 * A call whose turn came in its caller's order: to its group's queue. A call naming a group the
 * actor does not have is answered with an error, in its turn, as a method that raised
 * (Ray refuses such a call too).
 */
function release(w: Ctx, h: HostedActor, e: Execution): void {
  const g = groupOf(h, e.spec);
  if (g) return g.runnable.push(e);
  const message = `actor ${h.actorId} has no concurrency group "${e.spec.concurrencyGroup!}"`;
  refuseCall(w, e, { type: "TaskError", message, cause: { name: "ValueError", message } }, h.epoch);
}

export function runActor(w: Ctx, h: HostedActor): void {
  // Nothing runs before the constructor is done (w.current is the creation until it replies).
  for (const g of h.groups.values()) {
    while (!w.current && g.running < g.limit) {
      const e = g.runnable.shift();
      if (!e) break;
      g.running++;
      h.running.push(e);
      prepare(w, e);
    }
  }
}

/** The running call with this task id, if any. */
export function runningCall(h: HostedActor, taskId: string): Execution | undefined {
  for (const e of h.running) if (e.spec.taskId === taskId) return e;
  return undefined;
}

/** A running call answered: its slot is free. */
export function callEnded(h: HostedActor, e: Execution): void {
  const i = h.running.indexOf(e);
  if (i < 0) return;
  removeAt(h.running, i);
  groupOf(h, e.spec)!.running--;
}
