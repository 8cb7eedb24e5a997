// The core worker: lives in the driver and in every worker. As an *owner* it submits tasks
// through worker leases, resolves their arguments, counts references to what it owns, serves
// as the directory of where its objects live, and answers get/wait/put. As an *executor* it
// runs the tasks and actor calls pushed to it, in per-caller order for actors.

import type { Bugs } from "./bugs.ts";
import type { CallResult, WorkerEffects } from "./effects.ts";
import { nextObjectState, type ObjectState } from "./lifecycle/object.ts";
import { nextTaskState, type TaskState } from "./lifecycle/task.ts";
import type { Msg, ObjectStatus, TaskResult } from "./messages.ts";
import type { ResourceSet } from "./resources.ts";
import { Fifo } from "./fifo.ts";
import { localityNode } from "./scheduler.ts";
import type { ModelTuning } from "./tuning.ts";
import {
  diedWithNode, nodeOf, rayletAddr, returnIdOf, type ActorId, type ActorInfo, type ActorSpec, type Addr, type Arg, type ErrorInfo,
  type FunctionDescriptor, type FunctionId, type NodeId, type ObjectId, type Payload, type RefInfo,
  type SchedulingStrategy, type TaskSpec,
} from "./types.ts";

/** The tuning a core worker reads (tuning.ts says what each means). */
export type CoreWorkerTuning = Pick<ModelTuning, "maxInlineBytes" | "maxPendingLeases" | "maxTasksInFlightPerWorker" | "pipelineMaxTaskMs">;

export interface CoreWorkerConfig extends CoreWorkerTuning {
  readonly node: NodeId;
  readonly gcs: Addr;
  readonly bugs: Bugs;
}

/** The core worker's part of a host's tuning. */
export function coreWorkerTuning(t: CoreWorkerTuning): CoreWorkerTuning {
  return { maxInlineBytes: t.maxInlineBytes, maxPendingLeases: t.maxPendingLeases, maxTasksInFlightPerWorker: t.maxTasksInFlightPerWorker, pipelineMaxTaskMs: t.pipelineMaxTaskMs };
}

/** An argument as the API hands it over: a value, or a reference (owned here or borrowed). */
export type ArgIn = { readonly v: Payload } | { readonly ref: ObjectId; readonly owner: Addr };

export interface TaskOptions {
  readonly resources: ResourceSet;
  readonly strategy: SchedulingStrategy;
  readonly maxRetries: number;
  readonly retryExceptions: boolean;
}

export interface ActorOptions {
  readonly resources: ResourceSet;
  readonly strategy: SchedulingStrategy;
  readonly maxRestarts: number;
  readonly maxTaskRetries: number;
  readonly name?: string;
}

/** What a task execution produced, as the host reports it. */
export type Outcome = { readonly ok: true; readonly payload: Payload } | { readonly ok: false; readonly error: ErrorInfo };

interface Owned {
  state: ObjectState;
  /** Handles held by the program. */
  local: number;
  /** Pending tasks that take it as an argument. */
  submitted: number;
  /** Inline value or error, once known: the very status that gets and borrowers are answered with. */
  value?: InlineStatus | ErrorStatus;
  /** Nodes holding a copy in their store (NO_NODES, shared, until the first copy). */
  nodes: readonly NodeId[];
  size: number;
  hash: string;
  /** Whoever waits for it to be ready (gets, dependent tasks, raylets, borrowers). */
  waiters?: Waiter[];
  /** How to make it again if every copy is lost: the task that made it and its retry budget. */
  lineage?: { spec: TaskSpec; retriesLeft: number };
  /** Arguments of that task, kept in scope for as long as this object may need re-making. */
  deps?: readonly ObjectId[];
  /**
   * The task making it, until that task is done: replies find their task through the object
   * (one map for both, rather than a second map of every pending task).
   */
  task: OwnedTask | undefined;
}

interface OwnedTask {
  spec: TaskSpec;
  state: TaskState;
  retriesLeft: number;
  /** Owned refs among the args, released when the task is done for good. */
  readonly argRefs: readonly ObjectId[];
  /** Scheduling class: tasks with the same function, demand and strategy share leases. */
  readonly classKey: string;
  /** The lease it runs on, while it runs. */
  lease?: Lease;
  /**
   * Lease requests asking for it (staging its arguments): a queued task without one gets the
   * next request, so a task never waits behind requests that stage another task's arguments
   * (which may be what it is about to make, when a lost object is being re-made).
   */
  requests: number;
}

interface Lease {
  readonly leaseId: string;
  readonly worker: Addr;
  /** The scheduling class it serves. */
  readonly c: SchedClass;
  /** Tasks pushed to it and not answered yet, in the order its worker runs them. */
  readonly running: OwnedTask[];
  /** The task its worker was running when it sent tasks back (it blocked): nothing more is pushed until that one answers. */
  blockedBy: OwnedTask | undefined;
}

interface LeaseReq {
  readonly c: SchedClass;
  /** The task whose arguments the request asked the raylet to stage: the lease goes to it. */
  readonly task: OwnedTask;
  /** The node whose raylet was asked: if it dies, the request is lost. */
  readonly node: NodeId;
}

interface SchedClass {
  readonly key: string;
  readonly ready: Fifo<OwnedTask>;
  pendingRequests: number;
  readonly leases: Set<Lease>;
  /** How long its latest task ran on its worker: the class is pipelined only while that is short. */
  taskMs: number;
}

interface CallerActor {
  info?: ActorInfo;
  /** The registration, for actors this worker created (resent if the GCS restarts). */
  created?: ActorSpec;
  nextSeq: number;
  /** Calls submitted but not yet answered, by seq. */
  readonly inflight: SeqMap<OwnedTask>;
  /** Calls whose dependencies are resolved, waiting for the actor to be alive. */
  readonly unsent: OwnedTask[];
}

/** A normal task or actor call this worker is executing or about to. */
interface Execution {
  readonly spec: TaskSpec;
  readonly from: Addr;
  fn?: FunctionDescriptor;
  args?: Payload[];
  missing: number;
  failed?: ErrorInfo;
  /** When it started running (-1: not yet): the reply tells the owner how long it ran. */
  startedAt: number;
}

interface HostedActor {
  readonly actorId: ActorId;
  /** The incarnation this worker runs (the GCS counts restarts). */
  readonly epoch: number;
  /** Next seq to run, per caller. */
  readonly expected: Map<Addr, number>;
  /** Calls that arrived ahead of their turn, per caller, by seq. */
  readonly buffered: Map<Addr, Map<number, Execution>>;
  readonly runnable: Fifo<Execution>;
  running?: Execution;
  /** The constructor's outcome, repeated if the creation is pushed again (a restarted GCS asks). */
  created?: TaskResult;
}

interface GetCall {
  readonly callId: number;
  /** Whether this call lent the running task's CPU back while it waits. */
  readonly blocking: boolean;
  readonly refs: readonly RefInfo[];
  readonly values: (Payload | ErrorInfo | undefined)[];
  missing: number;
  readonly timer?: string;
  /** Refs whose status is not known yet; then the stored ones are read from the store at once. */
  unknown: number;
  fetch?: { i: number; ref: RefInfo }[];
}

interface WaitCall {
  readonly callId: number;
  readonly blocking: boolean;
  readonly refs: readonly RefInfo[];
  readonly numReturns: number;
  readonly timer?: string;
}

/** One ref of a get waiting for an owned object: a slot rather than a closure per ref. */
class GetSlot {
  constructor(readonly g: GetCall, readonly i: number) {}
}
type Waiter = ((s: ObjectStatus) => void) | GetSlot;

type InlineStatus = Extract<ObjectStatus, { kind: "inline" }>;
type ErrorStatus = Extract<ObjectStatus, { kind: "error" }>;

/**
 * Most objects are inline and never get a copy in a store, and most tasks take no owned refs:
 * they share these empty lists. Readonly by type, not frozen: V8 iterates a frozen array on a
 * slow path that allocates.
 */
const NO_NODES: readonly NodeId[] = [];
const NO_IDS: readonly ObjectId[] = [];

/** An argument passed by reference (a predicate made once, not a closure per call). */
function isRef(a: Arg): boolean {
  return "ref" in a;
}

