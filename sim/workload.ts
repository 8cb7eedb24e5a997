// Workloads as data: a small language of Ray programs (task graphs with fan-out and chains,
// nested tasks, actors with per-caller call sequences, puts, frees) that fast-check can generate
// and shrink, and an interpreter that runs one as a program. A failing case is then plain JSON:
// a workload, a fault plan and a seed, which `tsray sim --replay` runs again exactly.

import type { NodeInfo, Ray, RuntimeContext } from "../src/api/ray.ts";
import type { ActorHandle, ObjectRef } from "../src/api/handles.ts";
import type { ObjectRefGenerator } from "../src/api/generator.ts";
import type { PlacementStrategy } from "../src/core/types.ts";
import type { SimHost } from "./simulate.ts";

/** An argument: a literal number, or the ref made by an earlier step. */
export type Val = { readonly lit: number } | { readonly ref: number };

export type Step =
  /**
   * A task of `fn` (`boom` throws for some arguments: an application error), pinned softly to
   * `node` or spread, retried on its own exceptions with `retryExceptions`, demanding `numCpus`
   * (absent: 1).
   */
  | {
    readonly op: "task"; readonly fn: "add" | "scale" | "big" | "slow" | "boom"; readonly args: readonly Val[]; readonly maxRetries: number; readonly node?: string;
    readonly spread?: true; readonly retryExceptions?: true; readonly numCpus?: number;
  }
  /** A task that submits a child task itself and returns the child's value. */
  | { readonly op: "nested"; readonly args: readonly Val[] }
  | { readonly op: "put"; readonly big: boolean; readonly v: number }
  /**
   * An Acc actor; with `ref`, its constructor keeps step `ref`'s ref (inside a value), as `keep`
   * does; with `direct` too, it takes the ref itself, whose value its owner waits for before it
   * registers the actor (a handle passed on meanwhile follows an actor the GCS does not know yet),
   * and keeps nothing.
   */
  | { readonly op: "actor"; readonly maxRestarts: number; readonly maxTaskRetries: number; readonly node?: string; readonly ref?: number; readonly direct?: true }
  /**
   * A call on the actor made by step `actor`, passing `v`; with `ref`, step `ref`'s ref instead
   * (the call waits for it; `v` if that step made no ref).
   */
  | {
    readonly op: "call"; readonly actor: number; readonly v: number; readonly ref?: number;
    /**
     * Through the method's options: `addPair`, with two returns (the step keeps the first); a retry
     * budget of the call's own; `io`: in the actor's "io" concurrency group (an async actor made with `groups`).
     */
    readonly pair?: true; readonly maxTaskRetries?: number; readonly io?: true;
  }
  | { readonly op: "get"; readonly ref: number }
  /**
   * `ray.wait` on the refs of steps `refs` (those still held) for `numReturns` of them, within
   * `timeoutMs` if set. The program checks Ray's contract: each ref once, in the ready list or the
   * other, in the order given; at most `numReturns` ready, exactly that many without a timeout.
   * `fetchLocal: false`: ready once they exist anywhere (by default, once copied to the driver's node).
   */
  | { readonly op: "wait"; readonly refs: readonly number[]; readonly numReturns: number; readonly timeoutMs?: number; readonly fetchLocal?: false }
  /** `ray.get` of step `ref`'s ref within `timeoutMs`: its value, its error, or GetTimeoutError. */
  | { readonly op: "get-timeout"; readonly ref: number; readonly timeoutMs: number }
  /**
   * `ray.nodes()`, `ray.clusterResources()`, `ray.availableResources()` and
   * `ray.getRuntimeContext()`, checked for what holds whatever the faults did (see introspectProblem).
   */
  | { readonly op: "introspect" }
  | { readonly op: "free"; readonly ref: number }
  | { readonly op: "sleep"; readonly ms: number }
  /**
   * Acc's methods are async, so an actor overlaps its calls (Ray's async actor): up to
   * `maxConcurrency` at once (absent: Ray's default, 1000; 1: one at a time). `groups`: with a
   * concurrency group "io" (one call at a time) that `keep`, `readKept` and `ownBox` run in, and `call`s marked `io`.
   */
  | { readonly op: "async-actor"; readonly maxConcurrency?: number; readonly maxRestarts: number; readonly groups?: true }
  /**
   * `ray.kill` of the actor made by step `actor` (`noRestart` false: it restarts within its
   * budget). `callAfter`: then at once a call on it, whose ref is the step's (ActorDiedError after
   * a kill for good: the caller sends it nothing).
   */
  | { readonly op: "kill"; readonly actor: number; readonly noRestart: boolean; readonly callAfter?: true }
  /**
   * A call on the actor made by step `actor` whose method calls ray.exitActor() (`terminate`: its
   * handle's `__ray_terminate__`): the actor ends for good (the call's ref holds ActorDiedError).
   */
  | { readonly op: "exit"; readonly actor: number; readonly terminate?: true }
  /** A put of a value holding step `ref`'s ref (inline, or `big`: in a store). */
  | { readonly op: "box"; readonly ref: number; readonly big: boolean }
  /**
   * A task that gets step `ref`'s ref inside an argument and returns it inside its value (small or
   * `big`): a borrower passing it on. With `fanout`, the task hands the box to two children of its
   * own without waiting for them (each reads the value, then returns the ref in a box) and returns
   * the first child's answer: its borrow stays pending on its children after it ends, and it drops
   * the second child's ref unread (that child still holds the borrowed ref until it ends). With
   * `viaPut`, the task puts the box itself and returns the put's ref inside its value: an object
   * its worker owns holds the borrowed ref after the task ends.
   */
  | { readonly op: "rebox"; readonly ref: number; readonly big: boolean; readonly fanout?: true; readonly viaPut?: true }
  /** Hands step `ref`'s ref (inside a value) to the actor made by step `actor`, which keeps it. */
  | { readonly op: "keep"; readonly actor: number; readonly ref: number }
  /** The actor made by step `actor` reads the ref it kept last (-1 if none). */
  | { readonly op: "kept"; readonly actor: number }
  /** Drops step `ref`'s ref without reading it. */
  | { readonly op: "drop"; readonly ref: number }
  /**
   * A placement group of one { CPU: 1 } bundle: two slow tasks run in it (one at a time: the
   * bundle has room for one), then the group is removed. Its ref is the second task's. With
   * `ready`, the program first waits for the group's ready ref.
   */
  | { readonly op: "pg"; readonly strategy: PlacementStrategy; readonly v: number; readonly ready?: true }
  /**
   * A placement group of one { CPU: 1 } bundle and a task in it that captures its children
   * (captureChildTasks): it runs a child that names no strategy, which runs a grandchild (a task,
   * or with `actor` an actor it calls once and kills), all in the group; then the group is
   * removed. Its ref is the task's: v + 1 (or v, through the actor).
   */
  | { readonly op: "pg-capture"; readonly strategy: PlacementStrategy; readonly v: number; readonly actor: boolean }
  /**
   * A placement group of one { CPU: 1 } bundle with an Acc made in it before it is reserved (the
   * actor waits for the group), then two slow tasks in it; the group is removed soon after, while
   * the first runs and the second waits for the bundle: they fail with TaskPlacementGroupRemoved
   * (or end first), and the actor dies. Its ref is the actor's answer to add(v), read before.
   */
  | { readonly op: "pg-removed"; readonly strategy: PlacementStrategy; readonly v: number }
  /**
   * A maker actor creates an Acc named `name` in namespace `ns` (detached or not; a taken name is
   * refused, or with `getIfExists` found), and is then killed: a detached actor outlives it, a
   * non-detached one dies with it. `byDriver`: the driver creates it itself (and awaits it).
   */
  | { readonly op: "named"; readonly name: string; readonly ns: string; readonly detached: boolean; readonly byDriver?: true; readonly getIfExists?: true }
  /**
   * `ray.listNamedActors()`, in every namespace and in the driver's, checked for what holds in any
   * snapshot: each entry once, in order, only names the workload's `named` steps give, and none in
   * the driver's own (anonymous) namespace.
   */
  | { readonly op: "named-list" }
  /** `ray.getActor(name, { namespace: ns })` and a call on what it finds (nothing found: no ref). */
  | { readonly op: "named-call"; readonly name: string; readonly ns: string; readonly v: number }
  /**
   * `ray.cancel` of the task that made step `ref`'s ref (a no-op for a put, or a task already
   * done); `force` kills its worker if it runs (never asked of an actor call: Ray refuses that).
   */
  | { readonly op: "cancel"; readonly ref: number; readonly force: boolean }
  /** A task with numReturns 2 (returning the sum and the product of its args): the step keeps ref `keep` and drops the other. */
  | { readonly op: "returns"; readonly args: readonly Val[]; readonly keep: 0 | 1 }
  /**
   * A streaming generator task yielding `n` values (slowly, so faults land mid-stream; `big`:
   * values over the inline limit, in stores), with back-pressure `backpressure` if set. The
   * program takes its items as they come (only the first `take`; and
   * `readMs` after each, a slow reader the task may run ahead of), and observes a number summing
   * them up in order; its ref is the last item taken. It drops the generator however the reading ended.
   * `node`: the task prefers that node; `holdMs`: the program takes every item's ref first, and
   * reads them only after holding them unread that long (so a fault may lose them meanwhile).
   */
  | {
    readonly op: "stream"; readonly args: readonly Val[]; readonly n: number; readonly maxRetries: number; readonly backpressure?: number; readonly big: boolean;
    readonly take?: number; readonly readMs?: number; readonly node?: string; readonly holdMs?: number;
  }
  /**
   * A task (retry budget `maxRetries`, preferring `node`) that streams a generator of its own
   * yielding `n` values and returns a number summing them up in order, as the program does for
   * `stream`. While it waits for an item it lends its CPU back, so the generator can run even
   * where the reader took the last CPU.
   */
  | { readonly op: "stream-task"; readonly args: readonly Val[]; readonly n: number; readonly maxRetries: number; readonly node?: string }
  /**
   * A box whose ref the worker that made it owns: a task (or, with `actor`, that step's actor)
   * puts `v` (small, or `big`: in a store) and returns the ref inside a value, so the program
   * borrows an object another process owns. Its owner's death (a killed actor, a node fault)
   * makes reads of it fail with OwnerDiedError.
   */
  | { readonly op: "own-box"; readonly v: number; readonly big: boolean; readonly actor?: number }
  /**
   * The program reads step `ref`'s box and passes its inner ref (borrowed from whoever made it)
   * to an `add` task as a top-level argument. With `read`, it reads the inner value first and
   * passes the ref on 300 ms later: it holds the owner's answer of where the value is, which a
   * fault in between may outdate. With `holdMs` (long enough for a node's death to be known
   * meanwhile), a first `add` task reads it instead, and the second comes `holdMs` after.
   */
  | { readonly op: "unbox"; readonly ref: number; readonly read: boolean; readonly holdMs?: number }
  /**
   * A parent that owns what its child borrows: a task (or, with `actor`, that step's actor) puts
   * `v` (small, or `big`: in a store) and passes the ref inside a value to a child task of its
   * own, which reads it (v + 1; an array: its first value plus its length). The parent returns the
   * child's value, or with `lend` a box holding the child's ref: the program then borrows an
   * object the parent owns and the child made. `bigChild`: the child answers with an array over
   * the inline limit, stored where the child ran, which may be away from its owner, the parent.
   */
  | { readonly op: "spawn"; readonly v: number; readonly big: boolean; readonly lend: boolean; readonly actor?: number; readonly bigChild?: true }
  /**
   * A task creates an actor of its own (preferring `node`; its worker owns it, off the head
   * wherever the task runs elsewhere), calls its `fill(v, big)`, waits until the answer exists
   * (anywhere), kills the actor and returns the answer's ref in a box: the program borrows an
   * object a task's worker owns, stored (when `big`) on the actor's node. `afterMs`: the task
   * works that long before it creates the actor, so that a fault may catch it running.
   */
  | { readonly op: "task-actor"; readonly v: number; readonly big: boolean; readonly node?: string; readonly afterMs?: number }
  /**
   * The program streams the generator method `items(n, big, v)` of the actor made by step
   * `actor` (with back-pressure `backpressure` if set; only the first `take` items), as `stream`
   * does. `inTask`: a task handed the actor's handle streams it instead (the task's worker owns
   * the stream) and returns the same summary.
   */
  | {
    readonly op: "actor-stream"; readonly actor: number; readonly n: number; readonly big: boolean; readonly v: number;
    readonly backpressure?: number; readonly take?: number; readonly inTask?: true;
  }
  /**
   * A task handed the handle of the actor made by step `actor` calls it itself (a caller other
   * than the actor's owner): the actor puts `v` and returns its ref in a box, which the task
   * reads (a borrow of what the actor owns) and returns: `v`.
   */
  | { readonly op: "handle-call"; readonly actor: number; readonly v: number }
  /**
   * The program releases its handle to the actor made by step `actor` and makes no more calls to
   * it: the actor ends once no call, task or actor that was handed the handle still uses it.
   */
  | { readonly op: "drop-actor"; readonly actor: number }
  /**
   * One actor calls another: the actor made by step `actor` is handed the handle of the earlier
   * one made by step `to`, puts `v` (small, or `big`: in a store) and hands its ref inside a value
   * to that actor's `keep`, then returns what `to` reads of it (`to`'s later `kept` reads it too:
   * an object an actor owns, borrowed by another actor). The program waits for it before the
   * next step, so `to`'s keeps stay in program order. The generator makes calls go only to
   * earlier actors: no cycle of actors waiting on each other.
   */
  | { readonly op: "relay"; readonly actor: number; readonly to: number; readonly v: number; readonly big: boolean }
  /**
   * A second job: the program runs a task on `node` (preferred) that leaves a mark in its
   * worker's globals, then another driver (the host's runJob) runs one there that looks for a
   * mark of another job's. It must find none: a worker serves one job (as in Ray). Observed: 0.
   */
  | { readonly op: "job"; readonly node: string };

