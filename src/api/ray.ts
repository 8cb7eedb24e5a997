// The Ray API (README.md, "A program") over one core worker's CoreClient. The same object is handed to
// a simulated program, to the embedded driver, and to code running inside tasks.

import type { ActorOptions, ArgIn, TaskOptions } from "../core/core-worker.ts";
import { checkResources } from "../core/resources.ts";
import { handleIdOf, type ActorId, type ConcurrencyGroup, type FunctionDescriptor, type NodeView, type Payload, type RefInfo } from "../core/types.ts";
import type { NamedActorEntry } from "../core/messages.ts";
import { bytesPayload, inProcessPayload, payloadValue, toBytes } from "../runtime/codec.ts";
import type { CoreClient } from "./client.ts";
import { ActorExit, GetTimeoutError, PendingCallsLimitExceeded, ValueError, toError } from "./errors.ts";
import { ASYNC_ACTOR_MAX_CONCURRENCY, checkCallOptions, checkTimeout, streamingOf } from "./options.ts";
import { ObjectRefGenerator, isGeneratorSource } from "./generator.ts";
import { currentExecution } from "../runtime/executor.ts";
import { PlacementGroup, strategyOf, validPlacementGroup, type PlacementGroupOptions } from "./placement-group.ts";
import {
  ActorClass, ObjectRef, RemoteFunction, actorHandle, actorIdOf, factsOf, handleCountOf, handleFactsOf, madeOf, remoteOf, tie,
  type ActorHandle, type ActorRef, type HandleHold, type Invoker, type MadeRef, type RemoteOptions,
} from "./handles.ts";

export interface GetOptions { timeoutMs?: number }
/** `fetchLocal` (default true, as in Ray): a ref counts as ready once its value is on the caller's node; false: once it exists anywhere. */
export interface WaitOptions { numReturns?: number; timeoutMs?: number; fetchLocal?: boolean }
/** `noRestart` (default true): false lets the actor restart within its maxRestarts, as Ray's `no_restart=False`. */
export interface KillOptions { noRestart?: boolean }
/** Where to look a named actor up (default: the caller's namespace). */
export interface GetActorOptions { namespace?: string }
/** `allNamespaces` (default false): list the named actors of every namespace, not only the caller's. */
export interface ListNamedActorsOptions { allNamespaces?: boolean }

/** One row of ray.nodes(): Ray's fields, in camelCase. */
export interface NodeInfo {
  readonly nodeId: string;
  readonly alive: boolean;
  /** The node's total resources. */
  readonly resources: Record<string, number>;
  /** Host and port of the node's raylet (undefined in the simulator and the embedded cluster: no network). */
  readonly nodeManagerAddress?: string;
  readonly nodeManagerPort?: number;
  /** Which start of the node this row describes (a restarted node is a new one). */
  readonly incarnation: number;
}

/** Ray's `ray.cancel` options: `force` kills the worker running the task; `recursive` (default true) cancels the tasks it submitted. */
export interface CancelOptions { force?: boolean; recursive?: boolean }

