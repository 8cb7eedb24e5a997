// The chart checker on real processes: daemons started with $TSRAY_BUGS=restart-killed-actor
// (the GCS restarts an actor ray.kill() killed for good once its worker exits) must leave a
// trace the lifecycles invariant rejects, and the same run without the bug a trace it accepts.

import assert from "node:assert/strict";
import { test } from "node:test";
import { runExperiment, type ChaosExperiment } from "../../chaos/experiment.ts";

// No faults: the kill is the program's own. The actor may restart, so only the kill's
// noRestart stands between its death and a restart.
const killed: ChaosExperiment = {
  nodes: [{ id: "head", cpus: 1 }, { id: "node-1", cpus: 2 }],
  workload: {
    steps: [
      { op: "actor", maxRestarts: 3, maxTaskRetries: 0, node: "node-1" },
      { op: "call", actor: 0, v: 5 },
      { op: "get", ref: 1 },
      { op: "kill", actor: 0, noRestart: true },
      { op: "sleep", ms: 1_000 }, // the worker's exit reaches the GCS
      { op: "task", fn: "add", args: [{ lit: 1 }, { lit: 2 }], maxRetries: 0 },
      { op: "get", ref: 5 },
    ],
  },
  faults: [],
};

test("daemons: an actor killed for good stays dead, and its trace follows every chart", { timeout: 180_000 }, async () => {
  const lines: string[] = [];
  const r = await runExperiment(killed, { log: (l) => lines.push(l) });
  assert.ok(r.ok, `${r.problems.join("\n")}\n${lines.join("\n")}`);
  assert.ok(r.traceEvents > 20, `${r.traceEvents} trace events`);
});

test("daemons: the chart checker catches an actor restarted after it was killed for good (seeded bug)", { timeout: 180_000 }, async () => {
  const lines: string[] = [];
  const r = await runExperiment({ ...killed, bugs: ["restart-killed-actor"] }, { log: (l) => lines.push(l) });
  assert.ok(!r.ok, `the seeded bug went unnoticed:\n${lines.join("\n")}`);
  assert.ok(r.problems.some((p) => /\[lifecycles\].*actor \S+ went DEAD → RESTARTING/.test(p)), `${r.problems.join("\n")}\n${lines.join("\n")}`);
});
