// Generated fault scenarios for the mutation suite (test/mutation/quick.test.ts), one test each,
// so that a mutant is judged only by the scenarios that reach it. $TSRAY_MUTATION_SCENARIOS sets
// how many (300 by default); the draw is seeded, the same every run.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { scenarioArb } from "../../sim/arbitraries.ts";
import { runScenario } from "../../sim/scenario.ts";

const SCENARIOS = Number(process.env.TSRAY_MUTATION_SCENARIOS ?? 300);
if (!Number.isInteger(SCENARIOS) || SCENARIOS < 1) throw new TypeError(`TSRAY_MUTATION_SCENARIOS must be a positive integer, got "${process.env.TSRAY_MUTATION_SCENARIOS}"`);

for (const [i, s] of fc.sample(scenarioArb(), { numRuns: SCENARIOS, seed: 20261204 }).entries()) {
  test(`generated fault scenario ${i} holds every invariant`, async () => {
    const v = await runScenario(s);
    assert.ok(v.ok, v.problems.join("\n"));
  });
}
