// Benchmark: the simulator's speed on a big cluster. 100 nodes run 100,000 small tasks
// submitted by one driver; the trace is hashed but not kept. Reports simulated events per
// wall-clock second and tasks per second (median of several runs), the trace's length and hash.
// Then the actor path: 50,000 calls from the driver to one actor on a two-node cluster.
import { simulate } from "../sim/simulate.ts";
import type { Ray } from "../src/api/ray.ts";
import { median, type Bench, type Figures } from "./run.ts";

export interface SimBenchParams {
  readonly nodes: number;
  readonly tasks: number;
  readonly runs: number;
  readonly seed: number;
  /** Calls to one actor in the actor-path runs. */
  readonly calls: number;
}

export const DEFAULTS: SimBenchParams = { nodes: 100, tasks: 100_000, runs: 5, seed: 7, calls: 50_000 };

/** The workload: `tasks` independent tasks, all submitted at once, then one get of them all. */
export function manyTasks(tasks: number) {
  return async (ray: Ray): Promise<number> => {
    const inc = ray.remote((x: number) => x + 1);
    const refs: ReturnType<typeof inc.remote>[] = new Array(tasks);
    for (let i = 0; i < tasks; i++) refs[i] = inc.remote(i);
    const values = await ray.get(refs);
    let sum = 0;
    for (const v of values) sum += v;
    return sum;
  };
}

/** The actor workload: `calls` calls to one actor, all submitted at once (after a first one that waits for it), then one get. */
export function manyActorCalls(calls: number) {
  return async (ray: Ray): Promise<number> => {
    const Counter = ray.remote(class Counter { n = 0; inc() { return ++this.n; } });
    const c = Counter.remote();
    await ray.get(c.inc.remote());
    const refs: ReturnType<typeof c.inc.remote>[] = new Array(calls);
    for (let i = 0; i < calls; i++) refs[i] = c.inc.remote();
    const values = await ray.get(refs);
    return values[calls - 1];
  };
}

/** One run of the actor workload: its wall time and calls per second. */
export async function runActorsOnce(p: SimBenchParams): Promise<{ readonly wallMs: number; readonly callsPerSec: number; readonly events: number }> {
  const t0 = performance.now();
  const r = await simulate({ seed: p.seed, nodes: 2, program: manyActorCalls(p.calls), config: { keepTrace: false }, check: false });
  const wallMs = performance.now() - t0;
  if (r.error) throw new Error(`bench/sim: the actor workload failed: ${r.error.message}`);
  if (r.result !== p.calls + 1) throw new Error(`bench/sim: the actor's last call answered ${String(r.result)}, expected ${p.calls + 1}`);
  return { wallMs, callsPerSec: (p.calls / wallMs) * 1000, events: r.events };
}

export interface SimRun {
  readonly wallMs: number;
  /** CPU time (user + system) this process spent on the run: less sensitive to a busy machine. */
  readonly cpuMs: number;
  readonly events: number;
  readonly eventsPerSec: number;
  readonly tasksPerSec: number;
  readonly virtualTimeMs: number;
  readonly traceEvents: number;
  readonly traceHash: string;
}

export async function runOnce(p: SimBenchParams): Promise<SimRun> {
  const program = manyTasks(p.tasks);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const r = await simulate({ seed: p.seed, nodes: p.nodes, program, config: { keepTrace: false }, check: false });
  const c1 = process.cpuUsage(c0);
  const wallMs = performance.now() - t0;
  const cpuMs = (c1.user + c1.system) / 1000;
  if (r.error) throw new Error(`bench/sim: the workload failed: ${r.error.message}`);
  const expected = (p.tasks * (p.tasks + 1)) / 2;
  if (r.result !== expected) throw new Error(`bench/sim: wrong result ${String(r.result)}, expected ${expected}`);
  return {
    wallMs, cpuMs, events: r.events, eventsPerSec: (r.events / wallMs) * 1000, tasksPerSec: (p.tasks / wallMs) * 1000,
    virtualTimeMs: r.virtualTimeMs, traceEvents: r.traceLength, traceHash: r.traceHash,
  };
}


export const simBench: Bench = {
  name: "sim",
  description: "simulated events/s and tasks/s: 100 nodes, 100,000 tasks, trace hashed not kept (median of 5 runs after a cold one); actor calls/s: 50,000 calls to one actor on 2 nodes (median of 5)",
  options: { nodes: DEFAULTS.nodes, tasks: DEFAULTS.tasks, runs: DEFAULTS.runs, calls: DEFAULTS.calls },
  async run(opts, log): Promise<Figures> {
    const p: SimBenchParams = { ...DEFAULTS, ...opts };
    const line = (what: string, r: SimRun) => `  ${what}: ${r.wallMs.toFixed(0)} ms wall (${r.cpuMs.toFixed(0)} ms CPU), ${r.events} events, ${Math.round(r.eventsPerSec).toLocaleString("en-US")} events/s`;
    // The first run in a process also compiles the simulator (V8's JIT): it is reported on its
    // own, as what a one-off simulation takes, and the medians are of the runs after it.
    const cold = await runOnce(p);
    log(line("cold run", cold));
    const runs: SimRun[] = [];
    for (let i = 0; i < p.runs; i++) {
      const r = await runOnce(p);
      runs.push(r);
      log(line(`run ${i + 1}/${p.runs}`, r));
    }
    const wallMs = median(runs.map((r) => r.wallMs));
    const actorRuns = [];
    for (let i = 0; i < p.runs; i++) {
      const r = await runActorsOnce(p);
      actorRuns.push(r);
      log(`  actor calls ${i + 1}/${p.runs}: ${r.wallMs.toFixed(0)} ms wall, ${p.calls} calls, ${Math.round(r.callsPerSec).toLocaleString("en-US")} calls/s`);
    }
    const standard = p.nodes === DEFAULTS.nodes && p.tasks === DEFAULTS.tasks;
    return {
      params: p,
      figures: {
        eventsPerSec: Math.round(median(runs.map((r) => r.eventsPerSec))),
        tasksPerSec: Math.round(median(runs.map((r) => r.tasksPerSec))),
        wallMs: Math.round(wallMs),
        cpuMs: Math.round(median(runs.map((r) => r.cpuMs))),
        eventsPerCpuSec: Math.round(median(runs.map((r) => (r.events / r.cpuMs) * 1000))),
        coldEventsPerSec: Math.round(cold.eventsPerSec),
        coldWallMs: Math.round(cold.wallMs),
        events: runs[0].events,
        traceEvents: runs[0].traceEvents,
        virtualTimeMs: Math.round(runs[0].virtualTimeMs * 1000) / 1000,
        traceHash: runs[0].traceHash,
        actorCallsPerSec: Math.round(median(actorRuns.map((r) => r.callsPerSec))),
        actorWallMs: Math.round(median(actorRuns.map((r) => r.wallMs))),
        // Every run of the same seed must have produced the same trace.
        deterministic: [cold, ...runs].every((r) => r.traceHash === runs[0].traceHash && r.events === runs[0].events),
      },
      // The targets are set for the standard size only; the whole-run bound holds for the cold run.
      targets: standard ? { eventsPerSec: { min: 500_000 }, coldWallMs: { max: 10_000 }, deterministic: { equals: true } } : {},
      runs: [cold, ...runs],
    };
  },
};
