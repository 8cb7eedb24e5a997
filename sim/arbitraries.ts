// fast-check arbitraries for workloads, fault plans and whole scenarios, exported from
// tsray/sim so users can write their own properties. Everything shrinks toward fewer steps,
// fewer faults, earlier times and smaller clusters.

import fc from "fast-check";
import type { SimNode } from "./cluster.ts";
import { FAULT_KINDS, type Fault, type FaultPlan } from "./faults.ts";
import type { Scenario, ScenarioAutoscaling } from "./scenario.ts";
import type { Step, Val, Workload } from "./workload.ts";
import { PLACEMENT_STRATEGIES, type PlacementStrategy } from "../src/core/types.ts";

export const nodeIds = (n: number): string[] => Array.from({ length: n }, (_, i) => (i === 0 ? "head" : `node-${i}`));

/** Steps refer to earlier steps by a number taken modulo the ones that made something. */
type RawVal = { lit: number } | { back: number };
type RawStep =
  | { op: "task"; fn: "add" | "scale" | "big" | "slow" | "boom"; args: RawVal[]; maxRetries: number; node: number | null; spread: boolean; retryExceptions: boolean; numCpus: number | null }
  | { op: "nested"; args: RawVal[] }
  | { op: "put"; big: boolean; v: number }
  | { op: "actor"; maxRestarts: number; maxTaskRetries: number; node: number | null; back: number | null; direct: boolean }
  | { op: "call"; back: number; v: number; pair: boolean; retries: number | null; io: boolean }
  | { op: "call-ref"; back: number; ref: number }
  | { op: "get" | "free"; back: number }
  | { op: "sleep"; ms: number }
  | { op: "async-actor"; maxConcurrency: number | null; maxRestarts: number; groups: boolean }
  | { op: "kill"; back: number; noRestart: boolean; callAfter: boolean }
  | { op: "exit"; actor: number; terminate: boolean }
  | { op: "box" | "rebox"; back: number; big: boolean; via: "none" | "fanout" | "put" }
  | { op: "keep"; actor: number; back: number }
  | { op: "kept"; actor: number }
  | { op: "drop"; back: number }
  | { op: "pg"; strategy: PlacementStrategy; v: number; ready: boolean }
  | { op: "pg-capture"; strategy: PlacementStrategy; v: number; actor: boolean }
  | { op: "pg-removed"; strategy: PlacementStrategy; v: number }
  | { op: "named"; name: number; ns: number; detached: boolean; byDriver: boolean; getIfExists: boolean }
  | { op: "named-call"; name: number; ns: number; v: number }
  | { op: "named-list" }
  | { op: "cancel"; back: number; force: boolean }
  | { op: "returns"; args: RawVal[]; keep: 0 | 1 }
  | { op: "wait"; backs: number[]; numReturns: number; timeoutMs: number | null; fetchLocal: boolean }
  | { op: "get-timeout"; back: number; timeoutMs: number }
  | { op: "introspect" }
  | { op: "stream"; args: RawVal[]; n: number; maxRetries: number; backpressure: number | null; big: boolean; take: number | null; readMs: number | null; node: number | null; holdMs: number | null }
  | { op: "stream-task"; args: RawVal[]; n: number; maxRetries: number; node: number | null }
  | { op: "own-box"; v: number; big: boolean; actor: number | null }
  | { op: "unbox"; back: number; read: boolean; long: boolean }
  | { op: "spawn"; v: number; big: boolean; lend: boolean; actor: number | null; bigChild: boolean }
  | { op: "task-actor"; v: number; big: boolean; node: number | null; after: boolean }
  | { op: "actor-stream"; back: number; n: number; big: boolean; v: number; backpressure: number | null; take: number | null; inTask: boolean }
  | { op: "handle-call"; back: number; v: number }
  | { op: "drop-actor"; back: number }
  | { op: "relay"; back: number; to: number; v: number; big: boolean }
  | { op: "job"; node: number | null };

const small = fc.integer({ min: 0, max: 9 });
/** An argument: a ref to an earlier step twice as often as a literal, unless `litWeight` says otherwise. */
const rawVal = (litWeight: number): fc.Arbitrary<RawVal> =>
  fc.oneof({ weight: 2, arbitrary: fc.record({ back: fc.nat(20) }) }, { weight: litWeight, arbitrary: fc.record({ lit: small }) });
const retries = fc.constantFrom(-1, 0, 1, 3);

/** What a step feature's arbitrary may draw on: an argument, and a node to pin to (or none). */
interface StepContext { readonly arg: fc.Arbitrary<RawVal>; readonly node: fc.Arbitrary<number | null> }

