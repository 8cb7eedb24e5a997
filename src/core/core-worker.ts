// The core worker: lives in the driver and in every worker. It is split by role, as Ray's is.
// As an *owner*: the reference table (reference-table.ts), the task manager (task-manager.ts),
// a lease client per scheduling class (lease-client.ts), the actor submitter
// (actor-submitter.ts), object recovery (object-recovery.ts), and the program's object calls
// (object-requests.ts). As an *executor*: the task receiver (task-receiver.ts) and actor
// scheduling (actor-scheduling.ts). This module gathers them and routes each input to its part.

import { assertNever } from "./assert.ts";
import type { WorkerEffects } from "./effects.ts";
import type { WorkerMsg } from "./messages.ts";
import { returnIdOf, rayletAddr, type ActorId, type Addr, type FunctionDescriptor, type ObjectId, type Payload, type RefInfo, type ActorCallOptions } from "./types.ts";
import {
  actorRegistered, actorUpdate, clusterInfo, createActor, getClusterInfo, getNamedActor, killActor, listNamedActors, namedActor, namedActorList, newActorSubmitter, resubscribeActors, submitActorTask,
} from "./worker/actor-submitter.ts";
import { newActorScheduling, tellExit } from "./worker/actor-scheduling.ts";
import { cancelExecution, cancelTask, newCancellations } from "./worker/cancellation.ts";
import type { CoreWorkerConfig, CoreWorkerState, CoreWorkerTuning, Ctx } from "./worker/context.ts";
import type { ActorOptions, ArgIn, Outcome, PlacementGroupRequest, TaskOptions, WorkerInput } from "./worker/inputs.ts";
import type { PlacementGroupId } from "./types.ts";
import { createPlacementGroup, newPlacementGroupClient, removePlacementGroup, resendPlacementGroups } from "./worker/placement-groups.ts";
import { leaseGranted, leaseRejected, leaseSpillback, newLeaseClient, taskBounced } from "./worker/lease-client.ts";
import { addLocation, knownDeaths, newObjectRecovery, nodeDead, removeLocation, resendToRaylet, workerDied } from "./worker/object-recovery.ts";
import { get, getTimedOut, newObjectRequests, put, storeAbsent, storeGetReply, storeLocal, storePutReply, wait, waitTimedOut, withdrawCall } from "./worker/object-requests.ts";
import { addBorrower, borrowedStatus, newReferenceTable, releaseAll, releaseRef, removeBorrower, repeatedBorrowMsg, serveStatus } from "./worker/reference-table.ts";
import { newTaskManager, registerFunction, submitTask, taskReply } from "./worker/task-manager.ts";
import { executionOf, functionArrived, newTaskReceiver, pushTask, taskDone, unblocked } from "./worker/task-receiver.ts";
import { generatorAcked, generatorItem, generatorNext, itemYielded, newGenerators } from "./worker/generators.ts";
import { newGeneratorLineages } from "./worker/generator-lineage.ts";
import { newJobOfWorker } from "./worker/job.ts";
import { exitAsked } from "./worker/exit.ts";

export type { ActorOptions, ArgIn, Outcome, TaskOptions, WorkerInput, WorkerTimer } from "./worker/inputs.ts";
export type { CoreWorkerConfig, CoreWorkerState, CoreWorkerTuning } from "./worker/context.ts";

/** The core worker's part of a host's tuning. */
export function coreWorkerTuning(t: CoreWorkerTuning): CoreWorkerTuning {
  return {
    maxInlineBytes: t.maxInlineBytes, maxPendingLeases: t.maxPendingLeases, maxTasksInFlightPerWorker: t.maxTasksInFlightPerWorker, pipelineMaxTaskMs: t.pipelineMaxTaskMs,
    deadWorkersKept: t.deadWorkersKept, removedGroupsKept: t.removedGroupsKept, deadNodesKept: t.deadNodesKept, deadActorRecordsKept: t.deadActorRecordsKept,
  };
}

export class CoreWorker {
  readonly raylet: Addr;
  /** Everything this core worker holds, part by part (see worker/context.ts). */
  private readonly w: Ctx;

  constructor(readonly addr: Addr, cfg: CoreWorkerConfig, fx: WorkerEffects) {
    this.raylet = rayletAddr(cfg.node);
    this.w = {
      addr, raylet: this.raylet, cfg, fx,
      ...newReferenceTable(), ...newTaskManager(), ...newLeaseClient(), ...newActorSubmitter(cfg.deadActorRecordsKept), ...newObjectRequests(), ...newPlacementGroupClient(cfg.removedGroupsKept),
      ...newObjectRecovery(cfg.deadWorkersKept, cfg.deadNodesKept), ...newTaskReceiver(), ...newActorScheduling(), ...newGenerators(), ...newGeneratorLineages(), ...newCancellations(), ...newJobOfWorker(),
    };
  }

  /** The state, as plain records (for tests and debugging: do not change it). */
  get state(): CoreWorkerState {
    const { addr: _addr, raylet: _raylet, cfg: _cfg, fx: _fx, ...state } = this.w;
    return state;
  }

