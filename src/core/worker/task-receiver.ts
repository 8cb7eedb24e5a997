// The executor's task receiver: tasks pushed to this worker by their owners. It drops
// duplicated pushes, queues tasks pipelined behind the running one (and sends them back if that
// one blocks), gathers each task's function and arguments, has the host run it, and replies
// with the result (inline, or stored in the node's store). A task blocked in get/wait lends its
// CPU back to the node; the answers it waits for are held until the CPU is its again.

import { InvariantError, assertNever } from "../assert.ts";
import type { CallResult } from "../effects.ts";
import { Fifo } from "../fifo.ts";
import { refsOfResult, type Msg, type TaskResult } from "../messages.ts";
import type { Addr, ErrorInfo, FunctionDescriptor, FunctionId, Payload, RefInfo, TaskSpec } from "../types.ts";
import { cancelledError } from "./cancellation.ts";
import {
  callEnded, DEFAULT_GROUP, exitActor, exitedError, groupOf, newHostedActor, queueActorCall, runActor, runningCall, runsConcurrently, sameActorCreation,
} from "./actor-scheduling.ts";
import type { Ctx } from "./context.ts";
import type { Outcome } from "./inputs.ts";
import { readFromStore, storePut } from "./object-requests.ts";
import { endScope, holdRefs, lendReturned } from "./reference-table.ts";
import type { ExecutingGenerator } from "./generators.ts";
import { servesJobOf } from "./job.ts";

/** A normal task or actor call this worker is executing or about to. */
export interface Execution {
  readonly spec: TaskSpec;
  readonly from: Addr;
  fn: FunctionDescriptor | undefined;
  args: Payload[] | undefined;
  missing: number;
  failed: ErrorInfo | undefined;
  /** When it started running (-1: not yet): the reply tells the owner how long it ran. */
  startedAt: number;
  /** Its owner cancelled it: not started, it is answered as cancelled; running, its code was signalled. */
  cancelled: boolean;
  /** A streaming generator's progress, from its first yielded item. */
  generator?: ExecutingGenerator;
}

export interface TaskReceiver {
  /**
   * Recently finished or bounced here: taskId → its latest push (pushNo), to drop duplicated pushes. Two
   * generations of up to 4096 each: when the newer fills up the older is dropped whole, which
   * bounds memory without an eviction per task.
   */
  finished: Map<string, number>;
  finishedBefore: Map<string, number>;
  /** Tasks pushed while one runs here (a pipelined lease), in the order they came. */
  readonly queued: Fifo<Execution>;
  /** The normal task (or actor creation) running or being prepared. */
  current: Execution | undefined;
  /** Executions waiting for a function's source from the GCS. */
  readonly fnWaiters: Map<FunctionId, Execution[]>;
  /** Gets/waits in flight that the running task blocks on, and their answers held until its CPU is back. */
  blockedCalls: number;
  held: Held[];
  /** Set for a driver: it is never leased, and hears failure news from the GCS directly. */
  isDriver: boolean;
}

export function newTaskReceiver(): TaskReceiver {
  return { finished: new Map(), finishedBefore: new Map(), queued: new Fifo(), current: undefined, fnWaiters: new Map(), blockedCalls: 0, held: [], isDriver: false };
}

/** An answer that came while the running task had lent its CPU back: delivered once the CPU is back. */
export type Held =
  /** The answer to an API call (get, wait). */
  | { readonly kind: "call"; readonly callId: number; readonly result: CallResult }
  /** A task's referenced arguments, read from the store. */
  | { readonly kind: "args"; readonly e: Execution; readonly refs: readonly RefInfo[]; readonly at: readonly number[]; readonly vals: readonly (Payload | ErrorInfo)[] };

/**
 * Orders the pushes of one task: later attempts, and within an attempt each push after a
 * bounce, get larger numbers; a push numbered at or below one already run or bounced is a duplicate.
 */
function pushNo(s: TaskSpec): number {
  return s.attempt * 1_048_576 + (s.bounces ?? 0);
}

