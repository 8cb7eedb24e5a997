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

// Remote code, shipped as source: `ray` there is the worker's, in its scope.
class Gen {
  async *items(n: number) { for (let i = 0; i < n; i++) { await ray.sleep(10); yield i; } }
  ping() { return 1; }
}
/** Takes one item of the actor's generator (back-pressure 1), then sleeps past its own death. */
const reader = async (a: { items: { options(o: object): { remote(n: number): AsyncIterable<unknown> } } }) => {
  for await (const r of a.items.options({ generatorBackpressureNumObjects: 1 }).remote(50)) { await ray.get(r as never); await ray.sleep(5000); }
  return 0;
};

describe("an actor's streaming call whose caller dies", () => {
  for (const fault of ["kill-worker", "kill-node"] as const) {
    it(`lets the actor go on once the death is known (${fault}): no ack will come for the items its back-pressure holds`, async () => {
      const pinned = (node: string) => ({ schedulingStrategy: { nodeId: node, soft: false } });
      const r = await simulate({
        seed: 3, nodes: [{ id: "head", resources: { CPU: 1 } }, { id: "node-1", resources: { CPU: 1 } }, { id: "node-2", resources: { CPU: 1 } }],
        faults: { schedule: [{ kind: fault, at: 300, node: "node-2" }] },
        program: async (api) => {
          const a = api.remote(Gen, { maxConcurrency: 1, ...pinned("node-1") }).remote();
          const t = api.remote(reader, { maxRetries: 0, ...pinned("node-2") }).remote(a as never);
          await api.sleep(1500);
          const pong = await api.get(a.ping.remote());
          return [pong, await api.get(t).catch((e: Error) => e.name)];
        },
      });
      assert.equal(r.error, undefined, r.error?.message);
      assert.deepEqual(r.violations, [], formatViolations(r.violations));
      assert.deepEqual(r.result, [1, "WorkerCrashedError"]);
    });
  }
});

describe("streaming generators on the embedded cluster", () => {
  before(async () => { await ray.init({ numCpus: 2 }); });
  after(async () => { await ray.shutdown(); });
  it("stream items as Ray does, and a generator whose worker dies resumes without duplicates", async () => {
    assert.deepEqual(await streamingGenerators(ray.driver(), { crash: true }), { ...EXPECTED_STREAMING, crashed: EXPECTED_STREAMING.retried });
  });
});