/** Tasks with the same function, demand and strategy share leases. */
function taskClassKey(spec: TaskSpec): string {
  return `${spec.fn}|${JSON.stringify(spec.resources)}|${JSON.stringify(spec.strategy)}`;
}

/**
 * Orders the pushes of one task: later attempts, and within an attempt each push after a
 * bounce, get larger numbers; a push numbered at or below one already run or bounced is a duplicate.
 */
function pushNo(s: TaskSpec): number {
  return s.attempt * 1_048_576 + (s.bounces ?? 0);
}

/** A map keyed by sequence numbers that finds its lowest key in amortized O(1). */
class SeqMap<V> extends Map<number, V> {
  /** No key is below this. */
  private low = 0;
  override set(k: number, v: V): this {
    if (k < this.low) this.low = k;
    return super.set(k, v);
  }
  lowestKey(): number | undefined {
    if (this.size === 0) return undefined;
    while (!this.has(this.low)) this.low++;
    return this.low;
  }
}

export class CoreWorker {
  readonly owned = new Map<ObjectId, Owned>();
  private readonly classes = new Map<string, SchedClass>();
  /** The class key computed last, and what it was computed from: a program submits runs of
   * tasks of one class (same function, same options object), which then share one string
   * without serializing their demand again. */
  private lastClassKey = "";
  private lastClassOf?: { readonly fn: FunctionId; readonly resources: ResourceSet; readonly strategy: SchedulingStrategy };
  private readonly leaseReqs = new Map<number, LeaseReq>();
  /** Leases granted to this owner, by id: a duplicated grant must not be returned. */
  private readonly granted = new Set<string>();
  private readonly callerActors = new Map<ActorId, CallerActor>();
  /** Status of objects owned elsewhere that this worker asked about. */
  private readonly borrowed = new Map<ObjectId, { readonly owner: Addr; status?: ObjectStatus; waiters: ((s: ObjectStatus) => void)[] }>();
  private readonly registeredFns = new Set<FunctionId>();
  private readonly fnCache = new Map<FunctionId, FunctionDescriptor>();
  private readonly fnWaiters = new Map<FunctionId, Execution[]>();
  private readonly storeReqs = new Map<number, (values: readonly (Payload | ErrorInfo)[]) => void>();
  private readonly putReqs = new Map<number, (error?: ErrorInfo) => void>();
  /** Requests to the local raylet still unanswered, resent if it restarts. */
  private readonly toRaylet = new Map<number, Msg>();
  private readonly gets = new Map<number, GetCall>();
  private readonly waits = new Map<number, WaitCall>();
  private readonly namedReqs = new Map<number, { callId: number; name: string }>();
  /**
   * Recently finished or bounced here: taskId → its latest push (pushNo), to drop duplicated pushes. Two
   * generations of up to 4096 each: when the newer fills up the older is dropped whole, which
   * bounds memory without an eviction per task.
   */
  private finished = new Map<string, number>();
  private finishedBefore = new Map<string, number>();
  /** Tasks pushed while one runs here (a pipelined lease), in the order they came. */
  private readonly queued = new Fifo<Execution>();
  /** Nodes (latest dead incarnation) and workers known dead: owners there will never answer. */
  private readonly deadNodes = new Map<NodeId, number>();
  private readonly deadWorkers = new Set<Addr>();
  private current?: Execution;
  private actor?: HostedActor;
  /** Gets/waits in flight that the running task blocks on, and completions held until its CPU is back. */
  private blockedCalls = 0;
  private heldCompletions: (() => void)[] = [];
  private nextReq = 1;
  private isDriver = false;

  readonly raylet: Addr;

  constructor(readonly addr: Addr, private readonly cfg: CoreWorkerConfig, private readonly fx: WorkerEffects) {
    this.raylet = rayletAddr(cfg.node);
  }

  /** Announces this core worker to its raylet (a driver is never leased, but hears failure news). */
  start(isWorker: boolean): void {
    this.isDriver = !isWorker;
    this.fx.send(this.raylet, { type: "RegisterWorker", worker: this.addr, driver: this.isDriver });
    if (this.isDriver) this.fx.send(this.cfg.gcs, { type: "SubscribeFailures" });
  }

  // =============================== the API (calls from user code) ===============================

  registerFunction(fn: FunctionDescriptor): void {
    if (this.registeredFns.has(fn.id)) return;
    this.registeredFns.add(fn.id);
    this.fnCache.set(fn.id, fn);
    this.fx.send(this.cfg.gcs, { type: "RegisterFunction", fn });
  }

  // Ids come in with the call (the API mints them from `${addr}#n`): a caller in another thread
  // knows a ref's id without a round trip, and the model stays free of hidden counters.

  submitTask(taskId: string, fn: FunctionDescriptor, args: readonly ArgIn[], opts: TaskOptions): ObjectId {
    this.registerFunction(fn);
    const spec: TaskSpec = {
      taskId, kind: "normal", fn: fn.id, name: fn.name, args: args as Arg[], returnId: returnIdOf(taskId), owner: this.addr,
      resources: opts.resources, strategy: opts.strategy, maxRetries: opts.maxRetries, retryExceptions: opts.retryExceptions, attempt: 0,
    };
    this.trackTask(this.own(spec.returnId), spec, opts.maxRetries);
    return spec.returnId;
  }

  createActor(actorId: ActorId, cls: FunctionDescriptor, args: readonly ArgIn[], opts: ActorOptions): void {
    this.registerFunction(cls);
    const spec: ActorSpec = {
      actorId, fn: cls.id, className: cls.name, args: args as Arg[], owner: this.addr, resources: opts.resources,
      strategy: opts.strategy, maxRestarts: opts.maxRestarts, maxTaskRetries: opts.maxTaskRetries, name: opts.name,
    };
    this.callerActors.set(actorId, { nextSeq: 0, inflight: new SeqMap(), unsent: [] });
    // Resolve the constructor's arguments first, as for a task, then register with the GCS.
    this.resolveArgs(args, (resolved, error) => {
      if (error) {
        const a = this.callerActors.get(actorId)!;
        a.info = { actorId, state: "DEAD", epoch: 0, owner: this.addr, error };
        return;
      }
      const a = this.callerActors.get(actorId)!;
      a.created = { ...spec, args: resolved };
      this.fx.send(this.cfg.gcs, { type: "CreateActor", spec: a.created });
    });
  }

  submitActorTask(taskId: string, actorId: ActorId, method: string, args: readonly ArgIn[], maxRetries: number): ObjectId {
    let a = this.callerActors.get(actorId);
    if (!a) {
      // A handle that came from elsewhere (getActor, or passed in): follow the actor's updates.
      a = { nextSeq: 0, inflight: new SeqMap(), unsent: [] };
      this.callerActors.set(actorId, a);
      this.fx.send(this.cfg.gcs, { type: "SubscribeActor", actorId });
    }
    const seq = a.nextSeq++;
    const spec: TaskSpec = {
      taskId, kind: "actor-task", fn: actorId, method, name: method, args: args as Arg[], returnId: returnIdOf(taskId),
      owner: this.addr, resources: {}, strategy: "DEFAULT", maxRetries, retryExceptions: false, attempt: 0,
      actorId, seq, caller: this.addr,
    };
    this.trackTask(this.own(spec.returnId), spec, maxRetries);
    return spec.returnId;
  }

  /** Stores a value in the local node's store; completes `callId` once it is sealed there. */
  put(id: ObjectId, payload: Payload, callId: number): void {
    const o = this.own(id);
    const reqId = this.nextReq++;
    this.putReqs.set(reqId, (error) => {
      if (error) {
        this.owned.delete(id);
        return this.fx.complete(callId, { kind: "error", error });
      }
      this.ready(id, o, undefined, this.cfg.node, payload.size, payload.hash);
      this.fx.complete(callId, { kind: "put", id });
    });
    this.sendRaylet(reqId, { type: "StorePut", reqId, id, payload, owner: this.addr });
  }

