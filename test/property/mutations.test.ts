// Mutation check: each deliberately seeded bug (src/core/bugs.ts) must be caught by the same
// property-based fault tests, within budget, with a shrunk case that fails again on replay.
// The shrunk case of each bug is kept under test/property/seeded-bugs/ (written when missing):
// test/property/seeded-bug-cases.test.ts replays them all without exploring.

import assert from "node:assert/strict";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { SEEDED_BUGS, type SeededBug } from "../../src/core/bugs.ts";
import { exploreParallel } from "../../sim/explore-pool.ts";
import { runScenario } from "../../sim/scenario.ts";

// Scenarios per bug (and for the clean run): the generator now covers many features, so a bug
// that lives in one of them is drawn less often (free-borrowed needed more than 3,000 once the
// streaming steps grew); 6,000 on every core still runs in seconds.
const RUNS = 6000;
const CASES = join(import.meta.dirname, "seeded-bugs");

for (const bug of Object.keys(SEEDED_BUGS) as SeededBug[]) {
  test(`seeded bug "${bug}" (${SEEDED_BUGS[bug]}) is caught`, { timeout: 120_000 }, async () => {
    const r = await exploreParallel({ runs: RUNS, seed: 7, bugs: [bug] });
    assert.ok(r.failure, `not caught in ${r.generated} scenarios`);
    const steps = r.failure.scenario.workload.steps.length;
    const faults = r.failure.scenario.faults.schedule.length;
    console.log(`# ${bug}: caught after ${r.generated + 1} scenarios, shrunk to ${steps} steps and ${faults} faults: ${r.failure.problems[0]}`);
    // The shrunk case is a complete, replayable description of the failure.
    const again = await runScenario(JSON.parse(JSON.stringify(r.failure.scenario)));
    assert.ok(again.problems.length > 0, "the shrunk case passes on replay");
    const file = join(CASES, `${bug}.json`);
    if (!existsSync(file)) {
      mkdirSync(CASES, { recursive: true });
      writeFileSync(file, JSON.stringify({ about: `seeded bug ${bug}, caught after ${r.generated + 1} scenarios (exploration seed 7): ${r.failure.problems[0]}`, ...r.failure.scenario }, null, 1) + "\n");
    }
  });
}

test("without seeded bugs the same exploration finds nothing", { timeout: 120_000 }, async () => {
  const r = await exploreParallel({ runs: RUNS, seed: 7 });
  assert.equal(r.failure, undefined, r.failure?.problems.join("\n"));
});
