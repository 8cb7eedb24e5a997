// Property-based fault tests: generated workloads × fault plans, judged by every invariant and
// against the fault-free run, on one exploration thread per core (the scenarios depend on the
// seed only). A failure is shrunk, saved under test/regressions/ and printed
// with the one command that replays it.

import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { test } from "node:test";
import { formatCoverage } from "../../sim/coverage.ts";
import { exploreParallel } from "../../sim/explore-pool.ts";
import { FAULT_KINDS } from "../../sim/faults.ts";
import { hashScenario, replayCommand } from "../../sim/scenario.ts";

const RUNS = Number(process.env.TSRAY_FAULT_RUNS ?? 2000);
const SEED = Number(process.env.TSRAY_FAULT_SEED ?? 20261125);

// Swarm scenarios (as VOPR and FoundationDB do): each draws which workload features and which
// fault kinds are on, so that rare combinations come up that the uniform mix dilutes.
const SWARM_RUNS = Number(process.env.TSRAY_SWARM_RUNS ?? 2000);

for (const [runs, swarm] of [[RUNS, false], [SWARM_RUNS, true]] as const) {
  const what = swarm ? "swarm fault scenarios (features and fault kinds drawn per scenario)" : "generated fault scenarios";
  test(`${runs} ${what} hold every invariant`, { timeout: 300_000 }, async () => {
    const t0 = performance.now();
    const r = await exploreParallel({ runs, seed: SEED, swarm });
    const secs = (performance.now() - t0) / 1000;
    console.log(`# ${swarm ? "swarm " : ""}fault scenarios: ${r.generated} generated, ${r.executed} run (with shrinking) in ${secs.toFixed(1)} s, seed ${SEED}, ${r.shards} shards`);
    console.log(`# coverage (generated scenarios by workload feature × fault kind${swarm ? ", swarm" : ""}):\n${formatCoverage(r.coverage, [...FAULT_KINDS, "none"]).replace(/^/gm, "#   ")}`);
    if (r.failure) {
      const file = `test/regressions/found-${hashScenario(r.failure.scenario)}.json`;
      writeFileSync(file, JSON.stringify({ about: `found by the ${swarm ? "swarm " : ""}property test (exploration seed ${SEED}, fast-check seed ${r.failure.seed}, path ${r.failure.path})`, ...r.failure.scenario }, null, 1) + "\n");
      assert.fail(`a fault scenario broke an invariant:\n  ${r.failure.problems.join("\n  ")}\nshrunk case saved to ${file}; replay it with:\n  ${replayCommand(file)}`);
    }
    assert.equal(r.generated, runs);
  });
}
