// ray.cancel on the simulator and the embedded cluster (the daemons run the same program in
// daemons.test.ts): pending tasks are removed, running ones see their signal, force kills the
// worker without a retry, recursive reaches the tasks a task submitted, a queued actor call is
// skipped in its caller's order; the checkers raise no alarm over any of it.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as ray from "../../src/index.ts";
import { simulate, type Program } from "../../sim/simulate.ts";
import { formatViolations } from "../../spec/invariants/index.ts";
import { EXPECTED_CANCEL, cancelTasks } from "../helpers/api-cancel.ts";

describe("ray.cancel on the simulator", () => {
  it("cancels pending, running, forced, recursive and queued actor tasks as Ray does, without checker alarms", async () => {
    for (const seed of [1, 2, 3]) {
      const r = await simulate({ seed, nodes: 2, program: cancelTasks as Program<unknown> });
      assert.equal(r.error, undefined, r.error?.stack);
      assert.deepEqual(r.violations, [], formatViolations(r.violations));
      assert.deepEqual(r.result, EXPECTED_CANCEL);
      // The cancelled minute-long ray.sleep took its timer with it: a timer left armed is work, and the run would last until it fired.
      assert.ok(r.virtualTimeMs < 60_000, `the run ended at ${r.virtualTimeMs} ms of virtual time: the cancelled sleep's timer was left armed`);
      const cancelled = r.trace.filter((e) => e.kind === "task.cancelled");
      assert.ok(cancelled.some((e) => e.kind === "task.cancelled" && e.force && e.worker !== undefined), "the forced cancel names the worker it destroys");
      assert.ok(r.trace.some((e) => e.kind === "worker.died"), "the forced cancel's worker died");
    }
  });
});

describe("ray.cancel on the embedded cluster", () => {
  before(async () => { await ray.init({ numCpus: 2 }); });
  after(async () => { await ray.shutdown(); });
  it("cancels pending, running, forced, recursive and queued actor tasks as Ray does", async () => {
    assert.deepEqual(await cancelTasks(ray.driver()), EXPECTED_CANCEL);
  });
});
