// Lineage of streaming generators' items, on the owner. Ray remakes a lost item of a task's
// generator by running the generator task again; so does tsray. Per generator task with items in
// object stores the owner keeps the spec to run again, the task's retry budget (one budget per
// task, retries and re-runs alike) and the task's argument refs, held while one of those items
// is owned. A lost item waits for the attempt under way, which yields it again (an attempt already
// past it is let go of back-pressure, to end: generatorItemLostBehind); once the task is done, a
// re-run is started for it, unless the task failed for good (Ray runs a failed task no more).
// The report of a lost item's index by the current attempt restores the item with the new copy;
// its other reports are duplicates, handled as a retry's are (a stored copy of the same value
// kept as one more copy, anything else freed), so nothing reaches the program twice. An actor
// method's items are not remade (the actor's state moved on), as in Ray without
// `max_task_retries`.

import { nextObjectState } from "../lifecycle/object.ts";
import { nextTaskState } from "../lifecycle/task.ts";
import type { ItemResult, TaskResult } from "../messages.ts";
import { generatorItemIdOf, generatorItemOf, rayletAddr, type ObjectId, type TaskId, type TaskSpec } from "../types.ts";
import type { Ctx } from "./context.ts";
import { ready, releaseArgs, returnLoans, type Owned } from "./reference-table.ts";
import { classKeyOf, hasRefArgs, nextAttempt, resolveTask, type OwnedTask } from "./task-manager.ts";

export interface GeneratorLineage {
  /** The spec to run again: its latest attempt's. */
  spec: TaskSpec;
  retriesLeft: number;
  /** The task's owned argument refs, held for the re-runs. */
  readonly deps: readonly ObjectId[];
  /** Its items in object stores that are still owned: each may have to be remade. */
  readonly items: Set<ObjectId>;
  /** Lost items waiting to be yielded again. */
  readonly waiting: Set<ObjectId>;
  /** The re-run under way (the task itself being done). */
  rerun: OwnedTask | undefined;
  /** The re-run restored an item or saw one lost: one that did neither is not started again. */
  progress: boolean;
  /** The re-run's attempt that reported last, and the next index it yields (it may have stored it before dying). */
  reports: { attempt: number; next: number } | undefined;
  /** Why its items are no longer remade: the task (or a re-run) failed for good, and a failed task is not run again (Ray drops its lineage). */
  failed: string | undefined;
}

export interface GeneratorLineages {
  readonly lineages: Map<TaskId, GeneratorLineage>;
}

export function newGeneratorLineages(): GeneratorLineages {
  return { lineages: new Map() };
}

const NO_IDS: readonly ObjectId[] = [];

/** Item `id` of task `t` (running), stored in an object store, was recorded: it can be remade from `t`. */
export function itemStored(w: Ctx, t: OwnedTask | undefined, id: ObjectId): void {
  if (t === undefined || t.spec.kind !== "normal" || t.spec.maxRetries === 0) return;
  let l = w.lineages.get(t.spec.taskId);
  if (l === undefined) {
    for (const r of t.argRefs) {
      const a = w.owned.get(r);
      if (a) a.submitted++;
    }
    l = { spec: t.spec, retriesLeft: t.retriesLeft, deps: t.argRefs, items: new Set(), waiting: new Set(), rerun: undefined, progress: false, reports: undefined, failed: undefined };
    w.lineages.set(t.spec.taskId, l);
  }
  l.items.add(id);
}

/** An item was freed: once none is left, the lineage goes, and its arguments with it. */
export function itemFreed(w: Ctx, id: ObjectId): void {
  const l = w.lineages.get(generatorItemOf(id).task);
  if (l === undefined || !l.items.delete(id)) return;
  l.waiting.delete(id);
  forget(w, l);
}

function forget(w: Ctx, l: GeneratorLineage): void {
  if (l.items.size > 0 || l.rerun !== undefined) return;
  w.lineages.delete(l.spec.taskId);
  releaseArgs(w, l.deps);
}

/**
 * Every copy of item `id` was lost: it is to be yielded again, by the attempt under way or by a
 * re-run of its task. Returns why it cannot be, if it cannot.
 */
export function itemLost(w: Ctx, id: ObjectId, o: Owned): string | undefined {
  const l = w.lineages.get(generatorItemOf(id).task);
  if (l === undefined || !l.items.has(id)) return "it was yielded by an actor method or a task with maxRetries=0, whose items tsray does not remake";
  if (l.failed !== undefined) return l.failed;
  const running = w.owned.get(l.spec.returnId)?.task !== undefined;
  if (!running && l.rerun === undefined && l.retriesLeft === 0 && !w.cfg.bugs.has("retry-forever")) {
    return `its generator task ${l.spec.name} has no retries left to run it again (maxRetries=${l.spec.maxRetries})`;
  }
  o.state = nextObjectState(o.state, { type: "RECONSTRUCT" });
  l.waiting.add(id);
  if (l.rerun !== undefined) l.progress = true;
  else if (!running) rerun(w, l, id);
  return undefined;
}

