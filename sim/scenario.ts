// A scenario is one replayable case: a seed, a cluster, a workload and a fault plan. Running
// it means running the workload without faults (the reference), then with them, and judging
// the faulty run: invariants over its trace, its values against the reference, no hang.

import { SEEDED_BUGS, type SeededBug } from "../src/core/bugs.ts";
import { checkTrace } from "../spec/invariants/index.ts";
import type { FaultPlan } from "./faults.ts";
import type { SimNode } from "./cluster.ts";
import { simulate, type SimResult } from "./simulate.ts";
import { workloadProgram, type Observed, type Workload } from "./workload.ts";
import { parseAutoscaling, type AutoscalingFile } from "../src/runtime/autoscaler/config.ts";

export interface Scenario {
  readonly seed: number;
  readonly nodes: readonly SimNode[];
  readonly workload: Workload;
  readonly faults: FaultPlan;
  /** Seeded bugs to switch on (mutation testing). */
  readonly bugs?: readonly SeededBug[];
  /** Bytes per node's object store (default: the simulator's). */
  readonly storeCapacity?: number;
  /** Pipeline tasks onto leases while they take at most this long (default: the models'). */
  readonly pipelineMaxTaskMs?: number;
  /** Run the autoscaler, with this configuration and simulated machines (default: off). */
  readonly autoscaling?: ScenarioAutoscaling;
}

/** The autoscaling of a scenario, as plain JSON: the configuration file's fields and the machines' behaviour. */
export interface ScenarioAutoscaling {
  readonly config: AutoscalingFile;
  readonly provisionMs: readonly [number, number];
  readonly launchFailureRate: number;
}

export interface Verdict {
  readonly ok: boolean;
  readonly problems: readonly string[];
  readonly reference: SimResult<Observed>;
  readonly faulty: SimResult<Observed>;
}

/** Errors a fault may legitimately cause (a typed error the budgets allow). */
const SYSTEM_ERRORS = ["WorkerCrashedError", "ObjectLostError", "OwnerDiedError", "ActorDiedError", "InfeasibleTaskError", "ObjectStoreFullError"];

/** Events a scenario's run may take: some 18 times what the generated ones take at most. */
export const SCENARIO_MAX_EVENTS = 50_000;

export async function runScenario(s: Scenario): Promise<Verdict> {
  const bugs = new Set<SeededBug>(s.bugs ?? []);
  for (const b of bugs) if (!(b in SEEDED_BUGS)) throw new TypeError(`unknown seeded bug "${b}"; known: ${Object.keys(SEEDED_BUGS).join(", ")}`);
  const program = workloadProgram(s.workload);
  const config = {
    bugs,
    ...(s.storeCapacity === undefined ? {} : { storeCapacity: s.storeCapacity }),
    ...(s.pipelineMaxTaskMs === undefined ? {} : { pipelineMaxTaskMs: s.pipelineMaxTaskMs }),
    ...(s.autoscaling === undefined ? {} : {
      autoscaling: { autoscaling: parseAutoscaling(s.autoscaling.config), provisionMs: s.autoscaling.provisionMs, launchFailureRate: s.autoscaling.launchFailureRate },
    }),
  };
  // Generated scenarios' runs end within 22 virtual seconds and 2,700 events (measured over
  // 12,000 runs of both mixes); a run far past either is a storm (a seeded retry bug retrying a
  // throwing task without end), stopped before it costs seconds of every exploration and shrink step.
  const common = { seed: s.seed, nodes: s.nodes, program, config, maxVirtualMs: 120_000, maxEvents: SCENARIO_MAX_EVENTS, check: false } as const;
  const reference = await simulate(common);
  // What the faulty run's program saw, kept even if a kill-driver fault stops it before it returns.
  const seen: Observed = {};
  const faulty = await simulate({ ...common, program: workloadProgram(s.workload, seen), faults: s.faults });
  const problems: string[] = [];
  if (reference.error) problems.push(`the fault-free run failed: ${reference.error.message}`);
  if (faulty.error) problems.push(`the run with faults failed: ${faulty.error.message}`);
  for (const v of checkTrace(reference.trace, { expectEnd: true })) problems.push(`fault-free run: [${v.invariant}] t=${v.t} ${v.message}`);
  for (const v of checkTrace(faulty.trace, { expectEnd: true })) problems.push(`[${v.invariant}] t=${v.t} ${v.message}`);
  // A restart in either run (a fault's, or the program's own ray.kill with noRestart: false) makes actor answers differ legitimately.
  const restarted = [faulty, reference].some((r) => r.trace.some((e) => e.kind === "actor.state" && e.state === "RESTARTING"));
  problems.push(...compareResults(s.workload, reference.result, faulty.result ?? seen, restarted));
  return { ok: problems.length === 0, problems, reference, faulty };
}

