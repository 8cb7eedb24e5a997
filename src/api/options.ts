// Which options `ray.remote(…, opts)` and `.options(opts)` take, per kind of target, which
// `ray.init` takes, and the checks that refuse the rest by name: an option tsray does not
// implement is an error, never silently ignored (Ray raises on an option that does not apply to
// the target, too).

import type { ConcurrencyGroup, Streaming } from "../core/types.ts";
import type { RemoteOptions } from "./handles.ts";

export type OptionTarget = "task" | "actor" | "method";

/** Options tsray implements, per target. */
export const IMPLEMENTED: Readonly<Record<OptionTarget, ReadonlySet<string>>> = {
  task: new Set(["numCpus", "numGpus", "resources", "maxRetries", "retryExceptions", "schedulingStrategy", "numReturns", "placementGroup", "bundleIndex", "captureChildTasks",
    "generatorBackpressureNumObjects"]),
  actor: new Set([
    "numCpus", "numGpus", "resources", "maxRestarts", "maxTaskRetries", "name", "schedulingStrategy", "maxConcurrency", "placementGroup", "bundleIndex", "captureChildTasks",
    "namespace", "lifetime", "getIfExists", "concurrencyGroups", "maxPendingCalls",
  ]),
  method: new Set(["maxTaskRetries", "numReturns", "generatorBackpressureNumObjects", "concurrencyGroup"]),
};

/** Ray options tsray knows of but does not implement (yet): refused with this reason. */
export const NOT_IMPLEMENTED: Readonly<Record<string, string>> = {
  memory: "memory is not a schedulable resource in tsray: use resources",
  runtimeEnv: "runtime environments are not implemented: remote functions ship as self-contained source",
  acceleratorType: "accelerator types are not implemented: use resources",
  labelSelector: "node labels are not implemented: use resources or a NodeAffinity strategy",
};

/** The options `ray.init` takes; Ray's others are refused by name. */
export const INIT_OPTIONS: ReadonlySet<string> = new Set([
  "numCpus", "numGpus", "resources", "nodes", "storeCapacity", "traceFile", "keepTrace", "prestartWorkers", "address", "config", "ignoreReinitError",
  "namespace", "autoscalingConfig",
]);
export const INIT_NOT_IMPLEMENTED: Readonly<Record<string, string>> = {
  runtimeEnv: "runtime environments are not implemented: remote functions ship as self-contained source",
  objectStoreMemory: "use storeCapacity (bytes per node)",
  logToDriver: "not implemented",
  includeDashboard: "the dashboard belongs to `tsray start`",
};

/** Refuses, by name, the first option `ray.init` does not take. */
export function checkInitOptions(opts: object): void {
  for (const k of Object.keys(opts)) {
    if (INIT_OPTIONS.has(k)) continue;
    const why = INIT_NOT_IMPLEMENTED[k];
    throw new TypeError(why !== undefined ? `ray.init: option "${k}" is not supported: ${why}` : `ray.init: unknown option "${k}" (it takes: ${[...INIT_OPTIONS].join(", ")})`);
  }
}

/** Refuses, by name, an option an API call (ray.get, ray.wait, ray.kill, …) does not take. */
export function checkCallOptions(o: object, takes: readonly string[], name: string): void {
  for (const k of Object.keys(o)) if (!takes.includes(k)) throw new TypeError(`${name}: unknown option "${k}" (it takes: ${takes.join(", ")})`);
}

/** A call's `timeoutMs`: absent (no limit), or a number of milliseconds >= 0 (Ray refuses a negative timeout too). */
export function checkTimeout(ms: unknown, name: string): void {
  if (ms !== undefined && !(typeof ms === "number" && ms >= 0)) throw new TypeError(`${name}: timeoutMs must be a number >= 0, got ${JSON.stringify(ms)}`);
}

const KINDS: Record<OptionTarget, string> = { task: "a remote function", actor: "an actor class", method: "an actor method" };