/** Runs the generator task again, to yield its lost items again. */
function rerun(w: Ctx, l: GeneratorLineage, lost: ObjectId): void {
  const spec = nextAttempt(l.spec);
  if (l.retriesLeft > 0) l.retriesLeft--;
  l.spec = spec;
  l.progress = false;
  const t: OwnedTask = {
    spec, state: nextTaskState("FINISHED", { type: "RESUBMIT" }), retriesLeft: l.retriesLeft, argRefs: NO_IDS, heldRefs: undefined,
    classKey: classKeyOf(w, spec), argsByRef: hasRefArgs(spec), lease: undefined, requests: 0, parent: undefined,
  };
  l.rerun = t;
  w.fx.trace({ kind: "task.retry", comp: "owner", task: spec.taskId, attempt: spec.attempt, reason: `reconstructing lost object ${lost}` });
  resolveTask(w, t);
}

/** The re-run of `taskId` under way, if any: its replies are routed to it. */
export function rerunOf(w: Ctx, taskId: TaskId): OwnedTask | undefined {
  return w.lineages.get(taskId)?.rerun;
}

/** The re-run's attempt `attempt` reported item `index`. */
export function rerunReported(w: Ctx, taskId: TaskId, attempt: number, index: number): void {
  const l = w.lineages.get(taskId);
  if (l !== undefined) l.reports = { attempt, next: index + 1 };
}

/** The next item the re-run's attempt `attempt` yields, if that attempt is the re-run's. */
export function rerunNextItem(w: Ctx, spec: TaskSpec): number | undefined {
  const l = w.lineages.get(spec.taskId);
  if (l?.rerun?.spec.attempt !== spec.attempt) return undefined;
  return l.reports?.attempt === spec.attempt ? l.reports.next : 0;
}

/**
 * Attempt `attempt` reported item `index`: if that item is lost and waiting, the report's copy
 * restores it (true). The caller drops any other report as a duplicate.
 */
export function itemRestored(w: Ctx, taskId: TaskId, index: number, attempt: number, result: ItemResult): boolean {
  const l = w.lineages.get(taskId);
  const id = generatorItemIdOf(taskId, index);
  const o = w.owned.get(id);
  if (l === undefined || o === undefined || !l.waiting.has(id) || o.state !== "PENDING") return false;
  l.waiting.delete(id);
  if (l.rerun !== undefined) l.progress = true;
  // The item holds the refs nested in it since it was first recorded: those lent again go back.
  returnLoans(w, result.kind === "inline" ? result.payload.refs : result.refs);
  // Traced first: made ready, an item nobody holds any more is freed at once.
  w.fx.trace({ kind: "generator.restored", comp: "owner", task: taskId, index, obj: id, attempt, hash: result.kind === "inline" ? result.payload.hash : result.hash });
  if (result.kind === "inline") ready(w, id, o, result, undefined, result.payload.size, result.payload.hash);
  else ready(w, id, o, undefined, result.node, result.size, result.hash);
  return true;
}

/**
 * An attempt of a generator task ended for good (the task, or a re-run of it). Items still
 * waiting are re-run for once the task is done and succeeded, while the budget lasts; a re-run
 * that got nowhere is not repeated: they fail.
 */
export function lineageTaskEnded(w: Ctx, t: OwnedTask, result: TaskResult): void {
  const l = w.lineages.get(t.spec.taskId);
  if (l === undefined) return;
  const wasRerun = l.rerun === t;
  if (wasRerun) {
    l.rerun = undefined;
    // The generator's own result was settled by the first run: a re-run's stored copy of it is nobody's.
    if (result.kind === "stored" && !w.owned.get(t.spec.returnId)?.nodes.includes(result.node)) {
      w.fx.send(rayletAddr(result.node), { type: "FreeObjects", ids: [t.spec.returnId], orphaned: true });
    }
  }
  l.spec = t.spec;
  l.retriesLeft = t.retriesLeft;
  if (result.kind === "error") {
    l.failed = `its generator task ${t.spec.name} failed (${result.error.type}), and a failed task is not run again`;
    // A re-run that failed is the task failed for good, said as its first run's failure is
    // (finishTask does not: the first run settled the task's return).
    if (wasRerun) w.fx.trace({ kind: "task.failed", comp: "owner", task: t.spec.taskId, error: result.error.type });
  }
  if (l.waiting.size > 0) {
    const budget = l.retriesLeft !== 0 || w.cfg.bugs.has("retry-forever");
    if (result.kind !== "error" && budget && (!wasRerun || l.progress)) return rerun(w, l, l.waiting.values().next().value!);
    const error = result.kind === "error" ? result.error
      : { type: "ObjectLostError" as const, message: `a lost item of streaming generator ${t.spec.name} could not be remade: ${budget ? "a re-run of its task did not yield it again" : `its task has no retries left (maxRetries=${t.spec.maxRetries})`}` };
    for (const id of [...l.waiting]) {
      l.waiting.delete(id);
      const o = w.owned.get(id);
      if (o?.state === "PENDING") ready(w, id, o, { kind: "error", error }, undefined, 0, "");
    }
  }
  forget(w, l);
}