export interface Workload {
  readonly steps: readonly Step[];
}

/** What the program saw: per step that made a ref, its value (a number) or "ErrorName: message". */
export type Observed = Record<number, number | string>;

/** Over the inline limit, so these values live in object stores and can be lost with a node. */
export const BIG_LEN = 16_384;

// The remote functions: self-contained (they are shipped as source), deterministic.
const add = (a: unknown, b: unknown) => {
  const n = (x: unknown) => (typeof x === "number" ? x : !ArrayBuffer.isView(x) ? 1 : (x as Float64Array)[0] + (x as Float64Array).length);
  return n(a) + n(b);
};
const scale = (a: unknown, b: unknown) => {
  const n = (x: unknown) => (typeof x === "number" ? x : !ArrayBuffer.isView(x) ? 1 : (x as Float64Array)[0] + (x as Float64Array).length);
  return n(a) * 3 - n(b);
};
/** Takes a while (virtual time), so faults land while it runs. */
const slow = async (a: unknown, b: unknown) => {
  const n = (x: unknown) => (typeof x === "number" ? x : !ArrayBuffer.isView(x) ? 1 : (x as Float64Array)[0] + (x as Float64Array).length);
  await ray.sleep(50 + (Math.abs(n(b)) % 10) * 150);
  return n(a) + 1;
};
/** Throws for some arguments (a sum that is a multiple of 3), the same way on every attempt. */
const boom = (a: unknown, b: unknown) => {
  const n = (x: unknown) => (typeof x === "number" ? x : !ArrayBuffer.isView(x) ? 1 : (x as Float64Array)[0] + (x as Float64Array).length);
  const v = n(a) + n(b);
  if (v % 3 === 0) throw new RangeError(`boom ${v}`);
  return v;
};
const sumAndProduct = (a: unknown, b: unknown) => {
  const n = (x: unknown) => (typeof x === "number" ? x : !ArrayBuffer.isView(x) ? 1 : (x as Float64Array)[0] + (x as Float64Array).length);
  return [n(a) + n(b), n(a) * n(b)];
};
/** Yields `n` values after a pause each: a generator task the program streams. */
async function* streamItems(n: number, big: boolean, a: unknown, b: unknown) {
  const num = (x: unknown) => (typeof x === "number" ? x : !ArrayBuffer.isView(x) ? 1 : (x as Float64Array)[0] + (x as Float64Array).length);
  const base = num(a) + 2 * num(b);
  for (let i = 0; i < n; i++) {
    await ray.sleep(30 + (Math.abs(base + i) % 5) * 40);
    yield big ? new Float64Array(16_384).fill(base + i) : base + i;
  }
}
/** Streams `gen` (streamItems) from inside a task: the count and the in-order sum of its items, as the program's `stream` step observes them. */
const readStream = async (gen: { remote(...a: unknown[]): AsyncIterable<unknown> }, n: number, a: unknown, b: unknown) => {
  let sum = 0, count = 0;
  for await (const ref of gen.remote(n, false, a, b)) {
    sum = (sum * 7 + (await ray.get(ref as never) as number)) % 1_000_003;
    count++;
  }
  return count * 10_000_000 + sum;
};
const big = (a: unknown) => new Float64Array(16_384).fill(typeof a === "number" ? a : !ArrayBuffer.isView(a) ? 1 : (a as Float64Array)[0] + 1);
const rebox = (box: { r: unknown }, big: boolean) => ({ r: box.r, pad: big ? new Float64Array(16_384) : 0 });
/** The `rebox` task with `viaPut`: the box it returns holds the ref of a put of its own, which holds the borrowed ref. */
const putBox = async (box: { r: unknown }, big: boolean) => ({ r: await ray.put({ r: box.r }), pad: big ? new Float64Array(16_384) : 0 });
/** A `rebox` that reads the value first: a fanned-out child (`rebox` with `fanout`). */
const readRebox = async (box: { r: unknown }, big: boolean) => {
  await ray.get(box.r as never);
  return { r: box.r, pad: big ? new Float64Array(16_384) : 0 };
};
/** The `rebox` task with `fanout`: two children borrow through it, and it answers with the first's box unread. */
const fanOut = (child: { remote(b: unknown, big: boolean): unknown }, box: { r: unknown }, big: boolean) => {
  const first = child.remote(box, big);
  child.remote(box, false);
  return { r: first, pad: 0 };
};
const ownBox = async (v: number, big: boolean) => ({ r: await ray.put(big ? new Float64Array(16_384).fill(v) : v), pad: 0 });
const nested = async (f: { remote(a: unknown, b: unknown): unknown }, a: unknown, b: unknown) => ray.get(f.remote(a, b) as never);
/** The `handle-call` step's task: a caller of its own of the actor it is handed. */
const callVia = async (a: { ownBox: { remote(v: number, big: boolean): unknown } }, v: number) => {
  const box = await ray.get(a.ownBox.remote(v, false) as never) as { r: unknown };
  return ray.get(box.r as never);
};
/** A child that reads the ref its parent lent it inside a value; `big`: answers with an array of that, in a store. */
const readBox = async (box: { r: unknown }, big?: boolean) => {
  const x: unknown = await ray.get(box.r as never);
  const v = typeof x === "number" ? x + 1 : (x as Float64Array)[0] + (x as Float64Array).length;
  return big === true ? new Float64Array(16_384).fill(v) : v;
};
/** The `spawn` step's parent (a task here; Acc.spawn in an actor). */
const spawnChild = async (child: { remote(b: unknown, big?: boolean): unknown }, v: number, big: boolean, lend: boolean, bigChild?: boolean) => {
  const box = { r: await ray.put(big ? new Float64Array(16_384).fill(v) : v) };
  // Without `bigChild`, the child's arguments are as before it existed: saved cases replay alike.
  const c = bigChild === true ? child.remote(box, true) : child.remote(box);
  return lend ? { r: c, pad: 0 } : ray.get(c as never);
};
/** The `task-actor` step's task: an actor of its own, whose answer it lends the program in a box. */
const actorBox = async (A: { options(o: object): { remote(): unknown } }, v: number, big: boolean, afterMs: number, node?: string) => {
  if (afterMs > 0) await ray.sleep(afterMs);
  const a = A.options(node === undefined ? {} : { schedulingStrategy: { nodeId: node, soft: true } }).remote() as { fill: { remote(v: number, big: boolean): unknown } };
  const r = a.fill.remote(v, big);
  // Anywhere: a copy on this task's node would make the object's only store its owner's.
  await ray.wait([r as never], { fetchLocal: false });
  ray.kill(a as never);
  return { r, pad: 0 };
};
/** The `actor-stream` step in a task: the count and in-order sum of the actor's items, as the program observes them. */
const readActorStream = async (
  a: { items: { options(o: object): { remote(n: number, big: boolean, v: number): AsyncIterable<unknown> } } }, n: number, big: boolean, v: number, backpressure: number, take: number,
) => {
  let sum = 0, count = 0;
  const gen = a.items.options(backpressure > 0 ? { generatorBackpressureNumObjects: backpressure } : {}).remote(n, big, v);
  for await (const ref of gen) {
    if (count === take) break;
    const x: unknown = await ray.get(ref as never);
    sum = (sum * 7 + (typeof x === "number" ? x : (x as Float64Array)[0] * 1e6 + (x as Float64Array).length)) % 1_000_003;
    count++;
  }
  return count * 10_000_000 + sum;
};
/** The `job` step's task: leaves job `job`'s mark in its worker's globals; 1 if another job's was there. */
const markWorker = (job: number) => {
  const g = globalThis as { tsrayJobMark?: number };
  const before = g.tsrayJobMark;
  g.tsrayJobMark = job;
  return before === undefined || before === job ? 0 : 1;
};
/** Creates an actor of class `A` (naming no strategy), calls it once with `v` and kills it. */
const viaActor = async (A: { remote(): unknown }, v: unknown) => {
  const a = A.remote() as { add: { remote(v: unknown): unknown } };
  try { return await ray.get(a.add.remote(v) as never); } finally { ray.kill(a as never); }
};
declare const ray: Ray; // injected into remote functions' scope by the worker
class Acc {
  total = 0;
  kept: unknown = undefined;
  /**
   * A restart runs this again: the ref it kept from its arguments is kept again. A ref passed
   * itself (`direct`) arrives as its value: a box's ref is kept, anything else is not.
   */
  constructor(box?: unknown) {
    if (typeof box === "object" && box !== null && "r" in box) this.kept = box.r;
  }
  keep(box: { r: unknown }) {
    this.kept = box.r;
    return 0;
  }
  async readKept() {
    if (this.kept === undefined) return -1;
    let v: unknown = await ray.get(this.kept as never);
    while (typeof v === "object" && v !== null && !ArrayBuffer.isView(v)) v = await ray.get((v as { r: never }).r);
    return typeof v === "number" ? v : (v as Float64Array)[0] * 1e6 + (v as Float64Array).length;
  }
  async add(v: unknown) {
    // A ref's value may be an array or a box (a value holding a ref): it counts as its length, or 1.
    this.total += typeof v === "number" ? v : ArrayBuffer.isView(v) ? (v as Float64Array).length : 1;
    const seen = this.total;
    await ray.sleep(10);
    return seen;
  }
  /** `ownBox` in the actor: the actor's worker owns the ref. */
  async ownBox(v: number, big: boolean) {
    return { r: await ray.put(big ? new Float64Array(16_384).fill(v) : v), pad: 0 };
  }
  /** `spawnChild` in the actor: the actor's worker owns the put and the child's result. */
  async spawn(child: { remote(b: unknown, big?: boolean): unknown }, v: number, big: boolean, lend: boolean, bigChild?: boolean) {
    const box = { r: await ray.put(big ? new Float64Array(16_384).fill(v) : v) };
    const c = bigChild === true ? child.remote(box, true) : child.remote(box);
    return lend ? { r: c, pad: 0 } : ray.get(c as never);
  }
  /** The `relay` step: lends a ref this actor owns to actor `to`, which keeps it, and answers what `to` reads of it. */
  async relay(to: { keep: { remote(b: unknown): unknown }; readKept: { remote(): unknown } }, v: number, big: boolean) {
    const r = await ray.put(big ? new Float64Array(16_384).fill(v) : v);
    await ray.get(to.keep.remote({ r }) as never);
    return ray.get(to.readKept.remote() as never);
  }
  /** The `task-actor` step's call: `v`, or (`big`) an array of it, stored in the actor's node's store. */
  fill(v: number, big: boolean) {
    return big ? new Float64Array(16_384).fill(v) : v;
  }
  /** The `actor-stream` step's generator: `n` items after a pause each; the actor's state plays no part in them. */
  async *items(n: number, big: boolean, v: number) {
    for (let i = 0; i < n; i++) {
      await ray.sleep(30 + ((v + i) % 5) * 40);
      yield big ? new Float64Array(16_384).fill(v + i) : v + i;
    }
  }
  /** The `exit` step: the actor ends itself. */
  exit(): number {
    ray.exitActor();
  }
  /** As `add`, with two returns (called with numReturns: 2). */
  async addPair(v: unknown) {
    const seen = await this.add(v);
    return [seen, -seen];
  }
}