/** Throws a TypeError naming the first option `o` holds that `target` does not implement. */
export function checkOptionNames(o: RemoteOptions, target: OptionTarget, name: string): void {
  for (const k of Object.keys(o)) {
    if ((o as Record<string, unknown>)[k] === undefined || IMPLEMENTED[target].has(k)) continue;
    const why = NOT_IMPLEMENTED[k];
    if (why !== undefined) throw new TypeError(`${name}: option "${k}" is not supported: ${why}`);
    const elsewhere = (Object.keys(IMPLEMENTED) as OptionTarget[]).filter((t) => IMPLEMENTED[t].has(k));
    if (elsewhere.length > 0) throw new TypeError(`${name}: option "${k}" does not apply to ${KINDS[target]} (only to ${elsewhere.map((t) => KINDS[t]).join(" and ")})`);
    throw new TypeError(`${name}: unknown option "${k}" (${KINDS[target]} takes: ${[...IMPLEMENTED[target]].join(", ")})`);
  }
  const n = o.numReturns as unknown;
  if (n !== undefined && n !== "streaming" && (!Number.isInteger(n) || (n as number) < 1)) {
    throw new TypeError(`${name}: option "numReturns" must be an integer >= 1 or "streaming", got ${JSON.stringify(n)}`);
  }
  const bp = o.generatorBackpressureNumObjects as unknown;
  if (bp !== undefined && bp !== -1 && (!Number.isInteger(bp) || (bp as number) < 1)) {
    throw new TypeError(`${name}: option "generatorBackpressureNumObjects" must be an integer >= 1, or -1 for no limit, got ${JSON.stringify(bp)}`);
  }
  const pending = o.maxPendingCalls as unknown;
  if (pending !== undefined && pending !== -1 && (!Number.isInteger(pending) || (pending as number) < 1)) {
    throw new TypeError(`${name}: option "maxPendingCalls" must be an integer >= 1, or -1 for no limit, got ${JSON.stringify(pending)}`);
  }
  if (o.maxConcurrency !== undefined && (!Number.isInteger(o.maxConcurrency) || o.maxConcurrency < 1)) {
    throw new TypeError(`${name}: maxConcurrency must be an integer >= 1, got ${o.maxConcurrency}`);
  }
  if (o.concurrencyGroup !== undefined && (typeof o.concurrencyGroup !== "string" || o.concurrencyGroup === "")) {
    throw new TypeError(`${name}: concurrencyGroup must be a non-empty string, got ${JSON.stringify(o.concurrencyGroup)}`);
  }
  if (o.name !== undefined && (typeof o.name !== "string" || o.name === "")) throw new TypeError(`${name}: name must be a non-empty string, got ${JSON.stringify(o.name)}`);
  if (o.namespace !== undefined && (typeof o.namespace !== "string" || o.namespace === "")) {
    throw new TypeError(`${name}: namespace must be a non-empty string, got ${JSON.stringify(o.namespace)}`);
  }
  if (o.lifetime !== undefined && o.lifetime !== "detached" && o.lifetime !== "non_detached") {
    throw new TypeError(`${name}: lifetime must be "detached" or "non_detached", got ${JSON.stringify(o.lifetime)}`);
  }
  if (o.getIfExists !== undefined && typeof o.getIfExists !== "boolean") throw new TypeError(`${name}: getIfExists must be a boolean, got ${JSON.stringify(o.getIfExists)}`);
  if (o.getIfExists === true && o.name === undefined) throw new TypeError(`${name}: getIfExists needs a name (the actor to get or create)`);
  const s = o.schedulingStrategy as unknown;
  if (s !== undefined && s !== "DEFAULT" && s !== "SPREAD") {
    const ok = typeof s === "object" && s !== null && typeof (s as { nodeId?: unknown }).nodeId === "string" && typeof (s as { soft?: unknown }).soft === "boolean";
    if (!ok) throw new TypeError(`${name}: schedulingStrategy must be "DEFAULT", "SPREAD" or { nodeId, soft }, got ${JSON.stringify(s)}`);
  }
}

/**
 * How a call streams: a generator function (or a call with numReturns "streaming") gives an
 * ObjectRefGenerator, as in Ray since 2.8; undefined for a plain call.
 */
export function streamingOf(o: RemoteOptions, isGenerator: boolean, name: string): Streaming | undefined {
  const bp = o.generatorBackpressureNumObjects;
  if (!isGenerator && o.numReturns !== "streaming") {
    if (bp !== undefined) throw new TypeError(`${name}: option "generatorBackpressureNumObjects" applies only to generators (numReturns "streaming")`);
    return undefined;
  }
  if (typeof o.numReturns === "number") {
    throw new TypeError(`${name} is a generator: tsray runs generators as streaming generators (numReturns "streaming", Ray's default for them), so numReturns: ${o.numReturns} is not supported`);
  }
  return bp !== undefined && bp > 0 ? { backpressure: bp } : {};
}

