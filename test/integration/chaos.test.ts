// A chaos experiment on real processes (chaos/): a workload with slow tasks, a large object on
// one node read on another, an actor and a nested task, while one node's raylet is SIGKILLed and
// rejoins, another is frozen, and the GCS is killed and restarted. The merged traces must pass
// every invariant, and every value must be the simulator's for the same workload.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { runExperiment, type ChaosExperiment } from "../../chaos/experiment.ts";

const experiment: ChaosExperiment = {
  nodes: [{ id: "head", cpus: 1 }, { id: "node-1", cpus: 2 }, { id: "node-2", cpus: 2 }],
  workload: {
    steps: [
      { op: "task", fn: "slow", args: [{ lit: 1 }, { lit: 9 }], maxRetries: 3, node: "node-1" }, // 1.4 s
      { op: "task", fn: "big", args: [{ lit: 2 }, { lit: 0 }], maxRetries: -1, node: "node-2" },
      { op: "task", fn: "add", args: [{ ref: 1 }, { lit: 3 }], maxRetries: 3 },
      { op: "actor", maxRestarts: -1, maxTaskRetries: -1, node: "node-1" },
      { op: "call", actor: 3, v: 5 },
      { op: "task", fn: "slow", args: [{ lit: 4 }, { lit: 5 }], maxRetries: 3 }, // 0.8 s
      { op: "nested", args: [{ lit: 6 }, { lit: 7 }] },
      { op: "sleep", ms: 600 },
      { op: "call", actor: 3, v: 2 },
      { op: "task", fn: "add", args: [{ ref: 0 }, { ref: 5 }], maxRetries: 3 },
      { op: "get", ref: 9 },
    ],
  },
  faults: [
    { kind: "pause", at: 200, node: "node-2", ms: 700 },
    { kind: "restart-node", at: 300, node: "node-1", downMs: 500 },
    { kind: "restart-gcs", at: 900, downMs: 300 },
  ],
};

test("a chaos experiment: killed, frozen and restarted processes, every invariant and every value hold", { timeout: 180_000 }, async () => {
  const lines: string[] = [];
  const r = await runExperiment(experiment, { log: (l) => lines.push(l) });
  assert.ok(r.ok, `${r.problems.join("\n")}\n${lines.join("\n")}`);
  assert.deepEqual(r.applied.filter((a) => a.error), [], "every fault was applied");
  assert.ok(r.applied.every((a) => a.atMs < r.workMs), `the faults hit the running workload (${r.rounds} rounds in ${r.workMs} ms): ${JSON.stringify(r.applied)}`);
  // Every step that makes a value returned one (the faults were all survivable), as in the simulator.
  assert.deepEqual(Object.keys(r.observed ?? {}).sort(), Object.keys(r.reference ?? {}).sort());
  assert.ok(Object.values(r.observed ?? {}).every((v) => typeof v === "number"), JSON.stringify(r.observed));
  assert.ok(r.traceEvents > 100, `${r.traceEvents} trace events`);
});

/**
 * A large object whose only copy dies with its node while the program still needs it (nobody
 * reads it before: a read would leave a copy on the reader's node).
 */
const lostObject: ChaosExperiment = {
  nodes: [{ id: "head", cpus: 1 }, { id: "node-1", cpus: 2 }, { id: "node-2", cpus: 2 }],
  workload: {
    steps: [
      { op: "task", fn: "big", args: [{ lit: 5 }, { lit: 0 }], maxRetries: -1, node: "node-1" },
      { op: "sleep", ms: 2_000 },
      { op: "task", fn: "add", args: [{ ref: 0 }, { lit: 1 }], maxRetries: 3 },
      { op: "get", ref: 2 },
    ],
  },
  faults: [{ kind: "kill-node", at: 1_000, node: "node-1" }],
};

test("a chaos experiment: an object lost with its node is re-made from lineage", { timeout: 180_000 }, async () => {
  const lines: string[] = [];
  const r = await runExperiment(lostObject, { log: (l) => lines.push(l) });
  assert.ok(r.ok, `${r.problems.join("\n")}\n${lines.join("\n")}`);
  assert.equal(typeof r.observed?.[2], "number");
});

test("chaos catches a seeded bug in real processes: without reconstruction the lineage invariant breaks", { timeout: 180_000 }, async () => {
  const lines: string[] = [];
  const r = await runExperiment({ ...lostObject, bugs: ["no-reconstruction"] }, { log: (l) => lines.push(l) });
  assert.ok(!r.ok, `the seeded bug went unnoticed:\n${lines.join("\n")}`);
  assert.ok(r.problems.some((p) => p.startsWith("[lineage]")), r.problems.join("\n"));
});

/** A stream whose items, held unread, die with their node: Ray re-runs the generator task to remake them. */
const lostItems: ChaosExperiment = {
  nodes: [{ id: "head", cpus: 1 }, { id: "node-1", cpus: 2 }, { id: "node-2", cpus: 2 }],
  workload: { steps: [{ op: "stream", args: [{ lit: 1 }, { lit: 2 }], n: 3, maxRetries: -1, big: true, node: "node-1", holdMs: 2_500 }] },
  faults: [{ kind: "kill-node", at: 1_000, node: "node-1" }],
};

test("a chaos experiment: streaming items lost with their node are re-made by re-running the generator", { timeout: 180_000 }, async () => {
  const lines: string[] = [];
  const r = await runExperiment(lostItems, { log: (l) => lines.push(l) });
  assert.ok(r.ok, `${r.problems.join("\n")}\n${lines.join("\n")}`);
  assert.ok(r.deadNodes.includes("node-1"), "node-1 was declared dead while the items were held");
  assert.equal(typeof r.observed?.[0], "number", JSON.stringify(r.observed));
  assert.equal(r.observed?.[0], r.reference?.[0], "the three items, in order, as the fault-free simulator read them");
});

