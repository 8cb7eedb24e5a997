// `import * as ray from "tsray"`: Ray's API at module level, Python style. `ray.remote()` works
// before `ray.init()`: remote functions and actor classes bind to a forwarder that reaches
// whichever cluster is current when they are called.

import { RayError } from "./api/errors.ts";
import { checkInitOptions } from "./api/options.ts";
import {
  remoteOf, type ActorClass, type RemoteFunction,
  type ActorHandle, type ActorRef, type Invoker, type ObjectRef, type RemoteOptions,
} from "./api/handles.ts";
import {
  setNamespace, type CancelOptions, type GetActorOptions, type GetOptions, type KillOptions, type ListNamedActorsOptions, type NodeInfo, type Ray, type RuntimeContext, type WaitOptions,
} from "./api/ray.ts";
import type { NamedActorEntry } from "./core/messages.ts";
import { startEmbedded, type EmbeddedCluster, type InitOptions } from "./runtime/embedded/index.ts";
import type { DaemonDriver } from "./runtime/daemon/driver.ts";
import { envAddress } from "./runtime/daemon/session.ts";
import type { PlacementGroup, PlacementGroupOptions } from "./api/placement-group.ts";
import type { ObjectRefGenerator } from "./api/generator.ts";

export {
  RayError, TaskError, WorkerCrashedError, ObjectLostError, OwnerDiedError, ActorDiedError, GetTimeoutError,
  ObjectStoreFullError, InfeasibleTaskError, ValueError, TaskCancelledError, TaskPlacementGroupRemoved, PendingCallsLimitExceeded,
} from "./api/errors.ts";
export { ObjectRef, RemoteFunction, ActorClass, type ActorHandle, type ActorRef, type RemoteOptions, type RemoteArg, type RemoteArgs } from "./api/handles.ts";
export { ObjectRefGenerator } from "./api/generator.ts";
export type { Ray, CancelOptions, GetActorOptions, GetOptions, KillOptions, ListNamedActorsOptions, NodeInfo, RuntimeContext, WaitOptions } from "./api/ray.ts";
export type { NamedActorEntry } from "./core/messages.ts";
export type { InitOptions } from "./runtime/embedded/index.ts";
export type { NodeSpec } from "./runtime/embedded/cluster.ts";
/** The state API from code (`ray.state.list("tasks", { filters: ["state=FINISHED"] })`): see docs/operators.md. */
export * as state from "./api/state.ts";

let current: EmbeddedCluster | undefined;
let starting: Promise<EmbeddedCluster> | undefined;
/** A connection to running daemons (`ray.init({ address })`), instead of an embedded cluster. */
let connected: DaemonDriver | undefined;

function api(): Ray & Invoker {
  if (connected && !connected.isClosed) return connected.ray;
  if (current && !current.isClosed) return current.ray;
  if (connected?.ended !== undefined) throw new RayError(connected.ended);
  throw new RayError(starting ? "ray.init() has not finished: await it before using the API" : "Ray is not initialized: call ray.init() first");
}

const invoker: Invoker = {
  call: (target, args, opts) => api().call(target, args, opts),
  callMethod: (actorId, facts, method, args, opts) => api().callMethod(actorId, facts, method, args, opts),
};

export interface InitResult {
  readonly nodes: readonly { readonly id: string; readonly resources: Record<string, number> }[];
  readonly storeCapacity?: number;
  readonly traceFile?: string;
  /** Set when connected to running daemons. */
  readonly address?: string;
}

/**
 * Starts the embedded cluster: one node with this machine's CPUs, or what the options say.
 * Calling it again before shutdown() is an error unless `ignoreReinitError` is set.
 */
export async function init(opts: InitOptions & { ignoreReinitError?: boolean; namespace?: string } = {}): Promise<InitResult> {
  checkInitOptions(opts);
  const { ignoreReinitError, namespace, ...rest } = opts;
  if (namespace !== undefined && (typeof namespace !== "string" || namespace === "")) throw new TypeError(`ray.init: namespace must be a non-empty string, got ${JSON.stringify(namespace)}`);
  if (connected && !connected.isClosed) {
    if (ignoreReinitError) return connected.describe();
    throw new RayError("ray.init() was already called: call ray.shutdown() first (or pass ignoreReinitError: true)");
  }
  // With an address (or $TSRAY_ADDRESS, or KubeRay's $RAY_ADDRESS), connect to daemons started by `tsray start`.
  let address = rest.address ?? envAddress();
  if (address !== undefined && !current) {
    const { DaemonDriver } = await import("./runtime/daemon/driver.ts");
    const { resolveAddress, resolveToken } = await import("./runtime/daemon/session.ts");
    if (address === "auto") {
      // Ray's "auto": $TSRAY_ADDRESS, then the cluster `tsray start` left on this machine; never a new one.
      const fromEnv = envAddress();
      address = resolveAddress(fromEnv === "auto" ? undefined : fromEnv);
      if (address === undefined || address === "auto") throw new RayError('ray.init({ address: "auto" }): no running cluster found: set TSRAY_ADDRESS or start one with `tsray start --head`');
    }
    const embeddedOnly = (Object.keys(rest) as (keyof InitOptions)[]).filter((k) => rest[k] !== undefined && k !== "address" && k !== "traceFile");
    if (embeddedOnly.length > 0) throw new TypeError(`ray.init: ${embeddedOnly.join(", ")} cannot be given when connecting to a running cluster (address ${address}): the cluster's nodes have their own`);
    const token = resolveToken(undefined, address);
    if (!token) throw new RayError(`ray.init({ address: "${address}" }): no cluster token: set TSRAY_TOKEN (\`tsray start --head\` printed it)`);
    connected = await DaemonDriver.connect({ address, token, traceFile: rest.traceFile });
    if (namespace !== undefined) setNamespace(connected.ray, namespace);
    return connected.describe();
  }
  if ((current && !current.isClosed) || starting) {
    if (ignoreReinitError) {
      const c = current ?? (await starting!);
      return describeCluster(c);
    }
    throw new RayError("ray.init() was already called: call ray.shutdown() first (or pass ignoreReinitError: true)");
  }
  starting = startEmbedded(rest);
  try {
    current = await starting;
  } finally {
    starting = undefined;
  }
  if (namespace !== undefined) setNamespace(current.ray, namespace);
  return describeCluster(current);
}

