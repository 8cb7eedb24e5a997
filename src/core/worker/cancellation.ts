// ray.cancel, on both sides of a task. The owner settles a task that has not reached a worker
// at once (TaskCancelledError, never retried); for one pushed to a worker it asks that worker
// (CancelTask) to skip it or to signal its running code, or, with `force`, has the worker's
// raylet destroy it. The executor answers a task it has not started as cancelled, signals a
// running one through its host, and with `recursive` cancels the tasks that one submitted.

import { nextTaskState } from "../lifecycle/task.ts";
import { nodeOf, rayletAddr, type Addr, type ErrorInfo, type ObjectId, type RefInfo, type TaskId } from "../types.ts";
import type { Ctx } from "./context.ts";
import { resume } from "./generators.ts";
import { skipActorCall } from "./actor-submitter.ts";
import { dropLease, withdrawRequests } from "./lease-client.ts";
import { finishTask, type OwnedTask } from "./task-manager.ts";
import { reply, type Execution } from "./task-receiver.ts";
import { endTaskHolds, releaseArgs } from "./reference-table.ts";

/** What a force-cancelled task held, kept until its worker is known dead. */
export interface KilledHolds {
  readonly argRefs: readonly ObjectId[];
  readonly heldRefs: readonly RefInfo[] | undefined;
}

/** A worker being destroyed by a forced cancel, until its death is known here. */
export interface Killing {
  /**
   * The holds of the tasks cancelled with it: it may still read their arguments until it dies,
   * so they end only then, as Ray keeps a task's arguments until its attempt is over.
   */
  readonly holds: KilledHolds[];
  /**
   * The results of the tasks it was running: it may still store one in its node's store before
   * it dies, unannounced; such a copy is dropped once it is dead and can store nothing more.
   */
  readonly outputs: ObjectId[];
}

export interface Cancellations {
  readonly killing: Map<Addr, Killing>;
}

export function newCancellations(): Cancellations {
  return { killing: new Map() };
}

export function cancelledError(name: string): ErrorInfo {
  return { type: "TaskCancelledError", message: `task ${name} was cancelled` };
}

/** The task the program running here is inside, to name as the parent of what it submits (see recursive). */
export function submittingTask(w: Ctx): TaskId | undefined {
  const cur = w.current?.spec;
  if (cur?.kind === "normal") return cur.taskId;
  // An async actor may run several calls at once: the submitter is known only when one runs.
  const running = w.actor?.running;
  return running?.length === 1 ? running[0].spec.taskId : undefined;
}

/** Owner: `ray.cancel` of the task that makes `returnId`. A task already done (or not a task's) is left alone, as in Ray. */
export function cancelTask(w: Ctx, returnId: ObjectId, force: boolean, recursive: boolean): void {
  const o = w.owned.get(returnId);
  const t = o?.task;
  if (!o || !t || o.state !== "PENDING" || t.cancelled || t.state === "FINISHED" || t.state === "FAILED") return;
  t.cancelled = true;
  const killed = force && t.state === "RUNNING" && t.spec.kind === "normal" ? t.lease?.worker : undefined;
  w.fx.trace(killed === undefined
    ? { kind: "task.cancelled", comp: "owner", task: t.spec.taskId, force }
    : { kind: "task.cancelled", comp: "owner", task: t.spec.taskId, force, worker: killed });
  switch (t.state) {
    case "WAITING_FOR_DEPS":
      if (t.spec.kind === "actor-task") skipActorCall(w, t.spec);
      return settleCancelled(w, t);
    case "SCHEDULING": {
      if (t.spec.kind === "actor-task") {
        const a = w.callerActors.get(t.spec.actorId!);
        if (a) {
          const i = a.unsent.indexOf(t);
          if (i >= 0) a.unsent.splice(i, 1);
        }
        skipActorCall(w, t.spec);
      } else {
        const c = w.classes.get(t.classKey);
        if (c) {
          c.ready.remove(t);
          withdrawRequests(w, c, t);
        }
      }
      return settleCancelled(w, t);
    }
    case "RUNNING": {
      const s = t.spec;
      if (s.kind === "actor-task") {
        const to = w.callerActors.get(s.actorId!)?.info?.address;
        if (to) w.fx.send(to, { type: "CancelTask", taskId: s.taskId, returnId: s.returnId, attempt: s.attempt, recursive });
        return;
      }
      const lease = t.lease;
      if (!lease) return;
      if (!force) return w.fx.send(lease.worker, { type: "CancelTask", taskId: s.taskId, returnId: s.returnId, attempt: s.attempt, recursive });
      // Force: the worker dies with whatever it runs; the cancelled task is settled now (its
      // holds outlive it until the worker is gone), any other task pipelined onto it goes to
      // another lease.
      dropLease(w, lease, t);
      return settleCancelled(w, t, lease.worker);
    }
  }
}