  /** The one door: every input the core worker can be handed. */
  step(input: WorkerInput): void {
    const w = this.w;
    switch (input.kind) {
      case "message": return this.receive(input.from, input.msg);
      case "timer": {
        const t = input.timer;
        switch (t.kind) {
          case "get-timeout": return getTimedOut(w, t.id);
          case "wait-timeout": return waitTimedOut(w, t.id);
          default: return assertNever("a core worker's timer", t);
        }
      }
      case "task-done": return taskDone(w, input.taskId, input.attempt, input.outcome);
      case "raylet-requests-lost": return resendToRaylet(w);
      case "start":
        w.isDriver = !input.isWorker;
        w.fx.send(w.raylet, { type: "RegisterWorker", worker: w.addr, driver: w.isDriver });
        if (w.isDriver) w.fx.send(w.cfg.gcs, { type: "SubscribeFailures" });
        return;
      case "register-function": return registerFunction(w, input.fn);
      case "submit-task": return submitTask(w, input.taskId, input.returnId, input.fn, input.args, input.opts);
      case "create-actor": return createActor(w, input.actorId, input.cls, input.args, input.opts);
      case "submit-actor-task": return submitActorTask(w, input.taskId, input.actorId, input.method, input.args, input.maxRetries, input.call);
      case "put": return put(w, input.id, input.payload, input.callId);
      case "get": return get(w, input.refs, input.timeoutMs, input.callId);
      case "wait": return wait(w, input.refs, input.numReturns, input.timeoutMs, input.fetchLocal, input.callId);
      case "withdraw-call": return withdrawCall(w, input.callId);
      case "get-named-actor": return getNamedActor(w, input.name, input.namespace, input.callId);
      case "list-named-actors": return listNamedActors(w, input.namespace, input.callId);
      case "kill-actor": return killActor(w, input.actorId, input.noRestart);
      case "create-placement-group": {
        const { kind: _, ...req } = input;
        return createPlacementGroup(w, req);
      }
      case "remove-placement-group": return removePlacementGroup(w, input.pgId);
      case "release-ref": return releaseRef(w, input.id);
      case "release-all": return releaseAll(w);
      case "actor-registered": return actorRegistered(w, input.actorId, input.callId);
      case "cluster-info": return getClusterInfo(w, input.callId);
      case "cancel-task": return cancelTask(w, input.returnId, input.force, input.recursive);
      case "generator-item": return itemYielded(w, executionOf(w, input.taskId, input.attempt), input.index, input.payload, input.callId);
      case "generator-next": return generatorNext(w, input.returnId, input.index, input.callId);
      default: return assertNever("a core worker", input);
    }
  }

  private receive(from: Addr, m: WorkerMsg): void {
    const w = this.w;
    switch (m.type) {
      case "LeaseGranted": return leaseGranted(w, m.reqId, m.leaseId, m.worker);
      case "LeaseSpillback": return leaseSpillback(w, m.reqId, m.node, m.incarnation);
      case "LeaseRejected": return leaseRejected(w, m.reqId, m.reason, m.infeasible);
      case "TaskReply": return taskReply(w, m.taskId, m.returnId, m.attempt, m.result, m.epoch, m.runMs, m.items);
      case "TaskBounced": return taskBounced(w, m.taskId, m.returnId, m.attempt, m.bounces);
      case "PushTask": return pushTask(w, from, m);
      case "StorePutReply": return storePutReply(w, m.reqId, m.error);
      case "StoreGetReply": return storeGetReply(w, m.reqId, m.values);
      case "StoreLocal": return storeLocal(w, m.reqId);
      case "StoreAbsent": return storeAbsent(w, m.reqId, m.ids);
      case "GetLocations": return serveStatus(w, from, m.id, "Locations");
      case "GetStatus": return serveStatus(w, from, m.id, "Status");
      case "Status": return borrowedStatus(w, m.id, m.status);
      case "AddLocation": return addLocation(w, m.id, m.node, m.incarnation);
      case "RemoveLocation": return removeLocation(w, m.id, m.node);
      case "Function": return functionArrived(w, m.fn);
      case "ActorUpdate": return actorUpdate(w, m.info);
      case "NamedActor": return namedActor(w, m.reqId, m.info);
      case "NamedActorList": return namedActorList(w, m.reqId, m.actors);
      case "NodeDead": return nodeDead(w, m.node, m.incarnation);
      case "KnownDeaths": return knownDeaths(w, m.workers, m.nodes);
      case "Unblocked": return unblocked(w);
      case "WorkerDied": return workerDied(w, m.worker);
      case "GcsRestarted": return this.gcsRestarted();
      case "AddBorrower": return repeatedBorrowMsg(w, from, m.seq) ? undefined : addBorrower(w, m.id, m.borrower);
      case "RemoveBorrower": return repeatedBorrowMsg(w, from, m.seq) ? undefined : removeBorrower(w, m.id, m.borrower, m.holds);
      case "ClusterInfo": return clusterInfo(w, m.reqId, m.nodes);
      case "CancelTask": return cancelExecution(w, m.taskId, m.attempt, m.recursive);
      case "ReportGeneratorItem": return generatorItem(w, from, m.taskId, m.returnId, m.attempt, m.index, m.result);
      case "GeneratorAck": return generatorAcked(w, executionOf(w, m.taskId, m.attempt), m.consumed);
      case "Exit": return exitAsked(w, from, m.ask);
      default: return assertNever("a core worker", m);
    }
  }

