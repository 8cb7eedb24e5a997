// Swarm workloads: a scenario draws which step features and fault kinds are on, and its
// workload and fault plan come from those alone.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { faultPlanArb, scenarioArb, STEP_FEATURES, swarmArb, workloadArb } from "../../sim/arbitraries.ts";

test("a workload drawn with some step features on holds only those steps", () => {
  for (const w of fc.sample(workloadArb(3, 14, false, new Set(["put", "get-free"])), { numRuns: 200, seed: 1 })) {
    for (const s of w.steps) assert.ok(["put", "get", "free"].includes(s.op), `step ${s.op} is off`);
  }
  assert.throws(() => workloadArb(3, 14, false, new Set(["no-such-step"])), /no known step feature among no-such-step/);
});

test("a fault plan drawn with some fault kinds on holds only those, and none when none is on", () => {
  for (const p of fc.sample(faultPlanArb(3, 4, 800, new Set(["pause", "partition"])), { numRuns: 200, seed: 2 })) {
    for (const f of p.schedule) assert.ok(f.kind === "pause" || f.kind === "partition", `fault ${f.kind} is off`);
  }
  assert.deepEqual(fc.sample(faultPlanArb(3, 4, 800, new Set()), { numRuns: 5, seed: 3 }).map((p) => p.schedule.length), [0, 0, 0, 0, 0]);
  // A one-node cluster cannot partition: asking only for that is an error, not an empty plan.
  assert.throws(() => faultPlanArb(1, 4, 800, new Set(["partition"])), /no fault kind among partition can happen on 1 node/);
});

test("swarm scenarios switch features and fault kinds on and off, each on in some and off in others", () => {
  const draws = fc.sample(swarmArb(3), { numRuns: 300, seed: 4 });
  for (const f of STEP_FEATURES) {
    assert.ok(draws.some((d) => d.features.has(f.name)) && draws.some((d) => !d.features.has(f.name)), `feature ${f.name} never varies`);
  }
  assert.ok(draws.some((d) => d.faults.size === 0) && draws.some((d) => d.faults.size >= 4), "fault kinds do not vary");
  // Whole scenarios: some have no task step at all, which the uniform mix almost never makes.
  const scenarios = fc.sample(scenarioArb({ swarm: true }), { numRuns: 200, seed: 5 });
  assert.ok(scenarios.some((s) => s.workload.steps.length >= 4 && s.workload.steps.every((x) => x.op !== "task")));
});

test("generated actor-to-actor calls cannot deadlock the program by themselves", () => {
  let handleCalls = 0, relays = 0;
  for (const w of fc.sample(workloadArb(3, 14, false, new Set(["actor", "async-actor", "handle-passing", "keep", "kept"])), { numRuns: 1000, seed: 4 })) {
    for (const s of w.steps) {
      // A task's calls to an actor come after the program's later ones: not to one that runs few calls at once.
      if (s.op === "handle-call") {
        handleCalls++;
        const target = w.steps[s.actor];
        assert.ok(!(target.op === "async-actor" && target.maxConcurrency !== undefined), `handle-call to an actor with maxConcurrency ${JSON.stringify(target)}`);
      }
      // An actor calls only an earlier one: no cycle of actors waiting on each other.
      if (s.op === "relay") { relays++; assert.ok(s.to < s.actor, `relay from ${s.actor} to ${s.to}`); }
    }
  }
  assert.ok(handleCalls > 50 && relays > 20, `too few drawn: ${handleCalls} handle-calls, ${relays} relays`);
});