/**
 * The workload features, each a kind of step with its weight among the others. Swarm testing
 * switches each on or off per scenario; a new kind of step is one more entry here (and its
 * name in `group` when it belongs to the classic mix or stands apart like placement groups).
 */
export interface StepFeature { readonly name: string; readonly weight: number; readonly group: "classic" | "apart"; readonly step: (c: StepContext) => fc.Arbitrary<RawStep> }

export const STEP_FEATURES: readonly StepFeature[] = [
  // `boom` throws for some arguments (an application error, retried only with retryExceptions);
  // a CPU demand of 0 or a half (every node has at least one CPU, so none is infeasible).
  { name: "task", weight: 6, group: "classic", step: ({ arg, node }) => fc.record({
    op: fc.constant("task" as const), fn: fc.constantFrom("add" as const, "scale" as const, "big" as const, "slow" as const, "boom" as const),
    args: fc.array(arg, { minLength: 2, maxLength: 2 }), maxRetries: retries, node, spread: fc.boolean(), retryExceptions: fc.boolean(), numCpus: fc.constantFrom(null, null, 0, 0.5),
  }) },
  { name: "nested", weight: 1, group: "classic", step: ({ arg }) => fc.record({ op: fc.constant("nested" as const), args: fc.array(arg, { minLength: 2, maxLength: 2 }) }) },
  { name: "put", weight: 1, group: "classic", step: () => fc.record({ op: fc.constant("put" as const), big: fc.boolean(), v: small }) },
  // Sometimes its constructor keeps an earlier step's ref (inside a value), as a later `keep` would,
  // or takes the ref itself (`direct`: the actor registers once its value is ready).
  { name: "actor", weight: 1, group: "classic", step: ({ node }) => fc.record({
    op: fc.constant("actor" as const), maxRestarts: fc.constantFrom(0, 1, -1), maxTaskRetries: fc.constantFrom(0, -1), node,
    back: fc.option(fc.nat(20), { nil: null, freq: 3 }), direct: fc.boolean(),
  }) },
  // Sometimes through the method's options: two returns (`pair`), a retry budget of its own, or
  // (on an actor with concurrency groups) its "io" group.
  { name: "call", weight: 3, group: "classic", step: () => fc.record({
    op: fc.constant("call" as const), back: fc.nat(20), v: small, pair: fc.boolean(), retries: fc.constantFrom(null, null, 0, -1), io: fc.boolean(),
  }) },
  // An actor call whose argument is an earlier step's ref: it waits for it, while later calls may not.
  { name: "call-ref", weight: 1, group: "classic", step: () => fc.record({ op: fc.constant("call-ref" as const), back: fc.nat(20), ref: fc.nat(20) }) },
  { name: "get-free", weight: 1, group: "classic", step: () => fc.record({ op: fc.constantFrom("get" as const, "free" as const), back: fc.nat(20) }) },
  { name: "sleep", weight: 1, group: "classic", step: () => fc.record({ op: fc.constant("sleep" as const), ms: fc.integer({ min: 1, max: 600 }) }) },
  { name: "async-actor", weight: 1, group: "classic", step: () => fc.record({
    op: fc.constant("async-actor" as const), maxConcurrency: fc.constantFrom(null, 1, 2), maxRestarts: fc.constantFrom(0, 1), groups: fc.boolean(),
  }) },
  // Or the actor ends itself (ray.exitActor in a method).
  { name: "kill", weight: 1, group: "classic", step: () => fc.oneof(
    // Sometimes the program calls the actor right after it killed it, as programs do by mistake.
    { weight: 3, arbitrary: fc.record({ op: fc.constant("kill" as const), back: fc.nat(20), noRestart: fc.boolean(), callAfter: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("exit" as const), actor: fc.nat(20), terminate: fc.boolean() }) },
  ) },
  { name: "box", weight: 1, group: "classic", step: () => fc.record({ op: fc.constantFrom("box" as const, "rebox" as const), back: fc.nat(20), big: fc.boolean(), via: fc.constantFrom("none" as const, "fanout" as const, "put" as const) }) },
  { name: "keep", weight: 1, group: "classic", step: () => fc.record({ op: fc.constant("keep" as const), actor: fc.nat(20), back: fc.nat(20) }) },
  { name: "kept", weight: 1, group: "classic", step: () => fc.record({ op: fc.constant("kept" as const), actor: fc.nat(20) }) },
  { name: "drop", weight: 1, group: "classic", step: () => fc.record({ op: fc.constant("drop" as const), back: fc.nat(20) }) },
  // Mostly a step just made, so that the cancel finds it pending or running.
  { name: "cancel", weight: 1, group: "classic", step: () => fc.record({ op: fc.constant("cancel" as const), back: fc.nat(3), force: fc.boolean() }) },
  // ray.wait on a few earlier refs (until some are ready, or a timeout), and a get with a timeout.
  { name: "wait", weight: 1, group: "classic", step: () => fc.oneof(
    fc.record({
      op: fc.constant("wait" as const), backs: fc.array(fc.nat(20), { minLength: 1, maxLength: 4 }), numReturns: fc.integer({ min: 1, max: 4 }), timeoutMs: fc.constantFrom(null, 0, 100, 1000),
      fetchLocal: fc.boolean(),
    }),
    fc.record({ op: fc.constant("get-timeout" as const), back: fc.nat(20), timeoutMs: fc.constantFrom(0, 100, 1000) }),
  ) },
  // The cluster as the program sees it: ray.nodes(), the resource totals, the runtime context.
  { name: "introspect", weight: 1, group: "classic", step: () => fc.constant({ op: "introspect" as const }) },
  { name: "num-returns", weight: 1, group: "classic", step: ({ arg }) => fc.record({ op: fc.constant("returns" as const), args: fc.array(arg, { minLength: 2, maxLength: 2 }), keep: fc.constantFrom(0 as const, 1 as const) }) },
  // One time in twenty, drawn apart so the classic steps' mix stays as it was.
  { name: "placement-group", weight: 1, group: "apart", step: () => fc.oneof(
    fc.record({ op: fc.constant("pg" as const), strategy: fc.constantFrom(...PLACEMENT_STRATEGIES), v: small, ready: fc.boolean() }),
    fc.record({ op: fc.constant("pg-capture" as const), strategy: fc.constantFrom(...PLACEMENT_STRATEGIES), v: small, actor: fc.boolean() }),
    fc.record({ op: fc.constant("pg-removed" as const), strategy: fc.constantFrom(...PLACEMENT_STRATEGIES), v: small }),
  ) },
  // Streaming generators, consumed by the program as they yield (under faults: retried without duplicates).
  // A held stream's items are read late, so a node's death may lose them first (remade from lineage).
  { name: "streaming", weight: 2, group: "apart", step: ({ arg, node }) => fc.record({
    op: fc.constant("stream" as const), args: fc.array(arg, { minLength: 2, maxLength: 2 }), n: fc.integer({ min: 0, max: 5 }), maxRetries: retries,
    backpressure: fc.constantFrom(null, 1, 2), big: fc.boolean(), take: fc.option(fc.integer({ min: 0, max: 3 }), { nil: null }),
    readMs: fc.constantFrom(null, 250), node, holdMs: fc.constantFrom(null, null, 1500),
  }) },
  // A task that streams a generator of its own: it lends its CPU back while it waits for an item.
  { name: "stream-in-task", weight: 1, group: "apart", step: ({ arg, node }) => fc.record({
    op: fc.constant("stream-task" as const), args: fc.array(arg, { minLength: 2, maxLength: 2 }), n: fc.integer({ min: 0, max: 4 }), maxRetries: retries, node,
  }) },
  // Objects owned by a task's or an actor's worker, read by the program (a borrower) or by a
  // child task the worker submitted: killing the actor, or a fault on its node, ends their owner.
  { name: "worker-owned", weight: 1, group: "apart", step: () => fc.oneof(
    fc.record({ op: fc.constant("own-box" as const), v: small, big: fc.boolean(), actor: fc.option(fc.nat(20), { nil: null }) }),
    // With `bigChild`, what the child answers is stored where it ran, away from its owner (the parent).
    fc.record({ op: fc.constant("spawn" as const), v: small, big: fc.boolean(), lend: fc.boolean(), actor: fc.option(fc.nat(20), { nil: null }), bigChild: fc.boolean() }),
    // Or the program takes such a box's inner ref (borrowed) and passes it to a task as an argument of its own.
    fc.record({ op: fc.constant("unbox" as const), back: fc.nat(20), read: fc.boolean(), long: fc.boolean() }),
  ) },
  // An actor's handle passed to a task, which calls the actor itself: a caller other than its
  // owner; or to another actor, which lends it a ref of its own to keep.
  { name: "handle-passing", weight: 1, group: "apart", step: () => fc.oneof(
    fc.record({ op: fc.constant("handle-call" as const), back: fc.nat(20), v: small }),
    fc.record({ op: fc.constant("relay" as const), back: fc.nat(20), to: fc.nat(20), v: small, big: fc.boolean() }),
  ) },
  // The program lets go of an actor's handle (ray.release): the actor ends once its pending calls,
  // and the tasks and actors the handle was passed to, are done with it too (Ray's actor handle
  // reference counting).
  { name: "actor-drop", weight: 1, group: "apart", step: () => fc.record({ op: fc.constant("drop-actor" as const), back: fc.nat(20) }) },
  // An actor created by a task's worker (wherever the task runs: off the head too), whose answer
  // the program borrows from that worker, stored on the actor's node.
  { name: "task-actor", weight: 1, group: "apart", step: ({ node }) => fc.record({ op: fc.constant("task-actor" as const), v: small, big: fc.boolean(), node, after: fc.boolean() }) },
  // An actor's generator method, streamed by the program or by a task handed the actor's handle
  // (the task's worker owns the stream: a fault that ends it must let the held generator go,
  // or an actor that runs one call at a time runs no other again).
  { name: "actor-streaming", weight: 1, group: "apart", step: () => fc.record({
    op: fc.constant("actor-stream" as const), back: fc.nat(20), n: fc.integer({ min: 0, max: 4 }), big: fc.boolean(), v: small,
    backpressure: fc.constantFrom(null, 1, 2), take: fc.option(fc.integer({ min: 0, max: 3 }), { nil: null }), inTask: fc.boolean(),
  }) },
  // A second driver's job runs a task where the program's just ran: the raylet must start a worker
  // of its own for it (a worker serves one job), and kill it once that job ends.
  { name: "jobs", weight: 1, group: "apart", step: ({ node }) => fc.record({ op: fc.constant("job" as const), node }) },
  // Named actors: two names in two namespaces, so that lookups and duplicates meet across namespaces.
  { name: "named-actors", weight: 2, group: "apart", step: () => {
    const name = fc.integer({ min: 0, max: 1 });
    return fc.oneof(
      fc.record({ op: fc.constant("named" as const), name, ns: name, detached: fc.boolean(), byDriver: fc.boolean(), getIfExists: fc.boolean() }),
      fc.record({ op: fc.constant("named-call" as const), name, ns: name, v: small }),
      fc.constant({ op: "named-list" as const }),
    );
  } },
];

