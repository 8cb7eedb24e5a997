// The owner's task manager: tasks this worker submitted, from submission to their result:
// resolving their arguments, handing them to the lease client (normal tasks) or the actor
// submitter (actor calls), retrying failed attempts within their budget, and settling the
// object each one makes (keeping the lineage to make it again).

import { InvariantError } from "../assert.ts";
import { nextTaskState, type TaskState } from "../lifecycle/task.ts";
import { refsOfResult, type ObjectStatus, type TaskResult } from "../messages.ts";
import type { ResourceSet } from "../resources.ts";
import {
  rayletAddr, specWith, type ActorId, type Mutable, type Addr, type ActorSpec, type Arg, type ErrorInfo, type FunctionDescriptor, type FunctionId, type ObjectId,
  type RefInfo, type SchedulingStrategy, type TaskId, type TaskSpec,
} from "../types.ts";
import { cancelledError, holdUntilDead, submittingTask } from "./cancellation.ts";
import { actorArgsResolved, actorCallEnded, actorCallOpened, actorTaskReplied, sendActorTask, skipActorCall } from "./actor-submitter.ts";
import type { TraceBody } from "../../../spec/trace.ts";
import type { Ctx } from "./context.ts";
import type { ArgIn, TaskOptions } from "./inputs.ts";
import { enqueue, failGroupRemoved, leaseSlotFreed, type Lease } from "./lease-client.ts";
import { generatorEnded, generatorReplied, generatorSubmitted } from "./generators.ts";
import { lineageTaskEnded, rerunOf } from "./generator-lineage.ts";
import { inGroup, placementOf } from "./placement-groups.ts";
import { submitterJob } from "./job.ts";
import { containRefs, endTaskHolds, own, ready, releaseArgs, returnLoans, takeTaskHolds, whenKnown, type Owned } from "./reference-table.ts";

export interface OwnedTask {
  spec: TaskSpec;
  state: TaskState;
  retriesLeft: number;
  /** Owned refs its arguments pass (useArgs), released when it is done for good (or kept as a stored result's lineage). */
  readonly argRefs: readonly ObjectId[];
  /** Borrowed refs its arguments pass (useArgs), dropped when it is done for good. */
  readonly heldRefs: readonly RefInfo[] | undefined;
  /** Scheduling class: tasks with the same function, demand and strategy share leases. */
  readonly classKey: string;
  /**
   * Whether its spec passes an argument by reference (kept in step with `spec.args`): the lease
   * client asks at every dispatch, when the spec itself has long left the cache.
   */
  argsByRef: boolean;
  /** The lease it runs on, while it runs. */
  lease?: Lease;
  /**
   * Lease requests asking for it (staging its arguments): a queued task without one gets the
   * next request, so a task never waits behind requests that stage another task's arguments
   * (which may be what it is about to make, when a lost object is being re-made).
   */
  requests: number;
  /** ray.cancel reached it: its failure becomes TaskCancelledError, and it is never retried. */
  cancelled?: true;
  /** The task running here that submitted it (recursive cancel follows this). */
  readonly parent: TaskId | undefined;
}

/** Arguments being resolved, for a task or an actor's constructor: filled in as their objects become known. */
export interface ArgResolution {
  readonly for: { readonly kind: "task"; readonly t: OwnedTask } | { readonly kind: "actor"; readonly actorId: ActorId; readonly spec: ActorSpec };
  readonly out: Arg[];
  missing: number;
  /**
   * The error of the failed argument first in argument order (`failedArg`): the task fails with
   * it, whatever order its arguments settled in, so the error does not depend on timing.
   */
  failed: ErrorInfo | undefined;
  failedArg: number;
}

export interface TaskManager {
  readonly registeredFns: Set<FunctionId>;
  readonly fnCache: Map<FunctionId, FunctionDescriptor>;
  /**
   * The class key computed last, and what it was computed from: a program submits runs of
   * tasks of one class (same function, same options object), which then share one string
   * without serializing their demand again.
   */
  lastClassKey: string;
  lastClassOf: { readonly fn: FunctionId; readonly resources: ResourceSet; readonly strategy: SchedulingStrategy } | undefined;
  /**
   * Replies carrying refs another process owns, already handled (`taskId@attempt@epoch`), most
   * recent last. Their executor lent each such ref once (lendReturned); a copy of the reply the
   * network duplicated must neither take nor give back that loan again, or the owner would
   * count one borrow too few and free the object while we hold it.
   */
  readonly lentReplies: Set<string>;
}