  get(refs: readonly RefInfo[], timeoutMs: number | undefined, callId: number): void {
    const timer = timeoutMs === undefined ? undefined : `get:${callId}`;
    const g: GetCall = { callId, refs, values: new Array(refs.length), missing: refs.length, timer, blocking: this.block(), unknown: refs.length, fetch: undefined };
    this.gets.set(callId, g);
    if (timer) this.fx.setTimer(timer, timeoutMs!);
    if (refs.length === 0) return this.finishGet(g);
    for (let i = 0; i < refs.length; i++) {
      const ref = refs[i];
      const o = this.owned.get(ref.id);
      if (o !== undefined && (o.state === "PENDING" || o.state === "LOST")) this.waitFor(o, new GetSlot(g, i));
      else this.whenKnown(ref, (status) => this.getStatus(g, i, status));
    }
  }

  /** The status of one ref of a get is known: inline values are in hand; stored ones come through the raylet. */
  private getStatus(g: GetCall, i: number, status: ObjectStatus): void {
    if (!this.gets.has(g.callId)) return;
    if (status.kind === "inline") this.setGetValue(g, i, status.payload);
    else if (status.kind === "error") this.setGetValue(g, i, status.error);
    else (g.fetch ??= []).push({ i, ref: g.refs[i] });
    if (--g.unknown > 0 || g.fetch === undefined) return;
    const fetch = g.fetch;
    this.readFromStore(fetch.map((f) => f.ref), (vals) => {
      for (let k = 0; k < fetch.length; k++) this.setGetValue(g, fetch[k].i, vals[k]);
    });
  }

  wait(refs: readonly RefInfo[], numReturns: number, timeoutMs: number | undefined, callId: number): void {
    const timer = timeoutMs === undefined ? undefined : `wait:${callId}`;
    const w: WaitCall = { callId, refs, numReturns: Math.min(numReturns, refs.length), timer, blocking: this.block() };
    this.waits.set(callId, w);
    if (timer) this.fx.setTimer(timer, timeoutMs!);
    if (this.checkWait(w)) return;
    for (const ref of refs) this.whenKnown(ref, () => { if (this.waits.has(callId)) this.checkWait(w); });
  }

  getNamedActor(name: string, callId: number): void {
    const reqId = this.nextReq++;
    this.namedReqs.set(reqId, { callId, name });
    this.fx.send(this.cfg.gcs, { type: "GetNamedActor", reqId, name });
  }

  killActor(actorId: ActorId): void {
    this.fx.send(this.cfg.gcs, { type: "KillActor", actorId });
  }

  /** The program took another handle to `id` (e.g. a deserialized copy). */
  addRef(id: ObjectId): void {
    const o = this.owned.get(id);
    if (o) o.local++;
  }

  /** The program dropped a handle to `id`. */
  releaseRef(id: ObjectId): void {
    const o = this.owned.get(id);
    if (!o || o.local === 0) return;
    o.local--;
    this.maybeFree(id, o);
  }

  /** Every handle the program holds is dropped (the program ended). */
  releaseAll(): void {
    // Freeing deletes entries as the loop goes, which a Map allows (and skipping an object freed
    // along the way is what visiting it would do); forEach makes no [id, o] array per entry.
    this.owned.forEach((o, id) => {
      o.local = 0;
      this.maybeFree(id, o);
    });
  }

  // ==================================== inputs ====================================

  fire(key: string): void {
    const colon = key.indexOf(":");
    const kind = key.slice(0, colon);
    const callId = Number(key.slice(colon + 1));
    if (kind === "get") {
      const g = this.gets.get(callId);
      if (!g) return;
      this.gets.delete(callId);
      const pending = g.refs.filter((_, i) => g.values[i] === undefined).map((r) => r.id);
      const error: ErrorInfo = { type: "GetTimeoutError", message: `get timed out: ${pending.length} of ${g.refs.length} objects not ready (${pending.slice(0, 3).join(", ")}${pending.length > 3 ? ", …" : ""})` };
      this.unblock(g.blocking, () => this.fx.complete(callId, { kind: "error", error }));
    } else if (kind === "wait") {
      const w = this.waits.get(callId);
      if (w) this.finishWait(w, this.readyRefs(w));
    }
  }

  receive(from: Addr, m: Msg): void {
    switch (m.type) {
      case "LeaseGranted": return this.leaseGranted(m.reqId, m.leaseId, m.worker);
      case "LeaseSpillback": return this.leaseSpillback(m.reqId, m.node, m.incarnation);
      case "LeaseRejected": return this.leaseRejected(m.reqId, m.reason);
      case "TaskReply": return this.taskReply(m.taskId, m.returnId, m.attempt, m.result, m.epoch, m.runMs);
      case "TaskBounced": return this.taskBounced(m.taskId, m.returnId, m.attempt, m.bounces);
      case "PushTask": return this.pushTask(from, m.spec);
      case "StorePutReply": {
        this.toRaylet.delete(m.reqId);
        const cb = this.putReqs.get(m.reqId);
        this.putReqs.delete(m.reqId);
        return cb?.(m.error);
      }
      case "StoreGetReply": {
        this.toRaylet.delete(m.reqId);
        const cb = this.storeReqs.get(m.reqId);
        this.storeReqs.delete(m.reqId);
        return cb?.(m.values);
      }
      case "GetLocations": return this.serveStatus(m.id, (status) => this.fx.send(from, { type: "Locations", id: m.id, status }));
      case "GetStatus": return this.serveStatus(m.id, (status) => this.fx.send(from, { type: "Status", id: m.id, status: status.kind === "unknown" ? { kind: "error", error: { type: "ObjectLostError", message: `object ${m.id} was already freed by its owner` } } : status }));
      case "Status": return this.borrowedStatus(m.id, m.status);
      case "AddLocation": {
        const o = this.owned.get(m.id);
        // A copy made after the object was freed (a pull that was under way): free it too.
        if (!o) return this.fx.send(rayletAddr(m.node), { type: "FreeObjects", ids: [m.id] });
        // Overtaken by the node's death (it came the long way): that copy is gone already.
        if ((this.deadNodes.get(m.node) ?? 0) >= m.incarnation) return;
        if (!o.nodes.includes(m.node)) o.nodes = [...o.nodes, m.node];
        return;
      }
      case "RemoveLocation": {
        const o = this.owned.get(m.id);
        if (!o) return;
        o.nodes = o.nodes.filter((n) => n !== m.node);
        // That was the last copy (a secondary one left alone when the primary's node died, and
        // then evicted): the object is lost, and made again as if its node had died.
        if (o.nodes.length === 0 && o.state === "READY" && !o.value) {
          this.markLost(m.id, o);
          this.reconstruct(m.id, o);
        }
        return;
      }
      case "Function": return this.functionArrived(m.fn);
      case "ActorUpdate": return this.actorUpdate(m.info);
      case "NamedActor": {
        const r = this.namedReqs.get(m.reqId);
        this.namedReqs.delete(m.reqId);
        if (r) this.fx.complete(r.callId, { kind: "actor", info: m.info });
        return;
      }
      case "NodeDead": return this.nodeDead(m.node, m.incarnation);
      case "Unblocked": return this.unblocked();
      case "WorkerDied": return this.workerDied(m.worker);
      case "GcsRestarted": return this.gcsRestarted();
      default:
        return;
    }
  }

  // ================================ ownership ================================

  private own(id: ObjectId): Owned {
    const o: Owned = { state: "PENDING", local: 1, submitted: 0, value: undefined, nodes: NO_NODES, size: 0, hash: "", waiters: undefined, lineage: undefined, deps: undefined, task: undefined };
    this.owned.set(id, o);
    return o;
  }

  /** Marks an owned object ready: inline (`value`) or stored on `node`. */
  private ready(id: ObjectId, o: Owned, value: Owned["value"], node: NodeId | undefined, size: number, hash: string): void {
    o.state = nextObjectState(o.state, value?.kind === "error" ? { type: "ERRORED" } : { type: "CREATED" });
    o.value = value;
    o.size = size;
    o.hash = hash;
    if (node !== undefined) o.nodes = [...o.nodes, node];
    if (value?.kind === "inline") this.fx.trace({ kind: "object.created", comp: "owner", obj: id, size, hash, where: "inline" });
    this.wake(o);
    this.maybeFree(id, o);
  }

