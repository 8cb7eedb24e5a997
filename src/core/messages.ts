// Every message that crosses between components. One union, so a transport (the simulated
// network, the in-process queue, gRPC) carries exactly these and nothing else.

import type { ResourceSet } from "./resources.ts";
import type {
  PendingDemand, PlacementGroupId, PlacementGroupSpec,
  ActorId, ActorInfo, ActorSpec, Addr, ErrorInfo, FunctionDescriptor, FunctionId, JobId, NodeId,
  NodeView, ObjectId, Payload, RefInfo, SchedulingStrategy, TaskId, TaskSpec,
} from "./types.ts";

/** What a raylet needs to place a lease: the demand and where its arguments live. */
export interface LeaseRequest {
  readonly resources: ResourceSet;
  readonly strategy: SchedulingStrategy;
  /** Arguments that live in object stores and must be local before the lease is granted. */
  readonly deps: readonly { readonly id: ObjectId; readonly owner: Addr }[];
  /** The job whose work it runs: only a worker of that job is granted. */
  readonly job: JobId;
  /** Set when the lease will host an actor for its lifetime. */
  readonly actorId?: ActorId;
  /** A spilled-back request must be granted where it lands (never spilled again). */
  readonly grantOrReject: boolean;
  /** For traces. */
  readonly taskId: TaskId;
}

export type TaskResult =
  | { readonly kind: "inline"; readonly payload: Payload }
  | { readonly kind: "stored"; readonly node: NodeId; readonly size: number; readonly hash: string; readonly refs?: readonly RefInfo[] }
  | { readonly kind: "error"; readonly error: ErrorInfo; readonly retryable: boolean };

/** Refs nested in a task's result value (lent to the caller by the executor). */
export function refsOfResult(r: TaskResult): readonly RefInfo[] | undefined {
  return r.kind === "inline" ? r.payload.refs : r.kind === "stored" ? r.refs : undefined;
}

export type ObjectStatus =
  | { readonly kind: "inline"; readonly payload: Payload }
  | { readonly kind: "stored"; readonly nodes: readonly NodeId[]; readonly size: number }
  | { readonly kind: "error"; readonly error: ErrorInfo };

