// The typed errors a program sees. Models carry errors as plain ErrorInfo records; this is
// where they become Error instances again, one class per kind, so callers can `instanceof`.

import type { ErrorInfo, ErrorType } from "../core/types.ts";

export class RayError extends Error {
  override name = "RayError";
}

/** A task or actor method threw; `remoteStack` is the stack where it threw. */
export class TaskError extends RayError {
  override name = "TaskError";
  constructor(message: string, readonly remoteStack?: string, readonly remoteName?: string) {
    super(message);
  }
}
export class WorkerCrashedError extends RayError { override name = "WorkerCrashedError"; }
export class ObjectLostError extends RayError { override name = "ObjectLostError"; }
export class OwnerDiedError extends RayError { override name = "OwnerDiedError"; }
export class ActorDiedError extends RayError { override name = "ActorDiedError"; }
export class GetTimeoutError extends RayError { override name = "GetTimeoutError"; }
export class ObjectStoreFullError extends RayError { override name = "ObjectStoreFullError"; }
export class InfeasibleTaskError extends RayError { override name = "InfeasibleTaskError"; }

const classes: Record<Exclude<ErrorType, "TaskError">, new (m: string) => RayError> = {
  WorkerCrashedError, ObjectLostError, OwnerDiedError, ActorDiedError, GetTimeoutError,
  ObjectStoreFullError, InfeasibleTaskError, RayError,
};

export function toError(info: ErrorInfo): RayError {
  if (info.type === "TaskError") {
    const e = new TaskError(info.message, info.stack, info.name);
    if (info.stack) e.stack = `${e.name}: ${info.message}\n  --- remote stack ---\n${info.stack}`;
    return e;
  }
  return new classes[info.type](info.message);
}

/** Turns whatever user code threw into an ErrorInfo that keeps its message and stack. */
export function fromThrown(e: unknown, context: string): ErrorInfo {
  if (e instanceof RayError && !(e instanceof TaskError)) {
    // A Ray error raised inside a task (e.g. a nested get failed) surfaces as the task's cause.
    return { type: "TaskError", message: `${context}: ${e.name}: ${e.message}`, stack: e.stack, name: e.name };
  }
  if (e instanceof Error) return { type: "TaskError", message: `${context}: ${e.message}`, stack: e.stack, name: e.name };
  return { type: "TaskError", message: `${context}: threw a non-Error value: ${String(e)}` };
}