/**
 * The `groups` actors' concurrency group: what they keep, their reads of it and their puts run one
 * at a time, beside their other calls. `keep` with `readKept`: in two groups, a `keep` could start
 * before an earlier `kept` and hand it its own ref to wait for (a deadlock, in Ray too).
 */
const IO_GROUP = { io: { maxConcurrency: 1, methods: ["keep", "readKept", "ownBox"] } };

/** Creates a named actor for the driver, then is killed: the named actor's owner dies. */
class Maker {
  async make(cls: { options(o: object): { remote(): PromiseLike<unknown> } }, name: string, namespace: string, detached: boolean, getIfExists?: boolean) {
    try {
      await cls.options({ name, namespace, lifetime: detached ? "detached" : "non_detached", ...(getIfExists ? { getIfExists } : {}) }).remote();
      return 1;
    } catch (e) {
      if ((e as Error).name === "ValueError") return 0; // the name is taken in that namespace
      throw e;
    }
  }
}

const summary = (v: unknown): number => (typeof v === "number" ? v : (v as Float64Array)[0] * 1e6 + (v as Float64Array).length);
/** A value that holds a ref (a box, a rebox's result): what it stands for is the ref's value. */
const isBox = (v: unknown): v is { r: ObjectRef } => typeof v === "object" && v !== null && !ArrayBuffer.isView(v) && "r" in v;