export type Msg =
  // owner (or GCS, for actors) ⇄ raylet: worker leases
  | { type: "RequestLease"; reqId: number; req: LeaseRequest }
  | { type: "LeaseGranted"; reqId: number; leaseId: string; worker: Addr }
  /** Try `node` instead (its `incarnation` as the deciding raylet knows it). */
  | { type: "LeaseSpillback"; reqId: number; node: NodeId; incarnation: number }
  | { type: "LeaseRejected"; reqId: number; reason: string; infeasible: boolean }
  | { type: "ReturnLease"; leaseId: string; destroyWorker: boolean }
  /** The owner no longer needs a lease it asked for (its task ran on another lease). */
  | { type: "CancelLease"; reqId: number }
  // owner → worker: run a task on a leased worker; worker → owner: its result
  /**
   * An actor call's push also says where the caller's other calls stand (the spec is the task's,
   * shared, not copied per push). `minPendingSeq`: the caller's lowest open seq (submitted, not
   * yet answered or closed): every call below it is done, so the actor may skip to it.
   * `closedSeqs`: seqs above it that the caller will never send (answered by an earlier
   * incarnation, failed, or cancelled), with the first push to each incarnation, which would
   * wait for them.
   */
  | { type: "PushTask"; spec: TaskSpec; minPendingSeq?: number; closedSeqs?: readonly number[] }
  /**
   * `returnId` is the spec's, echoed: the owner finds the task through the object it makes.
   * `runMs`: how long the task ran (the owner pipelines a class only while its tasks are short).
   * `items`: a streaming generator's count of items this attempt reported.
   */
  | { type: "TaskReply"; taskId: TaskId; returnId: ObjectId; attempt: number; result: TaskResult; epoch?: number; runMs?: number; items?: number }
  /**
   * worker → owner: a pipelined task sent back unrun, because the task ahead of it blocked in
   * get/wait (what it waits for could be queued behind it); the owner runs it on another lease.
   */
  | { type: "TaskBounced"; taskId: TaskId; returnId: ObjectId; attempt: number; bounces: number }
  // worker ⇄ its raylet
  | { type: "RegisterWorker"; worker: Addr; driver?: boolean }
  /** A task blocked in get/wait lends its CPU back (so nested tasks can run), and asks for it again. */
  | { type: "WorkerBlocked"; worker: Addr }
  | { type: "WorkerUnblocked"; worker: Addr }
  /**
   * raylet → an idle worker above the node's soft limit (Ray's Exit RPC): exit unless you own
   * something. `ask` numbers the raylet's requests, so that a late answer to an earlier one is
   * not taken for this one's.
   */
  | { type: "Exit"; ask: number }
  /** `exiting`: the worker owns nothing (objects, borrows, pending tasks, placement groups) and may be killed. */
  | { type: "ExitReply"; ask: number; exiting: boolean }
  | { type: "Unblocked" }
  | { type: "StorePut"; reqId: number; id: ObjectId; payload: Payload; owner: Addr }
  | { type: "StorePutReply"; reqId: number; id: ObjectId; error?: ErrorInfo }
  /** `local`: only make the objects local (a ray.wait's fetchLocal), answered by StoreLocal, without their values. */
  | { type: "StoreGet"; reqId: number; ids: readonly { readonly id: ObjectId; readonly owner: Addr }[]; local?: true }
  | { type: "StoreGetReply"; reqId: number; values: readonly (Payload | ErrorInfo)[] }
  /** Each object of a `local` StoreGet is in this node's store now, or failed for good. */
  | { type: "StoreLocal"; reqId: number }
  /**
   * A get with timeoutMs 0: the objects as this node's store holds them now, pulling, restoring
   * and waiting for nothing; answered at once, by StoreGetReply if every one is in memory here
   * (or known failed), else by StoreAbsent.
   */
  | { type: "StorePeek"; reqId: number; ids: readonly { readonly id: ObjectId; readonly owner: Addr }[] }
  /** The objects of a StorePeek that this node's store lacks now (the others' values are not sent: the get fails). */
  | { type: "StoreAbsent"; reqId: number; ids: readonly ObjectId[] }
  // raylet ⇄ owner: the owner is the object directory for what it owns
  | { type: "GetLocations"; id: ObjectId }
  | { type: "Locations"; id: ObjectId; status: ObjectStatus | { readonly kind: "unknown" } }
  /** `incarnation`: the node's life that holds the copy (news from a life already dead is stale). */
  | { type: "AddLocation"; id: ObjectId; node: NodeId; incarnation: number }
  | { type: "RemoveLocation"; id: ObjectId; node: NodeId }
  /**
   * `orphaned`: copies their owner never heard of (a failed attempt's result, stored before its
   * worker died) — dropped as unreachable, not freed: the object itself may still be in use.
   */
  | { type: "FreeObjects"; ids: readonly ObjectId[]; orphaned?: true }
  // raylet ⇄ raylet: object transfer, chunked
  | { type: "Pull"; id: ObjectId }
  | { type: "Chunk"; id: ObjectId; index: number; total: number; size: number; payload?: Payload }
  | { type: "PullFailed"; id: ObjectId }
  // a borrower ⇄ the owner of an object it holds a ref to
  | { type: "GetStatus"; id: ObjectId }
  | { type: "Status"; id: ObjectId; status: ObjectStatus }
  // raylet ⇄ GCS: membership, health and the cluster resource view
  /** `endpoint`: where the node's daemon listens (host:port), for hosts that route over a network. */
  | { type: "RegisterNode"; node: NodeId; incarnation: number; resources: ResourceSet; endpoint?: string }
  /**
   * `deadWorkers`: the workers and drivers the GCS knows died lately, and the detached actors dead
   * for good (a raylet grants them, and their jobs, nothing).
   * `bundles` (from a recovered GCS): the bundles it knows are committed on the node; any other
   * bundle reserved by an attempt numbered below `before` (an earlier GCS's) is given back.
   */
  | { type: "NodeRegistered"; head: NodeId; incarnation: number; deadWorkers?: readonly Addr[]; bundles?: { readonly keep: readonly string[]; readonly before: number } }
  /**
   * `demands`: requests no live node can meet; `backlog`: requests queued here that fit some node
   * but wait for room; `idleMs`: how long the node has held no lease, bundle, queued request or
   * primary copy (0 while it holds one) — what the autoscaler reads.
   */
  | { type: "Heartbeat"; node: NodeId; available: ResourceSet; demands?: readonly PendingDemand[]; backlog?: readonly PendingDemand[]; idleMs?: number }
  | { type: "ClusterView"; nodes: readonly NodeView[] }
  // failure news, published by the GCS to raylets, which pass it on to their core workers
  /**
   * A worker or driver died, or (`worker` a detached actor's id) a detached actor died for good:
   * the job of that name is over, and no process answers at it.
   */
  | { type: "WorkerDied"; worker: Addr | JobId }
  | { type: "NodeDead"; node: NodeId; incarnation: number }
  /**
   * To a worker (or driver) that registers: the deaths its raylet knew of before (the workers,
   * and each node's latest dead life). It hears of later ones as they come; without these, it
   * would wait for ever on an owner that died before it started.
   */
  | { type: "KnownDeaths"; workers: readonly Addr[]; nodes: readonly { readonly node: NodeId; readonly incarnation: number }[] }
  | { type: "GcsRestarted" }
  /** A driver asks the GCS for failure news directly (it must hear even if its own raylet dies). */
  | { type: "SubscribeFailures" }
  // owner ⇄ GCS: function table, actors
  | { type: "RegisterFunction"; fn: FunctionDescriptor }
  | { type: "GetFunction"; id: FunctionId }
  | { type: "Function"; fn: FunctionDescriptor }
  /** `failed`: its constructor's arguments failed, so it is registered dead, with that error. */
  | { type: "CreateActor"; spec: ActorSpec; failed?: ErrorInfo }
  | { type: "ActorUpdate"; info: ActorInfo }
  | { type: "SubscribeActor"; actorId: ActorId }
  /** A named actor, looked up in `namespace` (absent: the default namespace, which holds no names of a program's). */
  | { type: "GetNamedActor"; reqId: number; name: string; namespace?: string }
  | { type: "NamedActor"; reqId: number; info?: ActorInfo }
  /** The live named actors (Ray's list_named_actors): those of `namespace`, or of every namespace when it is absent. */
  | { type: "ListNamedActors"; reqId: number; namespace?: string }
  | { type: "NamedActorList"; reqId: number; actors: readonly NamedActorEntry[] }
  /**
   * `noRestart: false`: incarnation `epoch` dies and the actor restarts within its budget; a resent
   * kill of an incarnation already gone does nothing (absent: dead for good).
   */
  /** `exited`: sent by the actor's own worker, whose incarnation `epoch` called ray.exitActor(). */
  | { type: "KillActor"; actorId: ActorId; noRestart?: false; epoch?: number; exited?: true }
  /** owner → GCS: every handle to the actor went out of scope (Ray's actor handle reference counting): it ends for good. */
  | { type: "ActorOutOfScope"; actorId: ActorId }
  // borrower (or an executor lending a returned ref) → owner: the borrower protocol
  // `seq` counts the sender's borrower messages: a copy the network repeated carries a seq the
  // owner has seen from that sender (the link delivers in order), and is dropped.
  /** `borrower` holds one more borrow of `id` (sent by the borrower, or by a task returning the ref to it). */
  | { type: "AddBorrower"; id: ObjectId; borrower: Addr; seq: number }
  /** `borrower` dropped `holds` of its borrows of `id`. */
  | { type: "RemoveBorrower"; id: ObjectId; borrower: Addr; holds: number; seq: number }
  /**
   * raylet → a restarted GCS: the leases it holds there for actors. A grant the GCS never heard
   * (its reply was lost while the GCS was down) belongs to no actor: the GCS returns it.
   */
  | { type: "HeldLeases"; leases: readonly { readonly leaseId: string; readonly worker: Addr }[] }
  // placement groups: an owner → GCS; GCS ⇄ raylets, a two-phase reservation (prepare, then commit or release)
  | { type: "CreatePlacementGroup"; spec: PlacementGroupSpec }
  | { type: "RemovePlacementGroup"; pgId: PlacementGroupId }
  /** Reserve these bundles' resources on the node (phase one); `attempt` tells replies of an older try apart. */
  | { type: "PrepareBundles"; pgId: PlacementGroupId; attempt: number; bundles: readonly { readonly index: number; readonly resources: ResourceSet }[] }
  | { type: "BundlesPrepared"; pgId: PlacementGroupId; attempt: number; node: NodeId; ok: boolean }
  /** Every node prepared: the reservation of `attempt` is final (phase two). */
  | { type: "CommitBundles"; pgId: PlacementGroupId; attempt: number }
  /** Give back the group's bundles on the node (all of them, or only those of `attempt`), ending the leases in them. */
  | { type: "ReleaseBundles"; pgId: PlacementGroupId; attempt?: number }
  // owner → GCS: the node table, for ray.nodes(), clusterResources() and availableResources()
  | { type: "GetClusterInfo"; reqId: number }
  | { type: "ClusterInfo"; reqId: number; nodes: readonly NodeView[] }
  // the autoscaler's scale-down: GCS ⇄ a raylet (Ray's DrainNode)
  /** Stop taking work if idle; the node is then removed. */
  | { type: "DrainNode"; node: NodeId; reason: string }
  /** `accepted: false`: the node holds work (`reason` says what) and stays. */
  | { type: "DrainReply"; node: NodeId; accepted: boolean; reason: string }
  // owner → the worker running (or holding) attempt `attempt` of a task: ray.cancel
  /** Skip it if not started; signal its code if running; `recursive`: cancel the tasks it submitted too. */
  | { type: "CancelTask"; taskId: TaskId; returnId: ObjectId; attempt: number; recursive: boolean }
  // a streaming generator: executor → owner, one report per yielded item; owner → executor, how far the caller consumed
  /** Item `index` of attempt `attempt` (Ray's ReportGeneratorItemReturns); the owner drops an index it already has. */
  | { type: "ReportGeneratorItem"; taskId: TaskId; returnId: ObjectId; attempt: number; index: number; result: ItemResult }
  /** The caller consumed `consumed` items: an executor paused by back-pressure may go on. */
  | { type: "GeneratorAck"; taskId: TaskId; attempt: number; consumed: number };

