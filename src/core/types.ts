// The data every model shares: addresses, ids, values, task specs and typed errors.
// Everything here is plain data so that it can cross a simulated network, a worker thread
// boundary or a gRPC stream unchanged.

import type { ResourceSet } from "./resources.ts";

/** `T` with its fields writable: a record being built, before it is handed on as read-only. */
export type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** `${node}/${component}`: "head/gcs", "node-1/raylet", "node-1/w3", "head/driver". */
export type Addr = string;
export type NodeId = string;
export type ObjectId = string;
export type TaskId = string;
export type ActorId = string;
export type FunctionId = string;
/**
 * The job a piece of work belongs to (Ray's job id), which binds the worker that runs it: a
 * raylet leases a worker to one job only, and kills the job's workers when the job ends. Every
 * driver is a job, named by its address, and what its program submits, directly or through the
 * tasks and actors it starts, is that job's. A detached actor is the root of a job of its own,
 * named by its id (Ray's root detached actor): it outlives its creator's job, and so do the
 * workers of what it submits.
 */
export type JobId = string;

/**
 * An id made of parts, as one flat string. Ids are Map keys everywhere; V8 makes a `+` or
 * template concatenation of 13 characters or more a rope, which every process that receives
 * the id must flatten before hashing it (a fifth of the simulator's time went on that).
 */
export const idOf = (...parts: readonly (string | number)[]): string => parts.join("");

/** A task's return object is named after the task, so a caller knows the ref's id at once. */
export const returnIdOf = (taskId: TaskId): ObjectId => idOf(taskId, ".r");
/** Item `index` of a streaming generator task (Ray's ObjectRefGenerator): named after the task and its index. */
export const generatorItemIdOf = (taskId: TaskId, index: number): ObjectId => idOf(taskId, ".y", index);
export const isGeneratorItemId = (id: ObjectId): boolean => /\.y\d+$/.test(id);
/**
 * The object that stands for an actor's handle, owned by the actor's creator (as Ray derives an
 * object id from the actor id): its references are the handle's, and once it goes out of scope
 * the actor ends.
 */
export const handleIdOf = (actorId: ActorId): ObjectId => idOf(actorId, ".h");
/** The process that made an id: a process numbers what it makes `${addr}#n` (its client's nextId). */
export const creatorOfId = (id: string): Addr => id.slice(0, id.indexOf("#"));
/** The actor of a handle object's id, undefined for any other object. */
export const actorOfHandleId = (id: ObjectId): ActorId | undefined => (id.endsWith(".h") ? id.slice(0, -2) : undefined);
/** The task and the index of a generator item's id (`<task>.y<index>`). */
export function generatorItemOf(id: ObjectId): { readonly task: TaskId; readonly index: number } {
  const cut = id.lastIndexOf(".y");
  return { task: id.slice(0, cut), index: Number(id.slice(cut + 2)) };
}

export const gcsAddr = (head: NodeId): Addr => `${head}/gcs`;
export const rayletAddr = (node: NodeId): Addr => `${node}/raylet`;
/** The node incarnation a worker address was minted in (`node/w3-7` → 3); 0 for other addresses. */
export function incarnationOf(addr: Addr): number {
  const m = /\/w(\d+)-/.exec(addr);
  return m ? Number(m[1]) : 0;
}

/**
 * Whether the process at `addr` died with incarnation `incarnation` (or an earlier one) of
 * `node`. Only workers do: a driver and the GCS are separate processes that outlive the node's
 * raylet (only the simulator can kill a head node's raylet without them).
 */
export function diedWithNode(addr: Addr, node: NodeId, incarnation: number): boolean {
  const inc = incarnationOf(addr);
  return inc > 0 && inc <= incarnation && nodeOf(addr) === node;
}

export function nodeOf(addr: Addr): NodeId {
  const i = addr.indexOf("/");
  return i < 0 ? addr : addr.slice(0, i);
}

/**
 * A serialized value as the models see it. The host's codec makes it; models only move it,
 * count its size and compare its hash. `data` is opaque (bytes, an arena slot, …).
 */
export interface Payload {
  readonly size: number;
  readonly hash: string;
  readonly data: unknown;
  /** Object refs serialized inside this value (they are borrowed by whoever reads it). */
  readonly refs?: readonly RefInfo[];
  /** The value holds handles (refs, remote functions, actors) that the reader must revive. */
  readonly marked?: true;
}

export interface RefInfo {
  readonly id: ObjectId;
  readonly owner: Addr;
}