  private waitFor(o: Owned, w: Waiter): void {
    // Most objects have one waiter: a list of exactly one, not the 17 slots a push to [] reserves.
    if (o.waiters === undefined) o.waiters = [w];
    else o.waiters.push(w);
  }

  /** The object is ready (or lost for good): everyone waiting hears its status. */
  private wake(o: Owned): void {
    const waiters = o.waiters;
    if (waiters === undefined) return;
    o.waiters = undefined;
    const s = this.statusOf(o)!;
    for (const w of waiters) {
      if (w instanceof GetSlot) this.getStatus(w.g, w.i, s);
      else w(s);
    }
  }

  private maybeFree(id: ObjectId, o: Owned): void {
    if (o.local > 0 || o.submitted > 0 || o.state === "PENDING" || o.state === "FREED") return;
    o.state = nextObjectState(o.state, { type: "OUT_OF_SCOPE" });
    this.owned.delete(id);
    this.fx.trace({ kind: "object.out-of-scope", comp: "owner", obj: id });
    for (const n of o.nodes) this.fx.send(rayletAddr(n), { type: "FreeObjects", ids: [id] });
    if (o.deps) this.releaseArgs(o.deps);
  }

  private releaseArgs(ids: readonly ObjectId[]): void {
    const twice = this.cfg.bugs.has("double-decref");
    for (const r of ids) {
      const a = this.owned.get(r);
      if (!a) continue;
      a.submitted -= twice && a.submitted > 1 ? 2 : 1;
      this.maybeFree(r, a);
    }
  }

  private statusOf(o: Owned): ObjectStatus | undefined {
    if (o.state === "PENDING" || o.state === "LOST") return undefined;
    if (o.value) return o.value;
    return { kind: "stored", nodes: o.nodes, size: o.size };
  }

  /** Answers with an owned object's status once it is ready (raylets and borrowers ask). */
  private serveStatus(id: ObjectId, reply: (s: ObjectStatus | { kind: "unknown" }) => void): void {
    const o = this.owned.get(id);
    if (!o) return reply({ kind: "unknown" });
    const s = this.statusOf(o);
    if (s) return reply(s);
    this.waitFor(o, reply);
  }

  /** Calls back with the status of any ref once it is ready (asking a remote owner if needed). */
  private whenKnown(ref: RefInfo, cb: (s: ObjectStatus) => void): void {
    const o = this.owned.get(ref.id);
    if (o) {
      const s = this.statusOf(o);
      if (s) return cb(s);
      this.waitFor(o, cb);
      return;
    }
    if (ref.owner === this.addr) {
      return cb({ kind: "error", error: { type: "ObjectLostError", message: `object ${ref.id} was already freed` } });
    }
    if (this.isDead(ref.owner)) {
      return cb({ kind: "error", error: { type: "OwnerDiedError", message: `the owner of object ${ref.id} (${ref.owner}) died` } });
    }
    let b = this.borrowed.get(ref.id);
    if (b?.status) return cb(b.status);
    if (!b) {
      b = { owner: ref.owner, waiters: [] };
      this.borrowed.set(ref.id, b);
      this.fx.send(ref.owner, { type: "GetStatus", id: ref.id });
    }
    b.waiters.push(cb);
  }

  private borrowedStatus(id: ObjectId, status: ObjectStatus): void {
    const b = this.borrowed.get(id);
    if (!b) return;
    b.status = status;
    const w = b.waiters.splice(0);
    for (const f of w) f(status);
  }

  private readFromStore(refs: readonly RefInfo[], cb: (values: readonly (Payload | ErrorInfo)[]) => void): void {
    const reqId = this.nextReq++;
    this.storeReqs.set(reqId, cb);
    this.sendRaylet(reqId, { type: "StoreGet", reqId, ids: refs.map((r) => ({ id: r.id, owner: r.owner })) });
  }

  private sendRaylet(reqId: number, m: Msg): void {
    this.toRaylet.set(reqId, m);
    this.fx.send(this.raylet, m);
  }

  private setGetValue(g: GetCall, i: number, v: Payload | ErrorInfo): void {
    if (g.values[i] !== undefined) return;
    g.values[i] = v;
    if (--g.missing === 0) this.finishGet(g);
  }

  private finishGet(g: GetCall): void {
    if (!this.gets.delete(g.callId)) return;
    if (g.timer) this.fx.cancelTimer(g.timer);
    for (let i = 0; i < g.refs.length; i++) {
      const v = g.values[i]!;
      if ("hash" in v) this.fx.trace({ kind: "object.read", comp: "owner", obj: g.refs[i].id, hash: v.hash, reader: this.addr });
      else this.fx.trace({ kind: "get.failed", comp: "owner", obj: g.refs[i].id, error: v.type });
    }
    this.unblock(g.blocking, () => this.fx.complete(g.callId, { kind: "values", values: g.values as (Payload | ErrorInfo)[] }));
  }

  /**
   * A task that waits in get/wait lends its CPU back to the node, as Ray does, so that the
   * tasks it waits for can run even on a full node; it resumes once the CPU is its again.
   */
  private block(): boolean {
    if (this.current?.spec.kind !== "normal") return false;
    if (this.blockedCalls++ === 0) {
      this.fx.send(this.raylet, { type: "WorkerBlocked", worker: this.addr });
      if (this.queued.length > 0) for (const q of this.queued.drain()) this.bounce(q);
    }
    return true;
  }

  private unblock(blocking: boolean, complete: () => void): void {
    if (!blocking) return complete();
    this.heldCompletions.push(complete);
    if (--this.blockedCalls === 0) this.fx.send(this.raylet, { type: "WorkerUnblocked", worker: this.addr });
  }

  private unblocked(): void {
    if (this.blockedCalls > 0) return; // blocked again meanwhile: the next Unblocked releases these
    if (this.heldCompletions.length === 0) return;
    const held = this.heldCompletions;
    this.heldCompletions = [];
    for (const c of held) c();
  }

  private readyRefs(w: WaitCall): ObjectId[] {
    const out: ObjectId[] = [];
    for (const r of w.refs) {
      const o = this.owned.get(r.id);
      const ready = o ? o.state !== "PENDING" : this.borrowed.get(r.id)?.status !== undefined;
      if (ready) out.push(r.id);
    }
    return out;
  }

  private checkWait(w: WaitCall): boolean {
    const ready = this.readyRefs(w);
    if (ready.length < w.numReturns) return false;
    this.finishWait(w, ready.slice(0, w.numReturns));
    return true;
  }

  private finishWait(w: WaitCall, ready: ObjectId[]): void {
    if (!this.waits.delete(w.callId)) return;
    if (w.timer) this.fx.cancelTimer(w.timer);
    this.unblock(w.blocking, () => this.fx.complete(w.callId, { kind: "ready", ready } satisfies CallResult));
  }

  // ================================ submission ================================

  private classKeyOf(spec: TaskSpec): string {
    const last = this.lastClassOf;
    if (last !== undefined && last.fn === spec.fn && last.resources === spec.resources && last.strategy === spec.strategy) return this.lastClassKey;
    const key = taskClassKey(spec);
    if (key !== this.lastClassKey) this.lastClassKey = key;
    this.lastClassOf = { fn: spec.fn, resources: spec.resources, strategy: spec.strategy };
    return this.lastClassKey;
  }

  private trackTask(o: Owned, spec: TaskSpec, maxRetries: number): void {
    let argRefs: ObjectId[] | undefined;
    for (const a of spec.args) {
      if ("ref" in a) {
        const o = this.owned.get(a.ref);
        if (o) { o.submitted++; (argRefs ??= []).push(a.ref); }
      }
    }
    const classKey = spec.kind === "normal" ? this.classKeyOf(spec) : "";
    const t: OwnedTask = { spec, state: "WAITING_FOR_DEPS", retriesLeft: maxRetries, argRefs: argRefs ?? NO_IDS, classKey, lease: undefined, requests: 0 };
    o.task = t;
    this.fx.trace(spec.actorId === undefined
      ? { kind: "task.submitted", comp: "owner", task: spec.taskId, fn: spec.name, owner: this.addr, returns: spec.returnId, args: t.argRefs, maxRetries }
      : { kind: "task.submitted", comp: "owner", task: spec.taskId, fn: spec.name, owner: this.addr, returns: spec.returnId, args: t.argRefs, maxRetries, actor: spec.actorId, caller: spec.caller, seq: spec.seq });
    this.resolveTask(t);
  }