/** What breaks ray.wait's contract in its answer (undefined: nothing). */
function waitProblem(refs: readonly ObjectRef[], ready: readonly ObjectRef[], rest: readonly ObjectRef[], k: number, timed: boolean): string | undefined {
  if (ready.length > k) return `returned ${ready.length} ready refs`;
  if (!timed && ready.length !== k) return `returned ${ready.length} ready refs without a timeout`;
  const inOrder = (part: readonly ObjectRef[]) => part.every((r, j) => j === 0 || refs.indexOf(part[j - 1]) < refs.indexOf(r));
  const both = new Set([...ready, ...rest]);
  if (ready.length + rest.length !== refs.length || both.size !== refs.length || !refs.every((r) => both.has(r))) return "did not split its refs into the two lists";
  if (!inOrder(ready) || !inOrder(rest)) return "did not keep the order the refs were given in";
  return undefined;
}

/**
 * What is wrong with what the program learnt of the cluster (undefined: nothing). Each answer is
 * its own snapshot, taken while nodes may die or join, so only what holds in any one is checked.
 */
function introspectProblem(nodes: readonly NodeInfo[], total: Record<string, number>, free: Record<string, number>, ctx: RuntimeContext, here: Ray["context"]): string | undefined {
  if (new Set(nodes.map((n) => n.nodeId)).size !== nodes.length) return `ray.nodes() named a node twice: ${nodes.map((n) => n.nodeId).join(", ")}`;
  if (!nodes.some((n) => n.nodeId === here.nodeId)) return `ray.nodes() left out the driver's own node ${here.nodeId}`;
  for (const [what, rs] of [["clusterResources", total], ["availableResources", free]] as const) {
    for (const [k, v] of Object.entries(rs)) if (!(Number.isFinite(v) && v >= 0)) return `ray.${what}() gave ${k} = ${v}`;
  }
  if (ctx.nodeId !== here.nodeId || ctx.workerId !== here.workerId) return `ray.getRuntimeContext() placed the driver at ${ctx.nodeId}/${ctx.workerId}, not ${here.nodeId}/${here.workerId}`;
  if (ctx.taskId !== undefined || ctx.actorId !== undefined) return `ray.getRuntimeContext() gave the driver a task (${ctx.taskId}) or an actor (${ctx.actorId})`;
  return undefined;
}

