// A chaos experiment: one of the simulator's workloads run against a real daemon cluster while
// real faults hit its processes, judged as a simulated scenario is — every invariant over the
// processes' merged traces, and each value against the simulator's fault-free run of the same
// workload (the functions are deterministic, so the simulator says what the values must be).
// Unlike a scenario, a run is not replayable exactly: the same experiment meets the faults at
// other moments of the work each time.

import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";
import * as ray from "../src/index.ts";
import { checkTrace } from "../spec/invariants/index.ts";
import { formatTrace, mergeTraces, parseTraceTolerant, type TraceEvent } from "../spec/trace.ts";
import { workloadArb } from "../sim/arbitraries.ts";
import { compareResults } from "../sim/scenario.ts";
import { simulate } from "../sim/simulate.ts";
import { workloadProgram, type Observed, type Workload } from "../sim/workload.ts";
import type { SeededBug } from "../src/core/bugs.ts";
import { LocalCluster, type ChaosNode } from "./local-cluster.ts";

/** Faults a process can really take; `at` is ms after the workload starts. */
export type ChaosFault =
  /** SIGKILL a worker node's raylet (and so its workers); it stays down. */
  | { readonly kind: "kill-node"; readonly at: number; readonly node: string }
  /** SIGKILL a worker node's raylet, and start it again under its id `downMs` later. */
  | { readonly kind: "restart-node"; readonly at: number; readonly node: string; readonly downMs: number }
  /** Freeze a worker node's raylet (SIGSTOP) for `ms`; past 3 s the GCS declares it dead, and it fences itself when it wakes. */
  | { readonly kind: "pause"; readonly at: number; readonly node: string; readonly ms: number }
  /** SIGKILL the GCS, and start it again on its storage `downMs` later. */
  | { readonly kind: "restart-gcs"; readonly at: number; readonly downMs: number };

export interface ChaosExperiment {
  /** The head first. */
  readonly nodes: readonly ChaosNode[];
  readonly workload: Workload;
  readonly faults: readonly ChaosFault[];
  /** Seeded bugs to switch on in every process (mutation testing: the judge must catch them). */
  readonly bugs?: readonly SeededBug[];
}

export interface ChaosReport {
  readonly ok: boolean;
  readonly problems: readonly string[];
  /** What the last round returned. */
  readonly observed: Observed | undefined;
  readonly reference: Observed | undefined;
  /** Each fault, when it was applied (ms after the start), or why it could not be. */
  readonly applied: readonly { readonly fault: ChaosFault; readonly atMs: number; readonly error?: string }[];
  /** Times the workload ran: again and again until the last fault was over. */
  readonly rounds: number;
  readonly traceEvents: number;
  /** How long the workload's rounds ran. */
  readonly workMs: number;
  readonly wallMs: number;
}

/** Experiments like the simulator's scenarios: a head and 1–2 worker nodes, a workload of up to 24 steps, up to 3 faults in the first 1.5 s. */
export function experimentArb(opts: { maxSteps?: number; maxFaults?: number } = {}): fc.Arbitrary<ChaosExperiment> {
  return fc.integer({ min: 2, max: 3 }).chain((n) => {
    const nodes: ChaosNode[] = Array.from({ length: n }, (_, i) => ({ id: i === 0 ? "head" : `node-${i}`, cpus: i === 0 ? 1 : 2 }));
    const worker = fc.constantFrom(...nodes.slice(1).map((x) => x.id));
    const at = fc.integer({ min: 0, max: 1_500 });
    const fault: fc.Arbitrary<ChaosFault> = fc.oneof(
      fc.record({ kind: fc.constant("kill-node" as const), at, node: worker }),
      fc.record({ kind: fc.constant("restart-node" as const), at, node: worker, downMs: fc.integer({ min: 100, max: 4_000 }) }),
      fc.record({ kind: fc.constant("pause" as const), at, node: worker, ms: fc.integer({ min: 100, max: 5_000 }) }),
      fc.record({ kind: fc.constant("restart-gcs" as const), at, downMs: fc.integer({ min: 100, max: 2_000 }) }),
    );
    return fc.record({
      nodes: fc.constant(nodes),
      workload: workloadArb(n, opts.maxSteps ?? 24).filter((w) => w.steps.length > 0),
      faults: fc.array(fault, { maxLength: opts.maxFaults ?? 3 }),
    });
  });
}

/** Rounds at most (a workload that finishes at once would otherwise run thousands of times). */
const MAX_ROUNDS = 100;