export function newTaskManager(): TaskManager {
  return { registeredFns: new Set(), fnCache: new Map(), lastClassKey: "", lastClassOf: undefined, lentReplies: new Set() };
}

/** Replies with lent refs remembered: a duplicate comes within a network delay, long before 4,096 more. */
const LENT_REPLIES_KEPT = 4096;

/** Whether this reply's loans were handled before; remembers them now if not. */
function loansHandled(w: Ctx, refs: readonly RefInfo[] | undefined, taskId: TaskId, attempt: number, epoch: number | undefined): boolean {
  if (refs === undefined || refs.every((r) => r.owner === w.addr)) return false;
  const key = `${taskId}@${attempt}@${epoch ?? ""}`;
  if (w.lentReplies.has(key)) return true;
  w.lentReplies.add(key);
  if (w.lentReplies.size > LENT_REPLIES_KEPT) w.lentReplies.delete(w.lentReplies.values().next().value!);
  return false;
}

const NO_IDS: readonly ObjectId[] = [];

/** An argument passed by reference (a predicate made once, not a closure per call). */
export function isRef(a: Arg): boolean {
  return "ref" in a;
}

/** Whether a task's arguments include one passed by reference (what OwnedTask.argsByRef holds). */
export function hasRefArgs(spec: TaskSpec): boolean {
  return spec.args.some(isRef);
}

/** Tasks with the same function, demand and strategy share leases. */
function taskClassKey(spec: TaskSpec): string {
  return `${spec.fn}|${JSON.stringify(spec.resources)}|${JSON.stringify(spec.strategy)}`;
}

export function classKeyOf(w: Ctx, spec: TaskSpec): string {
  const last = w.lastClassOf;
  if (last !== undefined && last.fn === spec.fn && last.resources === spec.resources && last.strategy === spec.strategy) return w.lastClassKey;
  const key = taskClassKey(spec);
  if (key !== w.lastClassKey) w.lastClassKey = key;
  w.lastClassOf = { fn: spec.fn, resources: spec.resources, strategy: spec.strategy };
  return w.lastClassKey;
}

export function registerFunction(w: Ctx, fn: FunctionDescriptor): void {
  if (w.registeredFns.has(fn.id)) return;
  w.registeredFns.add(fn.id);
  w.fnCache.set(fn.id, fn);
  w.fx.send(w.cfg.gcs, { type: "RegisterFunction", fn });
}

// Ids come in with the call (the API mints them from `${addr}#n`): a caller in another thread
// knows a ref's id without a round trip, and the model stays free of hidden counters.

/** Submits a task that makes `returnId` (its returnIdOf, which the API's ref already holds: one string, not two). */
export function submitTask(w: Ctx, taskId: string, returnId: ObjectId, fn: FunctionDescriptor, args: readonly ArgIn[], opts: TaskOptions): void {
  registerFunction(w, fn);
  const strategy = placementOf(w, { task: taskId }, opts.strategy);
  // Every task runs in a namespace (its submitter's), so the spec is one of two literals rather
  // than a literal that gains the field after: a field added later goes to a separate property
  // store, one more object per task for the garbage collector to copy while the task waits.
  // (Not a spread either: a spread after other fields copies through V8's slow generic path.)
  const spec: Mutable<TaskSpec> = opts.namespace !== undefined
    ? {
      taskId, kind: "normal", fn: fn.id, name: fn.name, args: args as Arg[], returnId, owner: w.addr, job: submitterJob(w),
      resources: opts.resources, strategy, maxRetries: opts.maxRetries, retryExceptions: opts.retryExceptions, attempt: 0, namespace: opts.namespace,
    }
    : {
      taskId, kind: "normal", fn: fn.id, name: fn.name, args: args as Arg[], returnId, owner: w.addr, job: submitterJob(w),
      resources: opts.resources, strategy, maxRetries: opts.maxRetries, retryExceptions: opts.retryExceptions, attempt: 0,
    };
  if (opts.streaming !== undefined) spec.streaming = opts.streaming;
  trackTask(w, own(w, returnId), spec, opts.maxRetries);
}