export interface Ray {
  remote<C extends new (...args: any[]) => unknown>(cls: C, opts?: RemoteOptions): ActorClass<C>;
  remote<F extends (...args: any[]) => unknown>(fn: F, opts?: RemoteOptions): RemoteFunction<F>;
  get<T>(ref: ObjectRef<T>, opts?: GetOptions): Promise<T>;
  get<T>(refs: readonly ObjectRef<T>[], opts?: GetOptions): Promise<T[]>;
  put<T>(value: T): Promise<ObjectRef<T>>;
  wait<T>(refs: readonly ObjectRef<T>[], opts?: WaitOptions): Promise<[ObjectRef<T>[], ObjectRef<T>[]]>;
  kill(actor: ActorRef, opts?: KillOptions): void;
  getActor<T = any>(name: string, opts?: GetActorOptions): Promise<ActorHandle<T>>;
  /**
   * The live named actors (Ray's `ray.util.list_named_actors()`): the names in the caller's
   * namespace, or with `allNamespaces` every name with its namespace.
   */
  listNamedActors(opts?: { allNamespaces?: false }): Promise<string[]>;
  listNamedActors(opts: { allNamespaces: true }): Promise<NamedActorEntry[]>;
  /** The cluster's nodes, dead ones included, as the GCS knows them (Ray's `ray.nodes()`). */
  nodes(): Promise<NodeInfo[]>;
  /** The total resources of the live nodes (Ray's `ray.cluster_resources()`). */
  clusterResources(): Promise<Record<string, number>>;
  /** What the live nodes have free, as of their last heartbeats (Ray's `ray.available_resources()`). */
  availableResources(): Promise<Record<string, number>>;
  /** Cancels the task that makes `ref` (see docs/api.md, "Cancelling tasks"); its get then throws TaskCancelledError. */
  cancel(ref: ObjectRef | ObjectRefGenerator, opts?: CancelOptions): void;
  /**
   * Drops this program's reference (Python's `del ref`); the object is freed once unreferenced. A
   * generator's unconsumed items go with it. An actor handle: the actor ends once no handle to
   * it is left (see docs/api.md, "Actor lifetimes"). Releasing twice is releasing once.
   */
  release(refs: ObjectRef | ObjectRefGenerator | ActorRef | readonly (ObjectRef | ObjectRefGenerator | ActorRef)[]): void;
  /** Sleeps in the host's time: virtual in the simulator, real elsewhere. Inside a task, ray.cancel ends it with TaskCancelledError. */
  sleep(ms: number): Promise<void>;
  /** Where this code runs. */
  readonly context: { readonly nodeId: string; readonly workerId: string };
  /** Reserves bundles of resources across nodes, atomically (Ray's placement groups). */
  placementGroup(opts: PlacementGroupOptions): PlacementGroup;
  /** Releases a placement group's bundles; tasks and actors running in them are killed. */
  removePlacementGroup(pg: PlacementGroup): void;
  /** Ray's runtime context: where this code runs, and inside a task or actor method, which. */
  getRuntimeContext(): RuntimeContext;
  /**
   * Ends the actor whose method calls it, for good (Ray's `ray.actor.exit_actor()`): it throws to
   * unwind the method, whose caller gets ActorDiedError, as do the actor's later calls. Only
   * inside an actor's method.
   */
  exitActor(): never;
}

export interface RuntimeContext {
  readonly nodeId: string;
  readonly workerId: string;
  /** The task running this code (undefined in the driver). */
  readonly taskId?: string;
  /** The actor whose constructor or method runs this code. */
  readonly actorId?: string;
  /** The namespace this code runs in: the driver's (ray.init), inherited by its tasks; an actor's own. */
  readonly namespace: string;
  /**
   * The job this code runs for (Ray's job id; see docs/api.md, "Jobs and workers"): a driver's
   * own id (its worker id), inherited by everything its program starts; a detached actor's id
   * for that actor and what it starts.
   */
  readonly jobId: string;
  /**
   * Inside a task or actor method: aborts when ray.cancel reaches it (its reason is a
   * TaskCancelledError). Not enumerable, so a context can be returned from a task as data.
   */
  readonly cancelSignal?: AbortSignal;
}

const MARK = "__tsray__";
const NO_REFS: readonly RefInfo[] = [];

export interface RayOptions {
  /**
   * Payloads made here never leave this process (the simulator): primitives may then keep
   * their value as `data` instead of its bytes (see inProcessPayload).
   */
  readonly inProcess?: boolean;
  /**
   * Release a ref the program holds (made here by `put` or `.remote()`, or found in a value it
   * got or in an actor's arguments) once the garbage collector takes it, as Ray frees an object
   * when its last reference goes away. For drivers and actors on real hosts: a normal task's
   * refs go at its scope end, and the simulator releases explicitly, at scope end or when an
   * actor dies, since collection timing is not deterministic.
   */
  readonly releaseOnCollect?: boolean;
  /** A driver's namespace (ray.init's `namespace`; default: an anonymous one of its own, as in Ray). */
  readonly namespace?: string;
}