/** A cancelled task's end: its object holds TaskCancelledError (`killing`: the worker being killed for it). */
export function settleCancelled(w: Ctx, t: OwnedTask, killing?: Addr): void {
  t.state = nextTaskState(t.state, { type: "CANCELLED" });
  finishTask(w, t, { kind: "error", error: cancelledError(t.spec.name), retryable: false }, killing);
}

function killing(w: Ctx, worker: Addr): Killing {
  let k = w.killing.get(worker);
  if (!k) w.killing.set(worker, (k = { holds: [], outputs: [] }));
  return k;
}

/** Owner: `finishTask` of a task whose worker is being killed keeps its holds here. */
export function holdUntilDead(w: Ctx, worker: Addr, holds: KilledHolds): void {
  killing(w, worker).holds.push(holds);
}

/** Owner: the result of a task that `worker` (being killed) was running: any copy it stores unannounced is dropped once it is dead. */
export function dropOutputWhenDead(w: Ctx, worker: Addr, id: ObjectId): void {
  killing(w, worker).outputs.push(id);
}

/** Owner: workers known dead now; the holds of the tasks killed with them end, and copies of their results nobody heard of go. */
export function killedWorkersGone(w: Ctx, dead: (worker: Addr) => boolean): void {
  if (w.killing.size === 0) return;
  for (const [worker, k] of [...w.killing]) {
    if (!dead(worker)) continue;
    w.killing.delete(worker);
    for (const h of k.holds) {
      releaseArgs(w, h.argRefs);
      if (h.heldRefs) endTaskHolds(w, h.heldRefs);
    }
    const node = nodeOf(worker);
    const orphans = k.outputs.filter((id) => !w.owned.get(id)?.nodes.includes(node));
    if (orphans.length > 0) w.fx.send(rayletAddr(node), { type: "FreeObjects", ids: orphans, orphaned: true });
  }
}

/** Executor: the owner cancels attempt `attempt` of `taskId`, which was pushed here. */
export function cancelExecution(w: Ctx, taskId: TaskId, attempt: number, recursive: boolean): void {
  if (recursive) cancelChildren(w, taskId);
  const cur = w.current;
  if (cur && cur.spec.taskId === taskId && cur.spec.attempt === attempt) return interruptOrSkip(w, cur);
  for (let i = 0; i < w.queued.length; i++) {
    const e = w.queued.at(i)!;
    if (e.spec.taskId !== taskId || e.spec.attempt !== attempt) continue;
    w.queued.remove(e);
    return reply(w, e, { kind: "error", error: cancelledError(e.spec.name), retryable: false });
  }
  const h = w.actor;
  if (!h) return;
  const match = (e: Execution) => e.spec.taskId === taskId && e.spec.attempt === attempt;
  for (const e of h.running) if (match(e)) return interruptOrSkip(w, e);
  // Not started yet: it keeps its place in its caller's order and is answered as cancelled then.
  for (const g of h.groups.values()) for (let i = 0; i < g.runnable.length; i++) if (match(g.runnable.at(i)!)) { g.runnable.at(i)!.cancelled = true; return; }
  for (const q of h.callers.values()) for (const e of q.early.values()) if (match(e)) { e.cancelled = true; return; }
}

function interruptOrSkip(w: Ctx, e: Execution): void {
  e.cancelled = true;
  if (e.startedAt >= 0) w.fx.interrupt(e.spec.taskId);
  // A generator held by back-pressure is let go, to stop.
  if (e.generator) resume(w, e);
}

/** Recursive cancel: the tasks this worker submitted from inside `parent`. */
function cancelChildren(w: Ctx, parent: TaskId): void {
  const children: ObjectId[] = [];
  for (const [id, o] of w.owned) if (o.task?.parent === parent) children.push(id);
  for (const id of children) cancelTask(w, id, false, true);
}