export function pushTask(w: Ctx, from: Addr, m: Extract<Msg, { type: "PushTask" }>): void {
  const spec = m.spec;
  // Every field from the start: an object that gains fields later changes shape, and the code reading it slows down.
  const e: Execution = { spec, from, fn: undefined, args: undefined, missing: 0, failed: undefined, startedAt: -1, cancelled: spec.cancelled === true };
  servesJobOf(w, spec);
  if (spec.kind === "actor-task") return queueActorCall(w, e, m.minPendingSeq, m.closedSeqs);
  if (!w.cfg.bugs.has("no-dedup")) {
    const h = w.actor;
    if (spec.kind === "actor-create" && h !== undefined && sameActorCreation(h, spec)) {
      // Constructed already (or under way): answer again rather than build a second instance.
      if (h.created) w.fx.send(spec.owner, { type: "TaskReply", taskId: spec.taskId, returnId: spec.returnId, attempt: spec.attempt, result: h.created });
      return;
    }
    const done = w.finished.get(spec.taskId) ?? w.finishedBefore.get(spec.taskId);
    const cur = w.current?.spec;
    if ((done !== undefined && done >= pushNo(spec)) || (cur && cur.taskId === spec.taskId && cur.attempt === spec.attempt)) return;
    for (let i = 0; i < w.queued.length; i++) {
      const q = w.queued.at(i)!.spec;
      if (q.taskId === spec.taskId && pushNo(q) >= pushNo(spec)) return;
    }
  }
  if (w.current && spec.kind === "normal") {
    // Pipelined behind the running task; straight back if that one is blocked (what it waits
    // for may be this very task, or need it).
    if (w.blockedCalls > 0) return bounce(w, e);
    return w.queued.push(e);
  }
  if (spec.kind === "actor-create") w.actor = newHostedActor(spec);
  w.current = e;
  prepare(w, e);
}

/** Sends a queued task back to its owner unrun, to go to another lease. */
function bounce(w: Ctx, e: Execution): void {
  const s = e.spec;
  remember(w, s);
  w.fx.send(s.owner, { type: "TaskBounced", taskId: s.taskId, returnId: s.returnId, attempt: s.attempt, bounces: s.bounces ?? 0 });
}

/** Gathers the function's source and the argument values, then asks the host to run it. */
export function prepare(w: Ctx, e: Execution): void {
  const fnId = e.spec.kind === "actor-task" ? undefined : e.spec.fn;
  if (fnId !== undefined) {
    const fn = w.fnCache.get(fnId);
    if (fn) e.fn = fn;
    else {
      e.missing++;
      const waiting = w.fnWaiters.get(fnId);
      if (waiting) waiting.push(e);
      else {
        w.fnWaiters.set(fnId, [e]);
        w.fx.send(w.cfg.gcs, { type: "GetFunction", id: fnId });
      }
    }
  }
  const specArgs = e.spec.args;
  const args: Payload[] = new Array(specArgs.length);
  e.args = args;
  // Arguments passed by reference, and their positions (most tasks have none: no arrays then).
  let refs: RefInfo[] | undefined;
  let at: number[] | undefined;
  for (let i = 0; i < specArgs.length; i++) {
    const a = specArgs[i];
    if ("v" in a) args[i] = a.v;
    else { (refs ??= []).push({ id: a.ref, owner: a.owner }); (at ??= []).push(i); }
  }
  if (refs !== undefined && at !== undefined) {
    e.missing++;
    // Fetching arguments may wait on their reconstruction, which may need this very CPU.
    readFromStore(w, refs, { kind: "args", e, refs, at, blocked: block(w) });
  }
  if (e.missing === 0) execute(w, e);
}

/** The store answered with a task's referenced arguments (taken once the CPU is back, if the fetch blocked). */
export function argsRead(w: Ctx, e: Execution, refs: readonly RefInfo[], at: readonly number[], blocked: Execution | undefined, vals: readonly (Payload | ErrorInfo)[]): void {
  unblock(w, blocked, { kind: "args", e, refs, at, vals });
}

function argsArrived(w: Ctx, e: Execution, refs: readonly RefInfo[], at: readonly number[], vals: readonly (Payload | ErrorInfo)[]): void {
  const args = e.args!;
  for (let k = 0; k < vals.length; k++) {
    const v = vals[k];
    if ("hash" in v) {
      args[at[k]] = v;
      w.fx.trace({ kind: "object.read", comp: "worker", obj: refs[k].id, hash: v.hash, reader: w.addr });
    } else e.failed ??= v;
  }
  prepared(w, e);
}