/** Every step feature but a second job's, for hosts that run one driver at a time (the chaos experiments: a second is the simulator's runJob). */
export const ONE_DRIVER_FEATURES: ReadonlySet<string> = new Set(STEP_FEATURES.map((f) => f.name).filter((name) => name !== "jobs"));

/** Weight of the classic mix against a step drawn apart. */
const CLASSIC_WEIGHT = 19;

function rawStep(nodes: number, litWeight: number, on: ReadonlySet<string> | undefined): fc.Arbitrary<RawStep> {
  const c: StepContext = { arg: rawVal(litWeight), node: fc.option(fc.integer({ min: 1, max: Math.max(1, nodes - 1) }), { nil: null }) };
  const pick = (group: StepFeature["group"]) => STEP_FEATURES.filter((f) => f.group === group && (!on || on.has(f.name))).map((f) => ({ weight: f.weight, arbitrary: f.step(c) }));
  const classic = pick("classic"), apart = pick("apart");
  const mixes = [...(classic.length > 0 ? [{ weight: CLASSIC_WEIGHT, arbitrary: fc.oneof(...classic) }] : []), ...apart];
  return mixes.length === 1 ? mixes[0].arbitrary : fc.oneof(...mixes);
}

/** Resolves "some earlier step" references into explicit indices; drops what has no target. */
function normalize(raw: readonly RawStep[], nodes: string[]): Workload {
  const steps: Step[] = [];
  const made: number[] = [];
  const actors: number[] = [];
  /** Actors with a concurrency limit (maxConcurrency, or a concurrency group's); with groups. */
  const limited = new Set<number>();
  const grouped = new Set<number>();
  /** Steps whose value is a box ({ r: a ref }). */
  const boxes: number[] = [];
  const pick = (list: number[], back: number) => (list.length === 0 ? undefined : list[list.length - 1 - (back % list.length)]);
  const val = (v: RawVal): Val => {
    if ("lit" in v) return { lit: v.lit };
    const i = pick(made, v.back);
    return i === undefined ? { lit: v.back % 10 } : { ref: i };
  };
  for (const r of raw) {
    const i = steps.length;
    switch (r.op) {
      case "task":
        steps.push({
          op: "task", fn: r.fn, args: r.args.map(val), maxRetries: r.maxRetries, ...(r.node === null ? (r.spread ? { spread: true as const } : {}) : { node: nodes[r.node] }),
          // Not with unlimited retries: a task that always throws would then run for ever (in Ray too).
          ...(r.retryExceptions && r.maxRetries >= 0 ? { retryExceptions: true as const } : {}), ...(r.numCpus === null ? {} : { numCpus: r.numCpus }),
        });
        made.push(i);
        break;
      case "nested":
        steps.push({ op: "nested", args: r.args.map(val) });
        made.push(i);
        break;
      case "put":
        steps.push({ op: "put", big: r.big, v: r.v });
        made.push(i);
        break;
      case "actor": {
        const ref = r.back === null ? undefined : pick(made, r.back);
        steps.push({
          op: "actor", maxRestarts: r.maxRestarts, maxTaskRetries: r.maxTaskRetries, ...(r.node === null ? {} : { node: nodes[r.node] }),
          ...(ref === undefined ? {} : { ref, ...(r.direct ? { direct: true as const } : {}) }),
        });
        actors.push(i);
        break;
      }
      case "call": {
        const a = pick(actors, r.back);
        if (a === undefined) continue;
        steps.push({
          op: "call", actor: a, v: r.v, ...(r.pair ? { pair: true as const } : {}), ...(r.retries === null ? {} : { maxTaskRetries: r.retries }),
          ...(r.io && grouped.has(a) ? { io: true as const } : {}),
        });
        made.push(i);
        break;
      }
      case "call-ref": {
        const a = pick(actors, r.back);
        const m = pick(made, r.ref);
        if (a === undefined || m === undefined) continue;
        steps.push({ op: "call", actor: a, v: 0, ref: m });
        made.push(i);
        break;
      }
      case "get":
      case "free": {
        const m = pick(made, r.back);
        if (m === undefined) continue;
        steps.push({ op: r.op, ref: m });
        break;
      }
      case "sleep":
        steps.push({ op: "sleep", ms: r.ms });
        break;
      case "async-actor":
        steps.push({ op: "async-actor", maxRestarts: r.maxRestarts, ...(r.maxConcurrency === null ? {} : { maxConcurrency: r.maxConcurrency }), ...(r.groups ? { groups: true as const } : {}) });
        actors.push(i);
        if (r.maxConcurrency !== null || r.groups) limited.add(i);
        if (r.groups) grouped.add(i);
        break;
      case "kill": {
        const a = pick(actors, r.back);
        if (a === undefined) continue;
        steps.push({ op: "kill", actor: a, noRestart: r.noRestart, ...(r.callAfter ? { callAfter: true as const } : {}) });
        if (r.callAfter) made.push(i);
        break;
      }
      case "box":
      case "rebox": {
        const m = pick(made, r.back);
        if (m === undefined) continue;
        if (r.op === "rebox" && r.via === "fanout") steps.push({ op: "rebox", ref: m, big: r.big, fanout: true });
        else if (r.op === "rebox" && r.via === "put") steps.push({ op: "rebox", ref: m, big: r.big, viaPut: true });
        else steps.push({ op: r.op, ref: m, big: r.big });
        made.push(i);
        boxes.push(i);
        break;
      }
      case "keep": {
        const a = pick(actors, r.actor);
        const m = pick(made, r.back);
        if (a === undefined || m === undefined) continue;
        steps.push({ op: "keep", actor: a, ref: m });
        made.push(i);
        break;
      }
      case "kept":
      case "exit": {
        const a = pick(actors, r.actor);
        if (a === undefined) continue;
        steps.push(r.op === "exit" && r.terminate ? { op: "exit", actor: a, terminate: true } : { op: r.op, actor: a });
        made.push(i);
        break;
      }
      case "drop": {
        const m = pick(made, r.back);
        if (m === undefined) continue;
        steps.push({ op: "drop", ref: m });
        break;
      }
      case "pg":
        steps.push({ op: "pg", strategy: r.strategy, v: r.v, ...(r.ready ? { ready: true as const } : {}) });
        made.push(i);
        break;
      case "pg-capture":
        steps.push({ op: "pg-capture", strategy: r.strategy, v: r.v, actor: r.actor });
        made.push(i);
        break;
      case "pg-removed":
        steps.push({ op: "pg-removed", strategy: r.strategy, v: r.v });
        made.push(i);
        break;
      case "named":
        steps.push({ op: "named", name: `n${r.name}`, ns: `ns${r.ns}`, detached: r.detached, ...(r.byDriver ? { byDriver: true as const } : {}), ...(r.getIfExists ? { getIfExists: true as const } : {}) });
        break;
      case "named-list":
        steps.push({ op: "named-list" });
        break;
      case "job":
        steps.push({ op: "job", node: nodes[r.node ?? 0] });
        break;
      case "named-call":
        steps.push({ op: "named-call", name: `n${r.name}`, ns: `ns${r.ns}`, v: r.v });
        made.push(i);
        break;
      case "returns":
        steps.push({ op: "returns", args: r.args.map(val), keep: r.keep });
        made.push(i);
        break;
      case "stream":
        steps.push({
          op: "stream", args: r.args.map(val), n: r.n, maxRetries: r.maxRetries, big: r.big,
          ...(r.backpressure === null ? {} : { backpressure: r.backpressure }), ...(r.take === null ? {} : { take: r.take }),
          ...(r.readMs === null ? {} : { readMs: r.readMs }), ...(r.node === null ? {} : { node: nodes[r.node] }),
          ...(r.holdMs === null ? {} : { holdMs: r.holdMs }),
        });
        made.push(i);
        break;
      case "own-box":
      case "spawn": {
        const a = r.actor === null ? undefined : pick(actors, r.actor);
        if (r.actor !== null && a === undefined) continue;
        const on = a === undefined ? {} : { actor: a };
        steps.push(r.op === "own-box" ? { op: "own-box", v: r.v, big: r.big, ...on } : { op: "spawn", v: r.v, big: r.big, lend: r.lend, ...on, ...(r.bigChild ? { bigChild: true as const } : {}) });
        made.push(i);
        if (r.op === "own-box" || r.lend) boxes.push(i);
        break;
      }
      case "unbox": {
        const b = pick(boxes, r.back);
        if (b === undefined) continue;
        // A long hold outlasts the time a node's death takes to be known (half a second or so).
        steps.push({ op: "unbox", ref: b, read: r.read, ...(r.read && r.long ? { holdMs: 1500 } : {}) });
        made.push(i);
        break;
      }
      case "task-actor":
        steps.push({ op: "task-actor", v: r.v, big: r.big, ...(r.node === null ? {} : { node: nodes[r.node] }), ...(r.after ? { afterMs: 200 } : {}) });
        made.push(i);
        boxes.push(i);
        break;
      case "actor-stream": {
        const a = pick(actors, r.back);
        if (a === undefined) continue;
        steps.push({
          op: "actor-stream", actor: a, n: r.n, big: r.big, v: r.v, ...(r.backpressure === null ? {} : { backpressure: r.backpressure }),
          ...(r.take === null ? {} : { take: r.take }), ...(r.inTask ? { inTask: true as const } : {}),
        });
        // A task's stream of an actor that runs few calls at once: no later step uses its ref. A
        // `kept` waiting on it would hold the slot that the stream needs (a deadlock in Ray too).
        if (!(r.inTask && limited.has(a))) made.push(i);
        break;
      }
      case "handle-call": {
        // Not an actor that runs few calls at once: its calls from the task come in after the
        // program's later ones, and a `kept` of the task's ref would take the actor's last slot
        // waiting for a call queued behind it (a deadlock in Ray too).
        const a = pick(actors.filter((x) => !limited.has(x)), r.back);
        if (a === undefined) continue;
        steps.push({ op: "handle-call", actor: a, v: r.v });
        made.push(i);
        break;
      }
      case "drop-actor": {
        const a = pick(actors, r.back);
        if (a === undefined) continue;
        steps.push({ op: "drop-actor", actor: a });
        // Later steps no longer reach it: the program holds no handle to it.
        actors.splice(actors.indexOf(a), 1);
        break;
      }
      case "relay": {
        // The caller is a later actor than the one it calls (see the step), and that one has no
        // concurrency limit: a `kept` of the relay's ref could otherwise hold its last slot
        // while the relay's own calls to it wait behind (a deadlock in Ray too).
        const a = pick(actors, r.back);
        const earlier = actors.filter((x) => a !== undefined && x < a && !limited.has(x));
        const to = pick(earlier, r.to);
        if (a === undefined || to === undefined) continue;
        steps.push({ op: "relay", actor: a, to, v: r.v, big: r.big });
        made.push(i);
        break;
      }
      case "stream-task":
        steps.push({ op: "stream-task", args: r.args.map(val), n: r.n, maxRetries: r.maxRetries, ...(r.node === null ? {} : { node: nodes[r.node] }) });
        made.push(i);
        break;
      case "cancel": {
        const m = pick(made, r.back);
        if (m === undefined) continue;
        steps.push({ op: "cancel", ref: m, force: r.force });
        break;
      }
      case "wait": {
        // Distinct refs (Ray refuses a list with one twice), and no more returns asked than refs.
        const refs = [...new Set(r.backs.map((b) => pick(made, b)).filter((m) => m !== undefined))];
        if (refs.length === 0) continue;
        steps.push({ op: "wait", refs, numReturns: Math.min(r.numReturns, refs.length), ...(r.timeoutMs === null ? {} : { timeoutMs: r.timeoutMs }), ...(r.fetchLocal ? {} : { fetchLocal: false as const }) });
        break;
      }
      case "get-timeout": {
        const m = pick(made, r.back);
        if (m === undefined) continue;
        steps.push({ op: "get-timeout", ref: m, timeoutMs: r.timeoutMs });
        break;
      }
      case "introspect":
        steps.push({ op: "introspect" });
        break;
    }
  }
  return { steps };
}