/** Builds the API for one core worker. */
export function createRay(client: CoreClient, options: RayOptions = {}): Ray & Invoker {
  const inProcess = options.inProcess === true;
  // Ray gives each job an anonymous namespace unless it names one; tasks and actors inherit theirs.
  let ownNamespace = options.namespace ?? `anonymous:${client.addr}`;
  const currentNamespace = (): string => currentExecution()?.namespace ?? ownNamespace;
  // The calls this process has pending on each actor that bounds them (maxPendingCalls): an
  // actor with none pending has no entry.
  const pendingCalls = new Map<ActorId, number>();
  /** A call to a bounded actor is pending until its ref is ready (answered, or failed). */
  const countPending = (actorId: ActorId, method: string, limit: number): (() => void) => {
    const n = pendingCalls.get(actorId) ?? 0;
    if (n >= limit) throw new PendingCallsLimitExceeded(`actor method ${method}: ${n} calls to actor ${actorId} are pending here, its maxPendingCalls`);
    pendingCalls.set(actorId, n + 1);
    return () => {
      const left = pendingCalls.get(actorId)! - 1;
      if (left === 0) pendingCalls.delete(actorId);
      else pendingCalls.set(actorId, left);
    };
  };
  // Each ref the program is handed is one hold in its worker's table (a handle it owns, or a
  // borrow): collected, it is released once (unless ray.release came first, which marks its
  // record released). The refs of actor calls are marked too: ray.cancel refuses `force` for
  // them, as Ray does.
  const collected = options.releaseOnCollect === true
    ? new FinalizationRegistry<MadeRef>((m) => { if (!m.released) client.releaseRef(m.id); })
    : undefined;
  // A counted actor handle is released alike, once every handle object sharing its hold is collected.
  const collectedHandles = options.releaseOnCollect === true
    ? new FinalizationRegistry<HandleHold>((h) => { if (--h.handles === 0) releaseHold(h); })
    : undefined;
  const releaseHold = (h: HandleHold): void => {
    if (h.released) return;
    h.released = true;
    client.releaseRef(h.id);
  };
  /** A handle object given to the program: with a hold, one more sharing it (collected, it lets go of its share). */
  const held = (handle: ActorHandle): ActorHandle => {
    const { hold } = handleCountOf(handle);
    if (hold !== undefined && collecting()) {
      hold.handles++;
      collectedHandles!.register(handle, hold);
    }
    return handle;
  };
  // Registration waits for the end of the current macrotask (the list holds the refs until
  // then): a ref released within it, as a put used and released at once, never costs the
  // registry anything.
  let toRegister: ObjectRef[] = [];
  const registerMade = (): void => {
    const refs = toRegister;
    toRegister = [];
    for (const r of refs) {
      const m = madeOf(r)!;
      if (!m.released) collected!.register(r, m);
    }
  };
  // A normal task's holds end with its scope (the core worker drops them all when it returns):
  // released again on collection, they would take holds a later task of this worker has.
  const collecting = (): boolean => {
    if (collected === undefined) return false;
    const e = currentExecution();
    return e === undefined || e.actorId !== undefined;
  };
  const made = <T>(ref: ObjectRef<T>, actorCall = false): ObjectRef<T> => {
    const collect = collecting();
    if (!collect && !actorCall) return ref;
    tie(ref, { id: ref.id, actorCall, released: false });
    if (collect) {
      if (toRegister.length === 0) setImmediate(registerMade);
      toRegister.push(ref);
    }
    return ref;
  };

  // ---- marshalling: handles become marked plain objects in bytes, and come back bound here ----

  function mark(v: unknown, refs: RefInfo[], state: { marked: boolean }): unknown {
    if (typeof v !== "object" || v === null) {
      if (typeof v === "function") throw new TypeError(`cannot pass the function ${v.name || "(anonymous)"} as a value: wrap it with ray.remote`);
      return v;
    }
    if (v instanceof ObjectRef) {
      state.marked = true;
      refs.push({ id: v.id, owner: v.owner });
      return { [MARK]: "ref", id: v.id, owner: v.owner };
    }
    if (v instanceof RemoteFunction || v instanceof ActorClass) {
      state.marked = true;
      return v instanceof ActorClass ? { [MARK]: "class", d: v.descriptor, o: v.opts, a: v.isAsync, g: v.generators, ms: v.methods } : { [MARK]: "fn", d: v.descriptor, o: v.opts };
    }
    const aid = actorIdOf(v);
    if (aid !== undefined) {
      state.marked = true;
      // What a handle knows travels with it (Ray's serialized handle carries its class's facts),
      // and a counted handle takes its reference along: whoever receives it borrows it from the actor's owner.
      const { generators: g, maxTaskRetries: r, maxPendingCalls: p } = handleFactsOf(v as ActorRef);
      const facts = { [MARK]: "actor", id: aid, g: g ?? [], ...(r !== undefined ? { r } : {}), ...(p !== undefined ? { p } : {}) };
      const { counted } = handleCountOf(v as ActorRef);
      if (counted === undefined) return facts;
      refs.push(counted);
      return { ...facts, o: counted.owner };
    }
    if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) return v;
    if (Array.isArray(v)) {
      let out: unknown[] | undefined;
      for (let i = 0; i < v.length; i++) {
        const x = v[i];
        if (typeof x !== "object" && typeof x !== "function") continue;
        const m = mark(x, refs, state);
        if (m !== x) (out ??= v.slice())[i] = m;
      }
      return out ?? v;
    }
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) return v;
    let out: Record<string, unknown> | undefined;
    for (const k in v as Record<string, unknown>) {
      const x = (v as Record<string, unknown>)[k];
      if (typeof x !== "object" && typeof x !== "function") continue;
      const m = mark(x, refs, state);
      if (m !== x) (out ??= { ...(v as Record<string, unknown>) })[k] = m;
    }
    return out ?? v;
  }

  function revive(v: unknown): unknown {
    if (typeof v !== "object" || v === null || ArrayBuffer.isView(v)) return v;
    const tag = (v as Record<string, unknown>)[MARK];
    if (typeof tag === "string") {
      const m = v as Record<string, any>;
      // One hold per ref in the value (the core worker took it when the value came): the ref's own.
      if (tag === "ref") return made(new ObjectRef(m.id, m.owner));
      if (tag === "actor") {
        const facts = factsOf({
          ...(Array.isArray(m.g) ? { generators: m.g } : {}), ...(typeof m.r === "number" ? { maxTaskRetries: m.r } : {}), ...(typeof m.p === "number" ? { maxPendingCalls: m.p } : {}),
        });
        if (typeof m.o !== "string") return actorHandle(m.id, api, facts);
        // Counted: the core worker took the handle's hold when the value came, except in the
        // actor itself (its handle to itself keeps nothing alive, see holdRefs).
        const counted = { id: handleIdOf(m.id), owner: m.o };
        if (currentExecution()?.actorId === m.id) return actorHandle(m.id, api, facts, { counted });
        return held(actorHandle(m.id, api, facts, { counted, hold: { id: counted.id, released: false, handles: 0 } }));
      }
      if (tag === "fn") return new RemoteFunction(m.d, m.o, api);
      if (tag === "class") return new ActorClass(m.d, m.o, api, m.a === true, Array.isArray(m.g) ? m.g : [], Array.isArray(m.ms) ? m.ms : []);
    }
    if (Array.isArray(v)) { for (let i = 0; i < v.length; i++) v[i] = revive(v[i]); return v; }
    if (Object.getPrototypeOf(v) === Object.prototype) for (const k in v as Record<string, unknown>) (v as Record<string, unknown>)[k] = revive((v as Record<string, unknown>)[k]);
    return v;
  }

  function encode(value: unknown): Payload {
    // Primitives (most arguments and results) hold no handles: nothing to mark.
    if (inProcess && (typeof value === "number" || typeof value === "boolean" || value === null || value === undefined)) return inProcessPayload(value);
    if (typeof value !== "object" && typeof value !== "function") return bytesPayload(toBytes(value), false, NO_REFS);
    const refs: RefInfo[] = [];
    const state = { marked: false };
    return bytesPayload(toBytes(mark(value, refs, state)), state.marked, refs);
  }

  function decode(p: Payload): unknown {
    const v = payloadValue(p.data);
    return p.marked ? revive(v) : v;
  }

  function args(list: readonly unknown[]): ArgIn[] {
    const out: ArgIn[] = new Array(list.length);
    for (let i = 0; i < list.length; i++) {
      const a = list[i];
      out[i] = a instanceof ObjectRef ? { ref: a.id, owner: a.owner } : { v: encode(a) };
    }
    return out;
  }

  /** Per options object: a function's options are validated once, and its tasks share one demand object. */
  const taskOptionsOf = new WeakMap<RemoteOptions, TaskOptions>();
  function taskOptions(o: RemoteOptions, d: FunctionDescriptor): TaskOptions {
    let t = taskOptionsOf.get(o);
    if (t === undefined) taskOptionsOf.set(o, (t = validTaskOptions(o, d.name, isGeneratorSource(d.source))));
    // The task runs in its submitter's namespace: one options object per namespace met.
    const namespace = currentNamespace();
    if (t.namespace === namespace) return t;
    const inNs = { ...t, namespace };
    taskOptionsOf.set(o, inNs);
    return inNs;
  }

  function validTaskOptions(o: RemoteOptions, name: string, isGenerator: boolean): TaskOptions {
    const maxRetries = o.maxRetries ?? 3;
    if (!Number.isInteger(maxRetries) || maxRetries < -1) throw new TypeError(`${name}: maxRetries must be an integer >= -1, got ${maxRetries}`);
    const streaming = streamingOf(o, isGenerator, name);
    return { resources: resourcesOf(o, 1, name), strategy: strategyOf(o, name), maxRetries, retryExceptions: o.retryExceptions ?? false, ...(streaming ? { streaming } : {}) };
  }

  function actorOptions(o: RemoteOptions, name: string, isAsync: boolean, concurrencyGroups: readonly ConcurrencyGroup[] | undefined): ActorOptions {
    const maxConcurrency = o.maxConcurrency ?? (isAsync ? ASYNC_ACTOR_MAX_CONCURRENCY : 1);
    const maxRestarts = o.maxRestarts ?? 0;
    const maxTaskRetries = o.maxTaskRetries ?? 0;
    for (const [k, v] of [["maxRestarts", maxRestarts], ["maxTaskRetries", maxTaskRetries]] as const) {
      if (!Number.isInteger(v) || v < -1) throw new TypeError(`${name}: ${k} must be an integer >= -1, got ${v}`);
    }
    return {
      resources: resourcesOf(o, 0, name), strategy: strategyOf(o, name), maxRestarts, maxTaskRetries, name: o.name, maxConcurrency,
      namespace: o.namespace ?? currentNamespace(), ...(o.lifetime === "detached" ? { detached: true } : {}), ...(concurrencyGroups ? { concurrencyGroups } : {}),
      ...(o.maxPendingCalls !== undefined && o.maxPendingCalls !== -1 ? { maxPendingCalls: o.maxPendingCalls } : {}),
    };
  }

  /** Creates an actor; one with a name is awaitable: it settles once the GCS took the name, or refused it (Ray's ValueError). */
  function createActor(target: ActorClass<never>, list: readonly unknown[], o: ActorOptions): ActorHandle {
    const id = client.nextId();
    client.createActor(id, target.descriptor, args(list), { ...o, ...(target.generators.length > 0 ? { generators: target.generators } : {}) });
    const facts = factsOf({ ...o, generators: target.generators });
    // The program's first handle: the core worker made the handle object with this one hold.
    // A detached actor's handles count nothing (it lives until ray.kill).
    const count = o.detached === true ? {} : { counted: { id: handleIdOf(id), owner: client.addr }, hold: { id: handleIdOf(id), released: false, handles: 0 } };
    if (o.name === undefined) return held(actorHandle(id, api, facts, count));
    // The handle an `await` gives shares the awaitable's hold: one handle to the program.
    return held(actorHandle(id, api, facts, count, async () => {
      const info = await client.actorRegistered(id);
      if (info?.state === "DEAD" && info.error?.name === "ValueError") throw new ValueError(`${target.descriptor.name}: ${info.error.message}`);
      return held(actorHandle(id, api, facts, count));
    }));
  }

  /** getIfExists: the live actor of that name, else a new one; a race lost to another creator ends in getting the winner. */
  async function getOrCreate(target: ActorClass<never>, list: readonly unknown[], o: ActorOptions): Promise<ActorHandle> {
    for (let round = 0; round < 8; round++) {
      const found = await client.getNamedActor(o.name!, o.namespace);
      if (found && found.state !== "DEAD") {
        return actorHandle(found.actorId, api, factsOf(found));
      }
      try {
        return await createActor(target, list, o);
      } catch (e) {
        if (!(e instanceof ValueError)) throw e;
      }
    }
    throw new ValueError(`${target.descriptor.name}: getIfExists: the actor named "${o.name}" kept dying while it was looked up`);
  }

  /**
   * numReturns: n > 1. Each of the n refs is made by a small zero-CPU task that takes one value
   * out of the whole result (checking it is an array of n), so each is an object of its own:
   * got, passed, freed and rebuilt from lineage on its own, and failing as the task failed.
   * The program keeps no handle to the whole result; the n tasks hold it until they ran.
   */
  let pick: RemoteFunction<(whole: unknown, i: number, n: number, what: string) => unknown> | undefined;
  function split(whole: ObjectRef, n: number, what: string): ObjectRef[] {
    pick ??= api.remote(function numReturnsValue(whole: unknown, i: number, n: number, what: string): unknown {
      if (!Array.isArray(whole) || whole.length !== n) {
        const got = Array.isArray(whole) ? `an array of ${whole.length}` : whole === null ? "null" : typeof whole;
        throw new TypeError(`${what} has numReturns: ${n}, so it must return an array of ${n} values; it returned ${got}`);
      }
      return whole[i];
    }, { numCpus: 0, schedulingStrategy: "DEFAULT" }); // a part of its caller's call, never captured into a group
    const refs = Array.from({ length: n }, (_, i) => pick!.remote(whole, i, n, what));
    api.release(whole);
    return refs;
  }

  /** The caller's side of a streaming generator task: one ref per item, owned here like any return. */
  function generatorOf(ref: ObjectRef): ObjectRefGenerator {
    return new ObjectRefGenerator(ref, async (i) => {
      const id = await client.nextItem(ref.id, i, currentExecution()?.signal);
      return id === undefined ? undefined : made(new ObjectRef(id, client.addr));
    });
  }

  const api: Ray & Invoker = {
    context: { nodeId: client.node, workerId: client.addr },

    remote(target: any, opts: RemoteOptions = {}): any {
      // A copy: options are read once per object (see taskOptions), so later edits to the caller's must not leak in.
      return remoteOf(target, { ...opts }, api);
    },

    call(target, list, opts) {
      if (target instanceof ActorClass) {
        const o = actorOptions(opts, target.descriptor.name, target.isAsync, target.concurrencyGroups);
        if (opts.getIfExists === true) return actorHandle(undefined, api, {}, undefined, () => getOrCreate(target, list, o));
        return createActor(target, list, o);
      }
      const id = client.nextId();
      const d = (target as RemoteFunction<never>).descriptor;
      const o = taskOptions(opts, d);
      const ref = made(new ObjectRef(client.submitTask(id, d, args(list), o), client.addr));
      if (o.streaming) return generatorOf(ref);
      return typeof opts.numReturns === "number" && opts.numReturns > 1 ? split(ref, opts.numReturns, `remote function ${d.name}`) : ref;
    },

    callMethod(actorId, facts, method, list, opts) {
      const id = client.nextId();
      const retries = opts.maxTaskRetries ?? facts.maxTaskRetries ?? 0;
      const streaming = streamingOf(opts, facts.generators?.includes(method) === true, `actor method ${method}`);
      // No options object for a plain call (most calls): only what the call asks.
      const group = opts.concurrencyGroup;
      const call = streaming === undefined && group === undefined ? undefined : { ...(streaming ? { streaming } : {}), ...(group !== undefined ? { concurrencyGroup: group } : {}) };
      const limit = facts.maxPendingCalls;
      const done = limit === undefined ? undefined : countPending(actorId, method, limit);
      const ref = made(new ObjectRef(client.submitActorTask(id, actorId, method, args(list), retries, call), client.addr), true);
      // Ready anywhere is answered: nothing is fetched for the count (a stream's ref is ready once it ends).
      if (done !== undefined) client.wait([{ id: ref.id, owner: ref.owner }], 1, undefined, false).then(done, done);
      if (streaming) return generatorOf(ref);
      return typeof opts.numReturns === "number" && opts.numReturns > 1 ? split(ref, opts.numReturns, `actor method ${method}`) : ref;
    },

    async get(refOrRefs: ObjectRef | readonly ObjectRef[], opts: GetOptions = {}): Promise<any> {
      const single = !Array.isArray(refOrRefs);
      const refs = (single ? [refOrRefs] : refOrRefs) as readonly ObjectRef[];
      for (const r of refs) if (!(r instanceof ObjectRef)) throw new TypeError(`ray.get expects ObjectRefs, got ${notARef(r)}`);
      checkCallOptions(opts, ["timeoutMs"], "ray.get");
      checkTimeout(opts.timeoutMs, "ray.get");
      // Inside a task, ray.cancel interrupts the get (TaskCancelledError), as Ray interrupts a cancelled task's blocked get.
      const vals = await client.get(refs.map((r) => ({ id: r.id, owner: r.owner })), opts.timeoutMs, currentExecution()?.signal);
      const out = new Array(vals.length);
      for (let i = 0; i < vals.length; i++) {
        const v = vals[i];
        if (!("hash" in v)) {
          if (v.type === "GetTimeoutError") throw new GetTimeoutError(v.message);
          throw toError(v);
        }
        out[i] = decode(v);
      }
      return single ? out[0] : out;
    },

    async put(value) {
      const id = client.nextId();
      await client.put(id, encode(value));
      return made(new ObjectRef(id, client.addr));
    },

    async wait(refs, opts = {}) {
      if (!Array.isArray(refs)) throw new TypeError("ray.wait expects an array of ObjectRefs");
      for (const r of refs) if (!(r instanceof ObjectRef)) throw new TypeError(`ray.wait expects ObjectRefs, got ${notARef(r)}`);
      checkCallOptions(opts, ["numReturns", "timeoutMs", "fetchLocal"], "ray.wait");
      checkTimeout(opts.timeoutMs, "ray.wait");
      const fetchLocal = opts.fetchLocal ?? true;
      if (typeof fetchLocal !== "boolean") throw new TypeError(`ray.wait: fetchLocal must be a boolean, got ${JSON.stringify(fetchLocal)}`);
      if (refs.length === 0) return [[], []];
      // As Ray: at least one, at most as many as given, and each ref once.
      const n = opts.numReturns ?? 1;
      if (!Number.isInteger(n) || n < 1) throw new TypeError(`ray.wait: numReturns must be an integer >= 1, got ${JSON.stringify(n)}`);
      if (n > refs.length) throw new TypeError(`ray.wait: numReturns ${n} is more than the ${refs.length} refs given`);
      const ids = new Set<string>();
      for (const r of refs) {
        if (ids.has(r.id)) throw new TypeError(`ray.wait: each ref may be given once, and ${r.id} is given twice`);
        ids.add(r.id);
      }
      const ready = new Set(await client.wait(refs.map((r) => ({ id: r.id, owner: r.owner })), n, opts.timeoutMs, fetchLocal, currentExecution()?.signal));
      return [refs.filter((r) => ready.has(r.id)), refs.filter((r) => !ready.has(r.id))];
    },

    placementGroup(opts) {
      const v = validPlacementGroup(opts);
      const pgId = `pg:${client.nextId()}`;
      client.createPlacementGroup({ pgId, ...v });
      let ready: ObjectRef<boolean> | undefined;
      const pg: PlacementGroup = new PlacementGroup(pgId, v.bundles, v.strategy, () => (ready ??= api.remote(() => true).options({ numCpus: 0, placementGroup: pg }).remote() as ObjectRef<boolean>));
      return pg;
    },

    removePlacementGroup(pg) {
      if (!(pg instanceof PlacementGroup)) throw new TypeError("ray.removePlacementGroup expects a PlacementGroup");
      client.removePlacementGroup(pg.id);
    },

    kill(actor, opts = {}) {
      const id = actorIdOf(actor);
      if (id === undefined) throw new TypeError("ray.kill expects an actor handle");
      checkCallOptions(opts, ["noRestart"], "ray.kill");
      const noRestart = opts.noRestart ?? true;
      if (typeof noRestart !== "boolean") throw new TypeError(`ray.kill: noRestart must be a boolean, got ${JSON.stringify(noRestart)}`);
      client.killActor(id, noRestart);
    },

    cancel(target, opts = {}) {
      // A streaming generator is cancelled through its task's object (Ray: ray.cancel(generator)).
      const ref = target instanceof ObjectRefGenerator ? target.ref : target;
      if (!(ref instanceof ObjectRef)) throw new TypeError("ray.cancel expects an ObjectRef or an ObjectRefGenerator");
      checkCallOptions(opts, ["force", "recursive"], "ray.cancel");
      const force = opts.force ?? false, recursive = opts.recursive ?? true;
      for (const [k, v] of [["force", force], ["recursive", recursive]] as const) {
        if (typeof v !== "boolean") throw new TypeError(`ray.cancel: ${k} must be a boolean, got ${JSON.stringify(v)}`);
      }
      if (force && madeOf(ref)?.actorCall === true) throw new TypeError("ray.cancel: force is not supported for actor tasks (kill the actor with ray.kill instead)");
      if (ref.owner !== client.addr) throw new TypeError(`ray.cancel: ${ref} was made by another worker (${ref.owner}); only the task's owner cancels it in tsray`);
      client.cancelTask(ref.id, force, recursive);
    },

    async getActor(name, opts = {}) {
      checkCallOptions(opts, ["namespace"], "ray.getActor");
      if (typeof name !== "string" || name === "") throw new TypeError(`ray.getActor: name must be a non-empty string, got ${JSON.stringify(name)}`);
      const namespace = opts.namespace ?? currentNamespace();
      if (typeof namespace !== "string" || namespace === "") throw new TypeError(`ray.getActor: namespace must be a non-empty string, got ${JSON.stringify(namespace)}`);
      const info = await client.getNamedActor(name, namespace);
      if (!info || info.state === "DEAD") throw new ValueError(`ray.getActor: no live actor named "${name}" in the namespace "${namespace}"`);
      return actorHandle(info.actorId, api, factsOf(info)) as never;
    },

    async listNamedActors(opts: ListNamedActorsOptions = {}): Promise<never> {
      checkCallOptions(opts, ["allNamespaces"], "ray.listNamedActors");
      if (opts.allNamespaces !== undefined && typeof opts.allNamespaces !== "boolean") throw new TypeError(`ray.listNamedActors: allNamespaces must be a boolean, got ${JSON.stringify(opts.allNamespaces)}`);
      if (opts.allNamespaces) return (await client.listNamedActors()).map((a) => ({ ...a })) as never;
      return (await client.listNamedActors(currentNamespace())).map((a) => a.name) as never;
    },

    async nodes() {
      return (await client.clusterInfo()).map(nodeInfo);
    },

    async clusterResources() {
      return sumResources((await client.clusterInfo()).filter((n) => n.alive).map((n) => n.total));
    },

    async availableResources() {
      return sumResources((await client.clusterInfo()).filter((n) => n.alive).map((n) => n.available));
    },

    release(refs) {
      for (const x of Array.isArray(refs) ? refs : [refs]) {
        // An actor handle: its hold, if it has one (a handle from ray.getActor, or a detached actor's, holds nothing).
        if (actorIdOf(x) !== undefined) {
          const { hold } = handleCountOf(x as ActorRef);
          if (hold !== undefined) releaseHold(hold);
          continue;
        }
        // A generator: its task's object; the items it never handed out go with it.
        const r = (x instanceof ObjectRefGenerator ? x.ref : x) as ObjectRef;
        const m = madeOf(r);
        if (m !== undefined) m.released = true;
        client.releaseRef(r.id);
      }
    },

    // Inside a task, ray.cancel interrupts the sleep (TaskCancelledError), as Ray interrupts a cancelled task's sleep.
    sleep(ms) { return client.sleep(ms, currentExecution()?.signal); },

    exitActor(): never {
      const e = currentExecution();
      if (e?.method === undefined) throw new TypeError(`ray.exitActor: only an actor's method can call it (here: ${e === undefined ? "the driver" : e.actorId !== undefined ? "an actor's constructor" : "a task"})`);
      throw new ActorExit(e.method);
    },
    getRuntimeContext() {
      const e = currentExecution();
      const c: RuntimeContext = {
        nodeId: client.node, workerId: client.addr, namespace: currentNamespace(), jobId: e?.job ?? client.addr,
        ...(e ? { taskId: e.taskId } : {}), ...(e?.actorId !== undefined ? { actorId: e.actorId } : {}),
      };
      if (e) Object.defineProperty(c, "cancelSignal", { value: e.signal, enumerable: false });
      return c;
    },
  };
  codecs.set(client, { encode, decode });
  madeRefs.set(api, made);
  namespaceSetters.set(api, (ns) => { ownNamespace = ns; });
  return api;
}