export type ErrorType =
  | "TaskError"
  | "WorkerCrashedError"
  | "ObjectLostError"
  | "OwnerDiedError"
  | "ActorDiedError"
  | "GetTimeoutError"
  | "ObjectStoreFullError"
  | "InfeasibleTaskError"
  | "RayError"
  /** The task was cancelled by ray.cancel (Ray's TaskCancelledError). */
  | "TaskCancelledError"
  /** The task's placement group was removed before it ran, or while it ran (Ray's TaskPlacementGroupRemoved). */
  | "TaskPlacementGroupRemoved";

export interface ErrorInfo {
  readonly type: ErrorType;
  readonly message: string;
  /** The remote stack, for TaskError. */
  readonly stack?: string;
  readonly name?: string;
  /** For TaskError: what the user's code threw, to rebuild as the error's `cause`. */
  readonly cause?: ThrownInfo;
}

/** A thrown error as data: its class name, message, stack and own fields (JSON values only). */
export interface ThrownInfo {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly fields?: Readonly<Record<string, unknown>>;
  /** The thrown error's own `cause`, when it is an Error too. */
  readonly cause?: ThrownInfo;
}

/** What an object resolves to: a value or the error that stands in for it. */
export type ObjectValue = { readonly ok: true; readonly payload: Payload } | { readonly ok: false; readonly error: ErrorInfo };

export type SchedulingStrategy =
  | "DEFAULT"
  | "SPREAD"
  | { readonly nodeId: NodeId; readonly soft: boolean }
  /** Into a placement group's bundle (`bundleIndex` -1: any of its bundles), as Ray's PlacementGroupSchedulingStrategy. */
  | { readonly placementGroup: PlacementGroupId; readonly bundleIndex: number; readonly captureChildTasks: boolean };

/** A task argument: a value carried in the spec, or a reference resolved before execution. */
export type Arg = { readonly v: Payload } | { readonly ref: ObjectId; readonly owner: Addr };

export type TaskKind = "normal" | "actor-create" | "actor-task";

export interface TaskSpec {
  readonly taskId: TaskId;
  readonly kind: TaskKind;
  readonly fn: FunctionId;
  /** Method name, for actor tasks. */
  readonly method?: string;
  readonly name: string;
  readonly args: readonly Arg[];
  readonly returnId: ObjectId;
  readonly owner: Addr;
  /** Its submitter's job (an actor creation: the actor's); an actor call runs in its actor's worker, whatever the caller's job. */
  readonly job: JobId;
  readonly resources: ResourceSet;
  readonly strategy: SchedulingStrategy;
  readonly maxRetries: number;
  readonly retryExceptions: boolean;
  readonly attempt: number;
  /** How often a worker sent this attempt back unrun: a push after a bounce is no duplicate. */
  readonly bounces?: number;
  readonly actorId?: ActorId;
  /** Per-caller sequence number of an actor task. */
  readonly seq?: number;
  readonly caller?: Addr;
  /** For an actor creation: how many of the actor's calls may run at once (absent: 1). */
  readonly maxConcurrency?: number;
  /** For an actor creation: its named concurrency groups (absent: none, every call is in the default group). */
  readonly concurrencyGroups?: readonly ConcurrencyGroup[];
  /** For an actor call: the concurrency group it runs in, as the call named it (absent: its method's, or the default group). */
  readonly concurrencyGroup?: string;
  /** The namespace the code runs in (a normal task: its submitter's; an actor creation: the actor's). */
  readonly namespace?: string;
  /**
   * An actor call cancelled before it was sent: sent anyway, without its arguments, so that the
   * actor's per-caller order has no hole, and answered as cancelled without running.
   */
  readonly cancelled?: true;
  /** A generator function run as a streaming generator: its yielded values are reported one by one. */
  readonly streaming?: Streaming;
}

/**
 * A copy of `spec` with one field changed. Copied whole first (V8 then clones its hidden class
 * too), and the field set after: a spread followed by fields goes through V8's slow generic
 * path, and its copy gets a shape of its own, which slows every later read of specs.
 */
export function specWith<K extends keyof TaskSpec>(spec: TaskSpec, key: K, value: TaskSpec[K]): TaskSpec {
  const copy: Mutable<TaskSpec> = { ...spec };
  copy[key] = value;
  return copy;
}

/**
 * A named concurrency group of an actor (Ray's `concurrency_groups`): its calls run up to
 * `maxConcurrency` at once, beside those of the actor's other groups. `methods`: the methods
 * whose calls it takes unless a call names another group (as Ray's `@ray.method(concurrency_group=)`).
 */
export interface ConcurrencyGroup {
  readonly name: string;
  readonly maxConcurrency: number;
  readonly methods: readonly string[];
}

/** What an actor call asks beyond its method, arguments and retries. */
export interface ActorCallOptions {
  readonly streaming?: Streaming;
  /** The concurrency group to run in, whatever group its method is in. */
  readonly concurrencyGroup?: string;
}