/**
 * The driver dies mid-round (kill-driver: as SIGKILL, nothing released) while it holds leases
 * (two slow tasks running), an actor, and an object in the store that the actor borrows. A new
 * driver goes on with the rounds.
 */
const killDriver: ChaosExperiment = {
  nodes: [{ id: "head", cpus: 1 }, { id: "node-1", cpus: 2 }, { id: "node-2", cpus: 2 }],
  workload: {
    steps: [
      { op: "actor", maxRestarts: 0, maxTaskRetries: 0, node: "node-1" },
      { op: "put", big: true, v: 3 },
      { op: "keep", actor: 0, ref: 1 }, // the actor borrows the driver's object
      { op: "task", fn: "slow", args: [{ lit: 1 }, { lit: 9 }], maxRetries: 0, node: "node-1" }, // 1.4 s
      { op: "task", fn: "slow", args: [{ lit: 2 }, { lit: 9 }], maxRetries: 0, node: "node-2" }, // 1.4 s
      { op: "get", ref: 2 },
      { op: "kept", actor: 0 },
      { op: "get", ref: 6 },
      { op: "get", ref: 3 },
      { op: "get", ref: 4 },
    ],
  },
  faults: [{ kind: "kill-driver", at: 700 }],
};

/** The events of `kind` in the kept cluster's merged trace. */
function traced(home: string, kind: string): Record<string, unknown>[] {
  const dir = path.join(home, "cluster");
  return fs.readdirSync(dir).filter((f) => f.endsWith(".trace.jsonl"))
    .flatMap((f) => fs.readFileSync(path.join(dir, f), "utf8").split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as Record<string, unknown>))
    .filter((e) => e.kind === kind);
}

test("a chaos experiment: the driver killed mid-run; the GCS buries it, its leases, actor and objects go, a new driver goes on", { timeout: 180_000 }, async () => {
  const lines: string[] = [];
  const r = await runExperiment(killDriver, { keep: true, log: (l) => lines.push(l) });
  const home = lines.find((l) => l.includes("kept "))?.trim().replace(/^kept /, "");
  try {
    assert.ok(r.ok, `${r.problems.join("\n")}\n${lines.join("\n")}`);
    assert.deepEqual(r.applied.filter((a) => a.error), [], "the fault was applied");
    assert.equal(r.killedDrivers.length, 1);
    const [killed] = r.killedDrivers;
    // The round it cut short is not compared; a later round, on the new driver, ran whole and was.
    assert.ok(r.rounds > killed.round, `${r.rounds} rounds, the driver killed in round ${killed.round}`);
    assert.deepEqual(Object.keys(r.observed ?? {}).sort(), Object.keys(r.reference ?? {}).sort());
    // The trace shows it declared dead (the bound is the report's: ok), and the new driver's job too.
    assert.ok(r.deadDrivers.includes(killed.driver), `dead drivers: ${r.deadDrivers.join(", ")}`);
    assert.equal(r.deadDrivers.length, 2, "the killed driver and, at its job's end, its successor");
    // Its actor died with it, and its object went with its owner (the actor borrowed it).
    assert.ok(home, lines.join("\n"));
    const actorStates = traced(home, "actor.state");
    const firstActor = actorStates[0].actor;
    assert.equal(actorStates.filter((e) => e.actor === firstActor).at(-1)!.state, "DEAD");
    assert.ok(traced(home, "object.deleted").some((e) => e.reason === "owner-died"), "the dead driver's object was freed as its owner died");
    // Its leases came back: the lease checker judged the quiet points (report ok), and the
    // status, as `tsray status` shows it, has every CPU free and no actor alive.
    assert.ok(traced(home, "cluster.quiet").length === 2, "both quiet points were reached");
    assert.deepEqual(Object.values(r.finalStatus!.cpusInUse), [0, 0, 0], JSON.stringify(r.finalStatus));
    assert.equal(r.finalStatus!.actors.ALIVE ?? 0, 0, JSON.stringify(r.finalStatus));
    assert.deepEqual(r.finalStatus!.drivers, []);
  } finally {
    if (home) fs.rmSync(home, { recursive: true, force: true });
  }
});

test("chaos catches a seeded bug after a driver's death: a driver that forgets to return leases leaks them", { timeout: 180_000 }, async () => {
  const lines: string[] = [];
  const r = await runExperiment({ ...killDriver, bugs: ["leak-lease"] }, { log: (l) => lines.push(l) });
  assert.ok(!r.ok, `the seeded bug went unnoticed:\n${lines.join("\n")}`);
  assert.ok(r.problems.some((p) => p.startsWith("[leases]") && p.includes("leak: lease")), r.problems.join("\n"));
});


test("a driver killed while the GCS is down is buried by the restarted GCS (restored drivers get the same grace as a dropped stream)", { timeout: 180_000 }, async () => {
  const lines: string[] = [];
  const r = await runExperiment({ ...killDriver, faults: [{ kind: "restart-gcs", at: 400, downMs: 1_500 }, { kind: "kill-driver", at: 800 }] }, { log: (l) => lines.push(l) });
  assert.ok(r.ok, `${r.problems.join("\n")}\n${lines.join("\n")}`);
  assert.deepEqual(r.applied.filter((a) => a.error), [], "both faults were applied");
  assert.equal(r.killedDrivers.length, 1);
  assert.ok(r.deadDrivers.includes(r.killedDrivers[0].driver), `dead drivers: ${r.deadDrivers.join(", ")}`);
  assert.deepEqual(r.finalStatus!.drivers, []);
});
