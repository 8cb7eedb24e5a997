// Scheduling strategies as Ray defines them (issue 13), on the simulator: SPREAD spreads short
// tasks over the alive nodes too; soft node affinity waits on a busy but alive node that could run
// the task; hard affinity to a dead node fails.

import assert from "node:assert/strict";
import { test } from "node:test";
import { simulate, type SimNode, type SimResult } from "../../sim/index.ts";

const three: SimNode[] = [{ id: "head", resources: { CPU: 2 } }, { id: "n1", resources: { CPU: 2 } }, { id: "n2", resources: { CPU: 2 } }];

function startedOn(r: SimResult<unknown>): Record<string, number> {
  const c: Record<string, number> = {};
  for (const e of r.trace) if (e.kind === "task.started") { const n = e.worker.split("/")[0]; c[n] = (c[n] ?? 0) + 1; }
  return c;
}

for (const seed of [1, 2, 3, 4]) {
  test(`SPREAD puts six short tasks two to a node over three nodes (seed ${seed})`, async () => {
    const r = await simulate({
      seed, nodes: three,
      program: async (ray) => ray.get(Array.from({ length: 6 }, (_, i) => ray.remote((x: number) => x * 3).options({ schedulingStrategy: "SPREAD" }).remote(i))),
    });
    assert.equal(r.error, undefined);
    assert.deepEqual(r.result, [0, 3, 6, 9, 12, 15]);
    assert.deepEqual(Object.entries(startedOn(r)).sort(), [["head", 2], ["n1", 2], ["n2", 2]]);
  });
}

test("soft affinity to a busy node that is alive and could run the task waits there (Ray's default)", async () => {
  const r = await simulate({
    seed: 2, nodes: [{ id: "head", resources: { CPU: 2 } }, { id: "n1", resources: { CPU: 1 } }],
    program: async (ray) => {
      const busy = ray.remote(async () => { await ray.sleep(500); return "busy"; }).options({ schedulingStrategy: { nodeId: "n1", soft: false } });
      const b = busy.remote();
      await ray.sleep(100);
      const soft = ray.remote(() => "soft").options({ schedulingStrategy: { nodeId: "n1", soft: true } });
      return ray.get([b, soft.remote()]);
    },
  });
  assert.equal(r.error, undefined);
  assert.deepEqual(r.result, ["busy", "soft"]);
  assert.deepEqual(startedOn(r), { n1: 2 });
});

test("soft affinity to a dead node runs elsewhere; hard affinity to it fails naming the node", async () => {
  const r = await simulate({
    seed: 4, nodes: three, faults: { schedule: [{ at: 10, kind: "kill-node", node: "n2" }] },
    program: async (ray) => {
      await ray.sleep(1500);
      const soft = await ray.get(ray.remote(() => "soft").options({ schedulingStrategy: { nodeId: "n2", soft: true } }).remote());
      try {
        await ray.get(ray.remote(() => "hard").options({ schedulingStrategy: { nodeId: "n2", soft: false } }).remote());
        return [soft, "no error"];
      } catch (e) { return [soft, (e as Error).name, (e as Error).message]; }
    },
  });
  assert.equal(r.error, undefined);
  const [soft, name, message] = r.result as string[];
  assert.equal(soft, "soft");
  assert.equal(name, "InfeasibleTaskError");
  assert.match(message, /node n2 is not alive/);
});