/**
 * A workload for pipelined leases: an `add` and a `nested` task first, waited for, so that the
 * owner knows those classes' tasks are short (it pipelines only then); then steps whose arguments
 * are mostly values (only tasks that take values alone queue behind another).
 */
const PIPELINE_WARMUP: readonly RawStep[] = [
  { op: "task", fn: "add", args: [{ lit: 1 }, { lit: 2 }], maxRetries: 3, node: null, spread: false, retryExceptions: false, numCpus: null },
  { op: "nested", args: [{ lit: 3 }, { lit: 4 }] },
  { op: "get", back: 1 },
  { op: "get", back: 0 },
];

export function workloadArb(nodes: number, maxSteps = 14, pipelined = false, features?: ReadonlySet<string>): fc.Arbitrary<Workload> {
  if (features && !STEP_FEATURES.some((f) => features.has(f.name))) throw new TypeError(`no known step feature among ${[...features].join(", ")}; known: ${STEP_FEATURES.map((f) => f.name).join(", ")}`);
  return fc.array(rawStep(nodes, pipelined ? 6 : 1, features), { minLength: 1, maxLength: maxSteps })
    .map((raw) => normalize(pipelined ? [...PIPELINE_WARMUP, ...raw] : raw, nodeIds(nodes)));
}

