// fast-check arbitraries for workloads, fault plans and whole scenarios, exported from
// tsray/sim so users can write their own properties. Everything shrinks toward fewer steps,
// fewer faults, earlier times and smaller clusters.

import fc from "fast-check";
import type { SimNode } from "./cluster.ts";
import type { Fault, FaultPlan } from "./faults.ts";
import type { Scenario } from "./scenario.ts";
import type { Step, Val, Workload } from "./workload.ts";
import { PLACEMENT_STRATEGIES, type PlacementStrategy } from "../src/core/types.ts";

export const nodeIds = (n: number): string[] => Array.from({ length: n }, (_, i) => (i === 0 ? "head" : `node-${i}`));

/** Steps refer to earlier steps by a number taken modulo the ones that made something. */
type RawVal = { lit: number } | { back: number };
type RawStep =
  | { op: "task"; fn: "add" | "scale" | "big" | "slow"; args: RawVal[]; maxRetries: number; node: number | null }
  | { op: "nested"; args: RawVal[] }
  | { op: "put"; big: boolean; v: number }
  | { op: "actor"; maxRestarts: number; maxTaskRetries: number; node: number | null }
  | { op: "call"; back: number; v: number }
  | { op: "get" | "free"; back: number }
  | { op: "sleep"; ms: number }
  | { op: "async-actor"; maxConcurrency: number | null; maxRestarts: number }
  | { op: "kill"; back: number; noRestart: boolean }
  | { op: "box" | "rebox"; back: number; big: boolean }
  | { op: "keep"; actor: number; back: number }
  | { op: "kept"; actor: number }
  | { op: "drop"; back: number }
  | { op: "pg"; strategy: PlacementStrategy; v: number };

const small = fc.integer({ min: 0, max: 9 });
/** An argument: a ref to an earlier step twice as often as a literal, unless `litWeight` says otherwise. */
const rawVal = (litWeight: number): fc.Arbitrary<RawVal> =>
  fc.oneof({ weight: 2, arbitrary: fc.record({ back: fc.nat(20) }) }, { weight: litWeight, arbitrary: fc.record({ lit: small }) });
const retries = fc.constantFrom(-1, 0, 1, 3);

function rawStep(nodes: number, litWeight: number): fc.Arbitrary<RawStep> {
  const arg = rawVal(litWeight);
  const node = fc.option(fc.integer({ min: 1, max: Math.max(1, nodes - 1) }), { nil: null });
  const steps = classicStep(arg, node);
  const pg = fc.record({ op: fc.constant("pg" as const), strategy: fc.constantFrom(...PLACEMENT_STRATEGIES), v: small });
  // A placement-group step one time in twenty, drawn apart so the other steps' mix stays as it was.
  return fc.oneof({ weight: 19, arbitrary: steps }, { weight: 1, arbitrary: pg });
}

function classicStep(arg: fc.Arbitrary<RawVal>, node: fc.Arbitrary<number | null>): fc.Arbitrary<RawStep> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.record({ op: fc.constant("task" as const), fn: fc.constantFrom("add" as const, "scale" as const, "big" as const, "slow" as const), args: fc.array(arg, { minLength: 2, maxLength: 2 }), maxRetries: retries, node }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("nested" as const), args: fc.array(arg, { minLength: 2, maxLength: 2 }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("put" as const), big: fc.boolean(), v: small }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("actor" as const), maxRestarts: fc.constantFrom(0, 1, -1), maxTaskRetries: fc.constantFrom(0, -1), node }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant("call" as const), back: fc.nat(20), v: small }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constantFrom("get" as const, "free" as const), back: fc.nat(20) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("sleep" as const), ms: fc.integer({ min: 1, max: 600 }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("async-actor" as const), maxConcurrency: fc.constantFrom(null, 1, 2), maxRestarts: fc.constantFrom(0, 1) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("kill" as const), back: fc.nat(20), noRestart: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constantFrom("box" as const, "rebox" as const), back: fc.nat(20), big: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("keep" as const), actor: fc.nat(20), back: fc.nat(20) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("kept" as const), actor: fc.nat(20) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("drop" as const), back: fc.nat(20) }) },
  );
}