/** Ray's default for an async actor's maxConcurrency. */
export const ASYNC_ACTOR_MAX_CONCURRENCY = 1000;

/** A class's methods (its own and inherited, the most derived first), each with its function's kind: "AsyncFunction", "GeneratorFunction", … */
function methodKinds(cls: new (...a: any[]) => unknown): Map<string, string> {
  const out = new Map<string, string>();
  for (let p = cls.prototype; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const k of Object.getOwnPropertyNames(p)) {
      if (k === "constructor" || out.has(k)) continue;
      const d = Object.getOwnPropertyDescriptor(p, k);
      if (typeof d?.value === "function") out.set(k, (d.value as { constructor?: { name?: string } }).constructor?.name ?? "Function");
    }
  }
  return out;
}

/** The methods of a class that are generators (`*m()` or `async *m()`): called remotely, they stream. */
export function generatorMethodsOf(cls: new (...a: any[]) => unknown): string[] {
  return [...methodKinds(cls)].filter(([, kind]) => kind === "GeneratorFunction" || kind === "AsyncGeneratorFunction").map(([k]) => k);
}

/**
 * Whether a class is an async actor: one of its methods is async (an `async` method, or an async
 * generator), as Ray decides for `async def` methods.
 */
export function isAsyncClass(cls: new (...a: any[]) => unknown): boolean {
  for (const kind of methodKinds(cls).values()) if (kind === "AsyncFunction" || kind === "AsyncGeneratorFunction") return true;
  return false;
}

/** The names of a class's methods. */
export function methodNamesOf(cls: new (...a: any[]) => unknown): string[] {
  return [...methodKinds(cls).keys()];
}

/**
 * An actor class's `concurrencyGroups` option, checked: group name → its limit, or
 * `{ maxConcurrency, methods }` to put methods in it by default (Ray's Python API sets those with
 * `@ray.method(concurrency_group=)`, its Java API lists them on the group, as here). A method of
 * no group runs in the default group, whose limit is `maxConcurrency`.
 */
export function concurrencyGroupsOf(o: RemoteOptions, name: string, methods: readonly string[]): ConcurrencyGroup[] | undefined {
  const groups = o.concurrencyGroups as unknown;
  if (groups === undefined) return undefined;
  if (typeof groups !== "object" || groups === null || Array.isArray(groups)) {
    throw new TypeError(`${name}: concurrencyGroups must be an object of group name → maxConcurrency or { maxConcurrency, methods }, got ${JSON.stringify(groups)}`);
  }
  const out: ConcurrencyGroup[] = [];
  const groupOf = new Map<string, string>();
  for (const [g, v] of Object.entries(groups as Record<string, unknown>)) {
    const spec = typeof v === "number" ? { maxConcurrency: v } : v;
    if (typeof spec !== "object" || spec === null) throw new TypeError(`${name}: concurrency group "${g}" must be a number or { maxConcurrency, methods }, got ${JSON.stringify(v)}`);
    const { maxConcurrency: limit, methods: listed = [], ...rest } = spec as { maxConcurrency?: unknown; methods?: unknown };
    const extra = Object.keys(rest);
    if (extra.length > 0) throw new TypeError(`${name}: concurrency group "${g}": unknown field "${extra[0]}" (it takes: maxConcurrency, methods)`);
    if (g === "") throw new TypeError(`${name}: a concurrency group needs a non-empty name`);
    if (!Number.isInteger(limit) || (limit as number) < 1) throw new TypeError(`${name}: concurrency group "${g}": maxConcurrency must be an integer >= 1, got ${JSON.stringify(limit)}`);
    if (!Array.isArray(listed) || listed.some((m) => typeof m !== "string")) throw new TypeError(`${name}: concurrency group "${g}": methods must be an array of method names, got ${JSON.stringify(listed)}`);
    for (const m of listed as string[]) {
      if (!methods.includes(m)) throw new TypeError(`${name}: concurrency group "${g}" lists "${m}", which is not a method of the class`);
      const before = groupOf.get(m);
      if (before !== undefined) throw new TypeError(`${name}: method "${m}" is in two concurrency groups ("${before}" and "${g}")`);
      groupOf.set(m, g);
    }
    out.push({ name: g, maxConcurrency: limit as number, methods: listed as string[] });
  }
  return out;
}
