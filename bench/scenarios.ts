// Benchmark: how fast the property-based fault tests explore. Generated scenarios (workload ×
// fault plan × cluster), each run twice (fault-free reference and with faults) and judged by
// every invariant — on one exploration thread, then on one per core, the same scenarios both
// times. Reports scenarios per second (median of several runs), timed as a soak runs: from the
// moment the threads have loaded the simulator; the speed-up; and this machine's limit for it.
import { availableParallelism } from "node:os";
import { exploreParallel } from "../sim/explore-pool.ts";
import { median, type Bench, type Figures } from "./run.ts";

/**
 * The budget is cut into this many shards, pulled by the threads one at a time. With few large
 * shards (the explorer's default of 8) the two-thread run waits at the end for a thread still
 * on its last shard, which can be up to an eighth of the work (scenario costs vary widely).
 * Smaller shards bound that wait; both sides run the same shards, so the same scenarios.
 */
const SHARDS = 40;
const DEFAULTS = { scenarios: 1000, runs: 3, seed: 20261125 };

/**
 * One exploration's steady rate (timed from the moment its threads are loaded: a soak runs for
 * minutes, so their start-up does not count), its start-up, and the cores it got: the process's
 * CPU time (all its threads, V8's own background threads included) over the wall time. On a
 * shared machine a second thread helps only as far as a second core is free, and this says how
 * far it was.
 */
async function rate(threads: number, scenarios: number, seed: number): Promise<{ perSec: number; wallMs: number; bootMs: number; coresUsed: number }> {
  const t0 = performance.now();
  let ready = t0;
  let c0 = process.cpuUsage();
  const r = await exploreParallel({ runs: scenarios, seed, threads, shards: SHARDS, onReady: () => { ready = performance.now(); c0 = process.cpuUsage(); } });
  const c1 = process.cpuUsage(c0);
  const wallMs = performance.now() - ready;
  if (r.failure) throw new Error(`bench/scenarios: a scenario failed: ${r.failure.problems[0]}`);
  return { perSec: (r.generated / wallMs) * 1000, wallMs, bootMs: ready - t0, coresUsed: (c1.user + c1.system) / 1000 / wallMs };
}

export const scenariosBench: Bench = {
  name: "scenarios",
  description: "fault scenarios/s explored by the property tests, on one thread and on one per core (median of 3 runs of 1,000 each)",
  options: { scenarios: DEFAULTS.scenarios, runs: DEFAULTS.runs },
  async run(opts, log): Promise<Figures> {
    const p = { ...DEFAULTS, ...opts };
    const cores = availableParallelism();
    const one: number[] = [], all: number[] = [], coresOne: number[] = [], coresAll: number[] = [];
    const runs: object[] = [];
    for (let i = 0; i < p.runs; i++) {
      // Alternate, so that a slow phase of the machine does not fall on one side only.
      const a = await rate(1, p.scenarios, p.seed + i);
      const b = await rate(cores, p.scenarios, p.seed + i);
      one.push(a.perSec);
      all.push(b.perSec);
      coresOne.push(a.coresUsed);
      coresAll.push(b.coresUsed);
      const used = (x: number) => Math.round(x * 100) / 100;
      runs.push({
        scenarios: p.scenarios,
        oneThread: { wallMs: Math.round(a.wallMs), bootMs: Math.round(a.bootMs), perSec: Math.round(a.perSec), coresUsed: used(a.coresUsed) },
        allCores: { threads: cores, wallMs: Math.round(b.wallMs), bootMs: Math.round(b.bootMs), perSec: Math.round(b.perSec), coresUsed: used(b.coresUsed) },
      });
      log(`  run ${i + 1}/${p.runs}: 1 thread ${Math.round(a.perSec)}/s (${a.coresUsed.toFixed(2)} cores used), ${cores} threads ${Math.round(b.perSec)}/s (${b.coresUsed.toFixed(2)} cores used) (×${(b.perSec / a.perSec).toFixed(2)})`);
    }
    const perSec = Math.round(median(all));
    const speedup = Math.round((median(all) / median(one)) * 100) / 100;
    // The machine's limit for this speed-up: one exploration thread already keeps more than one
    // core busy (V8 compiles and collects garbage on background threads), so `cores` threads can
    // go at most cores / coresUsedOneThread times as fast.
    const limit = cores / median(coresOne);
    return {
      params: { ...p, cores, shards: SHARDS },
      figures: {
        scenariosPerSecOneThread: Math.round(median(one)), scenariosPerSec: perSec, speedup, secondsFor2000: Math.round((2000 / perSec) * 10) / 10,
        // How many cores each side got (CPU time over wall time): a speed-up under 1.8 with
        // well under 2 cores used means the machine, not the pool, held the threads back.
        coresUsedOneThread: Math.round(median(coresOne) * 100) / 100, coresUsed: Math.round(median(coresAll) * 100) / 100,
        speedupLimit: Math.round(limit * 100) / 100, speedupVsLimit: Math.round((speedup / limit) * 100) / 100,
      },
      // The budget of `npm test`'s exploration (2,000 scenarios in under five minutes), and
      // every core busy: ≥ 1.8× one thread on two cores.
      targets: { secondsFor2000: { max: 300 }, ...(cores >= 2 ? { speedup: { min: 1.8 } } : {}) },
      runs,
    };
  },
};
