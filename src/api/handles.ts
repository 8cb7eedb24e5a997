// What a program holds: object refs, remote functions, actor classes and actor handles.
// Each is bound to the Ray instance (one per core worker) that made or received it.

import type { Addr, ActorId, ActorInfo, ConcurrencyGroup, FunctionDescriptor, ObjectId, RefInfo, SchedulingStrategy } from "../core/types.ts";
import type { ObjectRefGenerator } from "./generator.ts";
import { checkOptionNames, concurrencyGroupsOf, generatorMethodsOf, isAsyncClass, methodNamesOf } from "./options.ts";
import type { PlacementGroup } from "./placement-group.ts";

/**
 * What the API that made a ref keeps with it (ray.ts): whether it is an actor call's, and for
 * refs released on collection, whether the program released it already. The garbage collector's
 * callback is handed this record (it must not hold the ref), so an explicit release is a flag
 * here rather than an unregistration, which costs about a microsecond per ref.
 */
export interface MadeRef {
  readonly id: ObjectId;
  readonly actorCall: boolean;
  released: boolean;
}

let tieRef: (ref: ObjectRef, made: MadeRef) => void;
let madeOfRef: (ref: ObjectRef) => MadeRef | undefined;

/** A future value in the object store. `T` flows from the remote function's return type. */
export class ObjectRef<T = unknown> {
  declare readonly __type?: T;
  // Private: not part of the ref's data (equality, serialization and printing ignore it).
  #made: MadeRef | undefined = undefined;
  constructor(readonly id: ObjectId, readonly owner: Addr) {}
  toString(): string { return `ObjectRef(${this.id})`; }
  static {
    tieRef = (ref, made) => { ref.#made = made; };
    madeOfRef = (ref) => ref.#made;
  }
}

/** Records what the API that made `ref` keeps with it. */
export function tie(ref: ObjectRef, made: MadeRef): void { tieRef(ref, made); }

/** What the API that made `ref` keeps with it; undefined for a ref it did not make (one passed in, say). */
export function madeOf(ref: ObjectRef): MadeRef | undefined { return madeOfRef(ref); }

export interface RemoteOptions {
  numCpus?: number;
  numGpus?: number;
  resources?: Record<string, number>;
  /** Task retries on system failure (default 3; -1 = infinite). */
  maxRetries?: number;
  /** Also retry when the task throws. */
  retryExceptions?: boolean;
  /** Actor restarts (default 0; -1 = infinite). */
  maxRestarts?: number;
  /** Retries of an actor's calls across restarts (default 0 = at most once; -1 = infinite). */
  maxTaskRetries?: number;
  /** Register a named actor. */
  name?: string;
  schedulingStrategy?: SchedulingStrategy;
  /** Calls an actor runs at once (default 1; 1000 for an async actor, as in Ray); with concurrencyGroups, in its default group. */
  maxConcurrency?: number;
  /**
   * An actor's concurrency groups (Ray's `concurrency_groups`): name → how many of its calls run
   * at once, or `{ maxConcurrency, methods }` to put those methods' calls in it. Each group's calls
   * wait only for its own slots.
   */
  concurrencyGroups?: Readonly<Record<string, number | { readonly maxConcurrency: number; readonly methods?: readonly string[] }>>;
  /**
   * An actor's bound on the calls one process may have pending on it (Ray's `max_pending_calls`;
   * default -1: none): a call over it is refused at once with PendingCallsLimitExceeded.
   */
  maxPendingCalls?: number;
  /** An actor call: the concurrency group it runs in, whatever its method's (Ray's `concurrency_group`). */
  concurrencyGroup?: string;
  /**
   * How many refs `.remote()` gives (default 1): with n > 1 the function returns an array of n
   * values and `.remote()` an array of n refs, one per value (see docs/api.md). "streaming" (the
   * default for a generator function, as in Ray): `.remote()` gives an ObjectRefGenerator.
   */
  numReturns?: number | "streaming";
  /**
   * A streaming generator pauses while this many of its yielded items are not yet consumed by
   * the caller (Ray's `_generator_backpressure_num_objects`; default -1: no limit).
   */
  generatorBackpressureNumObjects?: number;
  /**
   * Run in this placement group (in bundle `bundleIndex`, default -1: any bundle); null: in no
   * group, even inside a task that captures its children.
   */
  placementGroup?: PlacementGroup | null;
  bundleIndex?: number;
  /** With placementGroup: the tasks and actors this one submits without a strategy run in the group too. */
  captureChildTasks?: boolean;
  /** The namespace an actor's name is unique in (default: the creator's, see ray.init). */
  namespace?: string;
  /** "detached": the actor outlives its creator, until ray.kill; "non_detached" (default): it dies with it. */
  lifetime?: "detached" | "non_detached";
  /** With `name`: the live actor of that name if there is one, else a new one (await the handle). */
  getIfExists?: boolean;
}

/** An argument may be a value or a ref to one. */
export type RemoteArg<P> = P | ObjectRef<P>;
export type RemoteArgs<A extends unknown[]> = { [K in keyof A]: RemoteArg<A[K]> };

/**
 * What a handle knows of its actor, and carries wherever it goes (as Ray's serialized handle
 * carries its class's facts): its calls' retry budget, its generator methods (their calls
 * stream), and its bound on the calls a process may have pending on it.
 */
export type HandleFacts = Pick<ActorInfo, "generators" | "maxTaskRetries" | "maxPendingCalls">;

/** Anything with `remote()` that a program may call: stands for the one implementation. */
export interface Invoker {
  call(target: RemoteFunction<never> | ActorClass<never>, args: unknown[], opts: RemoteOptions): unknown;
  callMethod(actorId: ActorId, facts: HandleFacts, method: string, args: unknown[], opts: RemoteOptions): unknown;
}

export class RemoteFunction<F extends (...args: any[]) => unknown> {
  constructor(readonly descriptor: FunctionDescriptor, readonly opts: RemoteOptions, private readonly invoker: Invoker) {
    checkOptionNames(opts, "task", descriptor.name);
  }
  remote(...args: RemoteArgs<Parameters<F>>): RemoteResult<ReturnType<F>> {
    return this.invoker.call(this as never, args, this.opts) as RemoteResult<ReturnType<F>>;
  }
  options(opts: RemoteOptions): RemoteFunction<F> {
    return new RemoteFunction(this.descriptor, { ...this.opts, ...opts }, this.invoker);
  }
}

/** What `.remote()` gives for a function returning `R`: a ref to its value, or an ObjectRefGenerator for a generator. */
export type RemoteResult<R> = R extends Generator<infer Y, unknown, unknown> ? ObjectRefGenerator<Y>
  : R extends AsyncGenerator<infer Y, unknown, unknown> ? ObjectRefGenerator<Y>
  : ObjectRef<Awaited<R>>;

type Method<M> = M extends (...args: infer A) => infer R
  ? { remote(...args: RemoteArgs<A>): RemoteResult<R>; options(o: RemoteOptions): Method<M> }
  : never;

/** What every actor handle has, whatever its class: the actor's id, and `__ray_terminate__` (see errors.ts, TERMINATE). */
export interface ActorRef {
  readonly __actorId: ActorId;
  readonly __ray_terminate__: Method<() => never>;
}

/** A handle to a live actor: every method of the class gets `.remote()`. */
export type ActorHandle<T = any> = {
  readonly [K in keyof T as T[K] extends (...a: any[]) => unknown ? K : never]: Method<T[K]>;
} & ActorRef;

export class ActorClass<C extends new (...args: any[]) => unknown> {
  /** Its `concurrencyGroups` option, checked once here (undefined: none). */
  readonly concurrencyGroups: readonly ConcurrencyGroup[] | undefined;
  /**
   * `isAsync`: a method is async, so calls overlap up to maxConcurrency (see options.ts).
   * `generators`: the methods that are generators (called, they stream); `methods`: every method's name.
   */
  constructor(
    readonly descriptor: FunctionDescriptor, readonly opts: RemoteOptions, private readonly invoker: Invoker, readonly isAsync = false,
    readonly generators: readonly string[] = [], readonly methods: readonly string[] = [],
  ) {
    checkOptionNames(opts, "actor", descriptor.name);
    this.concurrencyGroups = concurrencyGroupsOf(opts, descriptor.name, methods);
  }
  remote(...args: RemoteArgs<ConstructorParameters<C>>): ActorHandle<InstanceType<C>> {
    return this.invoker.call(this as never, args, this.opts) as ActorHandle<InstanceType<C>>;
  }
  options(opts: RemoteOptions): ActorClass<C> {
    return new ActorClass(this.descriptor, { ...this.opts, ...opts }, this.invoker, this.isAsync, this.generators, this.methods);
  }
}

const ACTOR = Symbol("tsray.actor");
const COUNTED = Symbol("tsray.counted");
const HOLD = Symbol("tsray.hold");
const FACTS = Symbol("tsray.facts");

/**
 * A counted handle's reference, held by the program (one per handle object it was given; an
 * awaitable handle and the one its `await` gives share one): released once, by ray.release or
 * when the garbage collector has taken every handle object sharing it (`handles`).
 */
export interface HandleHold {
  readonly id: ObjectId;
  released: boolean;
  handles: number;
}

/**
 * How a handle counts toward its actor's life: `counted` is the handle object's ref (absent for a
 * detached actor's handle, or one got by ray.getActor: they keep nothing alive), passed along
 * wherever the handle goes; `hold` is this process's reference to it (absent for the handle an
 * actor is given of itself).
 */
export interface HandleCount { readonly counted?: RefInfo; readonly hold?: HandleHold }

/**
 * Builds the Proxy that turns `handle.method.remote(...)` into an actor call. With `created`, the
 * handle is also awaitable: `await` settles once the GCS took the actor (its name) or refused
 * it, resolving to a plain handle. A get-or-create handle has no actor until then (`actorId`
 * undefined): its methods say to await it first.
 */
export function actorHandle(actorId: ActorId, invoker: Invoker, facts: HandleFacts, count?: HandleCount): ActorHandle;
export function actorHandle(actorId: ActorId | undefined, invoker: Invoker, facts: HandleFacts, count: HandleCount | undefined, created: () => Promise<ActorHandle>): ActorHandle;
export function actorHandle(actorId: ActorId | undefined, invoker: Invoker, facts: HandleFacts, count: HandleCount = {}, created?: () => Promise<ActorHandle>): ActorHandle {
  const target = { [ACTOR]: actorId, __actorId: actorId };
  let settled: Promise<ActorHandle> | undefined;
  const methods = new Map<string, Method<(...a: unknown[]) => unknown>>();
  const handle = new Proxy(target, {
    get(_target, prop) {
      if (prop === ACTOR || prop === "__actorId") return actorId;
      if (prop === COUNTED) return count.counted;
      if (prop === HOLD) return count.hold;
      if (prop === FACTS) return facts;
      if (prop === "then" && created) {
        return (resolve: (h: ActorHandle) => unknown, reject: (e: unknown) => unknown) => (settled ??= created()).then(resolve, reject);
      }
      if (typeof prop !== "string" || prop === "then" || prop === "toJSON") return undefined;
      if (actorId === undefined) {
        throw new TypeError(`${prop}: a handle made with getIfExists names no actor until the GCS answers: await it first (const h = await A.options({ name, getIfExists: true }).remote())`);
      }
      let m = methods.get(prop);
      if (m === undefined) methods.set(prop, (m = method(actorId, facts, prop, {}, invoker, handle)));
      return m;
    },
  }) as unknown as ActorHandle;
  return handle;
}

/**
 * `handle.name`: what `.remote()` and `.options()` are called on (made once per handle and method,
 * not per call). It keeps its handle `of` (its `options` passes it on): a program that holds only
 * a method must not see the handle collected, and the actor end.
 */
function method(actorId: ActorId, facts: HandleFacts, prop: string, opts: RemoteOptions, invoker: Invoker, of: ActorHandle): Method<(...a: unknown[]) => unknown> {
  return {
    remote: (...args: unknown[]) => invoker.callMethod(actorId, facts, prop, args, opts) as never,
    options: (o: RemoteOptions) => { const all = { ...opts, ...o }; checkOptionNames(all, "method", prop); return method(actorId, facts, prop, all, invoker, of); },
  };
}

export function actorIdOf(x: unknown): ActorId | undefined {
  return typeof x === "object" && x !== null ? ((x as Record<symbol, ActorId>)[ACTOR] ?? undefined) : undefined;
}

/** The facts a handle keeps of what describes its actor (an ActorInfo, an actor's options): the three, no more. */
export function factsOf(x: HandleFacts): HandleFacts {
  return {
    ...(x.generators !== undefined && x.generators.length > 0 ? { generators: x.generators } : {}),
    ...(x.maxTaskRetries !== undefined ? { maxTaskRetries: x.maxTaskRetries } : {}),
    ...(x.maxPendingCalls !== undefined ? { maxPendingCalls: x.maxPendingCalls } : {}),
  };
}

/** What an actor handle knows of its actor (see HandleFacts). */
export function handleFactsOf(handle: ActorRef): HandleFacts {
  return (handle as unknown as Record<symbol, HandleFacts>)[FACTS];
}

/** How an actor handle counts toward its actor's life (see HandleCount). */
export function handleCountOf(handle: ActorRef): HandleCount {
  const h = handle as unknown as Record<symbol, unknown>;
  return { counted: h[COUNTED] as RefInfo | undefined, hold: h[HOLD] as HandleHold | undefined };
}

/** `ray.remote(target, opts)`: an actor class for a class, a remote function otherwise. */
export function remoteOf(target: any, opts: RemoteOptions, invoker: Invoker): ActorClass<never> | RemoteFunction<never> {
  const d = describe(target);
  return d.kind === "class" ? new ActorClass(d, opts, invoker, isAsyncClass(target), generatorMethodsOf(target), methodNamesOf(target)) : new RemoteFunction(d, opts, invoker);
}

/**
 * Each function's descriptor, made once: a program that calls `ray.remote(f)` again (in a loop,
 * or once per run as the generated workloads do) would otherwise re-parse and re-hash `f`'s source.
 */
const described = new WeakMap<object, FunctionDescriptor>();

/** Source-level identity of a function: name plus a hash of its text. */
export function describe(fn: (...a: any[]) => unknown): FunctionDescriptor {
  if (typeof fn !== "function") throw new TypeError(`ray.remote expects a function or a class, got ${typeof fn}`);
  let d = described.get(fn);
  if (d === undefined) {
    d = descriptorOf(fn);
    described.set(fn, d);
  }
  return d;
}

function descriptorOf(fn: (...a: any[]) => unknown): FunctionDescriptor {
  const source = Function.prototype.toString.call(fn);
  if (/\{\s*\[native code\]\s*\}\s*$/.test(source)) {
    throw new TypeError(`ray.remote: ${fn.name || "this function"} is native or bound; remote functions are shipped as source, so pass a plain function or class`);
  }
  const kind = /^class[\s{]/.test(source) ? "class" : "function";
  try {
    // Only parsed, never run: an object method's source (`name(x) {…}`) is not an expression.
    new Function(`return (${source});`);
  } catch {
    throw new TypeError(`ray.remote: the source of ${fn.name || "this function"} is not a standalone function expression (an object method?); pass a function expression, an arrow function or a class`);
  }
  let h = 0x811c9dc5;
  for (let i = 0; i < source.length; i++) h = Math.imul(h ^ source.charCodeAt(i), 0x01000193);
  const name = fn.name || "anonymous";
  return { id: `${name}:${(h >>> 0).toString(16)}`, name, kind, source };
}