const namespaceSetters = new WeakMap<object, (ns: string) => void>();

/** ray.init's `namespace`, for a driver's API made before init read its options. */
export function setNamespace(ray: Ray, namespace: string): void {
  if (typeof namespace !== "string" || namespace === "") throw new TypeError(`ray.init: namespace must be a non-empty string, got ${JSON.stringify(namespace)}`);
  const set = namespaceSetters.get(ray);
  if (!set) throw new Error("setNamespace: not a Ray API object");
  set(namespace);
}

/** The marshalling of each client's API, for hosts that encode results and decode arguments. */
const codecs = new WeakMap<CoreClient, { encode(v: unknown): Payload; decode(p: Payload): unknown }>();
const madeRefs = new WeakMap<object, <T>(ref: ObjectRef<T>) => ObjectRef<T>>();

/** A ref a host made for `ray`'s program outside its API (a direct put): released on collection like the API's own. */
export function madeBy<T>(ray: Ray, ref: ObjectRef<T>): ObjectRef<T> {
  return madeRefs.get(ray)?.(ref) ?? ref;
}

export function codecOf(client: CoreClient): { encode(v: unknown): Payload; decode(p: Payload): unknown } {
  const c = codecs.get(client);
  if (!c) throw new Error("no Ray API was created for this client");
  return c;
}