  /**
   * Waits until every referenced argument exists. Small values are copied into the spec (the
   * executing worker then needs nothing from any store); large ones stay refs to be pulled.
   */
  private resolveArgs(args: readonly Arg[], done: (resolved: readonly Arg[], error?: ErrorInfo) => void): void {
    if (!args.some(isRef)) return done(args); // the common case: nothing to wait for
    const out = args.slice();
    let missing = 1;
    let failed: ErrorInfo | undefined;
    const settle = () => { if (--missing === 0) done(out, failed); };
    for (let i = 0; i < args.length; i++) {
      const a = args[i];
      if (!("ref" in a)) continue;
      missing++;
      this.whenKnown({ id: a.ref, owner: a.owner }, (s) => {
        if (s.kind === "inline") out[i] = { v: s.payload };
        else if (s.kind === "error") failed ??= s.error;
        settle();
      });
    }
    settle();
  }

  private resolveTask(t: OwnedTask): void {
    // Nothing to wait for (the common case): straight on, without a callback to allocate.
    if (!t.spec.args.some(isRef)) return this.depsResolved(t, t.spec.args);
    this.resolveArgs(t.spec.args, (resolved, error) => this.depsResolved(t, resolved, error));
  }

  private depsResolved(t: OwnedTask, resolved: readonly Arg[], error?: ErrorInfo): void {
    if (t.state !== "WAITING_FOR_DEPS") return;
    if (error) {
      t.state = nextTaskState(t.state, { type: "DEP_FAILED" });
      return this.finishTask(t, { kind: "error", error, retryable: false });
    }
    if (resolved !== t.spec.args) t.spec = { ...t.spec, args: resolved };
    t.state = nextTaskState(t.state, { type: "DEPS_READY" });
    if (t.spec.kind === "actor-task") this.sendActorTask(t);
    else this.enqueue(t);
  }

  private enqueue(t: OwnedTask): void {
    const key = t.classKey;
    let c = this.classes.get(key);
    if (!c) {
      c = { key, ready: new Fifo(), pendingRequests: 0, leases: new Set(), taskMs: Infinity };
      this.classes.set(key, c);
    }
    // No lease is ever idle (a free one runs the next task or goes back), so queue and ask.
    c.ready.push(t);
    this.requestLeases(c);
  }

  private requestLeases(c: SchedClass): void {
    // Tasks that have a request are skipped: there are at most pendingRequests of them.
    for (let i = 0; i < c.ready.length && c.pendingRequests < this.cfg.maxPendingLeases; i++) {
      const t = c.ready.at(i)!;
      if (t.requests > 0) continue;
      c.pendingRequests++;
      this.sendLeaseRequest(c, t, this.leaseTarget(t.spec), false);
    }
  }

  /** The first queued task of the class that no request asks for. */
  private unrequested(c: SchedClass): OwnedTask | undefined {
    for (let i = 0; i < c.ready.length; i++) if (c.ready.at(i)!.requests === 0) return c.ready.at(i);
    return undefined;
  }

  /** A request is over (answered, withdrawn, or lost with its node). */
  private requestEnded(reqId: number, r: LeaseReq): void {
    this.leaseReqs.delete(reqId);
    r.task.requests--;
  }

  /**
   * Locality: ask the raylet of the node holding most argument bytes; else the local one. A
   * pinned task asks the local raylet too, which knows whether the node is alive.
   */
  private leaseTarget(spec: TaskSpec): NodeId {
    if (spec.strategy !== "DEFAULT") return this.cfg.node;
    let bytes: Map<NodeId, number> | undefined;
    for (const a of spec.args) {
      if (!("ref" in a)) continue;
      const o = this.owned.get(a.ref);
      const b = this.borrowed.get(a.ref)?.status;
      const nodes = o ? o.nodes : b?.kind === "stored" ? b.nodes : [];
      const size = o ? o.size : b?.kind === "stored" ? b.size : 0;
      for (const n of nodes) (bytes ??= new Map()).set(n, (bytes.get(n) ?? 0) + size);
    }
    return (bytes && localityNode(bytes)) ?? this.cfg.node;
  }

  private sendLeaseRequest(c: SchedClass, task: OwnedTask, node: NodeId, grantOrReject: boolean): void {
    const reqId = this.nextReq++;
    const spec = task.spec;
    this.leaseReqs.set(reqId, { c, task, node });
    task.requests++;
    const deps: { id: ObjectId; owner: Addr }[] = [];
    for (const a of spec.args) if ("ref" in a) deps.push({ id: a.ref, owner: a.owner });
    this.fx.send(rayletAddr(node), {
      type: "RequestLease", reqId,
      req: { resources: spec.resources, strategy: spec.strategy, deps, grantOrReject, taskId: spec.taskId },
    });
  }

  private leaseGranted(reqId: number, leaseId: string, worker: Addr): void {
    if (this.granted.has(leaseId)) return; // a duplicated grant of a lease in use
    const r = this.leaseReqs.get(reqId);
    if (!r) return this.fx.send(rayletAddr(nodeOf(worker)), { type: "ReturnLease", leaseId, destroyWorker: false });
    const c = r.c;
    this.requestEnded(reqId, r);
    this.granted.add(leaseId);
    c.pendingRequests--;
    const lease: Lease = { leaseId, worker, c, running: [], blockedBy: undefined };
    c.leases.add(lease);
    // The raylet staged the arguments of the task the request was for: run that one if it still waits.
    const t = c.ready.remove(r.task) ? r.task : c.ready.shift();
    if (t) this.push(c, lease, t);
    this.fill(c, lease);
    // Tasks still queued: keep asking (a class grows to as many workers as the cluster gives it).
    this.requestLeases(c);
  }

  private leaseSpillback(reqId: number, node: NodeId, incarnation: number): void {
    const r = this.leaseReqs.get(reqId);
    if (!r) return;
    this.requestEnded(reqId, r);
    const c = r.c;
    // Follow the task it was for, if that still waits; else serve one that nobody asks for.
    const task = r.task.state === "SCHEDULING" ? r.task : this.unrequested(c);
    if (!task) { c.pendingRequests--; return; }
    // Sent to a node we already buried (the raylet's view lagged): ask our own raylet again.
    if ((this.deadNodes.get(node) ?? 0) >= incarnation) return this.sendLeaseRequest(c, task, this.cfg.node, false);
    this.sendLeaseRequest(c, task, node, true);
  }

  private leaseRejected(reqId: number, reason: string): void {
    const r = this.leaseReqs.get(reqId);
    if (!r) return;
    const c = r.c;
    this.requestEnded(reqId, r);
    c.pendingRequests--;
    // Every task of the class has the same demand: none of them can run anywhere.
    const error: ErrorInfo = { type: "InfeasibleTaskError", message: `task cannot be scheduled: ${reason}` };
    for (const t of c.ready.drain()) {
      t.state = nextTaskState(t.state, { type: "ERRORED", retryable: false });
      this.finishTask(t, { kind: "error", error, retryable: false });
    }
  }

  /**
   * Keeps a lease busy: queued tasks of its class go to it up to the pipelining window, which is
   * one unless the class's tasks are short (a queued task waits for those ahead of it) and take
   * only values (a worker fetching refs may block, and then sends back what is queued behind).
   * A lease with nothing to run goes back.
   */
  private fill(c: SchedClass, lease: Lease): void {
    const pipelined = lease.blockedBy === undefined && c.taskMs <= this.cfg.pipelineMaxTaskMs;
    const window = pipelined ? this.cfg.maxTasksInFlightPerWorker : 1;
    while (lease.running.length < window) {
      const next = c.ready.at(0);
      if (!next || (lease.running.length > 0 && next.spec.args.some(isRef))) break;
      this.push(c, lease, c.ready.shift()!);
    }
    if (lease.running.length === 0) this.returnLease(c, lease);
  }