/**
 * What a run with faults returned, against the fault-free run of the same workload: a value
 * that differs, or an error that no fault explains. `restarted`: an actor restarted in the run
 * (its later answers may then differ, legitimately). Shared by scenarios and chaos experiments.
 */
export function compareResults(w: Workload, reference: Observed | undefined, faulty: Observed | undefined, restarted: boolean): string[] {
  const problems: string[] = [];
  // Values that depend on an actor call (which a restart may change) are not compared, nor
  // those that depend on a put or a stream the faults made fail (the step then passes 0 in its place).
  const fromActor = new Set<number>();
  const fromFailedPut = new Set<number>();
  const fromLookup = new Set<number>();
  // Nor those of a task the program cancelled, or that use one: whether the cancel found it
  // pending, running or done depends on timing, which faults change.
  const fromCancelled = new Set<number>();
  // An actor whose call was cancelled holds a state that depends on whether that call ran, so
  // so do its later answers: actor → the first cancelled call's step.
  const cancelledCallOf = new Map<number, number>();
  for (const st of w.steps) {
    if (st.op !== "cancel") continue;
    fromCancelled.add(st.ref);
    const target = w.steps[st.ref];
    if (target?.op !== "call") continue;
    const first = cancelledCallOf.get(target.actor);
    if (first === undefined || st.ref < first) cancelledCallOf.set(target.actor, st.ref);
  }
  const keptCancelled = new Set<number>(); // actors that were handed such a ref
  // Acc is an async actor: a call whose argument is a ref in a store starts when the argument is
  // fetched, so later calls may start first and the sums it and they see depend on timing. A
  // call in the "io" group waits for that group's slot while later calls start, and starts
  // while earlier ones wait for the default group's (taken by a stream, or by another caller's
  // call): so from the actor's first call on. actor → the first call from which its answers are
  // not compared.
  const refCallOf = new Map<number, number>();
  const firstCallOf = new Map<number, number>();
  for (const [i, st] of w.steps.entries()) {
    if (st.op !== "call") continue;
    if (!firstCallOf.has(st.actor)) firstCallOf.set(st.actor, i);
    const from = st.io === true ? firstCallOf.get(st.actor)! : st.ref !== undefined ? i : undefined;
    if (from !== undefined) refCallOf.set(st.actor, Math.min(from, refCallOf.get(st.actor) ?? from));
  }
  // A relay's `keep` reaches its actor from another caller than the program's, so it may
  // overtake the program's earlier `keep` and `kept` calls to that actor, still pending (the
  // program does not wait for them; Ray orders calls per caller only): those may read the
  // relay's ref. Where the program sent a `keep` of its own before the relay (it may land after
  // the relay's), the relay and the later `kept` calls may read the program's ref instead.
  const overtaken = new Set<number>();
  w.steps.forEach((st, r) => {
    if (st.op !== "relay") return;
    let keptBefore = false;
    for (let i = 0; i < r; i++) {
      const p = w.steps[i];
      if ((p.op !== "kept" && p.op !== "keep") || p.actor !== st.to) continue;
      overtaken.add(i);
      if (p.op === "keep") keptBefore = true;
    }
    if (!keptBefore) return;
    overtaken.add(r);
    w.steps.forEach((p, i) => { if (i > r && p.op === "kept" && p.actor === st.to) overtaken.add(i); });
  });
  const fromFetchOrder = new Set<number>();
  // Whether a call ran before its actor's kill took effect depends on timing, so do the answers
  // of a killed actor's calls (a value in one run, ActorDiedError in the other) and what uses them.
  const killedActors = new Set<number>();
  for (const st of w.steps) if (st.op === "kill" || st.op === "exit") killedActors.add(st.actor);
  const fromKilled = new Set<number>();
  const ref = reference ?? {};
  // actor -> the step that gave it the ref it keeps (a `keep`, or its constructor's argument):
  // what its `kept` reads follows from that step.
  const keptVia = new Map<number, number>();
  w.steps.forEach((st, i) => {
    const via = st.op === "kept" ? keptVia.get(st.actor) : undefined;
    const takes = (set: Set<number>) => ((st.op === "task" || st.op === "nested" || st.op === "returns" || st.op === "stream" || st.op === "stream-task") && st.args.some((a) => "ref" in a && set.has(a.ref)))
      || ((st.op === "box" || st.op === "rebox" || st.op === "keep" || st.op === "unbox") && set.has(st.ref))
      || ((st.op === "call" || st.op === "actor") && st.ref !== undefined && set.has(st.ref))
      || (via !== undefined && set.has(via));
    if (st.op === "keep") keptVia.set(st.actor, i);
    if (st.op === "relay") keptVia.set(st.to, i);
    if (st.op === "actor" && st.ref !== undefined) keptVia.set(i, i);
    if (st.op === "call" || st.op === "keep" || st.op === "kept" || st.op === "relay" || takes(fromActor)) fromActor.add(i);
    // Which actor a name finds (and whether any) depends on when its maker's death is processed.
    if (st.op === "named-call" || takes(fromLookup)) fromLookup.add(i);
    // A stream that failed (a fault's error item) gave the program no ref for later steps either.
    // A relay that failed may or may not have handed its ref to the actor it called.
    const streamed = st.op === "stream" || (st.op === "actor-stream" && st.inTask !== true);
    const failedHere = typeof faulty?.[i] === "string" || ((streamed || st.op === "relay") && typeof ref[i] === "string");
    if (((st.op === "put" || st.op === "box" || streamed || st.op === "relay") && failedHere) || takes(fromFailedPut)) fromFailedPut.add(i);
    if (takes(fromCancelled)) fromCancelled.add(i);
    if (st.op === "call" || st.op === "keep" || st.op === "kept") {
      const cancelled = cancelledCallOf.get(st.actor);
      if (cancelled !== undefined && cancelled < i) fromCancelled.add(i);
    }
    if (st.op === "keep" && fromCancelled.has(i)) keptCancelled.add(st.actor);
    const refCall = st.op === "call" ? refCallOf.get(st.actor) : undefined;
    if ((refCall !== undefined && refCall <= i) || overtaken.has(i) || takes(fromFetchOrder)) fromFetchOrder.add(i);
    if (st.op === "kept" && keptCancelled.has(st.actor)) fromCancelled.add(i);
    const viaActor = st.op === "call" || st.op === "keep" || st.op === "kept" || st.op === "own-box" || st.op === "spawn" || st.op === "handle-call" || st.op === "relay" || st.op === "exit"
      || st.op === "actor-stream" || st.op === "kill";
    if ((viaActor && st.actor !== undefined && killedActors.has(st.actor)) || (st.op === "relay" && killedActors.has(st.to)) || takes(fromKilled)) fromKilled.add(i);
  });
  // A step whose value may legitimately differ between the runs (the sets above): an actor's
  // answer after a restart (it lost its state, as in Ray), a value built on a put the faults
  // made fail, on a name lookup, on an async actor's fetch order or another caller's call
  // overtaking the program's, or on a killed actor's call.
  // An actor the program only dropped (never killed, nor ended by itself) lives while a call made
  // through a handle to it, the program's or a task's it was passed to, is pending: without
  // faults none of those calls fails with ActorDiedError (Ray's actor handle reference counting).
  const droppedOnly = new Set(w.steps.flatMap((st) => (st.op === "drop-actor" && !killedActors.has(st.actor) ? [st.actor] : [])));
  // An actor whose constructor takes a ref itself is dead from the start if that ref failed (or was cancelled).
  const ctorFailed = new Set(w.steps.flatMap((st, i) => (st.op === "actor" && st.direct && st.ref !== undefined && (fromCancelled.has(st.ref) || typeof ref[st.ref] === "string") ? [i] : [])));
  w.steps.forEach((st, i) => {
    const throughHandle = st.op === "handle-call" || st.op === "actor-stream" || (st.op === "call" && st.ref === undefined);
    const got = ref[i];
    if (throughHandle && droppedOnly.has(st.actor) && !ctorFailed.has(st.actor) && typeof got === "string" && got.includes("ActorDiedError")) {
      problems.push(`fault-free run: step ${i} (${st.op}) failed with ${got}, though actor ${st.actor} was only dropped after it: a handle in use keeps its actor`);
    }
  });
  const mayDiffer = (i: number) => (restarted && fromActor.has(i)) || fromFailedPut.has(i) || fromLookup.has(i) || fromFetchOrder.has(i) || fromKilled.has(i);
  for (const [k, got] of Object.entries(faulty ?? {})) {
    if (fromCancelled.has(Number(k))) continue;
    const want = ref[Number(k)];
    const step = w.steps[Number(k)];
    if (typeof got === "number") {
      // And where the fault-free run itself ran out of a resource, a different schedule may not.
      const refFailed = typeof want === "string" && SYSTEM_ERRORS.some((e) => want.includes(e));
      if (got !== want && !mayDiffer(Number(k)) && !refFailed) problems.push(`step ${k} (${step.op}) returned ${got}, the fault-free run ${want}`);
    } else if (got !== want && !SYSTEM_ERRORS.some((e) => got.includes(e)) && !(got.startsWith("TaskError") && mayDiffer(Number(k)))) {
      // An application error (boom's, or one passed on from an argument) follows from the values
      // the task was given: where those may differ, so may whether it throws.
      problems.push(`step ${k} (${step.op}) failed with ${got}, which no injected fault explains`);
    }
  }
  return problems;
}

/** A short stable name for a scenario (FNV-1a of its JSON). */
export function hashScenario(s: Scenario): string {
  const text = JSON.stringify(s);
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, "0");
}

/** One line that replays a saved scenario. */
export function replayCommand(file: string): string {
  return `npx tsray sim --replay ${file}`;
}