/** The refs a task's or an actor constructor's arguments pass, each counted as one use more. */
export interface ArgUses {
  /** Owned: pending uses (`submitted`), which the end of the submitter's own scope does not touch. */
  readonly argRefs: readonly ObjectId[];
  /** Borrowed: one hold each. */
  readonly heldRefs: readonly RefInfo[] | undefined;
}
const NO_USES: ArgUses = { argRefs: NO_IDS, heldRefs: undefined };

/**
 * Counts a use of each ref that `args` pass, as an argument or nested in an argument's value
 * (Ray's submitted-task references): until `endUses`, no ref is freed, whatever the submitter
 * does with its own handles.
 */
export function useArgs(w: Ctx, args: readonly Arg[], handle?: RefInfo): ArgUses {
  let argRefs: ObjectId[] | undefined;
  let heldRefs: RefInfo[] | undefined;
  // An actor call's handle, in use as its arguments are.
  if (handle !== undefined) {
    const o = w.owned.get(handle.id);
    if (o) { o.submitted++; argRefs = [handle.id]; } else heldRefs = [handle];
  }
  for (const a of args) {
    if ("ref" in a) {
      const o = w.owned.get(a.ref);
      if (o) { o.submitted++; (argRefs ??= []).push(a.ref); }
      else if (a.owner !== w.addr) (heldRefs ??= []).push({ id: a.ref, owner: a.owner });
    } else if (a.v.refs) {
      // Nested in a value, alike (no closure: this runs for every task submitted).
      for (const r of a.v.refs) {
        const o = w.owned.get(r.id);
        if (o) { o.submitted++; (argRefs ??= []).push(r.id); }
        else if (r.owner !== w.addr) (heldRefs ??= []).push(r);
      }
    }
  }
  if (heldRefs) takeTaskHolds(w, heldRefs);
  return argRefs === undefined && heldRefs === undefined ? NO_USES : { argRefs: argRefs ?? NO_IDS, heldRefs };
}

/** Ends the uses `useArgs` counted. */
export function endUses(w: Ctx, u: ArgUses): void {
  releaseArgs(w, u.argRefs);
  if (u.heldRefs) endTaskHolds(w, u.heldRefs);
}

/** `handle`: an actor call's handle, when counted (held while the call is pending). */
export function trackTask(w: Ctx, o: Owned, spec: TaskSpec, maxRetries: number, handle?: RefInfo): void {
  const { argRefs, heldRefs } = useArgs(w, spec.args, handle);
  const classKey = spec.kind === "normal" ? classKeyOf(w, spec) : "";
  const retriesLeft = maxRetries >= 0 && w.cfg.bugs.has("retry-budget-off-by-one") ? maxRetries + 1 : maxRetries;
  const t: OwnedTask = { spec, state: "WAITING_FOR_DEPS", retriesLeft, argRefs, heldRefs, classKey, argsByRef: hasRefArgs(spec), lease: undefined, requests: 0, parent: submittingTask(w) };
  o.task = t;
  if (spec.kind === "actor-task") actorCallOpened(w, t);
  if (spec.streaming) generatorSubmitted(w, spec);
  const submitted: Mutable<Extract<TraceBody, { kind: "task.submitted" }>> = spec.actorId === undefined
    ? { kind: "task.submitted", comp: "owner", task: spec.taskId, fn: spec.name, owner: w.addr, returns: spec.returnId, args: t.argRefs, maxRetries }
    : { kind: "task.submitted", comp: "owner", task: spec.taskId, fn: spec.name, owner: w.addr, returns: spec.returnId, args: t.argRefs, maxRetries, actor: spec.actorId, caller: spec.caller, seq: spec.seq };
  // Set after the literal (rarely): an error its task fails with may come from one of these.
  if (heldRefs !== undefined) submitted.borrowed = heldRefs.map((r) => r.id);
  w.fx.trace(submitted);
  resolveTask(w, t);
}

/**
 * Waits until every referenced argument exists. Small values are copied into the spec (the
 * executing worker then needs nothing from any store); large ones stay refs to be pulled.
 */
