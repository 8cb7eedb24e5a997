// One worker, main side: its CoreWorker model (which lives here, on the main thread) bound to
// the thread that runs its user code. The model's `execute` effect becomes an "exec" message
// to the thread, whose Outcome comes back as `taskDone`; the thread's API calls become calls
// into the model, and the model's `complete` effect goes back to the thread as a "reply".

import type { CoreWorker } from "../../core/core-worker.ts";
import { lastIndexWith, removeAt } from "../../core/list.ts";
import type { CallResult } from "../../core/effects.ts";
import type { Addr, FunctionDescriptor, FunctionId, Mutable, NodeId, Payload, TaskSpec } from "../../core/types.ts";
import { drop, hold } from "./pins.ts";
import type { FnRef, FromThread, ToThread } from "./protocol.ts";
import type { Thread } from "./threads.ts";
import type { Timers } from "./transport.ts";

type Exec = Extract<ToThread, { t: "exec" }>;

export class WorkerHost {
  model!: CoreWorker;
  timers!: Timers;
  /**
   * Tasks the thread is running, in start order (several on an async actor): their specs, as the
   * model handed them. A list, not a map by id: a worker mostly runs one task at a time, and V8
   * shrinks a Map emptied by a delete, allocating a new table for every task.
   */
  private readonly runningTasks: TaskSpec[] = [];
  /** A task the thread is running, if any (the latest started). */
  get running(): { readonly task: string; readonly attempt: number; readonly name: string } | undefined {
    const last = this.runningTasks.at(-1);
    return last && { task: last.taskId, attempt: last.attempt, name: last.name };
  }
  /** Set once the thread exited or was ended. */
  dead = false;
  /** Arena slots held for the thread until it has decoded them: each running task's arguments (an async actor runs several)… */
  private readonly argHolds = new Map<string, Payload[]>();
  /** …and get replies, by call id. */
  private readonly replyHolds = new Map<number, Payload[]>();

  constructor(
    readonly addr: Addr,
    readonly node: NodeId,
    readonly thread: Thread,
    /** Functions by id, shared by the whole cluster (ids are content hashes). */
    private readonly fns: Map<FunctionId, FunctionDescriptor>,
  ) {}

  /** The model's `execute` effect. */
  execute(spec: TaskSpec, fn: FunctionDescriptor, args: readonly Payload[]): void {
    const i = lastIndexWith(this.runningTasks, "taskId", spec.taskId);
    if (i >= 0) this.runningTasks[i] = spec; // handed again: one entry, the latest spec
    else this.runningTasks.push(spec);
    this.thread.busy++;
    let held: Payload[] | undefined;
    for (const a of args) if (hold(a)) (held ??= []).push(a);
    if (held) this.argHolds.set(spec.taskId, held);
    let ref: FnRef = fn;
    if (fn.source !== "") {
      if (this.thread.sentFns.has(fn.id)) ref = { id: fn.id };
      else this.thread.sentFns.add(fn.id);
    }
    // Only the fields a task has: the structured clone pays for each field, undefined ones too.
    const m: Mutable<Exec> = { t: "exec", task: spec.taskId, attempt: spec.attempt, kind: spec.kind, fn: ref, args, job: spec.job };
    if (spec.method !== undefined) m.method = spec.method;
    if (spec.actorId !== undefined) m.actor = spec.actorId;
    if (spec.namespace !== undefined) m.namespace = spec.namespace;
    if (spec.streaming !== undefined) m.streaming = spec.streaming;
    this.thread.post(m);
  }

  /** The model's `interrupt` effect: the thread signals the task's code (ray.cancel). */
  interrupt(taskId: string): void {
    if (lastIndexWith(this.runningTasks, "taskId", taskId) >= 0) this.thread.post({ t: "cancel", task: taskId });
  }

  /** The model's `complete` effect. */
  complete(call: number, result: CallResult): void {
    if (result.kind === "values") {
      let held: Payload[] | undefined;
      for (const v of result.values) if (hold(v)) (held ??= []).push(v as Payload);
      if (held) this.replyHolds.set(call, held);
    }
    this.thread.post({ t: "reply", call, result });
  }

  private taskEnded(task: string): void {
    const i = lastIndexWith(this.runningTasks, "taskId", task);
    if (i >= 0) removeAt(this.runningTasks, i);
  }

  /** Drops the holds on a task's arguments (it finished), or on every task's (the thread is gone). */
  private dropArgs(task?: string): void {
    if (this.argHolds.size === 0) return; // most tasks: no argument in the arena
    if (task !== undefined) {
      const held = this.argHolds.get(task);
      if (held === undefined) return;
      for (const a of held) drop(a);
      this.argHolds.delete(task);
      return;
    }
    for (const held of this.argHolds.values()) for (const a of held) drop(a);
    this.argHolds.clear();
  }

  /** The thread is gone: nothing it was handed needs holding any more. */
  released(): void {
    this.dropArgs();
    for (const held of this.replyHolds.values()) for (const v of held) drop(v);
    this.replyHolds.clear();
  }

  private fn(ref: FnRef): FunctionDescriptor {
    if ("source" in ref) {
      if (!this.fns.has(ref.id)) this.fns.set(ref.id, ref);
      return ref;
    }
    const fn = this.fns.get(ref.id);
    if (!fn) throw new Error(`worker ${this.addr} referred to function ${ref.id} before sending it`);
    return fn;
  }

  /** A batch from the thread. Runs outside any transport drain (its own macrotask). */
  handle(batch: readonly FromThread[]): void {
    const model = this.model;
    for (const m of batch) {
      if (this.dead) return;
      switch (m.t) {
        case "done":
          this.taskEnded(m.task);
          if (this.thread.busy > 0) this.thread.busy--;
          this.dropArgs(m.task); // decoded when the task started
          model.taskDone(m.task, m.attempt, m.out);
          break;
        case "consumed":
          for (const c of m.calls) {
            const held = this.replyHolds.get(c);
            this.replyHolds.delete(c);
            if (held) for (const v of held) drop(v);
          }
          break;
        case "submit": model.submitTask(m.task, this.fn(m.fn), m.args, m.opts); break;
        case "actor": model.createActor(m.actor, this.fn(m.cls), m.args, m.opts); break;
        case "call": model.submitActorTask(m.task, m.actor, m.method, m.args, m.retries, m.call); break;
        case "yield": model.generatorItem(m.task, m.attempt, m.index, m.payload, m.call); break;
        case "next": model.generatorNext(m.id, m.index, m.call); break;
        case "put": model.put(m.id, m.payload, m.call); break;
        case "get": model.get(m.refs, m.timeoutMs, m.call); break;
        case "wait": model.wait(m.refs, m.numReturns, m.timeoutMs, m.fetchLocal, m.call); break;
        case "withdraw": model.withdrawCall(m.call); break;
        case "named": model.getNamedActor(m.name, m.call, m.namespace); break;
        case "list-named": model.listNamedActors(m.call, m.namespace); break;
        case "registered": model.actorRegistered(m.actor, m.call); break;
        case "cluster": model.clusterInfo(m.call); break;
        case "kill": model.killActor(m.actor, m.noRestart); break;
        case "pg-create": model.createPlacementGroup(m.pg); break;
        case "pg-remove": model.removePlacementGroup(m.pgId); break;
        case "releaseRef": model.releaseRef(m.id); break;
        case "cancelTask": model.cancelTask(m.id, m.force, m.recursive); break;
        case "ready": break;
      }
    }
  }
}