function prepared(w: Ctx, e: Execution): void {
  if (--e.missing === 0) execute(w, e);
}

export function functionArrived(w: Ctx, fn: FunctionDescriptor): void {
  w.fnCache.set(fn.id, fn);
  const waiting = w.fnWaiters.get(fn.id) ?? [];
  w.fnWaiters.delete(fn.id);
  for (const e of waiting) { e.fn = fn; prepared(w, e); }
}

function execute(w: Ctx, e: Execution): void {
  const s = e.spec;
  if (e.failed) return reply(w, e, { kind: "error", error: e.failed, retryable: true });
  if (e.cancelled) return reply(w, e, { kind: "error", error: cancelledError(s.name), retryable: false });
  // A call that was waiting for its arguments when a method exited the actor never runs.
  if (s.kind === "actor-task" && w.actor?.exited !== undefined) return reply(w, e, { kind: "error", error: exitedError(w.actor), retryable: false });
  const fn = e.fn ?? { id: s.fn, name: s.name, kind: "class", source: "" };
  // Actor fields only where they mean something: every trace event is hashed, key by key.
  const h = s.kind === "actor-task" ? w.actor : undefined;
  const g = h !== undefined && runsConcurrently(h) ? groupOf(h, s) : undefined;
  w.fx.trace(s.actorId === undefined
    ? { kind: "task.started", comp: "worker", task: s.taskId, worker: w.addr, attempt: s.attempt }
    : g !== undefined
      ? {
        kind: "task.started", comp: "worker", task: s.taskId, worker: w.addr, attempt: s.attempt, actor: s.actorId, caller: s.caller, seq: s.seq, epoch: h!.epoch, concurrent: true,
        limit: g.limit, group: g.name === DEFAULT_GROUP ? undefined : g.name,
      }
      : { kind: "task.started", comp: "worker", task: s.taskId, worker: w.addr, attempt: s.attempt, actor: s.actorId, caller: s.caller, seq: s.seq, epoch: s.kind === "actor-task" ? w.actor?.epoch : undefined });
  e.startedAt = w.fx.now();
  // The task's code holds the refs nested in its arguments: borrowed until its scope ends (an
  // actor's, until the actor dies: its state may keep them).
  for (const a of e.args!) if (a.refs) holdRefs(w, a.refs);
  w.fx.execute(s, fn, e.args!);
}

function remember(w: Ctx, s: TaskSpec): void {
  if (w.finished.size >= 4096) {
    w.finishedBefore = w.finished;
    w.finished = new Map();
  }
  w.finished.set(s.taskId, pushNo(s));
}

/** The execution of attempt `attempt` of `taskId` running here, if it is. */
export function executionOf(w: Ctx, taskId: string, attempt: number): Execution | undefined {
  return w.current?.spec.taskId === taskId && w.current.spec.attempt === attempt ? w.current
    : w.actor !== undefined ? runningCall(w.actor, taskId) : undefined;
}

/** True when `p` holds a ref this worker owns (undefined otherwise, so the field is left out of the trace). */
function ownsRefs(w: Ctx, p: Payload): true | undefined {
  return p.refs !== undefined && p.refs.some((r) => r.owner === w.addr) ? true : undefined;
}

/** The host finished running `taskId` (attempt `attempt`). */
export function taskDone(w: Ctx, taskId: string, attempt: number, out: Outcome): void {
  const e = executionOf(w, taskId, attempt);
  if (!e) return;
  // Two literals with the same keys in the same order (rather than a spread): no object to copy per task.
  w.fx.trace(out.ok
    ? { kind: "task.finished", comp: "worker", task: taskId, worker: w.addr, attempt, ok: true, hash: out.payload.hash, ownsRefs: ownsRefs(w, out.payload) }
    : { kind: "task.finished", comp: "worker", task: taskId, worker: w.addr, attempt, ok: false, hash: "", error: out.error.message });
  const h = w.actor;
  if (h !== undefined && e.spec.kind === "actor-task") {
    if (!out.ok && out.exit && h.exited === undefined) exitActor(w, h, e.spec.method!);
    if (h.exited !== undefined) return reply(w, e, { kind: "error", error: exitedError(h), retryable: false });
  }
  if (!out.ok) return reply(w, e, { kind: "error", error: out.error, retryable: false });
  const p = out.payload;
  if (p.size <= w.cfg.maxInlineBytes || e.spec.kind === "actor-create") return reply(w, e, { kind: "inline", payload: p });
  // Large results go to the local store as the primary copy; the owner learns where.
  storePut(w, { kind: "result", e, size: p.size, hash: p.hash, refs: p.refs }, e.spec.returnId, p, e.spec.owner);
}