export function resolveArgs(w: Ctx, args: readonly Arg[], target: ArgResolution["for"]): void {
  const r: ArgResolution = { for: target, out: args.slice(), missing: 1, failed: undefined, failedArg: args.length };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!("ref" in a)) continue;
    r.missing++;
    whenKnown(w, { id: a.ref, owner: a.owner }, { kind: "arg", r, i });
  }
  settle(w, r);
}

/** Argument `i` of `r` is known. */
export function argKnown(w: Ctx, r: ArgResolution, i: number, s: ObjectStatus): void {
  if (s.kind === "inline") r.out[i] = { v: s.payload };
  else if (s.kind === "error" && i < r.failedArg) {
    r.failed = s.error;
    r.failedArg = i;
  }
  settle(w, r);
}

function settle(w: Ctx, r: ArgResolution): void {
  if (--r.missing !== 0) return;
  const f = r.for;
  if (f.kind === "task") depsResolved(w, f.t, r.out, r.failed);
  else actorArgsResolved(w, f.actorId, f.spec, r.out, r.failed);
}

export function resolveTask(w: Ctx, t: OwnedTask): void {
  // Nothing to wait for (the common case): straight on, without a record to allocate.
  if (!t.argsByRef) return depsResolved(w, t, t.spec.args);
  resolveArgs(w, t.spec.args, { kind: "task", t });
}

function depsResolved(w: Ctx, t: OwnedTask, resolved: readonly Arg[], error?: ErrorInfo): void {
  if (t.state !== "WAITING_FOR_DEPS") return;
  if (error) {
    t.state = nextTaskState(t.state, { type: "DEP_FAILED" });
    if (t.spec.kind === "actor-task") skipActorCall(w, t.spec);
    return finishTask(w, t, { kind: "error", error, retryable: false });
  }
  if (resolved !== t.spec.args) {
    t.spec = specWith(t.spec, "args", resolved);
    t.argsByRef = hasRefArgs(t.spec); // refs to inline values were replaced by the values
  }
  t.state = nextTaskState(t.state, { type: "DEPS_READY" });
  if (t.spec.kind === "actor-task") sendActorTask(w, t);
  else enqueue(w, t);
}

/** An attempt's answer from the worker that ran it. */
export function taskReply(w: Ctx, taskId: string, returnId: ObjectId, attempt: number, result: TaskResult, epoch?: number, runMs?: number, items?: number): void {
  if (loansHandled(w, refsOfResult(result), taskId, attempt, epoch)) return; // a duplicated reply
  const o = w.owned.get(returnId);
  // A generator task done already may be running again, to remake its lost items.
  const t = o?.task ?? (w.lineages.size > 0 ? rerunOf(w, taskId) : undefined);
  if (!t || t.spec.taskId !== taskId || t.spec.attempt !== attempt || t.state !== "RUNNING") {
    // Stale or duplicate. A stored result of an attempt settled without it (force-cancelled)
    // is a copy nobody will ask for: drop it.
    if (result.kind === "stored" && o !== undefined && o.state !== "PENDING" && !o.nodes.includes(result.node)) {
      w.fx.send(rayletAddr(result.node), { type: "FreeObjects", ids: [returnId], orphaned: true });
    }
    return returnLoans(w, refsOfResult(result));
  }
  if (t.spec.kind === "actor-task") {
    if (!actorTaskReplied(w, t, epoch)) return returnLoans(w, refsOfResult(result));
  } else leaseSlotFreed(w, t, runMs);
  taskEnded(w, t, t.spec.streaming ? generatorReplied(w, t, items ?? 0, result) : result);
}

