// Exploration: run many generated scenarios against the invariants, shrink the first failure
// to a minimal case, and hand it back as JSON that replays exactly.

import fc from "fast-check";
import type { SeededBug } from "../src/core/bugs.ts";
import { scenarioArb } from "./arbitraries.ts";
import { addCoverage, type Coverage } from "./coverage.ts";
import { runScenario, type Scenario } from "./scenario.ts";

export interface ExploreOptions {
  /** Scenarios to generate (shrinking runs come on top). */
  readonly runs: number;
  /** fast-check's seed: the same seed explores the same scenarios. */
  readonly seed: number;
  readonly bugs?: readonly SeededBug[];
  readonly arb?: fc.Arbitrary<Scenario>;
  /** Swarm testing: each scenario draws which step features and fault kinds are on (ignored with `arb`). */
  readonly swarm?: boolean;
  /** Stop generating new scenarios after this much wall time. */
  readonly timeLimitMs?: number;
  /** Called after each scenario run (shrinking runs included), for progress reports. */
  readonly onRun?: () => void;
}

export interface Exploration {
  /** Scenarios generated and judged (not counting shrinking). */
  readonly generated: number;
  /** Every scenario run, shrinking included. */
  readonly executed: number;
  /** Features × fault kinds of the generated scenarios (shrinking runs not counted). */
  readonly coverage: Coverage;
  readonly failure?: { readonly scenario: Scenario; readonly problems: readonly string[]; readonly seed: number; readonly path: string };
}

export async function explore(o: ExploreOptions): Promise<Exploration> {
  let executed = 0;
  let last: { scenario: Scenario; problems: readonly string[] } | undefined;
  const coverage: Coverage = {};
  const arb = o.arb ?? scenarioArb({ swarm: o.swarm === true });
  const prop = fc.asyncProperty(arb, async (s) => {
    executed++;
    o.onRun?.();
    const scenario = o.bugs && o.bugs.length > 0 ? { ...s, bugs: o.bugs } : s;
    // Until the first failure every run is a generated scenario; after it, fast-check shrinks.
    if (last === undefined) addCoverage(coverage, scenario);
    const v = await runScenario(scenario);
    if (!v.ok) last = { scenario, problems: v.problems };
    return v.ok;
  });
  const res = await fc.check(prop, { numRuns: o.runs, seed: o.seed, interruptAfterTimeLimit: o.timeLimitMs, markInterruptAsFailure: false });
  if (!res.failed || !res.counterexample) return { generated: res.numRuns, executed, coverage };
  // The last failing execution is the shrunk counterexample.
  const scenario = o.bugs && o.bugs.length > 0 ? { ...res.counterexample[0], bugs: o.bugs } : res.counterexample[0];
  const problems = last && JSON.stringify(last.scenario) === JSON.stringify(scenario) ? last.problems : (await runScenario(scenario)).problems;
  return { generated: res.numRuns, executed, coverage, failure: { scenario, problems, seed: res.seed, path: res.counterexamplePath ?? "" } };
}
