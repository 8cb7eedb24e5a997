// The typed errors a program sees. Models carry errors as plain ErrorInfo records; this is
// where they become Error instances again, one class per kind, so callers can `instanceof`.
//
// A task's own error (Ray's RayTaskError) is a TaskError whose `cause` is the error the user's
// code threw, rebuilt: same name, message, stack and own fields (`code`, …). The cause is an
// instance of the thrower's class when that class exists everywhere (JavaScript's built-in
// errors: RangeError, TypeError, …, and tsray's own: a nested get's TaskError, ObjectLostError,
// …); a user-defined class cannot be recreated from data, so its cause is an Error whose `name`
// is the class's name.

import type { ErrorInfo, ErrorType, ThrownInfo } from "../core/types.ts";

export class RayError extends Error {
  override name = "RayError";
}

/** A task or actor method threw; `cause` is what it threw, `remoteStack` the stack where it threw. */
export class TaskError extends RayError {
  override name = "TaskError";
  constructor(message: string, readonly remoteStack?: string, readonly remoteName?: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
export class WorkerCrashedError extends RayError { override name = "WorkerCrashedError"; }
export class ObjectLostError extends RayError { override name = "ObjectLostError"; }
export class OwnerDiedError extends RayError { override name = "OwnerDiedError"; }
export class ActorDiedError extends RayError { override name = "ActorDiedError"; }
export class GetTimeoutError extends RayError { override name = "GetTimeoutError"; }
export class ObjectStoreFullError extends RayError { override name = "ObjectStoreFullError"; }
export class InfeasibleTaskError extends RayError { override name = "InfeasibleTaskError"; }
/** Thrown by `.remote()` of an actor call over the actor's maxPendingCalls in this process (Ray's PendingCallsLimitExceeded). */
export class PendingCallsLimitExceeded extends RayError { override name = "PendingCallsLimitExceeded"; }
/** A bad argument found by the cluster, as Python's ValueError in Ray: a named actor's name is taken, or no actor has it. */
export class ValueError extends Error { override name = "ValueError"; }
/** ray.cancel stopped the task (Ray's TaskCancelledError); also the reason its cancellation signal aborts with. */
export class TaskCancelledError extends RayError { override name = "TaskCancelledError"; }
/** The task's placement group was removed before it could run, or while it ran (Ray's TaskPlacementGroupRemoved). */
export class TaskPlacementGroupRemoved extends RayError { override name = "TaskPlacementGroupRemoved"; }
/**
 * What ray.exitActor() throws to unwind the actor's method, as Ray's exit_actor raises: the
 * executor turns it into the actor's exit. Code that catches it and goes on does not exit.
 */
export class ActorExit extends Error {
  override name = "ActorExit";
  constructor(readonly method: string) {
    super(method === TERMINATE ? `the actor ended by ${TERMINATE}, queued behind the calls before it` : `the actor's method ${method} called ray.exitActor()`);
  }
}

/**
 * The method every actor handle has (Ray's `__ray_terminate__`): a call of it ends the actor as a
 * method calling ray.exitActor() would, in its turn behind the calls made before it, for good.
 */
export const TERMINATE = "__ray_terminate__";

const classes: Record<Exclude<ErrorType, "TaskError">, new (m: string) => RayError> = {
  WorkerCrashedError, ObjectLostError, OwnerDiedError, ActorDiedError, GetTimeoutError,
  ObjectStoreFullError, InfeasibleTaskError, RayError, TaskCancelledError, TaskPlacementGroupRemoved,
};

/**
 * Error classes every process has, JavaScript's built-ins and tsray's own: a cause of one of these
 * is rebuilt as one (a nested get's TaskError or ObjectLostError, say, as Ray's cause keeps its class).
 */
const EVERYWHERE: Record<string, new (m: string) => Error> = {
  Error, RangeError, TypeError, SyntaxError, ReferenceError, EvalError, URIError,
  ...Object.fromEntries(Object.values(classes).map((c) => [new c("").name, c])),
  TaskError, ValueError, PendingCallsLimitExceeded,
};

export function toError(info: ErrorInfo): RayError {
  if (info.type === "TaskError") {
    const e = new TaskError(info.message, info.stack, info.name, info.cause ? { cause: rebuild(info.cause) } : undefined);
    if (info.stack) e.stack = `${e.name}: ${info.message}\n  --- remote stack ---\n${info.stack}`;
    return e;
  }
  return new classes[info.type](info.message);
}

/** A thrown error, recreated from data (see the rule at the top). */
function rebuild(t: ThrownInfo): Error {
  const e = new (Object.hasOwn(EVERYWHERE, t.name) ? EVERYWHERE[t.name] : Error)(t.message);
  if (e.name !== t.name) Object.defineProperty(e, "name", { value: t.name, writable: true, configurable: true });
  if (t.stack !== undefined) e.stack = t.stack;
  if (t.fields) for (const k of Object.keys(t.fields)) (e as unknown as Record<string, unknown>)[k] = t.fields[k];
  if (t.cause) (e as { cause?: unknown }).cause = rebuild(t.cause);
  return e;
}

/** What a thrown Error is, as data: its own fields kept where they survive JSON (a daemon sends it so). */
function thrownInfo(e: Error, depth = 0): ThrownInfo {
  let fields: Record<string, unknown> | undefined;
  for (const k of Object.keys(e)) {
    if (k === "name" || k === "message" || k === "stack" || k === "cause") continue;
    try {
      const v = (e as unknown as Record<string, unknown>)[k];
      const json = JSON.stringify(v);
      if (json !== undefined) (fields ??= {})[k] = JSON.parse(json);
    } catch { /* a field JSON cannot carry (a cycle, a BigInt) stays behind */ }
  }
  const c = (e as { cause?: unknown }).cause;
  return {
    name: e.name, message: e.message, ...(e.stack !== undefined ? { stack: e.stack } : {}), ...(fields ? { fields } : {}),
    ...(c instanceof Error && depth < 8 ? { cause: thrownInfo(c, depth + 1) } : {}),
  };
}

/** Turns whatever user code threw into an ErrorInfo that keeps its message, stack and (as `cause`) the error itself. */
export function fromThrown(e: unknown, context: string): ErrorInfo {
  if (e instanceof RayError && !(e instanceof TaskError)) {
    // A Ray error raised inside a task (e.g. a nested get failed) surfaces as the task's cause.
    return { type: "TaskError", message: `${context}: ${e.name}: ${e.message}`, stack: e.stack, name: e.name, cause: thrownInfo(e) };
  }
  if (e instanceof Error) return { type: "TaskError", message: `${context}: ${e.message}`, stack: e.stack, name: e.name, cause: thrownInfo(e) };
  return { type: "TaskError", message: `${context}: threw a non-Error value: ${String(e)}` };
}