/** A task attempt ended: retry it if the failure and the budget allow, else settle its object. */
export function taskEnded(w: Ctx, t: OwnedTask, result: TaskResult): void {
  // Cancelled while it ran: whatever ended it (the code giving up on the signal, its worker
  // dying) is the cancellation, and it is not retried. A result that made it stands.
  if (t.cancelled && result.kind === "error") {
    t.state = nextTaskState(t.state, { type: "CANCELLED" });
    return finishTask(w, t, { kind: "error", error: cancelledError(t.spec.name), retryable: false });
  }
  // Its worker went with the bundles of a group this process removed: that is why it failed.
  const s = t.spec.strategy;
  if (result.kind === "error" && result.retryable && inGroup(s) && w.removedGroups.has(s.placementGroup)) return failGroupRemoved(w, t, s.placementGroup);
  if (result.kind === "error" && t.retriesLeft > 0 && w.cfg.bugs.has("retry-decrement-before-check")) t.retriesLeft--;
  const budget = t.retriesLeft !== 0 || w.cfg.bugs.has("retry-forever");
  if (result.kind === "error" && budget && (result.retryable || t.spec.retryExceptions)) {
    if (t.retriesLeft > 0) t.retriesLeft--;
    t.state = nextTaskState(t.state, { type: "ERRORED", retryable: true });
    t.spec = nextAttempt(t.spec);
    w.fx.trace({ kind: "task.retry", comp: "owner", task: t.spec.taskId, attempt: t.spec.attempt, reason: result.error.message });
    return resolveTask(w, t);
  }
  t.state = nextTaskState(t.state, result.kind === "error" ? { type: "ERRORED", retryable: false } : { type: "SUCCEEDED" });
  finishTask(w, t, result);
}

/**
 * A task whose worker was destroyed for another task's sake (a forced cancel of a task pushed
 * to the same worker) runs again as a new attempt: it may have been running there (a worker runs
 * the tasks pushed to it one after another, and those ahead of it may have ended, their replies
 * on the way), and an attempt runs at most once. The failure is not its own, so its retry budget
 * does not pay for it, as Ray does not charge a preempted node's tasks.
 */
export function retryUncharged(w: Ctx, t: OwnedTask, reason: string): void {
  t.state = nextTaskState(t.state, { type: "ERRORED", retryable: true });
  t.spec = nextAttempt(t.spec);
  w.fx.trace({ kind: "task.retry", comp: "owner", task: t.spec.taskId, attempt: t.spec.attempt, reason, uncharged: true });
  resolveTask(w, t);
}

/** The spec of a task's next attempt: attempt numbers only grow. */
export function nextAttempt(spec: TaskSpec): TaskSpec {
  const next = specWith(spec, "attempt", spec.attempt + 1);
  if (!(next.attempt > spec.attempt)) throw new InvariantError(`task ${spec.taskId}: attempt ${next.attempt} does not follow ${spec.attempt}`);
  return next;
}

/**
 * Settles a task for good and ends its holds on its arguments, or, with `killing` (a force
 * cancel), hands them to be ended once that worker is known dead.
 */
export function finishTask(w: Ctx, t: OwnedTask, result: TaskResult, killing?: Addr): void {
  const id = t.spec.returnId;
  const o = w.owned.get(id);
  if (o?.task === t) o.task = undefined;
  if (t.spec.kind === "actor-task") actorCallEnded(w, t);
  let keepArgs = false;
  // The refs nested in the result were lent to us by the executor: the object holds them now.
  if (o && o.state === "PENDING" && result.kind !== "error") containRefs(w, o, refsOfResult(result), true);
  else returnLoans(w, refsOfResult(result));
  if (o && o.state === "PENDING") {
    // An inline result is its object's status as it stands: kept as it came, no copy.
    if (result.kind === "inline") ready(w, id, o, result, undefined, result.payload.size, result.payload.hash);
    else if (result.kind === "stored") {
      // A stored result can be lost with its node: keep the recipe and its ingredients.
      if (t.spec.kind === "normal") {
        o.lineage = { spec: t.spec, retriesLeft: t.retriesLeft };
        if (!o.deps) { o.deps = t.argRefs; keepArgs = true; }
      }
      ready(w, id, o, undefined, result.node, result.size, result.hash);
    } else {
      w.fx.trace({ kind: "task.failed", comp: "owner", task: t.spec.taskId, error: result.error.type });
      ready(w, id, o, { kind: "error", error: result.error }, undefined, 0, "");
    }
  }
  // A reconstruction's arguments are already held by the object it re-makes.
  const argRefs = !keepArgs && !(o?.deps && o.deps === t.argRefs) ? t.argRefs : NO_IDS;
  if (killing !== undefined) holdUntilDead(w, killing, { argRefs, heldRefs: t.heldRefs });
  else endUses(w, { argRefs, heldRefs: t.heldRefs });
  if (t.spec.streaming) {
    generatorEnded(w, t.spec, result);
    lineageTaskEnded(w, t, result);
  }
}
