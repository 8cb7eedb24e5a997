// Everything a core worker can be handed, as one tagged union: messages from other components,
// its own timers, what its host reports, and the calls of the program it serves.

import type { WorkerMsg } from "../messages.ts";
import type { ResourceSet } from "../resources.ts";
import type { ActorCallOptions, ActorId, Addr, ConcurrencyGroup, ErrorInfo, FunctionDescriptor, ObjectId, Payload, RefInfo, SchedulingStrategy, Streaming } from "../types.ts";
import type { PlacementGroupId, PlacementStrategy } from "../types.ts";

/** What an API asks of the GCS when it creates a placement group (the creator is the asking worker). */
export interface PlacementGroupRequest {
  readonly pgId: PlacementGroupId;
  readonly bundles: readonly ResourceSet[];
  readonly strategy: PlacementStrategy;
  readonly name?: string;
  readonly lifetime?: "detached";
}

/** An argument as the API hands it over: a value, or a reference (owned here or borrowed). */
export type ArgIn = { readonly v: Payload } | { readonly ref: ObjectId; readonly owner: Addr };

export interface TaskOptions {
  readonly resources: ResourceSet;
  /** undefined: the program named none (Ray's None): the capturing placement group of the task running here, else DEFAULT. */
  readonly strategy: SchedulingStrategy | undefined;
  readonly maxRetries: number;
  readonly retryExceptions: boolean;
  /** The namespace the task runs in (its submitter's). */
  readonly namespace?: string;
  /** A generator function, streamed (see types.ts). */
  readonly streaming?: Streaming;
}

export interface ActorOptions {
  readonly resources: ResourceSet;
  /** undefined: the program named none, as for a task (TaskOptions.strategy). */
  readonly strategy: SchedulingStrategy | undefined;
  readonly maxRestarts: number;
  readonly maxTaskRetries: number;
  readonly name?: string;
  /** Calls the actor may run at once (1: one at a time; async actors default to 1000, as in Ray); with groups, in its default group. */
  readonly maxConcurrency: number;
  /** Its named concurrency groups (absent: none). */
  readonly concurrencyGroups?: readonly ConcurrencyGroup[];
  /** The namespace its name is unique in (default: the creator's). */
  readonly namespace?: string;
  /** `lifetime: "detached"`: it outlives its creator. */
  readonly detached?: boolean;
  /** Its class's generator methods (absent: none). */
  readonly generators?: readonly string[];
  /** The calls one process may have pending on it (absent: no bound); kept for handles found by name. */
  readonly maxPendingCalls?: number;
}

/**
 * What a task execution produced, as the host reports it. `exit`: an actor method called
 * ray.exitActor() (its error says so), and the actor ends for good.
 */
export type Outcome = { readonly ok: true; readonly payload: Payload } | { readonly ok: false; readonly error: ErrorInfo; readonly exit?: true };

/** A core worker's timers: a get's or a wait's timeout, by call id. */
export type WorkerTimer =
  | { readonly kind: "get-timeout"; readonly id: number }
  | { readonly kind: "wait-timeout"; readonly id: number };

/** The program's calls into its core worker (`callId`: the API call the answer completes). */
export type ApiCall =
  /** Announces the core worker to its raylet (a driver is never leased, but hears failure news). */
  | { readonly kind: "start"; readonly isWorker: boolean }
  | { readonly kind: "register-function"; readonly fn: FunctionDescriptor }
  /** `returnId`: returnIdOf(taskId), made once by the caller, whose ref holds that very string. */
  | { readonly kind: "submit-task"; readonly taskId: string; readonly returnId: ObjectId; readonly fn: FunctionDescriptor; readonly args: readonly ArgIn[]; readonly opts: TaskOptions }
  | { readonly kind: "create-actor"; readonly actorId: ActorId; readonly cls: FunctionDescriptor; readonly args: readonly ArgIn[]; readonly opts: ActorOptions }
  | { readonly kind: "submit-actor-task"; readonly taskId: string; readonly actorId: ActorId; readonly method: string; readonly args: readonly ArgIn[]; readonly maxRetries: number; readonly call?: ActorCallOptions }
  | { readonly kind: "put"; readonly id: ObjectId; readonly payload: Payload; readonly callId: number }
  | { readonly kind: "get"; readonly refs: readonly RefInfo[]; readonly timeoutMs: number | undefined; readonly callId: number }
  /** `fetchLocal`: a ref counts as ready once its value is in this node's store (Ray's default). */
  | { readonly kind: "wait"; readonly refs: readonly RefInfo[]; readonly numReturns: number; readonly timeoutMs: number | undefined; readonly fetchLocal: boolean; readonly callId: number }
  /** The program gave up on get or wait `callId` (ray.cancel interrupted its task): it ends unanswered. */
  | { readonly kind: "withdraw-call"; readonly callId: number }
  | { readonly kind: "get-named-actor"; readonly name: string; readonly callId: number; readonly namespace?: string }
  /** ray.listNamedActors: those of `namespace`, or of every namespace when it is absent. */
  | { readonly kind: "list-named-actors"; readonly callId: number; readonly namespace?: string }
  | { readonly kind: "kill-actor"; readonly actorId: ActorId; readonly noRestart: boolean }
  /** Placement groups: the GCS reserves them; this worker is the creator (a non-detached group dies with it). */
  | ({ readonly kind: "create-placement-group" } & PlacementGroupRequest)
  | { readonly kind: "remove-placement-group"; readonly pgId: PlacementGroupId }
  /** The program dropped a handle to `id`. */
  | { readonly kind: "release-ref"; readonly id: ObjectId }
  /** Every handle the program holds is dropped (the program ended). */
  | { readonly kind: "release-all" }
  /** Answer once the GCS has taken (or refused) the registration of an actor this worker created. */
  | { readonly kind: "actor-registered"; readonly actorId: ActorId; readonly callId: number }
  /** The GCS's node table (ray.nodes()). */
  | { readonly kind: "cluster-info"; readonly callId: number }
  /** ray.cancel of the task that makes `returnId` (owned here); `force` kills its worker if it runs (normal tasks only). */
  | { readonly kind: "cancel-task"; readonly returnId: ObjectId; readonly force: boolean; readonly recursive: boolean }
  /** Executor: the running streaming generator `taskId` yielded item `index`; answered once its code may go on (back-pressure). */
  | { readonly kind: "generator-item"; readonly taskId: string; readonly attempt: number; readonly index: number; readonly payload: Payload; readonly callId: number }
  /** Owner: the program asks for item `index` of the streaming generator whose task makes `returnId`. */
  | { readonly kind: "generator-next"; readonly returnId: ObjectId; readonly index: number; readonly callId: number };

export type WorkerInput =
  | { readonly kind: "message"; readonly from: Addr; readonly msg: WorkerMsg }
  | { readonly kind: "timer"; readonly timer: WorkerTimer }
  /** The host finished running attempt `attempt` of `taskId`. */
  | { readonly kind: "task-done"; readonly taskId: string; readonly attempt: number; readonly outcome: Outcome }
  /**
   * The host's connection to this process's raylet broke while both live (a reset): requests on
   * it, or their answers, may be lost, and no death will say so.
   */
  | { readonly kind: "raylet-requests-lost" }
  | ApiCall;