/** Faults within the first `horizonMs` of the run. Worker nodes only die; the head's processes are spared. */
export function faultArb(nodes: number, horizonMs = 800, kinds?: ReadonlySet<Fault["kind"]>): fc.Arbitrary<Fault> {
  const ids = nodeIds(nodes);
  const worker = fc.constantFrom(...(ids.length > 1 ? ids.slice(1) : ids));
  const any = fc.constantFrom(...ids);
  const at = fc.integer({ min: 0, max: horizonMs });
  const span = fc.integer({ min: 50, max: 800 });
  const window = <K extends string>(kind: K) => fc.tuple(at, span).map(([a, d]) => ({ kind, at: a, until: a + d }));
  const arbs: fc.Arbitrary<Fault>[] = [
    fc.record({ kind: fc.constant("kill-worker" as const), at, node: any }),
    fc.record({ kind: fc.constant("restart-gcs" as const), at, downMs: fc.integer({ min: 10, max: 600 }) }),
    fc.tuple(window("pause"), any).map(([w, node]) => ({ ...w, node })),
    fc.tuple(window("clock-skew"), any, fc.integer({ min: -500, max: 500 })).map(([w, node, ms]) => ({ ...w, node, ms })),
    fc.tuple(window("store-full"), any).map(([w, node]) => ({ ...w, node })),
    fc.tuple(window("delay"), fc.integer({ min: 1, max: 200 })).map(([w, ms]) => ({ ...w, ms })),
    fc.tuple(window("drop"), fc.constantFrom(0.05, 0.2, 0.5)).map(([w, rate]) => ({ ...w, rate })),
    fc.tuple(window("duplicate"), fc.constantFrom(0.05, 0.2, 0.5)).map(([w, rate]) => ({ ...w, rate })),
    // The driver dies mid-run: whatever the workload had going is left to the GCS to clean up.
    fc.record({ kind: fc.constant("kill-driver" as const), at }),
  ];
  if (ids.length > 1) {
    arbs.push(fc.record({ kind: fc.constant("kill-node" as const), at, node: worker }));
    arbs.push(fc.record({ kind: fc.constant("restart-node" as const), at, node: worker }));
    arbs.push(fc.tuple(window("partition"), fc.subarray(ids, { minLength: 1, maxLength: ids.length - 1 }), fc.boolean())
      .map(([w, side, oneWay]) => ({ ...w, groups: [side, ids.filter((x) => !side.includes(x))], oneWay })));
  }
  if (!kinds) return fc.oneof(...arbs);
  // The kind of each arbitrary, read from one value it draws (every value of one has the same).
  const on = arbs.filter((a) => kinds.has(fc.sample(a, { numRuns: 1, seed: 0 })[0].kind));
  if (on.length === 0) throw new TypeError(`no fault kind among ${[...kinds].join(", ")} can happen on ${nodes} node(s)`);
  return fc.oneof(...on);
}