/** Resolves "some earlier step" references into explicit indices; drops what has no target. */
function normalize(raw: readonly RawStep[], nodes: string[]): Workload {
  const steps: Step[] = [];
  const made: number[] = [];
  const actors: number[] = [];
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
        steps.push({ op: "task", fn: r.fn, args: r.args.map(val), maxRetries: r.maxRetries, ...(r.node === null ? {} : { node: nodes[r.node] }) });
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
      case "actor":
        steps.push({ op: "actor", maxRestarts: r.maxRestarts, maxTaskRetries: r.maxTaskRetries, ...(r.node === null ? {} : { node: nodes[r.node] }) });
        actors.push(i);
        break;
      case "call": {
        const a = pick(actors, r.back);
        if (a === undefined) continue;
        steps.push({ op: "call", actor: a, v: r.v });
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
        steps.push({ op: "async-actor", maxRestarts: r.maxRestarts, ...(r.maxConcurrency === null ? {} : { maxConcurrency: r.maxConcurrency }) });
        actors.push(i);
        break;
      case "kill": {
        const a = pick(actors, r.back);
        if (a === undefined) continue;
        steps.push({ op: "kill", actor: a, noRestart: r.noRestart });
        break;
      }
      case "box":
      case "rebox": {
        const m = pick(made, r.back);
        if (m === undefined) continue;
        steps.push({ op: r.op, ref: m, big: r.big });
        made.push(i);
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
      case "kept": {
        const a = pick(actors, r.actor);
        if (a === undefined) continue;
        steps.push({ op: "kept", actor: a });
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
        steps.push({ op: "pg", strategy: r.strategy, v: r.v });
        made.push(i);
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
  { op: "task", fn: "add", args: [{ lit: 1 }, { lit: 2 }], maxRetries: 3, node: null },
  { op: "nested", args: [{ lit: 3 }, { lit: 4 }] },
  { op: "get", back: 1 },
  { op: "get", back: 0 },
];

export function workloadArb(nodes: number, maxSteps = 14, pipelined = false): fc.Arbitrary<Workload> {
  return fc.array(rawStep(nodes, pipelined ? 6 : 1), { minLength: 1, maxLength: maxSteps })
    .map((raw) => normalize(pipelined ? [...PIPELINE_WARMUP, ...raw] : raw, nodeIds(nodes)));
}

/** Faults within the first `horizonMs` of the run. Worker nodes only die; the head's processes are spared. */
export function faultArb(nodes: number, horizonMs = 800): fc.Arbitrary<Fault> {
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
  return fc.oneof(...arbs);
}

export function faultPlanArb(nodes: number, maxFaults = 4, horizonMs = 800): fc.Arbitrary<FaultPlan> {
  return fc.array(faultArb(nodes, horizonMs), { maxLength: maxFaults }).map((schedule) => ({ schedule }));
}

export function clusterArb(minNodes = 2, maxNodes = 4): fc.Arbitrary<SimNode[]> {
  return fc.integer({ min: minNodes, max: maxNodes }).map((n) => nodeIds(n).map((id, i) => ({ id, resources: { CPU: i === 0 ? 1 : 2 } })));
}

export function scenarioArb(opts: { minNodes?: number; maxNodes?: number; maxSteps?: number; maxFaults?: number } = {}): fc.Arbitrary<Scenario> {
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
    }).map(({ storeCapacity, pipelineMaxTaskMs, ...s }) => ({
      ...s,
      ...(storeCapacity === undefined ? {} : { storeCapacity }),
      ...(pipelineMaxTaskMs === undefined ? {} : { pipelineMaxTaskMs }),
    })),
  );
}