/** Runs `e` on a fresh local cluster and judges it. */
export async function runExperiment(e: ChaosExperiment, opts: { timeoutMs?: number; log?: (line: string) => void; keep?: boolean } = {}): Promise<ChaosReport> {
  const log = opts.log ?? (() => {});
  const problems: string[] = [];
  const reference = await simulate({
    seed: 1, nodes: e.nodes.map((n) => ({ id: n.id, resources: { CPU: n.cpus } })), program: workloadProgram(e.workload), maxVirtualMs: 120_000, check: false,
  });
  if (reference.error) problems.push(`the fault-free simulation failed: ${reference.error.message}`);
  const t0 = performance.now();
  const cluster = await LocalCluster.start(e.nodes, e.bugs);
  log(`  cluster up (${e.nodes.map((n) => n.id).join(", ")}) at ${cluster.address}; traces in ${cluster.dir}`);
  const applied: { fault: ChaosFault; atMs: number; error?: string }[] = [];
  const saved = { TSRAY_TOKEN: process.env.TSRAY_TOKEN, TSRAY_BUGS: process.env.TSRAY_BUGS };
  const faultEvents: TraceEvent[] = [];
  let observed: Observed | undefined;
  let workMs = 0;
  let rounds = 0;
  const roundsObserved: Observed[] = [];
  const due: NodeJS.Timeout[] = [];
  const injecting: Promise<void>[] = [];
  try {
    // How a driver finds the token, and the bugs its model is to have (ray.init reads them).
    process.env.TSRAY_TOKEN = cluster.token;
    process.env.TSRAY_BUGS = (e.bugs ?? []).join(",");
    await ray.init({ address: cluster.address, traceFile: path.join(cluster.dir, "driver.trace.jsonl") });
    const start = performance.now();
    const dead = new Set<string>();
    // Faults run beside the workload, each at its time; one that takes time (a pause, a
    // restart) is awaited before the cluster stops, and one not yet due when the run ends is not run.
    let left = e.faults.length;
    const inject = async (f: ChaosFault): Promise<void> => {
      const atMs = Math.round(performance.now() - start);
      try {
        if (f.kind !== "restart-gcs" && dead.has(f.node)) throw new Error(`node ${f.node} is down already`);
        // Into the trace first, as the simulator does: the checkers judge errors against the faults.
        const t = performance.timeOrigin + performance.now();
        const heals = f.kind === "pause" ? f.ms : f.kind === "kill-node" ? undefined : f.downMs;
        faultEvents.push({ t, node: "head", kind: "fault", comp: "host", fault: f.kind, detail: describe(f), until: heals === undefined ? undefined : t + heals });
        switch (f.kind) {
          case "kill-node": dead.add(f.node); cluster.killNode(f.node); break;
          case "restart-node":
            dead.add(f.node);
            cluster.killNode(f.node);
            await new Promise((r) => setTimeout(r, f.downMs));
            await cluster.join(f.node);
            dead.delete(f.node);
            break;
          case "pause": await cluster.pause(f.node, f.ms); break;
          case "restart-gcs": await cluster.restartGcs(f.downMs); break;
        }
        applied.push({ fault: f, atMs });
        log(`  t=${atMs} ms: ${describe(f)}`);
      } catch (err) {
        applied.push({ fault: f, atMs, error: (err as Error).message });
        log(`  t=${atMs} ms: ${describe(f)}: not applied (${(err as Error).message})`);
      }
      left--;
    };
    for (const f of e.faults) due.push(setTimeout(() => injecting.push(inject(f)), f.at));
    // The workload runs in rounds until the last fault is over (a pause ended, a node rejoined),
    // so that every fault meets work in progress; each round must give the simulator's values.
    const timeoutMs = opts.timeoutMs ?? 120_000;
    const program = workloadProgram(e.workload);
    do {
      let timer: NodeJS.Timeout | undefined;
      const t = performance.now();
      observed = await Promise.race([
        program(ray.driver()),
        new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), timeoutMs); }),
      ]);
      clearTimeout(timer);
      rounds++;
      if (observed === undefined) { problems.push(`round ${rounds} of the workload did not finish within ${timeoutMs / 1000} s (a hang)`); break; }
      roundsObserved.push(observed);
      if (performance.now() - t < 20) await new Promise((r) => setTimeout(r, 50)); // a workload with nothing to wait on
    } while (left > 0 && rounds < MAX_ROUNDS);
    workMs = Math.round(performance.now() - start);
    log(`  the workload ran ${rounds} round(s) in ${workMs} ms`);
  } catch (err) {
    problems.push(`the workload failed: ${(err as Error).message}`);
  } finally {
    for (const t of due) clearTimeout(t);
    await Promise.all(injecting);
    await ray.shutdown();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await new Promise((r) => setTimeout(r, 300)); // the frees reach the stores before they stop
    await cluster.stop();
  }
  // The faults' own trace, beside the processes': `tsray check` on the directory judges alike.
  fs.writeFileSync(path.join(cluster.dir, "chaos.trace.jsonl"), formatTrace(faultEvents));
  const traces: TraceEvent[][] = [];
  for (const file of cluster.traces()) traces.push(parseTraceTolerant(fs.readFileSync(file, "utf8")).events);
  const events = mergeTraces(traces);
  for (const v of checkTrace(events, {})) problems.push(`[${v.invariant}] t=${v.t} ${v.message}`);
  const restarted = events.some((x) => x.kind === "actor.state" && x.state === "RESTARTING");
  roundsObserved.forEach((o, i) => {
    for (const p of compareResults(e.workload, reference.result, o, restarted)) problems.push(`round ${i + 1}: ${p}`);
  });
  if (!opts.keep && problems.length === 0) cluster.remove();
  else log(`  kept ${cluster.home}`);
  return { ok: problems.length === 0, problems, observed, reference: reference.result, applied, rounds, traceEvents: events.length, workMs, wallMs: Math.round(performance.now() - t0) };
}

export function describe(f: ChaosFault): string {
  switch (f.kind) {
    case "kill-node": return `SIGKILL ${f.node}'s raylet`;
    case "restart-node": return `SIGKILL ${f.node}'s raylet, rejoin after ${f.downMs} ms`;
    case "pause": return `SIGSTOP ${f.node}'s raylet for ${f.ms} ms`;
    case "restart-gcs": return `SIGKILL the GCS, restart after ${f.downMs} ms`;
  }
}