  private push(c: SchedClass, lease: Lease, t: OwnedTask): void {
    lease.running.push(t);
    t.lease = lease;
    t.state = nextTaskState(t.state, { type: "DISPATCHED" });
    this.fx.send(lease.worker, { type: "PushTask", spec: t.spec });
    // A request still staging this task's arguments is moot now; it may even wait on work that
    // needs a lease itself (a lost argument being re-made). Withdraw it and ask for the others.
    // (A request with nothing to stage simply serves whichever task is next when granted.)
    if (!t.spec.args.some(isRef)) return;
    for (const [reqId, r] of this.leaseReqs) {
      if (r.task !== t) continue;
      this.requestEnded(reqId, r);
      c.pendingRequests--;
      this.fx.send(rayletAddr(r.node), { type: "CancelLease", reqId });
      this.requestLeases(c);
      break;
    }
  }

  private returnLease(c: SchedClass, lease: Lease): void {
    c.leases.delete(lease);
    this.granted.delete(lease.leaseId);
    this.fx.send(rayletAddr(nodeOf(lease.worker)), { type: "ReturnLease", leaseId: lease.leaseId, destroyWorker: false });
  }

  /** A pipelined task its worker sent back unrun: queue it again, and stop pipelining onto that worker for now. */
  private taskBounced(taskId: string, returnId: ObjectId, attempt: number, bounces: number): void {
    const t = this.owned.get(returnId)?.task;
    if (!t || t.spec.taskId !== taskId || t.spec.attempt !== attempt || (t.spec.bounces ?? 0) !== bounces || t.state !== "RUNNING") return;
    const lease = t.lease;
    const i = lease ? lease.running.indexOf(t) : -1;
    if (!lease || i < 0) return;
    lease.running.splice(i, 1);
    // The worker runs its tasks in order: the oldest unanswered one is the one that blocked.
    lease.blockedBy = lease.running[0];
    t.lease = undefined;
    t.spec = { ...t.spec, bounces: bounces + 1 };
    t.state = nextTaskState(t.state, { type: "BOUNCED" });
    lease.c.ready.push(t);
    this.requestLeases(lease.c);
  }

  private taskReply(taskId: string, returnId: ObjectId, attempt: number, result: TaskResult, epoch?: number, runMs?: number): void {
    const t = this.owned.get(returnId)?.task;
    if (!t || t.spec.taskId !== taskId || t.spec.attempt !== attempt || t.state !== "RUNNING") return; // stale or duplicate
    if (t.spec.kind === "actor-task") {
      // Only the incarnation this caller is talking to may answer (no split brain).
      const a = this.callerActors.get(t.spec.actorId!);
      if (epoch !== undefined && a?.info && epoch < a.info.epoch) return;
      a?.inflight.delete(t.spec.seq!);
      this.fx.trace({ kind: "actor.result", comp: "owner", task: taskId, actor: t.spec.actorId!, caller: this.addr, epoch: epoch ?? 0 });
    } else {
      // A slot of the lease is free again: fill it from the class's queue, or give the lease back.
      const lease = t.lease;
      t.lease = undefined;
      const i = lease ? lease.running.indexOf(t) : -1;
      if (lease && i >= 0) {
        lease.running.splice(i, 1);
        if (runMs !== undefined) lease.c.taskMs = runMs;
        if (lease.blockedBy === t) lease.blockedBy = undefined;
        this.fill(lease.c, lease);
      }
    }
    this.taskEnded(t, result);
  }

  /** A task attempt ended: retry it if the failure and the budget allow, else settle its object. */
  private taskEnded(t: OwnedTask, result: TaskResult): void {
    const budget = t.retriesLeft !== 0 || this.cfg.bugs.has("retry-forever");
    if (result.kind === "error" && budget && (result.retryable || t.spec.retryExceptions)) {
      if (t.retriesLeft > 0) t.retriesLeft--;
      t.state = nextTaskState(t.state, { type: "ERRORED", retryable: true });
      t.spec = { ...t.spec, attempt: t.spec.attempt + 1 };
      this.fx.trace({ kind: "task.retry", comp: "owner", task: t.spec.taskId, attempt: t.spec.attempt, reason: result.error.message });
      return this.resolveTask(t);
    }
    t.state = nextTaskState(t.state, result.kind === "error" ? { type: "ERRORED", retryable: false } : { type: "SUCCEEDED" });
    this.finishTask(t, result);
  }

  private finishTask(t: OwnedTask, result: TaskResult): void {
    const id = t.spec.returnId;
    const o = this.owned.get(id);
    if (o?.task === t) o.task = undefined;
    let keepArgs = false;
    if (o && o.state === "PENDING") {
      // An inline result is its object's status as it stands: kept as it came, no copy.
      if (result.kind === "inline") this.ready(id, o, result, undefined, result.payload.size, result.payload.hash);
      else if (result.kind === "stored") {
        // A stored result can be lost with its node: keep the recipe and its ingredients.
        if (t.spec.kind === "normal") {
          o.lineage = { spec: t.spec, retriesLeft: t.retriesLeft };
          if (!o.deps) { o.deps = t.argRefs; keepArgs = true; }
        }
        this.ready(id, o, undefined, result.node, result.size, result.hash);
      } else {
        this.fx.trace({ kind: "task.failed", comp: "owner", task: t.spec.taskId, error: result.error.type });
        this.ready(id, o, { kind: "error", error: result.error }, undefined, 0, "");
      }
    }
    // A reconstruction's arguments are already held by the object it re-makes.
    if (!keepArgs && !(o?.deps && o.deps === t.argRefs)) this.releaseArgs(t.argRefs);
  }

  // ================================ failures ================================

  /** A worker died: tasks on it fail over, and objects it owned can no longer be had. */
  private workerDied(worker: Addr): void {
    this.deadWorkers.add(worker);
    this.leasesLost((w) => w === worker, `the worker ${worker} running it died`);
    this.ownerDied((o) => o === worker);
  }

  private isDead(addr: Addr): boolean {
    const inc = this.deadNodes.get(nodeOf(addr));
    return this.deadWorkers.has(addr) || (inc !== undefined && diedWithNode(addr, nodeOf(addr), inc));
  }

  private nodeDead(node: NodeId, incarnation: number): void {
    if ((this.deadNodes.get(node) ?? 0) >= incarnation) return; // heard already (from the GCS and our raylet)
    this.deadNodes.set(node, incarnation);
    // Our own raylet restarted (only a driver outlives it): what we asked of it was lost.
    if (node === this.cfg.node) for (const m of this.toRaylet.values()) this.fx.send(this.raylet, m);
    const onIt = (a: Addr) => diedWithNode(a, node, incarnation);
    this.ownerDied(onIt);
    // Copies on that node are gone; objects left with no copy are lost.
    const lost: [ObjectId, Owned][] = [];
    for (const [id, o] of this.owned) {
      const i = o.nodes.indexOf(node);
      if (i < 0) continue;
      o.nodes = o.nodes.filter((n) => n !== node);
      if (o.nodes.length === 0 && o.state === "READY" && !o.value) lost.push([id, o]);
    }
    // Copies there are gone before tasks are placed again, so nothing is asked of that node.
    if (!this.cfg.bugs.has("no-lease-revocation")) {
      this.leasesLost(onIt, `the node ${node} running it died`);
      // Requests queued at that node's raylet died with it: ask again elsewhere.
      const retry = new Set<SchedClass>();
      for (const [reqId, r] of [...this.leaseReqs]) {
        if (r.node !== node) continue;
        this.requestEnded(reqId, r);
        r.c.pendingRequests--;
        retry.add(r.c);
      }
      for (const c of retry) this.requestLeases(c);
    }
    // Mark all first, so a reconstruction waits for its lost arguments instead of using them.
    for (const [id, o] of lost) this.markLost(id, o);
    for (const [id, o] of lost) this.reconstruct(id, o);
  }

  private markLost(id: ObjectId, o: Owned): void {
    o.state = nextObjectState(o.state, { type: "LOST" });
    this.fx.trace({ kind: "object.lost", comp: "owner", obj: id });
  }

