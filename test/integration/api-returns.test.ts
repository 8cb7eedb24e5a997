// numReturns on the simulator and the embedded cluster (the daemons run the same program in
// daemons.test.ts): n refs, one object each, a wrong length or a task error seen through every
// ref; the checkers raise no alarm.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as ray from "../../src/index.ts";
import { simulate, type Program } from "../../sim/simulate.ts";
import { formatViolations } from "../../spec/invariants/index.ts";
import { EXPECTED_RETURNS, multipleReturns } from "../helpers/api-returns.ts";

describe("numReturns on the simulator", () => {
  it("gives n refs for tasks and actor methods; a wrong length is an error naming numReturns", async () => {
    for (const seed of [1, 2]) {
      const r = await simulate({ seed, nodes: 2, program: multipleReturns as Program<unknown> });
      assert.equal(r.error, undefined, r.error?.stack);
      assert.deepEqual(r.violations, [], formatViolations(r.violations));
      assert.deepEqual(r.result, EXPECTED_RETURNS);
    }
  });
});

describe("numReturns on the embedded cluster", () => {
  before(async () => { await ray.init({ numCpus: 2 }); });
  after(async () => { await ray.shutdown(); });
  it("gives n refs for tasks and actor methods; a wrong length is an error naming numReturns", async () => {
    assert.deepEqual(await multipleReturns(ray.driver()), EXPECTED_RETURNS);
  });
});
