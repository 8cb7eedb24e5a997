// Actor scheduling, on the worker that hosts an actor: its calls are released in each caller's
// order (by sequence number), whatever order they arrive in; calls that arrive early wait for
// their turn, duplicates of calls already run are dropped, and seqs the caller says it will
// never send (closed: answered by an earlier incarnation, failed, cancelled) are passed over.
// A sync actor runs one call at a time; an async actor (maxConcurrency > 1) starts the next
// call while earlier ones await, as Ray's asyncio actors do, up to maxConcurrency at once.

import type { TaskResult } from "../messages.ts";
import { Fifo } from "../fifo.ts";
import { removeAt } from "../list.ts";
import type { ActorId, Addr, ErrorInfo, SchedulingStrategy, TaskSpec } from "../types.ts";
import type { Ctx } from "./context.ts";
import { prepare, type Execution } from "./task-receiver.ts";

export interface HostedActor {
  readonly actorId: ActorId;
  /** The incarnation this worker runs (the GCS counts restarts). */
  readonly epoch: number;
  /** Each caller's place in its order. */
  readonly callers: Map<Addr, CallerOrder>;
  readonly runnable: Fifo<Execution>;
  /** Calls started and not yet answered, in start order. */
  readonly running: Execution[];
  /** How many calls may run at once (1: one at a time). */
  readonly maxConcurrency: number;
  /** The constructor's outcome, repeated if the creation is pushed again (a restarted GCS asks). */
  created: TaskResult | undefined;
  /** How the actor was placed: its calls' children may inherit its placement group (worker/placement-groups.ts). */
  readonly strategy: SchedulingStrategy;
}

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
  return { actorId: spec.actorId!, epoch: spec.attempt, callers: new Map(), runnable: new Fifo(), running: [], maxConcurrency: spec.maxConcurrency ?? 1, created: undefined, strategy: spec.strategy };
}

/** Whether `spec` creates the very incarnation `h` is. */
export function sameActorCreation(h: HostedActor, spec: TaskSpec): boolean {
  return h.actorId === spec.actorId && h.epoch === spec.attempt;
}

/** An actor call pushed here, with what its caller says of its other calls (see the PushTask message). */
export function queueActorCall(w: Ctx, e: Execution, minPendingSeq: number | undefined, closedSeqs: readonly number[] | undefined): void {
  const h = w.actor;
  if (!h || h.actorId !== e.spec.actorId) {
    const error: ErrorInfo = { type: "ActorDiedError", message: `worker ${w.addr} does not host actor ${e.spec.actorId}` };
    return w.fx.send(e.from, { type: "TaskReply", taskId: e.spec.taskId, returnId: e.spec.returnId, attempt: e.spec.attempt, result: { kind: "error", error, retryable: false } });
  }
  const caller = e.spec.caller!;
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
    h.runnable.push(e);
    q.next++;
  } else q.early.set(seq, e);
  releaseInOrder(w, h, q);
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
      h.runnable.push(e);
    } else if (!q.closed.delete(q.next)) break;
    q.next++;
  }
  runActor(w, h);
}

export function runActor(w: Ctx, h: HostedActor): void {
  // Nothing runs before the constructor is done (w.current is the creation until it replies).
  while (!w.current && h.running.length < h.maxConcurrency) {
    const e = h.runnable.shift();
    if (!e) return;
    h.running.push(e);
    prepare(w, e);
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
  if (i >= 0) removeAt(h.running, i);
}
