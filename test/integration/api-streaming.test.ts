// Streaming generators on the simulator and the embedded cluster (the daemons run the same
// program in daemons.test.ts): items in order and before the task ends, the error as the last
// item, a retried generator without duplicates, the back-pressure bound, cancel, actor methods,
// large items; the checkers raise no alarm over any of it.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as ray from "../../src/index.ts";
import { simulate, type Program } from "../../sim/simulate.ts";
import { formatViolations } from "../../spec/invariants/index.ts";
import { EXPECTED_STREAMING, streamingGenerators } from "../helpers/api-streaming.ts";

describe("streaming generators on the simulator", () => {
  it("stream items as Ray does, without checker alarms", async () => {
    for (const seed of [1, 2, 3]) {
      const r = await simulate({ seed, nodes: 2, program: streamingGenerators as Program<unknown> });
      assert.equal(r.error, undefined, r.error?.stack);
      assert.deepEqual(r.violations, [], formatViolations(r.violations));
      assert.deepEqual(r.result, EXPECTED_STREAMING);
      assert.ok(r.trace.some((e) => e.kind === "generator.duplicate"), "the retry's reports of items the owner had were dropped");
      assert.ok(r.trace.some((e) => e.kind === "generator.paused" && e.reported - e.consumed === 2), "back-pressure held the producer at 2 unconsumed items");
      assert.ok(!r.trace.some((e) => e.kind === "generator.paused" && e.reported - e.consumed > 2), "never more than 2 unconsumed items");
    }
  });
});

describe("streaming generators on the embedded cluster", () => {
  before(async () => { await ray.init({ numCpus: 2 }); });
  after(async () => { await ray.shutdown(); });
  it("stream items as Ray does, and a generator whose worker dies resumes without duplicates", async () => {
    assert.deepEqual(await streamingGenerators(ray.driver(), { crash: true }), { ...EXPECTED_STREAMING, crashed: EXPECTED_STREAMING.retried });
  });
});
