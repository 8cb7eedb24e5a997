// The simulator's run limits: a run that passes its event budget ends with an error saying so,
// as one past its virtual-time limit does; generated scenarios run with such a budget.

import assert from "node:assert/strict";
import { test } from "node:test";
import { simulate } from "../../sim/simulate.ts";
import { runScenario, SCENARIO_MAX_EVENTS } from "../../sim/scenario.ts";
import type { Ray } from "../../src/api/ray.ts";

/** A retry storm: a task that always throws, retried on exceptions without limit (Ray does the same). */
async function storm(ray: Ray): Promise<unknown> {
  const always = ray.remote(() => { throw new Error("again"); }, { maxRetries: -1, retryExceptions: true });
  return ray.get(always.remote());
}

test("a run past maxEvents stops there with an error naming the limit", async () => {
  const r = await simulate({ seed: 1, nodes: 1, program: storm, maxEvents: 5_000, config: { keepTrace: false } });
  assert.match(r.error?.message ?? "", /passed its limit of 5000 events, at virtual time \d/);
  assert.equal(r.events, 5_001, "it stops at the first event past the budget");
  assert.ok(r.virtualTimeMs < 3_600_000, "long before the virtual-time limit");
});

test("maxEvents must be a positive number", async () => {
  for (const bad of [0, -1, Number.NaN]) {
    await assert.rejects(simulate({ program: async () => 1, maxEvents: bad }), /maxEvents must be a positive number/);
  }
});

test("a generated scenario's runs are bounded by SCENARIO_MAX_EVENTS", async () => {
  const v = await runScenario({
    seed: 1, nodes: [{ id: "head", resources: { CPU: 1 } }],
    workload: { steps: [{ op: "task", fn: "boom", args: [{ lit: 1 }, { lit: 2 }], maxRetries: 3, retryExceptions: true }] },
    faults: { schedule: [] }, bugs: ["retry-forever"],
  });
  assert.ok(v.reference.events <= SCENARIO_MAX_EVENTS + 1);
  assert.match(v.problems[0], new RegExp(`the fault-free run failed: the simulation passed its limit of ${SCENARIO_MAX_EVENTS} events`));
});