/** What is wrong with what ray.listNamedActors answered (undefined: nothing); `named`: the `namespace/name` of the workload's named steps. */
function namedListProblem(all: readonly { name: string; namespace: string }[], mine: readonly string[], named: ReadonlySet<string>): string | undefined {
  for (let j = 0; j < all.length; j++) {
    const e = all[j], prev = all[j - 1];
    if (!named.has(`${e.namespace}/${e.name}`)) return `ray.listNamedActors listed ${e.namespace}/${e.name}, which no step named`;
    if (prev !== undefined && (prev.namespace > e.namespace || (prev.namespace === e.namespace && prev.name >= e.name))) return `ray.listNamedActors listed ${prev.namespace}/${prev.name} before ${e.namespace}/${e.name}`;
  }
  // The driver's namespace is its own anonymous one, where no step names an actor.
  if (mine.length > 0) return `ray.listNamedActors() found ${mine.join(", ")} in the driver's namespace`;
  return undefined;
}

/** A step whose ref an actor call makes. */
export const isActorCall = (s: Step): boolean =>
  s.op === "call" || s.op === "keep" || s.op === "kept" || s.op === "named-call" || s.op === "relay" || s.op === "exit" || (s.op === "kill" && s.callAfter === true) || ((s.op === "own-box" || s.op === "spawn") && s.actor !== undefined)
  || (s.op === "actor-stream" && s.inTask !== true) || s.op === "pg-removed";

