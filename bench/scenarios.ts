// Benchmark: how fast the property-based fault tests explore. Generated scenarios (workload ×
// fault plan × cluster), each run twice (fault-free reference and with faults) and judged by
// every invariant — on one exploration thread, then on one per core, the same scenarios both
// times. Reports scenarios per second (median of several runs) as a soak runs them: timed once
// every thread has loaded the simulator and explored a warm-up of its own (the warm-up's rate,
// a short exploration's like `npm test`'s, is reported too); the speed-up; and, since one thread
// already keeps more than one core busy, the scaling from one core held by taskset to every
// core, next to what this machine allows for such work (bench/core-scaling.ts), measured in the
// same run; and the speed-up with V8's optimising compiler kept on the exploring threads.
import { availableParallelism } from "node:os";
import { coreScalingLimit } from "./core-scaling.ts";
import { compilingOnThreadRate, oneCoreRate, rate, SHARDS } from "./scenario-rate.ts";
import { median, type Bench, type Figures } from "./run.ts";

const DEFAULTS = { scenarios: 1000, runs: 3, seed: 20261125, warmUp: 1000 };

export const scenariosBench: Bench = {
  name: "scenarios",
  description: "fault scenarios/s explored by the property tests, on one thread and on one per core, each thread warmed up by 1,000 scenarios first (median of 3 runs of 1,000 each)",
  options: { scenarios: DEFAULTS.scenarios, runs: DEFAULTS.runs, warmUp: DEFAULTS.warmUp },
  async run(opts, log): Promise<Figures> {
    const p = { ...DEFAULTS, ...opts };
    const cores = availableParallelism();
    const one: number[] = [], all: number[] = [], coldAll: number[] = [], coresOne: number[] = [], coresAll: number[] = [], oneCore: number[] = [], limits: number[] = [];
    const onThreadOne: number[] = [], onThreadAll: number[] = [], onThreadCoresOne: number[] = [];
    let oneCoreMissing: string | undefined;
    const runs: object[] = [];
    for (let i = 0; i < p.runs; i++) {
      // Alternate, so that a slow phase of the machine does not fall on one side only.
      const a = await rate(1, p.scenarios, p.seed + i, p.warmUp);
      const c = cores >= 2 ? await oneCoreRate(p.scenarios, p.seed + i, p.warmUp) : { missing: "one core only" };
      const b = await rate(cores, p.scenarios, p.seed + i, p.warmUp);
      // The same two explorations with V8's optimising compiler kept off its helper threads.
      const d = cores >= 2 ? await compilingOnThreadRate(1, p.scenarios, p.seed + i, p.warmUp) : undefined;
      const e = cores >= 2 ? await compilingOnThreadRate(cores, p.scenarios, p.seed + i, p.warmUp) : undefined;
      if (d && e) {
        onThreadOne.push(d.perSec);
        onThreadAll.push(e.perSec);
        onThreadCoresOne.push(d.coresUsed);
      }
      if ("missing" in c) oneCoreMissing = c.missing;
      else {
        oneCore.push(c.perSec);
        limits.push(await coreScalingLimit(cores));
      }
      one.push(a.perSec);
      all.push(b.perSec);
      coldAll.push(b.coldPerSec);
      coresOne.push(a.coresUsed);
      coresAll.push(b.coresUsed);
      const used = (x: number) => Math.round(x * 100) / 100;
      runs.push({
        scenarios: p.scenarios,
        oneThread: { wallMs: Math.round(a.wallMs), bootMs: Math.round(a.bootMs), warmUpMs: Math.round(a.warmUpMs), coldPerSec: Math.round(a.coldPerSec), perSec: Math.round(a.perSec), coresUsed: used(a.coresUsed) },
        allCores: { threads: cores, wallMs: Math.round(b.wallMs), bootMs: Math.round(b.bootMs), warmUpMs: Math.round(b.warmUpMs), coldPerSec: Math.round(b.coldPerSec), perSec: Math.round(b.perSec), coresUsed: used(b.coresUsed) },
        ...("missing" in c ? {} : { oneCore: { wallMs: Math.round(c.wallMs), perSec: Math.round(c.perSec), coresUsed: used(c.coresUsed) }, coreScalingLimit: used(limits[limits.length - 1]) }),
        ...(d && e ? { compilingOnThread: { oneThread: { perSec: Math.round(d.perSec), coresUsed: used(d.coresUsed) }, allCores: { perSec: Math.round(e.perSec), coresUsed: used(e.coresUsed) } } } : {}),
      });
      const pinned = "missing" in c ? "" : `, 1 thread on 1 core ${Math.round(c.perSec)}/s (machine's scaling limit ×${limits[limits.length - 1].toFixed(2)})`;
      const onThread = d && e ? `; compiling on the thread: 1 thread ${Math.round(d.perSec)}/s (${d.coresUsed.toFixed(2)} cores), ${cores} threads ${Math.round(e.perSec)}/s (×${(e.perSec / d.perSec).toFixed(2)})` : "";
      log(`  run ${i + 1}/${p.runs}: 1 thread ${Math.round(a.perSec)}/s (${a.coresUsed.toFixed(2)} cores used; warm-up ${Math.round(a.coldPerSec)}/s), ${cores} threads ${Math.round(b.perSec)}/s (${b.coresUsed.toFixed(2)} cores used; warm-up ${Math.round(b.coldPerSec)}/s) (×${(b.perSec / a.perSec).toFixed(2)})${pinned}${onThread}`);
    }
    if (oneCoreMissing !== undefined) log(`  no one-core figures: ${oneCoreMissing}`);
    const perSec = Math.round(median(all));
    // `npm test` explores 2,000 scenarios from cold on every core: the warm-up's rate is its rate.
    const coldPerSec = median(coldAll);
    const speedup = Math.round((median(all) / median(one)) * 100) / 100;
    // The machine's limit for this speed-up: one exploration thread already keeps more than one
    // core busy (V8 optimises code, and collects garbage, on helper threads), so `cores` threads
    // can go at most cores / coresUsedOneThread times as fast.
    const limit = cores / median(coresOne);
    // What a core added: every core against one core (the whole process held to it), and the
    // same ratio for a plain allocation-heavy workload, which is as far as this machine goes.
    const scaling = oneCore.length > 0 ? Math.round((median(all) / median(oneCore)) * 100) / 100 : undefined;
    const scalingLimit = limits.length > 0 ? Math.round(median(limits) * 100) / 100 : undefined;
    return {
      params: { ...p, cores, shards: SHARDS },
      figures: {
        scenariosPerSecOneThread: Math.round(median(one)), scenariosPerSec: perSec, speedup,
        coldScenariosPerSec: Math.round(coldPerSec), secondsFor2000: Math.round((2000 / coldPerSec) * 10) / 10,
        // How many cores each side got (CPU time over wall time): a speed-up under 1.8 with
        // well under 2 cores used means the machine, not the pool, held the threads back.
        coresUsedOneThread: Math.round(median(coresOne) * 100) / 100, coresUsed: Math.round(median(coresAll) * 100) / 100,
        speedupLimit: Math.round(limit * 100) / 100, speedupVsLimit: Math.round((speedup / limit) * 100) / 100,
        ...(scaling !== undefined && scalingLimit !== undefined ? {
          scenariosPerSecOneCore: Math.round(median(oneCore)), scalingFromOneCore: scaling, coreScalingLimit: scalingLimit,
          scalingVsLimit: Math.round((scaling / scalingLimit) * 100) / 100,
        } : {}),
        // Where the extra core of one thread goes: with V8's compiler on the exploring threads,
        // one thread keeps about one core busy and the pool's speed-up is what the cores allow.
        ...(onThreadOne.length > 0 ? {
          coresUsedOneThreadCompilingOnThread: Math.round(median(onThreadCoresOne) * 100) / 100,
          speedupCompilingOnThread: Math.round((median(onThreadAll) / median(onThreadOne)) * 100) / 100,
        } : {}),
      },
      // The budget of `npm test`'s exploration (2,000 scenarios in under five minutes), and
      // every core busy: ≥ 1.8× one thread on two cores.
      targets: { secondsFor2000: { max: 300 }, ...(cores >= 2 ? { speedup: { min: 1.8 } } : {}) },
      runs,
    };
  },
};