  private leasesLost(dead: (worker: Addr) => boolean, why: string): void {
    for (const c of this.classes.values()) {
      for (const l of [...c.leases]) {
        if (!dead(l.worker)) continue;
        c.leases.delete(l);
        this.granted.delete(l.leaseId);
        for (const t of l.running.splice(0)) {
          t.lease = undefined;
          // The attempt may have stored its result there before its worker died, and the reply
          // that would have told us never came: free any such copy, or it outlives every reference.
          const node = nodeOf(l.worker);
          if (!this.owned.get(t.spec.returnId)?.nodes.includes(node)) this.fx.send(rayletAddr(node), { type: "FreeObjects", ids: [t.spec.returnId], orphaned: true });
          this.taskEnded(t, { kind: "error", retryable: true, error: { type: "WorkerCrashedError", message: `task ${t.spec.name} failed: ${why}` } });
        }
      }
      this.requestLeases(c);
    }
  }

  /** Borrowed objects whose owner died fail with OwnerDiedError, now and for later gets. */
  private ownerDied(dead: (owner: Addr) => boolean): void {
    for (const [id, b] of this.borrowed) {
      const owner = b.owner;
      if (!dead(owner)) continue;
      this.borrowedStatus(id, { kind: "error", error: { type: "OwnerDiedError", message: `the owner of object ${id} (${owner}) died` } });
    }
  }

  /** Re-makes a lost object by re-running its task, while the budget lasts (Ray's lineage reconstruction). */
  private reconstruct(id: ObjectId, o: Owned): void {
    const l = o.lineage;
    if (l && (l.retriesLeft !== 0 || this.cfg.bugs.has("retry-forever")) && !this.cfg.bugs.has("no-reconstruction")) {
      o.state = nextObjectState(o.state, { type: "RECONSTRUCT" });
      const spec: TaskSpec = { ...l.spec, attempt: l.spec.attempt + 1 };
      const retriesLeft = l.retriesLeft > 0 ? l.retriesLeft - 1 : l.retriesLeft;
      o.lineage = { spec, retriesLeft };
      const t: OwnedTask = { spec, state: "FINISHED", retriesLeft, argRefs: o.deps ?? NO_IDS, classKey: this.classKeyOf(spec), lease: undefined, requests: 0 };
      t.state = nextTaskState(t.state, { type: "RESUBMIT" });
      o.task = t;
      this.fx.trace({ kind: "task.retry", comp: "owner", task: spec.taskId, attempt: spec.attempt, reason: `reconstructing lost object ${id}` });
      return this.resolveTask(t);
    }
    o.state = nextObjectState(o.state, { type: "UNRECOVERABLE" });
    const why = !l ? "it was created by ray.put, which has no lineage to re-create it from"
      : `its task ${l.spec.name} has no retries left (maxRetries=${l.spec.maxRetries})`;
    o.value = { kind: "error", error: { type: "ObjectLostError", message: `object ${id} was lost with every copy of it, and cannot be reconstructed: ${why}` } };
    this.wake(o);
    this.maybeFree(id, o);
  }

  /** A restarted GCS lost whatever was in flight to it: resend, and follow actors again. */
  private gcsRestarted(): void {
    if (this.isDriver) this.fx.send(this.cfg.gcs, { type: "SubscribeFailures" });
    for (const fn of this.fnCache.values()) if (this.registeredFns.has(fn.id)) this.fx.send(this.cfg.gcs, { type: "RegisterFunction", fn });
    for (const id of this.fnWaiters.keys()) this.fx.send(this.cfg.gcs, { type: "GetFunction", id });
    for (const [actorId, a] of this.callerActors) {
      if (a.created && !a.info) this.fx.send(this.cfg.gcs, { type: "CreateActor", spec: a.created });
      else this.fx.send(this.cfg.gcs, { type: "SubscribeActor", actorId });
    }
    for (const [reqId, r] of this.namedReqs) this.fx.send(this.cfg.gcs, { type: "GetNamedActor", reqId, name: r.name });
  }

  // ============================ actors, caller side ============================

  private sendActorTask(t: OwnedTask): void {
    const a = this.callerActors.get(t.spec.actorId!)!;
    a.inflight.set(t.spec.seq!, t);
    if (a.info?.state === "DEAD") return this.failActorTask(t, a.info);
    if (a.info?.state === "ALIVE" && a.info.address) return this.pushActorTask(t, a.info.address, a);
    a.unsent.push(t);
  }

  private pushActorTask(t: OwnedTask, address: Addr, a: CallerActor): void {
    t.state = nextTaskState(t.state, { type: "DISPATCHED" });
    // Everything below the lowest unanswered seq is done: the actor may skip ahead to it.
    const low = Math.min(t.spec.seq!, a.inflight.lowestKey() ?? t.spec.seq!);
    this.fx.send(address, { type: "PushTask", spec: { ...t.spec, minPendingSeq: low } });
  }

  private failActorTask(t: OwnedTask, info: ActorInfo): void {
    const a = this.callerActors.get(t.spec.actorId!);
    a?.inflight.delete(t.spec.seq!);
    t.state = nextTaskState(t.state, { type: "ERRORED", retryable: false });
    const error = info.error ?? { type: "ActorDiedError" as const, message: `actor ${info.actorId} is dead` };
    this.finishTask(t, { kind: "error", error, retryable: false });
  }

  private actorUpdate(info: ActorInfo): void {
    const a = this.callerActors.get(info.actorId);
    if (!a) return;
    if (a.info && info.epoch < a.info.epoch) return; // an older incarnation's news
    a.info = info;
    if (info.state === "DEAD") {
      for (const t of a.unsent.splice(0)) this.failActorTask(t, info);
      for (const t of [...a.inflight.values()]) if (t.state !== "WAITING_FOR_DEPS") this.failActorTask(t, info);
    } else if (info.state === "RESTARTING") {
      // Calls the dead incarnation may or may not have run: resend within budget, else fail them.
      for (const t of [...a.inflight.values()]) {
        if (t.state !== "RUNNING") continue;
        if (t.retriesLeft === 0) {
          this.failActorTask(t, { ...info, error: { type: "ActorDiedError", message: `the actor died while running ${t.spec.name}; it restarts, but the call is not retried (maxTaskRetries=0)` } });
          continue;
        }
        if (t.retriesLeft > 0) t.retriesLeft--;
        t.state = nextTaskState(nextTaskState(t.state, { type: "ERRORED", retryable: true }), { type: "DEPS_READY" });
        t.spec = { ...t.spec, attempt: t.spec.attempt + 1 };
        this.fx.trace({ kind: "task.retry", comp: "owner", task: t.spec.taskId, attempt: t.spec.attempt, reason: "the actor restarted" });
        a.unsent.push(t);
      }
    } else if (info.state === "ALIVE" && info.address) {
      const unsent = a.unsent.splice(0).sort((x, y) => x.spec.seq! - y.spec.seq!);
      for (const t of unsent) this.pushActorTask(t, info.address, a);
    }
  }

  // ================================ execution ================================

  private pushTask(from: Addr, spec: TaskSpec): void {
    // Every field from the start: an object that gains fields later changes shape, and the code reading it slows down.
    const e: Execution = { spec, from, fn: undefined, args: undefined, missing: 0, failed: undefined, startedAt: -1 };
    if (spec.kind === "actor-task") return this.queueActorCall(e);
    if (!this.cfg.bugs.has("no-dedup")) {
      const h = this.actor;
      if (spec.kind === "actor-create" && h !== undefined && h.actorId === spec.actorId && h.epoch === spec.attempt) {
        // Constructed already (or under way): answer again rather than build a second instance.
        if (h.created) this.fx.send(spec.owner, { type: "TaskReply", taskId: spec.taskId, returnId: spec.returnId, attempt: spec.attempt, result: h.created });
        return;
      }
      const done = this.finished.get(spec.taskId) ?? this.finishedBefore.get(spec.taskId);
      const cur = this.current?.spec;
      if ((done !== undefined && done >= pushNo(spec)) || (cur && cur.taskId === spec.taskId && cur.attempt === spec.attempt)) return;
      for (let i = 0; i < this.queued.length; i++) {
        const q = this.queued.at(i)!.spec;
        if (q.taskId === spec.taskId && pushNo(q) >= pushNo(spec)) return;
      }
    }
    if (this.current && spec.kind === "normal") {
      // Pipelined behind the running task; straight back if that one is blocked (what it waits
      // for may be this very task, or need it).
      if (this.blockedCalls > 0) return this.bounce(e);
      return this.queued.push(e);
    }
    if (spec.kind === "actor-create") this.actor = { actorId: spec.actorId!, epoch: spec.attempt, expected: new Map(), buffered: new Map(), runnable: new Fifo() };
    this.current = e;
    this.prepare(e);
  }