/** A yielded item: its value, inline or stored in the executor's node (never an error: an error ends the stream). */
export type ItemResult = Extract<TaskResult, { kind: "inline" | "stored" }>;

/** A live named actor: its name and the namespace the name is unique in. */
export interface NamedActorEntry { readonly name: string; readonly namespace: string }

export type MsgType = Msg["type"];

// What each model can receive. A host hands a model only messages of its own kind; anything else
// reaching a model's step is a wiring bug, and the model throws (see assert.ts).

/** Messages a raylet handles. */
export const RAYLET_RECEIVES = [
  "RequestLease", "ReturnLease", "CancelLease", "RegisterWorker", "WorkerBlocked", "WorkerUnblocked", "StorePut", "StoreGet", "StorePeek",
  "Locations", "Pull", "Chunk", "PullFailed", "FreeObjects", "NodeRegistered", "ClusterView", "NodeDead", "WorkerDied", "GcsRestarted",
  "PrepareBundles", "CommitBundles", "ReleaseBundles", "DrainNode", "ExitReply",
] as const satisfies readonly MsgType[];
/** Messages a core worker (an owner, an executor, or both) handles. */
export const WORKER_RECEIVES = [
  "LeaseGranted", "LeaseSpillback", "LeaseRejected", "TaskReply", "TaskBounced", "PushTask", "StorePutReply", "StoreGetReply", "StoreLocal", "StoreAbsent",
  "GetLocations", "GetStatus", "Status", "AddLocation", "RemoveLocation", "Function", "ActorUpdate", "NamedActor", "NamedActorList", "NodeDead",
  "Unblocked", "WorkerDied", "KnownDeaths", "GcsRestarted", "AddBorrower", "RemoveBorrower",
  "ClusterInfo", "CancelTask", "ReportGeneratorItem", "GeneratorAck", "Exit",
] as const satisfies readonly MsgType[];
/** Messages the GCS handles (lease answers and the creation reply: it places actors itself). */
export const GCS_RECEIVES = [
  "RegisterNode", "Heartbeat", "WorkerDied", "SubscribeFailures", "RegisterFunction", "GetFunction", "CreateActor", "SubscribeActor",
  "GetNamedActor", "ListNamedActors", "KillActor", "ActorOutOfScope", "LeaseGranted", "LeaseSpillback", "LeaseRejected", "TaskReply", "HeldLeases",
  "CreatePlacementGroup", "RemovePlacementGroup", "BundlesPrepared",
  "GetClusterInfo", "DrainReply",
] as const satisfies readonly MsgType[];

export type RayletMsg = Extract<Msg, { type: (typeof RAYLET_RECEIVES)[number] }>;
export type WorkerMsg = Extract<Msg, { type: (typeof WORKER_RECEIVES)[number] }>;
export type GcsMsg = Extract<Msg, { type: (typeof GCS_RECEIVES)[number] }>;

const rayletTypes: ReadonlySet<MsgType> = new Set(RAYLET_RECEIVES);
const workerTypes: ReadonlySet<MsgType> = new Set(WORKER_RECEIVES);
const gcsTypes: ReadonlySet<MsgType> = new Set(GCS_RECEIVES);
export const isRayletMsg = (m: Msg): m is RayletMsg => rayletTypes.has(m.type);
export const isWorkerMsg = (m: Msg): m is WorkerMsg => workerTypes.has(m.type);
export const isGcsMsg = (m: Msg): m is GcsMsg => gcsTypes.has(m.type);