function describeCluster(c: EmbeddedCluster): InitResult {
  return { nodes: c.cfg.nodes.map((n) => ({ id: n.id, resources: { ...n.resources } })), storeCapacity: c.cfg.storeCapacity, traceFile: c.cfg.traceFile };
}

export function isInitialized(): boolean {
  return (connected !== undefined && !connected.isClosed) || (current !== undefined && !current.isClosed);
}

/**
 * Ends the program: drops the driver's references, waits for the cluster to go quiet, then
 * stops every worker thread and timer and removes spill files. Safe to call twice.
 */
export async function shutdown(): Promise<void> {
  const d = connected;
  connected = undefined;
  if (d) await d.shutdown();
  if (starting) await starting.catch(() => undefined);
  const c = current;
  current = undefined;
  if (c) await c.shutdown();
}

/** The running cluster (tests, benchmarks, tools). */
export function cluster(): EmbeddedCluster | undefined {
  return current;
}

export function remote<C extends new (...args: any[]) => unknown>(cls: C, opts?: RemoteOptions): ActorClass<C>;
export function remote<F extends (...args: any[]) => unknown>(fn: F, opts?: RemoteOptions): RemoteFunction<F>;
export function remote(target: any, opts: RemoteOptions = {}): any {
  return remoteOf(target, { ...opts }, invoker);
}

export function get<T>(ref: ObjectRef<T>, opts?: GetOptions): Promise<T>;
export function get<T>(refs: readonly ObjectRef<T>[], opts?: GetOptions): Promise<T[]>;
export function get(refs: any, opts?: GetOptions): Promise<any> {
  return api().get(refs, opts);
}

export function put<T>(value: T): Promise<ObjectRef<T>> {
  return api().put(value);
}

export function wait<T>(refs: readonly ObjectRef<T>[], opts?: WaitOptions): Promise<[ObjectRef<T>[], ObjectRef<T>[]]> {
  return api().wait(refs, opts);
}

export function kill(actor: ActorRef, opts?: KillOptions): void {
  api().kill(actor, opts);
}

/** Cancels the task that makes `ref` (Ray's `ray.cancel`; see docs/api.md). */
export function cancel(ref: ObjectRef | ObjectRefGenerator, opts?: CancelOptions): void {
  api().cancel(ref, opts);
}

/** Reserves bundles of resources across nodes, atomically (Ray's placement groups). */
export function placementGroup(opts: PlacementGroupOptions): PlacementGroup {
  return api().placementGroup(opts);
}

export function removePlacementGroup(pg: PlacementGroup): void {
  api().removePlacementGroup(pg);
}

export function getActor<T = any>(name: string, opts?: GetActorOptions): Promise<ActorHandle<T>> {
  return api().getActor<T>(name, opts);
}

/** The live named actors (Ray's `ray.util.list_named_actors()`): names in this namespace, or with `allNamespaces` every name and its namespace. */
export function listNamedActors(opts?: { allNamespaces?: false }): Promise<string[]>;
export function listNamedActors(opts: { allNamespaces: true }): Promise<NamedActorEntry[]>;
export function listNamedActors(opts?: ListNamedActorsOptions): Promise<string[] | NamedActorEntry[]> {
  return api().listNamedActors(opts as never);
}

/** The cluster's nodes as the GCS knows them (Ray's `ray.nodes()`). */
export function nodes(): Promise<NodeInfo[]> {
  return api().nodes();
}

/** The live nodes' total resources (Ray's `ray.cluster_resources()`). */
export function clusterResources(): Promise<Record<string, number>> {
  return api().clusterResources();
}

/** The live nodes' free resources (Ray's `ray.available_resources()`). */
export function availableResources(): Promise<Record<string, number>> {
  return api().availableResources();
}

/** Drops the program's reference to these objects (Python's `del ref`). */
export function release(refs: ObjectRef | ObjectRefGenerator | readonly (ObjectRef | ObjectRefGenerator)[]): void {
  api().release(refs);
}

/** Sleeps in real time (a task or actor method may use `ray.sleep` the same way). */
export function sleep(ms: number): Promise<void> {
  return api().sleep(ms);
}

/** Where this code runs: the driver's node and address here; inside a task, the worker's. */
export const context: { readonly nodeId: string; readonly workerId: string } = {
  get nodeId() { return api().context.nodeId; },
  get workerId() { return api().context.workerId; },
};

/** Ray's runtime context: node and worker ids, and inside a task or actor, their ids. */
export function getRuntimeContext(): RuntimeContext {
  return api().getRuntimeContext();
}

/** The driver's Ray API object: what programs written as `(ray) => …` receive. */
export function driver(): Ray {
  return api();
}