/** Turns a workload into a program for `simulate`. */
/**
 * `keep`: where a run records each step's outcome, so a caller has what a killed driver saw (one
 * run only). `host`: what runs a `job` step's second driver (a host without one refuses the step).
 */
export function workloadProgram(w: Workload, keep?: Observed): (ray: Ray, host?: SimHost) => Promise<Observed> {
  return (ray, host) => runWorkload(ray, w, keep, host);
}

/**
 * The program's body: a function of the module, not a closure made per workload, because V8
 * keeps a closure's optimised code only while one of its closures lives; each scenario's program
 * would be compiled again, on a thread competing with the other explorations.
 */
async function runWorkload(ray: Ray, w: Workload, keep: Observed | undefined, host: SimHost | undefined): Promise<Observed> {
  const observed: Observed = keep ?? {};
  const fns = { add: ray.remote(add), scale: ray.remote(scale), big: ray.remote(big), slow: ray.remote(slow), boom: ray.remote(boom) };
  const nest = ray.remote(nested);
  const viaActorR = ray.remote(viaActor);
  const pair = ray.remote(sumAndProduct, { numReturns: 2 });
  const streamR = ray.remote(streamItems);
  const readStreamR = ray.remote(readStream);
  const reboxR = ray.remote(rebox);
  const putBoxR = ray.remote(putBox);
  const readReboxR = ray.remote(readRebox);
  const fanOutR = ray.remote(fanOut);
  const ownBoxR = ray.remote(ownBox);
  const readBoxR = ray.remote(readBox);
  const spawnR = ray.remote(spawnChild);
  const callViaR = ray.remote(callVia);
  const actorBoxR = ray.remote(actorBox);
  const readActorStreamR = ray.remote(readActorStream);
  const AccR = ray.remote(Acc);
  const MakerR = ray.remote(Maker);
  const markR = ray.remote(markWorker);
  const refs = new Map<number, ObjectRef>();
  const actors = new Map<number, ActorHandle<Acc>>();
  const arg = (v: Val): unknown => ("lit" in v ? v.lit : refs.get(v.ref) ?? 0);
  const settle = async (i: number) => {
    const r = refs.get(i);
    if (!r || i in observed) return;
    try {
      let v = await ray.get(r);
      while (isBox(v)) v = await ray.get(v.r); // a box of a box: what the innermost ref holds
      observed[i] = summary(v);
    } catch (e) { observed[i] = `${(e as Error).name}: ${(e as Error).message}`; }
  };
  /**
   * Takes a generator's items as they come (only the first `take`; `readMs` after each; or, with
   * `holdMs`, every item's ref first, read after holding them unread that long) and observes
   * their count and in-order sum for step `i`, whose ref is the last item taken. The generator
   * is dropped however the reading ended (Python drops it leaving the scope): one left held but
   * unread keeps its back-pressured task, and its CPU, for ever.
   */
  const readStreamInto = async (i: number, gen: ObjectRefGenerator<unknown>, o: { readonly take?: number; readonly readMs?: number; readonly holdMs?: number }) => {
    // Items in order, each once: a lost, repeated or reordered item changes the sum.
    let sum = 0, count = 0;
    const read = async (ref: ObjectRef) => {
      sum = (sum * 7 + summary(await ray.get(ref))) % 1_000_003;
      count++;
    };
    const held: ObjectRef[] = [];
    try {
      for (let k = 0; k < (o.take ?? Infinity); k++) {
        const r = await gen.next();
        if (r.done) break;
        refs.set(i, r.value); // an error item too: what uses it fails as it does
        if (o.holdMs !== undefined) { held.push(r.value); continue; }
        await read(r.value);
        if (o.readMs !== undefined) await ray.sleep(o.readMs);
      }
      // Unread items have their only copies where the task stored them (a read copies them to the reader's node).
      if (o.holdMs !== undefined) await ray.sleep(o.holdMs);
      for (const ref of held) await read(ref);
      observed[i] = count * 10_000_000 + sum;
    } catch (e) { observed[i] = `${(e as Error).name}: ${(e as Error).message}`; }
    ray.release(gen);
  };
  for (let i = 0; i < w.steps.length; i++) {
    const s = w.steps[i];
    switch (s.op) {
      case "task": {
        const f = fns[s.fn].options({
          maxRetries: s.maxRetries, schedulingStrategy: s.node ? { nodeId: s.node, soft: true } : s.spread ? "SPREAD" : "DEFAULT",
          ...(s.retryExceptions ? { retryExceptions: true } : {}), ...(s.numCpus === undefined ? {} : { numCpus: s.numCpus }),
        });
        refs.set(i, (f.remote as (...a: unknown[]) => ObjectRef)(...s.args.map(arg)));
        break;
      }
      case "nested":
        refs.set(i, (nest.remote as (...a: unknown[]) => ObjectRef)(fns.add, ...s.args.map(arg)));
        break;
      case "put":
        // A store that refuses for longer than the put may wait fails it: observed, not thrown.
        try { refs.set(i, await ray.put(s.big ? new Float64Array(BIG_LEN).fill(s.v) : s.v)); } catch (e) { observed[i] = `${(e as Error).name}: ${(e as Error).message}`; }
        break;
      case "actor": {
        const r = s.ref === undefined ? undefined : refs.get(s.ref);
        const A = AccR.options({
          maxRestarts: s.maxRestarts, maxTaskRetries: s.maxTaskRetries,
          schedulingStrategy: s.node ? { nodeId: s.node, soft: true } : "DEFAULT",
        });
        actors.set(i, r === undefined ? A.remote() : A.remote(s.direct ? r : { r }));
        break;
      }
      case "call": {
        const a = actors.get(s.actor);
        if (!a) break;
        const v = s.ref === undefined ? s.v : refs.get(s.ref) ?? s.v;
        if (s.pair === undefined && s.maxTaskRetries === undefined && s.io === undefined) {
          refs.set(i, (a.add.remote as (v: unknown) => ObjectRef)(v));
          break;
        }
        const m = (s.pair ? a.addPair : a.add).options({
          ...(s.pair ? { numReturns: 2 } : {}), ...(s.maxTaskRetries === undefined ? {} : { maxTaskRetries: s.maxTaskRetries }), ...(s.io ? { concurrencyGroup: "io" } : {}),
        });
        const out = (m.remote as (v: unknown) => ObjectRef | ObjectRef[])(v);
        if (!Array.isArray(out)) refs.set(i, out);
        else { refs.set(i, out[0]); ray.release(out[1]); }
        break;
      }
      case "get":
        await settle(s.ref);
        break;
      case "wait": {
        const held = s.refs.flatMap((j) => refs.get(j) ?? []);
        if (held.length === 0) break;
        const k = Math.min(s.numReturns, held.length);
        const [ready, rest] = await ray.wait(held, { numReturns: k, ...(s.timeoutMs === undefined ? {} : { timeoutMs: s.timeoutMs }), ...(s.fetchLocal === false ? { fetchLocal: false } : {}) });
        const problem = waitProblem(held, ready, rest, k, s.timeoutMs !== undefined);
        if (problem !== undefined) throw new Error(`step ${i}: ray.wait(${held.length} refs, numReturns ${k}${s.timeoutMs === undefined ? "" : `, timeoutMs ${s.timeoutMs}`}) ${problem}`);
        break;
      }
      case "introspect": {
        const [nodes, total, free] = await Promise.all([ray.nodes(), ray.clusterResources(), ray.availableResources()]);
        const problem = introspectProblem(nodes, total, free, ray.getRuntimeContext(), ray.context);
        if (problem !== undefined) throw new Error(`step ${i}: ${problem}`);
        break;
      }
      case "get-timeout": {
        const r = refs.get(s.ref);
        // The value (or error) is observed by the step that made the ref; whether it came in time
        // depends on timing. Here: that a timed get ends, and leaves no waiter or hold behind
        // (the liveness and reference checkers judge the trace).
        if (r) await ray.get(r, { timeoutMs: s.timeoutMs }).catch(() => undefined);
        break;
      }
      case "free": {
        const r = refs.get(s.ref);
        if (r) { await settle(s.ref); ray.release(r); refs.delete(s.ref); }
        break;
      }
      case "sleep":
        await ray.sleep(s.ms);
        break;
      case "async-actor":
        actors.set(i, AccR.options({
          maxRestarts: s.maxRestarts, ...(s.maxConcurrency === undefined ? {} : { maxConcurrency: s.maxConcurrency }), ...(s.groups ? { concurrencyGroups: IO_GROUP } : {}),
        }).remote());
        break;
      case "kill": {
        const a = actors.get(s.actor);
        if (!a) break;
        ray.kill(a, { noRestart: s.noRestart });
        if (s.callAfter) refs.set(i, (a.add.remote as (v: unknown) => ObjectRef)(1));
        break;
      }
      case "exit": {
        const a = actors.get(s.actor);
        if (a) refs.set(i, s.terminate ? a.__ray_terminate__.remote() : a.exit.remote());
        break;
      }
      case "box": {
        const r = refs.get(s.ref);
        if (!r) break;
        try { refs.set(i, await ray.put({ r, pad: s.big ? new Float64Array(BIG_LEN) : 0 })); } catch (e) { observed[i] = `${(e as Error).name}: ${(e as Error).message}`; }
        break;
      }
      case "rebox": {
        const r = refs.get(s.ref);
        if (!r) break;
        if (s.fanout) refs.set(i, (fanOutR.remote as (...a: unknown[]) => ObjectRef)(readReboxR, { r }, s.big));
        else refs.set(i, ((s.viaPut ? putBoxR : reboxR).remote as (...a: unknown[]) => ObjectRef)({ r }, s.big));
        break;
      }
      case "own-box": {
        const a = s.actor === undefined ? undefined : actors.get(s.actor);
        if (s.actor === undefined) refs.set(i, ownBoxR.remote(s.v, s.big));
        else if (a) refs.set(i, a.ownBox.remote(s.v, s.big));
        break;
      }
      case "unbox": {
        const b = refs.get(s.ref);
        if (!b) break;
        try {
          const box = (await ray.get(b)) as { r: ObjectRef };
          if (s.read && s.holdMs === undefined) await ray.get(box.r).catch(() => undefined); // its value or error is the box's step's to judge
          else if (s.read) {
            // Through a first task: the owner's answer of where the value is stays with the
            // program while it borrows the ref, for the second task to be placed by.
            const first = (fns.add.remote as (...a: unknown[]) => ObjectRef)(box.r, 1);
            await ray.get(first).catch(() => undefined);
            ray.release(first);
          }
          if (s.read) await ray.sleep(s.holdMs ?? 300);
          refs.set(i, (fns.add.remote as (...a: unknown[]) => ObjectRef)(box.r, 1));
        } catch (e) { observed[i] = `${(e as Error).name}: ${(e as Error).message}`; }
        break;
      }
      case "drop-actor": {
        const a = actors.get(s.actor);
        if (a) { ray.release(a); actors.delete(s.actor); }
        break;
      }
      case "handle-call": {
        const a = actors.get(s.actor);
        if (a) refs.set(i, (callViaR.remote as (...a: unknown[]) => ObjectRef)(a, s.v));
        break;
      }
      case "relay": {
        const a = actors.get(s.actor);
        const to = actors.get(s.to);
        if (!a || !to) break;
        refs.set(i, (a.relay.remote as (...a: unknown[]) => ObjectRef)(to, s.v, s.big));
        await settle(i);
        break;
      }
      case "spawn": {
        const a = s.actor === undefined ? undefined : actors.get(s.actor);
        const args = [readBoxR, s.v, s.big, s.lend, ...(s.bigChild ? [true] : [])];
        if (s.actor === undefined) refs.set(i, (spawnR.remote as (...a: unknown[]) => ObjectRef)(...args));
        else if (a) refs.set(i, (a.spawn.remote as (...a: unknown[]) => ObjectRef)(...args));
        break;
      }
      case "task-actor":
        refs.set(i, (actorBoxR.remote as (...a: unknown[]) => ObjectRef)(AccR, s.v, s.big, s.afterMs ?? 0, ...(s.node === undefined ? [] : [s.node])));
        break;
      case "keep": {
        const a = actors.get(s.actor);
        const r = refs.get(s.ref);
        if (a && r) refs.set(i, (a.keep.remote as (b: unknown) => ObjectRef)({ r }));
        break;
      }
      case "kept": {
        const a = actors.get(s.actor);
        if (a) refs.set(i, a.readKept.remote());
        break;
      }
      case "drop": {
        const r = refs.get(s.ref);
        if (r) { ray.release(r); refs.delete(s.ref); }
        break;
      }
      case "returns": {
        const both = (pair.remote as (...a: unknown[]) => unknown)(...s.args.map(arg)) as ObjectRef[];
        refs.set(i, both[s.keep]);
        ray.release(both[1 - s.keep]);
        break;
      }
      case "stream": {
        const f = streamR.options({
          maxRetries: s.maxRetries, ...(s.backpressure === undefined ? {} : { generatorBackpressureNumObjects: s.backpressure }),
          ...(s.node ? { schedulingStrategy: { nodeId: s.node, soft: true } } : {}),
        });
        await readStreamInto(i, (f.remote as (...a: unknown[]) => ObjectRefGenerator<unknown>)(s.n, s.big, ...s.args.map(arg)), s);
        break;
      }
      case "actor-stream": {
        const a = actors.get(s.actor);
        if (!a) break;
        const bp = s.backpressure === undefined ? {} : { generatorBackpressureNumObjects: s.backpressure };
        if (s.inTask) refs.set(i, (readActorStreamR.remote as (...a: unknown[]) => ObjectRef)(a, s.n, s.big, s.v, s.backpressure ?? 0, s.take ?? -1));
        else await readStreamInto(i, (a.items.options(bp).remote as (...a: unknown[]) => ObjectRefGenerator<unknown>)(s.n, s.big, s.v), s);
        break;
      }
      case "stream-task": {
        const f = readStreamR.options({ maxRetries: s.maxRetries, ...(s.node ? { schedulingStrategy: { nodeId: s.node, soft: true } } : {}) });
        refs.set(i, (f.remote as (...a: unknown[]) => ObjectRef)(streamR, s.n, ...s.args.map(arg)));
        break;
      }
      case "cancel": {
        const r = refs.get(s.ref);
        if (r) ray.cancel(r, { force: s.force && !isActorCall(w.steps[s.ref]) });
        break;
      }
      case "pg": {
        const pg = ray.placementGroup({ bundles: [{ CPU: 1 }], strategy: s.strategy });
        // The ready ref is the task that runs once the bundle is reserved: it may fail with its node.
        if (s.ready) await Promise.allSettled([ray.get(pg.ready())]);
        const inPg = fns.slow.options({ placementGroup: pg, bundleIndex: 0 });
        const first = inPg.remote(s.v, s.v);
        refs.set(i, inPg.remote(s.v + 1, s.v));
        await Promise.allSettled([ray.get(first)]);
        await settle(i);
        ray.removePlacementGroup(pg);
        break;
      }
      case "pg-removed": {
        const pg = ray.placementGroup({ bundles: [{ CPU: 1 }], strategy: s.strategy });
        const a = AccR.options({ placementGroup: pg }).remote();
        refs.set(i, a.add.remote(s.v));
        await settle(i);
        const inPg = fns.slow.options({ placementGroup: pg, bundleIndex: 0 });
        const tasks = [inPg.remote(s.v, s.v), inPg.remote(s.v + 1, s.v)];
        await ray.sleep(20);
        ray.removePlacementGroup(pg);
        await Promise.allSettled(tasks.map((t) => ray.get(t)));
        break;
      }
      case "pg-capture": {
        const pg = ray.placementGroup({ bundles: [{ CPU: 1 }], strategy: s.strategy });
        const capturing = nest.options({ placementGroup: pg, captureChildTasks: true }) as unknown as { remote(...a: unknown[]): ObjectRef };
        refs.set(i, s.actor ? capturing.remote(viaActorR, AccR, s.v) : capturing.remote(nest, fns.add, s.v));
        await settle(i);
        ray.removePlacementGroup(pg);
        break;
      }
      case "named": {
        const opts = { name: s.name, namespace: s.ns, lifetime: s.detached ? "detached" as const : "non_detached" as const, ...(s.getIfExists ? { getIfExists: true } : {}) };
        if (s.byDriver) {
          // A taken name is refused (ValueError), unless getIfExists finds its actor.
          try { await AccR.options(opts).remote(); } catch (e) { if ((e as Error).name !== "ValueError") throw e; }
          break;
        }
        const maker = MakerR.remote();
        await Promise.allSettled([ray.get(maker.make.remote(AccR as never, s.name, s.ns, s.detached, s.getIfExists === true))]);
        ray.kill(maker);
        break;
      }
      case "named-list": {
        const named = new Set(w.steps.flatMap((x) => (x.op === "named" ? [`${x.ns}/${x.name}`] : [])));
        const problem = namedListProblem(await ray.listNamedActors({ allNamespaces: true }), await ray.listNamedActors(), named);
        if (problem !== undefined) throw new Error(`step ${i}: ${problem}`);
        break;
      }
      case "job": {
        if (host === undefined) throw new Error(`step ${i}: a second job needs a host that runs one (the simulator's runJob)`);
        const on = { schedulingStrategy: { nodeId: s.node, soft: true } } as const;
        let seen: number;
        try {
          // This driver's job is 0; the step's job, i + 1. The value is the task's, or its system error.
          seen = await ray.get(markR.options(on).remote(0));
          seen += await host.runJob((other) => other.get(other.remote(markWorker).options(on).remote(i + 1)));
        } catch (e) {
          observed[i] = `${(e as Error).name}: ${(e as Error).message}`;
          break;
        }
        if (seen > 0) throw new Error(`step ${i}: a task ran on a worker where a task of another job had left its globals`);
        observed[i] = seen;
        break;
      }
      case "named-call": {
        let a: ActorHandle<Acc> | undefined;
        try { a = await ray.getActor<Acc>(s.name, { namespace: s.ns }); } catch { /* none by that name (yet, or any more) */ }
        if (a) refs.set(i, a.add.remote(s.v));
        break;
      }
    }
  }
  for (const i of refs.keys()) await settle(i);
  return observed;
}
