// Benchmark: how fast the property-based fault tests explore. Generated scenarios (workload ×
// fault plan × cluster), each run twice (fault-free reference and with faults) and judged by
// every invariant, on one core. Reports scenarios per second (median of several runs).
import { explore } from "../sim/explore.ts";
import { median, type Bench, type Figures } from "./run.ts";

const DEFAULTS = { scenarios: 1000, runs: 3, seed: 20261125 };


export const scenariosBench: Bench = {
  name: "scenarios",
  description: "fault scenarios/s explored by the property tests on one core (median of 3 runs of 1,000)",
  options: { scenarios: DEFAULTS.scenarios, runs: DEFAULTS.runs },
  async run(opts, log): Promise<Figures> {
    const p = { ...DEFAULTS, ...opts };
    const rates: number[] = [];
    const runs: object[] = [];
    for (let i = 0; i < p.runs; i++) {
      const t0 = performance.now();
      const r = await explore({ runs: p.scenarios, seed: p.seed + i });
      const ms = performance.now() - t0;
      if (r.failure) throw new Error(`bench/scenarios: a scenario failed: ${r.failure.problems[0]}`);
      const rate = (r.generated / ms) * 1000;
      rates.push(rate);
      runs.push({ scenarios: r.generated, wallMs: Math.round(ms), scenariosPerSec: Math.round(rate) });
      log(`  run ${i + 1}/${p.runs}: ${r.generated} scenarios in ${ms.toFixed(0)} ms: ${Math.round(rate)} scenarios/s`);
    }
    const perSec = Math.round(median(rates));
    return {
      params: p,
      figures: { scenariosPerSec: perSec, secondsFor2000: Math.round((2000 / perSec) * 10) / 10 },
      // The budget: 2,000 scenarios in under five minutes.
      targets: { secondsFor2000: { max: 300 } },
      runs,
    };
  },
};
