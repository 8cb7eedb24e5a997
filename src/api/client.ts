// The port between the Ray API and a host: one per core worker (the driver, or a worker
// running tasks). Each host (simulator, embedded cluster, daemon) implements it over the same
// CoreWorker model; the API never sees which.

import type { ActorOptions, ArgIn, TaskOptions } from "../core/core-worker.ts";
import type { PlacementGroupRequest } from "../core/worker/inputs.ts";
import type { NamedActorEntry } from "../core/messages.ts";
import type { PlacementGroupId } from "../core/types.ts";
import type { ActorId, ActorInfo, Addr, ErrorInfo, FunctionDescriptor, NodeId, NodeView, ObjectId, Payload, RefInfo, ActorCallOptions } from "../core/types.ts";

export interface CoreClient {
  /** This core worker's address. */
  readonly addr: Addr;
  readonly node: NodeId;
  /** A fresh id `${addr}#n`, unique for this worker's lifetime. */
  nextId(): string;
  /** Submits a task; returns the id of the object it will make (the API's ref shares that string). */
  submitTask(taskId: string, fn: FunctionDescriptor, args: readonly ArgIn[], opts: TaskOptions): ObjectId;
  createActor(actorId: ActorId, cls: FunctionDescriptor, args: readonly ArgIn[], opts: ActorOptions): void;
  /** `call.streaming`: the method is a generator, called as a streaming generator; `call.concurrencyGroup`: the group it runs in. */
  submitActorTask(taskId: string, actorId: ActorId, method: string, args: readonly ArgIn[], maxRetries: number, call?: ActorCallOptions): ObjectId;
  put(id: ObjectId, payload: Payload): Promise<void>;
  /**
   * `signal` (the running task's cancel signal) ends the get or wait early: it rejects with the
   * signal's reason, and the core worker is told to forget the call.
   */
  get(refs: readonly RefInfo[], timeoutMs?: number, signal?: AbortSignal): Promise<readonly (Payload | ErrorInfo)[]>;
  /** `fetchLocal`: a ref counts as ready once its value is on this node (Ray's fetch_local). */
  wait(refs: readonly RefInfo[], numReturns: number, timeoutMs: number | undefined, fetchLocal: boolean, signal?: AbortSignal): Promise<readonly ObjectId[]>;
  getNamedActor(name: string, namespace?: string): Promise<ActorInfo | undefined>;
  /** The live named actors of `namespace`, or of every namespace when it is absent. */
  listNamedActors(namespace?: string): Promise<readonly NamedActorEntry[]>;
  /** What the GCS said of an actor created here: taken (alive or on its way), or refused (a duplicate name). */
  actorRegistered(actorId: ActorId): Promise<ActorInfo | undefined>;
  /** The GCS's node table. */
  clusterInfo(): Promise<readonly NodeView[]>;
  /** `noRestart` false: the actor restarts if its maxRestarts allows (Ray's `no_restart=False`). */
  killActor(actorId: ActorId, noRestart: boolean): void;
  createPlacementGroup(pg: PlacementGroupRequest): void;
  removePlacementGroup(pgId: PlacementGroupId): void;
  releaseRef(id: ObjectId): void;
  /** ray.cancel of the task that makes `id` (owned by this worker). */
  cancelTask(id: ObjectId, force: boolean, recursive: boolean): void;
  /** Virtual in the simulator, real elsewhere; `signal` (the running task's cancel signal) ends it early with its reason. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /**
   * Executor: the running streaming generator `taskId` yielded item `index`; resolves once its
   * code may go on (back-pressure): true, or false when it must stop (cancelled).
   */
  reportItem(taskId: string, attempt: number, index: number, payload: Payload): Promise<boolean>;
  /**
   * Item `index` of the streaming generator whose task makes `returnId` (owned here); undefined
   * once the stream ended. `signal` (the running task's cancel signal) withdraws the wait.
   */
  nextItem(returnId: ObjectId, index: number, signal?: AbortSignal): Promise<ObjectId | undefined>;
}
