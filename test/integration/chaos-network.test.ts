// Chaos experiments with network faults on local processes: each daemon's fault layer
// (src/runtime/daemon/net-faults.ts) delays, loses, duplicates and partitions its messages while
// the workload runs; every invariant and every value must hold. A partition longer than the
// failure-detection bound must really cut the node off: the GCS declares it dead.

import assert from "node:assert/strict";
import { test } from "node:test";
import { runExperiment, type ChaosExperiment } from "../../chaos/experiment.ts";
import { chaosToScenario } from "../../chaos/sim-plan.ts";
import { compareResults, runScenario } from "../../sim/scenario.ts";
import type { Workload } from "../../sim/workload.ts";

const nodes = [{ id: "head", cpus: 1 }, { id: "node-1", cpus: 2 }, { id: "node-2", cpus: 2 }];
const workload: Workload = {
  steps: [
    { op: "task", fn: "slow", args: [{ lit: 1 }, { lit: 9 }], maxRetries: 3, node: "node-1" },
    { op: "task", fn: "big", args: [{ lit: 2 }, { lit: 0 }], maxRetries: -1, node: "node-2" },
    { op: "task", fn: "add", args: [{ ref: 1 }, { lit: 3 }], maxRetries: 3, node: "node-1" },
    { op: "actor", maxRestarts: -1, maxTaskRetries: -1, node: "node-2" },
    { op: "call", actor: 3, v: 5 },
    { op: "nested", args: [{ lit: 6 }, { lit: 7 }] },
    { op: "call", actor: 3, v: 2 },
    { op: "task", fn: "add", args: [{ ref: 0 }, { ref: 5 }], maxRetries: 3 },
    { op: "get", ref: 7 },
  ],
};

test("chaos with delay, loss, duplicates and a one-way partition: every invariant and every value hold, and the run's schedule replays in the simulator with the same workload", { timeout: 240_000 }, async () => {
  const e: ChaosExperiment = {
    nodes, workload,
    faults: [
      { kind: "delay", at: 0, node: "node-1", direction: "both", latencyMs: 40, jitterMs: 20, ms: 1_500 },
      { kind: "loss", at: 100, node: "node-2", direction: "to", rate: 0.3, ms: 1_200 },
      { kind: "duplicate", at: 200, node: "head", direction: "from", rate: 0.3, ms: 1_200 },
      { kind: "partition", at: 300, node: "node-2", peers: ["node-1"], direction: "to", ms: 800 },
    ],
  };
  const lines: string[] = [];
  const r = await runExperiment(e, { log: (l) => lines.push(l) });
  assert.ok(r.ok, `${r.problems.join("\n")}\n${lines.join("\n")}`);
  assert.deepEqual(r.applied.filter((a) => a.error), [], "every fault was applied");
  assert.deepEqual(r.deadNodes, [], "short network faults kill no node");
  // The schedule the run really applied, in the simulator: the same workload, the same values.
  const scenario = chaosToScenario(e, r.applied);
  assert.deepEqual(scenario.workload, e.workload);
  assert.deepEqual(scenario.faults.schedule.map((f) => f.kind).sort(), ["delay", "drop", "duplicate", "partition"]);
  const verdict = await runScenario(scenario);
  assert.ok(verdict.ok, verdict.problems.join("\n"));
  assert.deepEqual(compareResults(e.workload, verdict.faulty.result, r.observed, false), [], "the chaos run's values are the simulator's under the same faults");
});

test("a partition longer than failure detection cuts a node off: the GCS declares it dead, and the work still completes", { timeout: 180_000 }, async () => {
  const e: ChaosExperiment = {
    nodes: nodes.slice(0, 2),
    workload: { steps: [
      { op: "task", fn: "slow", args: [{ lit: 1 }, { lit: 9 }], maxRetries: -1, node: "node-1" },
      { op: "sleep", ms: 500 },
      { op: "task", fn: "add", args: [{ ref: 0 }, { lit: 3 }], maxRetries: -1 },
      { op: "get", ref: 2 },
    ] },
    faults: [{ kind: "partition", at: 200, node: "node-1", direction: "both", ms: 5_000 }],
  };
  const lines: string[] = [];
  const r = await runExperiment(e, { log: (l) => lines.push(l) });
  assert.ok(r.ok, `${r.problems.join("\n")}\n${lines.join("\n")}`);
  assert.deepEqual(r.deadNodes, ["node-1"], `the partitioned node was declared dead:\n${lines.join("\n")}`);
});