/**
 * How a streaming generator task streams (Ray's `num_returns="streaming"`). `backpressure`: the
 * executor pauses while this many yielded items are not yet consumed by the caller (Ray's
 * `_generator_backpressure_num_objects`); absent, it never pauses.
 */
export interface Streaming {
  readonly backpressure?: number;
}

export interface ActorSpec {
  readonly actorId: ActorId;
  readonly fn: FunctionId;
  readonly className: string;
  readonly args: readonly Arg[];
  readonly owner: Addr;
  /** The job its worker serves: its creator's, or (detached) its own id. */
  readonly job: JobId;
  readonly resources: ResourceSet;
  readonly strategy: SchedulingStrategy;
  readonly maxRestarts: number;
  readonly maxTaskRetries: number;
  readonly name?: string;
  /** Calls that may run at once on the actor (absent: 1, one at a time); with groups, in its default group. */
  readonly maxConcurrency?: number;
  /** Named concurrency groups (Ray's concurrency_groups): each runs its calls up to its own limit. */
  readonly concurrencyGroups?: readonly ConcurrencyGroup[];
  /** The namespace its name is unique in, and its code runs in (Ray's namespaces). */
  readonly namespace?: string;
  /** `lifetime: "detached"`: the actor outlives its owner; only ray.kill (or its failures) ends it. */
  readonly detached?: boolean;
  /** Its methods that are generators (set only when some are): a handle found by name streams their calls, as Ray's does. */
  readonly generators?: readonly string[];
  /** Its `maxPendingCalls` (set only when bounded): a handle found by name holds its calls to it, as Ray's does. */
  readonly maxPendingCalls?: number;
}

/** A function or class exported through the GCS function table, as source. */
export interface FunctionDescriptor {
  readonly id: FunctionId;
  readonly name: string;
  readonly kind: "function" | "class";
  readonly source: string;
}

/** The public, serializable view of an actor. */
export interface ActorInfo {
  readonly actorId: ActorId;
  readonly state: string;
  readonly address?: Addr;
  readonly epoch: number;
  readonly name?: string;
  readonly owner: Addr;
  readonly error?: ErrorInfo;
  readonly namespace?: string;
  /**
   * What a handle needs of the actor's class and options, as Ray's handle carries them: its calls'
   * retry budget, and its generator methods (whose calls stream). Absent where no spec is known.
   */
  readonly maxTaskRetries?: number;
  readonly generators?: readonly string[];
  readonly maxPendingCalls?: number;
}

export interface NodeView {
  readonly node: NodeId;
  /** Which start of the node this row describes (a restarted node is a new incarnation). */
  readonly incarnation: number;
  /** Where the node's daemon listens, when the host routes over a network. */
  readonly endpoint?: string;
  readonly total: ResourceSet;
  readonly available: ResourceSet;
  readonly alive: boolean;
  /** The placement-group bundles committed on this node, as `bundleKey`s. */
  readonly bundles?: readonly string[];
}

/** A resource demand no live node can meet, as reported to the GCS and the autoscaler: its shape, how many wait, since when. */
export interface PendingDemand {
  readonly resources: ResourceSet;
  readonly count: number;
  /** How long the oldest of them has waited, when reported (ages, not times: reporters' clocks differ). */
  readonly ageMs: number;
}

export type PlacementGroupId = string;
/** Ray's four placement strategies. */
export type PlacementStrategy = "PACK" | "SPREAD" | "STRICT_PACK" | "STRICT_SPREAD";
export const PLACEMENT_STRATEGIES: readonly PlacementStrategy[] = ["PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"];

export interface PlacementGroupSpec {
  readonly pgId: PlacementGroupId;
  readonly bundles: readonly ResourceSet[];
  readonly strategy: PlacementStrategy;
  readonly name?: string;
  /** "detached" outlives its creator; otherwise it is removed when its creator dies. */
  readonly lifetime?: "detached";
  readonly creator: Addr;
}

/** A bundle's name in cluster views and leases. */
export function bundleKey(pg: PlacementGroupId, index: number): string {
  return `${pg}#${index}`;
}

/** One node as the autoscaler sees it (Ray's GetClusterResourceState node states). */
export interface AutoscalingNode {
  readonly node: NodeId;
  readonly alive: boolean;
  readonly total: ResourceSet;
  readonly available: ResourceSet;
  /** How long it has held no lease, bundle, queued request or primary copy, as last reported. */
  readonly idleMs: number;
}

/** What the GCS tells the autoscaler: the nodes, the demands no node can meet, and the requests queued for room. */
export interface AutoscalingState {
  readonly nodes: readonly AutoscalingNode[];
  readonly demands: readonly PendingDemand[];
  readonly backlog: readonly PendingDemand[];
}