function resourcesOf(o: RemoteOptions, defaultCpus: number, name: string) {
  const r: Record<string, number> = { ...(o.resources ?? {}) };
  const cpus = o.numCpus ?? defaultCpus;
  if (cpus > 0 || o.numCpus !== undefined) r.CPU = cpus;
  if (o.numGpus !== undefined) r.GPU = o.numGpus;
  for (const k in r) if (r[k] === 0) delete r[k];
  return checkResources(r, name);
}

/** What was passed where a ref was expected, for the error: a promise most likely came from an un-awaited `ray.put`. */
function notARef(v: unknown): string {
  if (v instanceof Promise) return "a Promise (ray.put returns a promise of its ref: await it)";
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

/** A row of the GCS's node table as ray.nodes() shows it. */
function nodeInfo(v: NodeView): NodeInfo {
  const grpc = v.endpoint?.split(";")[0];
  const cut = grpc?.lastIndexOf(":") ?? -1;
  return {
    nodeId: v.node, alive: v.alive, resources: { ...v.total }, incarnation: v.incarnation,
    ...(grpc !== undefined && cut > 0 ? { nodeManagerAddress: grpc.slice(0, cut), nodeManagerPort: Number(grpc.slice(cut + 1)) } : {}),
  };
}

function sumResources(sets: readonly Readonly<Record<string, number>>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of sets) for (const k in s) out[k] = (out[k] ?? 0) + s[k];
  return out;
}