  /** Sends a queued task back to its owner unrun, to go to another lease. */
  private bounce(e: Execution): void {
    const s = e.spec;
    this.remember(s);
    this.fx.send(s.owner, { type: "TaskBounced", taskId: s.taskId, returnId: s.returnId, attempt: s.attempt, bounces: s.bounces ?? 0 });
  }

  private queueActorCall(e: Execution): void {
    const h = this.actor;
    if (!h || h.actorId !== e.spec.actorId) {
      const error: ErrorInfo = { type: "ActorDiedError", message: `worker ${this.addr} does not host actor ${e.spec.actorId}` };
      return this.fx.send(e.from, { type: "TaskReply", taskId: e.spec.taskId, returnId: e.spec.returnId, attempt: e.spec.attempt, result: { kind: "error", error, retryable: false } });
    }
    const caller = e.spec.caller!;
    const expected = Math.max(h.expected.get(caller) ?? 0, e.spec.minPendingSeq ?? 0);
    h.expected.set(caller, expected);
    if (e.spec.seq! < expected) return; // a duplicate of a call already run
    let buf = h.buffered.get(caller);
    if (!buf) h.buffered.set(caller, (buf = new Map()));
    buf.set(e.spec.seq!, e);
    this.releaseInOrder(h, caller);
  }

  /** Moves a caller's calls that are next in line from the buffer to the run queue. */
  private releaseInOrder(h: HostedActor, caller: Addr): void {
    const buf = h.buffered.get(caller)!;
    let next = h.expected.get(caller)!;
    for (let e = buf.get(next); e; e = buf.get(next)) {
      buf.delete(next);
      h.runnable.push(e);
      next++;
    }
    h.expected.set(caller, next);
    this.runActor(h);
  }

  private runActor(h: HostedActor): void {
    if (h.running || this.current) return;
    const e = h.runnable.shift();
    if (!e) return;
    h.running = e;
    this.prepare(e);
  }

  /** Gathers the function's source and the argument values, then asks the host to run it. */
  private prepare(e: Execution): void {
    const fnId = e.spec.kind === "actor-task" ? undefined : e.spec.fn;
    if (fnId !== undefined) {
      const fn = this.fnCache.get(fnId);
      if (fn) e.fn = fn;
      else {
        e.missing++;
        const w = this.fnWaiters.get(fnId);
        if (w) w.push(e);
        else {
          this.fnWaiters.set(fnId, [e]);
          this.fx.send(this.cfg.gcs, { type: "GetFunction", id: fnId });
        }
      }
    }
    const specArgs = e.spec.args;
    const args: Payload[] = new Array(specArgs.length);
    e.args = args;
    // Arguments passed by reference, and their positions (most tasks have none: no arrays then).
    let refs: RefInfo[] | undefined;
    let at: number[] | undefined;
    for (let i = 0; i < specArgs.length; i++) {
      const a = specArgs[i];
      if ("v" in a) args[i] = a.v;
      else { (refs ??= []).push({ id: a.ref, owner: a.owner }); (at ??= []).push(i); }
    }
    if (refs !== undefined && at !== undefined) {
      e.missing++;
      // Fetching arguments may wait on their reconstruction, which may need this very CPU.
      const blocking = this.block();
      this.readFromStore(refs, (vals) => this.unblock(blocking, () => {
        vals.forEach((v, k) => {
          if ("hash" in v) {
            args[at[k]] = v;
            this.fx.trace({ kind: "object.read", comp: "worker", obj: refs[k].id, hash: v.hash, reader: this.addr });
          } else e.failed ??= v;
        });
        this.prepared(e);
      }));
    }
    if (e.missing === 0) this.execute(e);
  }

  private prepared(e: Execution): void {
    if (--e.missing === 0) this.execute(e);
  }

  private functionArrived(fn: FunctionDescriptor): void {
    this.fnCache.set(fn.id, fn);
    const w = this.fnWaiters.get(fn.id) ?? [];
    this.fnWaiters.delete(fn.id);
    for (const e of w) { e.fn = fn; this.prepared(e); }
  }

  private execute(e: Execution): void {
    const s = e.spec;
    if (e.failed) return this.reply(e, { kind: "error", error: e.failed, retryable: true });
    const fn = e.fn ?? { id: s.fn, name: s.name, kind: "class", source: "" };
    // Actor fields only where they mean something: every trace event is hashed, key by key.
    this.fx.trace(s.actorId === undefined
      ? { kind: "task.started", comp: "worker", task: s.taskId, worker: this.addr, attempt: s.attempt }
      : { kind: "task.started", comp: "worker", task: s.taskId, worker: this.addr, attempt: s.attempt, actor: s.actorId, caller: s.caller, seq: s.seq, epoch: s.kind === "actor-task" ? this.actor?.epoch : undefined });
    e.startedAt = this.fx.now();
    this.fx.execute(s, fn, e.args!);
  }

  private remember(s: TaskSpec): void {
    if (this.finished.size >= 4096) {
      this.finishedBefore = this.finished;
      this.finished = new Map();
    }
    this.finished.set(s.taskId, pushNo(s));
  }

  private endScope(keep: readonly RefInfo[] | undefined): void {
    if (this.owned.size === 0) return; // the common case: the task made no refs
    // As in releaseAll: no copy of the map, no array per entry.
    this.owned.forEach((o, id) => {
      if (o.local === 0 || keep?.some((r) => r.id === id)) return;
      o.local = 0;
      this.maybeFree(id, o);
    });
  }

  /** The host finished running `taskId` (attempt `attempt`). */
  taskDone(taskId: string, attempt: number, out: Outcome): void {
    const e = this.current?.spec.taskId === taskId && this.current.spec.attempt === attempt ? this.current
      : this.actor?.running?.spec.taskId === taskId ? this.actor.running : undefined;
    if (!e) return;
    // Two literals with the same keys in the same order (rather than a spread): no object to copy per task.
    this.fx.trace(out.ok
      ? { kind: "task.finished", comp: "worker", task: taskId, worker: this.addr, attempt, ok: true, hash: out.payload.hash }
      : { kind: "task.finished", comp: "worker", task: taskId, worker: this.addr, attempt, ok: false, hash: "", error: out.error.message });
    if (!out.ok) return this.reply(e, { kind: "error", error: out.error, retryable: false });
    const p = out.payload;
    if (p.size <= this.cfg.maxInlineBytes || e.spec.kind === "actor-create") return this.reply(e, { kind: "inline", payload: p });
    // Large results go to the local store as the primary copy; the owner learns where.
    const reqId = this.nextReq++;
    this.putReqs.set(reqId, (error) => {
      this.reply(e, error ? { kind: "error", error, retryable: false } : { kind: "stored", node: this.cfg.node, size: p.size, hash: p.hash });
    });
    this.sendRaylet(reqId, { type: "StorePut", reqId, id: e.spec.returnId, payload: p, owner: e.spec.owner });
  }

  private reply(e: Execution, result: TaskResult): void {
    const s = e.spec;
    this.fx.send(s.owner, {
      type: "TaskReply", taskId: s.taskId, returnId: s.returnId, attempt: s.attempt, result,
      epoch: s.kind === "actor-task" ? this.actor?.epoch : undefined,
      runMs: e.startedAt >= 0 ? this.fx.now() - e.startedAt : undefined,
    });
    if (this.current === e) {
      this.current = undefined;
      // Gets the task left behind resolve with nobody to block: let them through.
      this.blockedCalls = 0;
      this.unblocked();
      this.remember(s);
      // The task's scope ended: drop the refs it made, except those it returned inside its value.
      if (s.kind === "normal") this.endScope(result.kind === "inline" ? result.payload.refs : undefined);
      const next = this.queued.shift();
      if (next) {
        this.current = next;
        this.prepare(next);
      }
    }
    const h = this.actor;
    if (h && s.kind === "actor-create") h.created = result;
    if (h && h.running === e) h.running = undefined;
    if (h) this.runActor(h);
  }
}

