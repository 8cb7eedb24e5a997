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

test(`${RUNS} generated fault scenarios hold every invariant`, { timeout: 300_000 }, async () => {
  const t0 = performance.now();
  const r = await exploreParallel({ runs: RUNS, seed: SEED });
  const secs = (performance.now() - t0) / 1000;
  console.log(`# fault scenarios: ${r.generated} generated, ${r.executed} run (with shrinking) in ${secs.toFixed(1)} s, seed ${SEED}, ${r.shards} shards`);
  console.log(`# coverage (generated scenarios by workload feature × fault kind):\n${formatCoverage(r.coverage, [...FAULT_KINDS, "none"]).replace(/^/gm, "#   ")}`);
  if (r.failure) {
    const file = `test/regressions/found-${hashScenario(r.failure.scenario)}.json`;
    writeFileSync(file, JSON.stringify({ about: `found by the property test (exploration seed ${SEED}, fast-check seed ${r.failure.seed}, path ${r.failure.path})`, ...r.failure.scenario }, null, 1) + "\n");
    assert.fail(`a fault scenario broke an invariant:\n  ${r.failure.problems.join("\n  ")}\nshrunk case saved to ${file}; replay it with:\n  ${replayCommand(file)}`);
  }
  assert.equal(r.generated, RUNS);
});