export function reply(w: Ctx, e: Execution, result: TaskResult): void {
  const s = e.spec;
  lendReturned(w, refsOfResult(result), s.owner);
  const m: Extract<Msg, { type: "TaskReply" }> = {
    type: "TaskReply", taskId: s.taskId, returnId: s.returnId, attempt: s.attempt, result,
    epoch: s.kind === "actor-task" ? w.actor?.epoch : undefined,
    runMs: e.startedAt >= 0 ? w.fx.now() - e.startedAt : undefined,
  };
  // Set after the literal, not spread into it: V8 copies a spread that follows other fields on
  // its slow path, and every task's reply is built here.
  if (s.streaming) m.items = e.generator?.reported ?? 0;
  w.fx.send(s.owner, m);
  if (w.current === e) {
    w.current = undefined;
    // Gets the task left behind resolve with nobody to block: let them through.
    w.blockedCalls = 0;
    unblocked(w);
    remember(w, s);
    // The task's scope ended: drop the refs it made and borrowed (those it returned are lent to its caller).
    if (s.kind === "normal") endScope(w);
    const next = w.queued.shift();
    if (next) {
      w.current = next;
      prepare(w, next);
    }
  }
  const h = w.actor;
  if (h && s.kind === "actor-create") h.created = result;
  if (h) callEnded(h, e);
  if (h) runActor(w, h);
}

// ---- blocking -----------------------------------------------------------------------------

/**
 * A task that waits in get/wait lends its CPU back to the node, as Ray does, so that the
 * tasks it waits for can run even on a full node; it resumes once the CPU is its again.
 * Returns the task that blocked (undefined: nothing to block, e.g. an actor or a driver).
 */
export function block(w: Ctx): Execution | undefined {
  const e = w.current;
  if (e?.spec.kind !== "normal") return undefined;
  if (w.blockedCalls++ === 0) {
    w.fx.send(w.raylet, { type: "WorkerBlocked", worker: w.addr });
    if (w.queued.length > 0) for (const q of w.queued.drain()) bounce(w, q);
  }
  return e;
}

/**
 * A call that blocked `blocked` is answered: held until the CPU is back. Taken at once if it
 * blocked nothing, or if the task it blocked is over (its blocked calls ended with it).
 */
export function unblock(w: Ctx, blocked: Execution | undefined, x: Held): void {
  if (blocked === undefined || blocked !== w.current) return deliver(w, x);
  w.held.push(x);
  endBlock(w, blocked);
}

/** A call that blocked `blocked` ended (answered, or withdrawn): the last one asks for the CPU back. */
export function endBlock(w: Ctx, blocked: Execution | undefined): void {
  if (blocked === undefined || blocked !== w.current) return;
  if (--w.blockedCalls === 0) w.fx.send(w.raylet, { type: "WorkerUnblocked", worker: w.addr });
  if (w.blockedCalls < 0) throw new InvariantError(`worker ${w.addr}: ${w.blockedCalls} calls blocked`);
}

function deliver(w: Ctx, x: Held): void {
  switch (x.kind) {
    case "call": return w.fx.complete(x.callId, x.result);
    case "args": return argsArrived(w, x.e, x.refs, x.at, x.vals);
    default: return assertNever("a held answer", x);
  }
}

/** The raylet gave the CPU back: the answers held meanwhile go out. */
export function unblocked(w: Ctx): void {
  if (w.blockedCalls > 0) return; // blocked again meanwhile: the next Unblocked releases these
  if (w.held.length === 0) return;
  const held = w.held;
  w.held = [];
  for (const x of held) deliver(w, x);
}