  /** A restarted GCS lost whatever was in flight to it: resend, and follow actors again. */
  private gcsRestarted(): void {
    const w = this.w;
    if (w.isDriver) w.fx.send(w.cfg.gcs, { type: "SubscribeFailures" });
    for (const fn of w.fnCache.values()) if (w.registeredFns.has(fn.id)) w.fx.send(w.cfg.gcs, { type: "RegisterFunction", fn });
    for (const id of w.fnWaiters.keys()) w.fx.send(w.cfg.gcs, { type: "GetFunction", id });
    resubscribeActors(w);
    if (w.actor?.exited !== undefined) tellExit(w, w.actor);
    resendPlacementGroups(w);
  }

  // ---- the API, as inputs (the program's calls) ---------------------------------------------

  start(isWorker: boolean): void { this.step({ kind: "start", isWorker }); }
  registerFunction(fn: FunctionDescriptor): void { this.step({ kind: "register-function", fn }); }
  submitTask(taskId: string, fn: FunctionDescriptor, args: readonly ArgIn[], opts: TaskOptions): ObjectId {
    const returnId = returnIdOf(taskId);
    this.step({ kind: "submit-task", taskId, returnId, fn, args, opts });
    return returnId;
  }
  createActor(actorId: ActorId, cls: FunctionDescriptor, args: readonly ArgIn[], opts: ActorOptions): void {
    this.step({ kind: "create-actor", actorId, cls, args, opts });
  }
  submitActorTask(taskId: string, actorId: ActorId, method: string, args: readonly ArgIn[], maxRetries: number, call?: ActorCallOptions): ObjectId {
    this.step(call === undefined ? { kind: "submit-actor-task", taskId, actorId, method, args, maxRetries } : { kind: "submit-actor-task", taskId, actorId, method, args, maxRetries, call });
    return returnIdOf(taskId);
  }
  put(id: ObjectId, payload: Payload, callId: number): void { this.step({ kind: "put", id, payload, callId }); }
  get(refs: readonly RefInfo[], timeoutMs: number | undefined, callId: number): void { this.step({ kind: "get", refs, timeoutMs, callId }); }
  wait(refs: readonly RefInfo[], numReturns: number, timeoutMs: number | undefined, fetchLocal: boolean, callId: number): void {
    this.step({ kind: "wait", refs, numReturns, timeoutMs, fetchLocal, callId });
  }
  withdrawCall(callId: number): void { this.step({ kind: "withdraw-call", callId }); }
  getNamedActor(name: string, callId: number, namespace?: string): void {
    this.step(namespace === undefined ? { kind: "get-named-actor", name, callId } : { kind: "get-named-actor", name, callId, namespace });
  }
  listNamedActors(callId: number, namespace?: string): void {
    this.step(namespace === undefined ? { kind: "list-named-actors", callId } : { kind: "list-named-actors", callId, namespace });
  }
  actorRegistered(actorId: ActorId, callId: number): void { this.step({ kind: "actor-registered", actorId, callId }); }
  clusterInfo(callId: number): void { this.step({ kind: "cluster-info", callId }); }
  killActor(actorId: ActorId, noRestart = true): void { this.step({ kind: "kill-actor", actorId, noRestart }); }
  createPlacementGroup(pg: PlacementGroupRequest): void { this.step({ kind: "create-placement-group", ...pg }); }
  removePlacementGroup(pgId: PlacementGroupId): void { this.step({ kind: "remove-placement-group", pgId }); }
  releaseRef(id: ObjectId): void { this.step({ kind: "release-ref", id }); }
  releaseAll(): void { this.step({ kind: "release-all" }); }
  cancelTask(returnId: ObjectId, force: boolean, recursive: boolean): void { this.step({ kind: "cancel-task", returnId, force, recursive }); }
  taskDone(taskId: string, attempt: number, outcome: Outcome): void { this.step({ kind: "task-done", taskId, attempt, outcome }); }
  /** Executor: a running streaming generator yielded item `index` (answered once its code may go on). */
  generatorItem(taskId: string, attempt: number, index: number, payload: Payload, callId: number): void {
    this.step({ kind: "generator-item", taskId, attempt, index, payload, callId });
  }
  /** Owner: the program asks for item `index` of the streaming generator that makes `returnId`. */
  generatorNext(returnId: ObjectId, index: number, callId: number): void { this.step({ kind: "generator-next", returnId, index, callId }); }
}
