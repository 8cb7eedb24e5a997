// The fast check each mutant of `npm run mutate` runs (test/mutate.ts): the unit tests of the
// models, then generated fault scenarios that stop at the first one that breaks an invariant
// (no shrinking: a mutant only needs to be caught). Seconds per mutant, not minutes.
// $TSRAY_MUTATION_SCENARIOS sets the scenario count.

import "../unit/object-store.test.ts";
import "../unit/scheduler.test.ts";
import "../unit/node-state.test.ts";
import "../unit/gcs-drivers.test.ts";
import "../unit/actor-concurrency.test.ts";
import "../unit/pipelining.test.ts";
import "../unit/actor-epochs.test.ts";
import "../unit/model-state.test.ts";
import "../unit/lifecycle.test.ts"; // the lifecycle switches agree with their charts
import "../unit/invariants-faults.test.ts"; // the charts (and checkers) judge hand-built traces as they should
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { scenarioArb } from "../../sim/arbitraries.ts";
import { runScenario } from "../../sim/scenario.ts";

const SCENARIOS = Number(process.env.TSRAY_MUTATION_SCENARIOS ?? 150);

test(`${SCENARIOS} generated fault scenarios hold every invariant`, async () => {
  for (const s of fc.sample(scenarioArb(), { numRuns: SCENARIOS, seed: 20261204 })) {
    const v = await runScenario(s);
    assert.ok(v.ok, v.problems.join("\n"));
  }
});