export function faultPlanArb(nodes: number, maxFaults = 4, horizonMs = 800, kinds?: ReadonlySet<Fault["kind"]>): fc.Arbitrary<FaultPlan> {
  if (kinds && kinds.size === 0) return fc.constant({ schedule: [] });
  return fc.array(faultArb(nodes, horizonMs, kinds), { maxLength: maxFaults }).map((schedule) => ({ schedule }));
}

/**
 * Swarm testing (as TigerBeetle's VOPR and FoundationDB's simulator do): each scenario first
 * draws which step features and which fault kinds are on, then a workload and a fault plan from
 * those alone, so that combinations a uniform mix makes rare (many kills with no partitions, only
 * actors and placement groups, …) come up. Shrinks toward fewer features and fault kinds.
 */
export function swarmArb(nodes: number): fc.Arbitrary<{ readonly features: ReadonlySet<string>; readonly faults: ReadonlySet<Fault["kind"]> }> {
  const possible = FAULT_KINDS.filter((k) => nodes > 1 || !MULTI_NODE_FAULTS.has(k));
  return fc.record({
    features: fc.subarray(STEP_FEATURES.map((f) => f.name), { minLength: 1 }),
    faults: fc.subarray(possible),
  }).map((s) => ({ features: new Set(s.features), faults: new Set(s.faults) }));
}

