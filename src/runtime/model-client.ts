// The API's port onto a CoreWorker model that lives in the same thread as the program (the
// simulator's driver and workers, the embedded and daemon drivers): calls go straight into the
// model, and answers come back through its `complete` effect. Hosts subclass it for what
// differs: how sleep passes, and what a pending call holds open.

import type { CoreClient } from "../api/client.ts";
import type { CoreWorker } from "../core/core-worker.ts";
import type { CallResult } from "../core/effects.ts";
import { idOf, type Addr, type ErrorInfo, type NodeId, type ObjectId, type Payload } from "../core/types.ts";
import type { PlacementGroupRequest } from "../core/worker/inputs.ts";
import { PendingCalls } from "./pending-calls.ts";

export abstract class ModelClient implements CoreClient {
  private ids = 0;
  protected readonly calls = new PendingCalls();

  constructor(protected readonly model: CoreWorker, readonly addr: Addr, readonly node: NodeId) {}

  nextId(): string { return idOf(this.addr, "#", ++this.ids); }

  /** Sleeps in the host's time; `signal` (a task's cancel signal) ends it early (src/runtime/sleep.ts). */
  abstract sleep(ms: number, signal?: AbortSignal): Promise<void>;

  /** Throws if calls are no longer possible (the cluster was shut down). */
  protected check(): void {}
  /** A call is now waiting for the model. */
  protected waiting(): void {}
  /** A call's answer arrived, just before its promise settles. */
  protected answered(_result: CallResult): void {}
  /** A call was withdrawn (its signal aborted): no answer will come. */
  protected withdrawn(): void {}

  /** The model's `complete` effect. */
  complete(callId: number, result: CallResult): void {
    const cb = this.calls.take(callId);
    if (!cb) return;
    this.answered(result);
    cb(result);
  }

  /** `signal` (a call inside a task): its abort withdraws the call, which rejects with its reason. */
  protected call<T>(start: (callId: number) => void, map: (r: CallResult) => T, signal?: AbortSignal): Promise<T> {
    return this.calls.start((id) => {
      this.check();
      this.waiting();
      start(id);
    }, map, signal, (id) => {
      this.model.withdrawCall(id);
      this.withdrawn();
    });
  }

  submitTask: CoreClient["submitTask"] = (taskId, fn, args, opts) => { this.check(); return this.model.submitTask(taskId, fn, args, opts); };
  createActor: CoreClient["createActor"] = (id, cls, args, opts) => { this.check(); this.model.createActor(id, cls, args, opts); };
  submitActorTask: CoreClient["submitActorTask"] = (taskId, actorId, method, args, retries, call) => {
    this.check();
    return this.model.submitActorTask(taskId, actorId, method, args, retries, call);
  };
  put(id: ObjectId, payload: Payload): Promise<void> {
    return this.call((c) => this.model.put(id, payload, c), () => undefined);
  }
  get(refs: Parameters<CoreClient["get"]>[0], timeoutMs?: number, signal?: AbortSignal): Promise<readonly (Payload | ErrorInfo)[]> {
    return this.call((c) => this.model.get(refs, timeoutMs, c), (r) => (r.kind === "values" ? r.values : []), signal);
  }
  wait(refs: Parameters<CoreClient["wait"]>[0], numReturns: number, timeoutMs: number | undefined, fetchLocal: boolean, signal?: AbortSignal): Promise<readonly ObjectId[]> {
    return this.call((c) => this.model.wait(refs, numReturns, timeoutMs, fetchLocal, c), (r) => (r.kind === "ready" ? r.ready : []), signal);
  }
  getNamedActor(name: string, namespace?: string) {
    return this.call((c) => this.model.getNamedActor(name, c, namespace), (r) => (r.kind === "actor" ? r.info : undefined));
  }
  listNamedActors(namespace?: string) {
    return this.call((c) => this.model.listNamedActors(c, namespace), (r) => (r.kind === "named-actors" ? r.actors : []));
  }
  actorRegistered(actorId: string) {
    return this.call((c) => this.model.actorRegistered(actorId, c), (r) => (r.kind === "actor" ? r.info : undefined));
  }
  clusterInfo() {
    return this.call((c) => this.model.clusterInfo(c), (r) => (r.kind === "nodes" ? r.nodes : []));
  }
  killActor(actorId: string, noRestart: boolean): void { this.check(); this.model.killActor(actorId, noRestart); }
  createPlacementGroup(pg: PlacementGroupRequest): void { this.check(); this.model.createPlacementGroup(pg); }
  removePlacementGroup(pgId: string): void { this.check(); this.model.removePlacementGroup(pgId); }
  releaseRef(id: ObjectId): void { this.model.releaseRef(id); }
  cancelTask(id: ObjectId, force: boolean, recursive: boolean): void { this.model.cancelTask(id, force, recursive); }
  reportItem(taskId: string, attempt: number, index: number, payload: Payload): Promise<boolean> {
    return this.call((c) => this.model.generatorItem(taskId, attempt, index, payload, c), (r) => r.kind === "yielded" && r.stop !== true);
  }
  nextItem(returnId: ObjectId, index: number, signal?: AbortSignal): Promise<ObjectId | undefined> {
    return this.call((c) => this.model.generatorNext(returnId, index, c), (r) => (r.kind === "item" ? r.id : undefined), signal);
  }
}