/** Fault kinds that need a node besides the head. */
const MULTI_NODE_FAULTS: ReadonlySet<Fault["kind"]> = new Set(["kill-node", "restart-node", "partition"]);

export function clusterArb(minNodes = 2, maxNodes = 4): fc.Arbitrary<SimNode[]> {
  return fc.integer({ min: minNodes, max: maxNodes }).map((n) => nodeIds(n).map((id, i) => ({ id, resources: { CPU: i === 0 ? 1 : 2 } })));
}

/**
 * The autoscaling some scenarios run with: a worker group of up to two nodes, one at the start,
 * a short idle timeout so that nodes come and go within a run, and launches that sometimes fail.
 */
export const SCENARIO_AUTOSCALING: ScenarioAutoscaling = {
  config: {
    enableInTreeAutoscaling: true,
    autoscalerOptions: { idleTimeoutSeconds: 1, periodSeconds: 0.5 },
    workerGroupSpecs: [{ groupName: "auto", replicas: 1, minReplicas: 0, maxReplicas: 2, resources: { CPU: 2 } }],
  },
  provisionMs: [100, 600],
  launchFailureRate: 0.2,
};

export function scenarioArb(opts: { minNodes?: number; maxNodes?: number; maxSteps?: number; maxFaults?: number; swarm?: boolean } = {}): fc.Arbitrary<Scenario> {
  if (opts.swarm) {
    return clusterArb(opts.minNodes ?? 2, opts.maxNodes ?? 4).chain((nodes) => swarmArb(nodes.length).chain((on) => fc.record({
      seed: fc.integer({ min: 1, max: 1_000_000 }),
      nodes: fc.constant(nodes),
      workload: workloadArb(nodes.length, opts.maxSteps, false, on.features),
      faults: faultPlanArb(nodes.length, opts.maxFaults, 800, on.faults),
      // Whole-cluster features are switched on or off per scenario too.
      storeCapacity: fc.constantFrom(undefined, 400_000),
      autoscaling: fc.constantFrom(undefined, SCENARIO_AUTOSCALING),
    }).map(({ storeCapacity, autoscaling, ...s }) => ({
      ...s,
      ...(autoscaling === undefined ? {} : { autoscaling }),
      ...(storeCapacity === undefined ? {} : { storeCapacity }),
    }))));
  }
  // A third of the time every class pipelines, long tasks too, with a workload made for it: workers
  // queue tasks, and bounce them when the one they run blocks.
  const shape = fc.tuple(clusterArb(opts.minNodes ?? 2, opts.maxNodes ?? 4), fc.constantFrom(undefined, undefined, 1_000));
  return shape.chain(([nodes, pipelineMaxTaskMs]) =>
    fc.record({
      seed: fc.integer({ min: 1, max: 1_000_000 }),
      nodes: fc.constant(nodes),
      workload: workloadArb(nodes.length, opts.maxSteps, pipelineMaxTaskMs !== undefined),
      faults: faultPlanArb(nodes.length, opts.maxFaults),
      // Sometimes a store that holds only a few large objects: eviction and spilling get exercised.
      storeCapacity: fc.constantFrom(undefined, undefined, 400_000),
      pipelineMaxTaskMs: fc.constant(pipelineMaxTaskMs),
      // A quarter of the time the autoscaler runs too.
      autoscaling: fc.constantFrom(undefined, undefined, undefined, SCENARIO_AUTOSCALING),
    }).map(({ storeCapacity, pipelineMaxTaskMs, autoscaling, ...s }) => ({
      ...s,
      ...(autoscaling === undefined ? {} : { autoscaling }),
      ...(storeCapacity === undefined ? {} : { storeCapacity }),
      ...(pipelineMaxTaskMs === undefined ? {} : { pipelineMaxTaskMs }),
    })),
  );
}
