// The autoscaler on the embedded host: `ray.init({ autoscalingConfig })` adds logical worker
// nodes (a raylet and its workers, in this process) under pending demand and removes idle ones
// after the idle timeout, through the GCS's drain. Judged by behaviour, never by timing: the
// node count rises under load and falls back once idle, the results are right, a node holding
// a primary copy the program still references stays, and the trace passes every checker (the
// autoscaling checker: no node removed while it holds a lease, a bundle or a primary copy).

import assert from "node:assert/strict";
import { test } from "node:test";
import { checkTrace, formatViolations } from "../../spec/invariants/index.ts";
import type { Ray } from "../../src/api/ray.ts";
import { EmbeddedCluster } from "../../src/runtime/embedded/cluster.ts";
import { embeddedConfig } from "../../src/runtime/embedded/index.ts";
import * as rayModule from "../../src/index.ts";

const CONFIG = {
  enableInTreeAutoscaling: true,
  autoscalerOptions: { idleTimeoutSeconds: 1, periodSeconds: 0.2 },
  workerGroupSpecs: [{ groupName: "workers", replicas: 1, minReplicas: 0, maxReplicas: 3, resources: { CPU: 2 } }],
};

/** The live worker nodes, as ray.nodes() shows them. */
const workers = async (ray: Ray) => (await ray.nodes()).filter((n) => n.alive && n.nodeId !== "head").map((n) => n.nodeId).sort();

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = performance.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test("embedded autoscaling: from 1 worker node up under load and back to 0 when idle; a node with a referenced primary copy stays", { timeout: 180_000 }, async () => {
  const c = await EmbeddedCluster.start(embeddedConfig({ keepTrace: true, nodes: [{ id: "head", resources: { CPU: 0 } }], storeCapacity: 64 << 20, autoscalingConfig: CONFIG }));
  const ray = c.ray;
  let most = 0;
  try {
    assert.deepEqual(await workers(ray), ["workers-1"], "the group starts with its replicas");
    // Twelve one-CPU tasks for a node of two: the rest wait as demands, and the autoscaler adds nodes.
    const work = ray.remote(async (i: number) => { await new Promise((r) => setTimeout(r, 400)); return { i: i * i, node: ray.context.nodeId }; });
    const refs = Array.from({ length: 12 }, (_, i) => work.remote(i));
    const watching = (async () => { while (most < 3) { most = Math.max(most, (await workers(ray)).length); if ((await ray.wait(refs, { numReturns: refs.length, timeoutMs: 0 }))[1].length === 0) break; await new Promise((r) => setTimeout(r, 20)); } })();
    const out = await ray.get(refs, { timeoutMs: 120_000 });
    await watching;
    assert.deepEqual(out.map((o) => o.i), Array.from({ length: 12 }, (_, i) => i * i));
    assert.ok(most > 1 && most <= 3, `the worker nodes rose above 1, within maxReplicas 3: at most ${most}`);
    assert.ok(new Set(out.map((o) => o.node)).size > 1, "the tasks ran on the added nodes too");
    assert.ok(out.every((o) => o.node.startsWith("workers-")), "each node of the group is named after it");
    // A big result is a primary copy on the node that made it: that node stays while the program holds the ref.
    const big = ray.remote(() => ({ node: ray.context.nodeId, data: new Float64Array(40_000).fill(7) }));
    const kept = big.remote();
    const { node: holder } = await ray.get(kept);
    const left = await until("the idle nodes removed", async () => { const w = await workers(ray); return w.length === 1 ? w : undefined; });
    assert.deepEqual(left, [holder], "the node holding the primary copy is the one left");
    assert.equal((await ray.get(kept)).data[39_999], 7);
    ray.release(kept);
    await until("every worker node removed once idle", async () => ((await workers(ray)).length === 0 ? true : undefined));
    assert.ok((await ray.nodes()).filter((n) => !n.alive).length >= most, "ray.nodes() keeps the removed nodes, dead");
    // The autoscaler's own books follow once it has terminated what the GCS drained.
    await until("the autoscaler counting no running node", async () => (c.autoscalerStatus()?.groups[0].running === 0 ? true : undefined));
    assert.deepEqual(c.autoscalerStatus()?.groups.map((g) => [g.name, g.min, g.max]), [["workers", 0, 3]]);
  } finally {
    await c.shutdown();
  }
  const terminated = c.trace.filter((e) => e.kind === "autoscaler.terminated").length;
  assert.ok(terminated >= most, `every node the autoscaler added or started with was terminated: ${terminated}`);
  const v = checkTrace(c.trace, { expectEnd: true });
  assert.deepEqual(v, [], formatViolations(v));
});

test("ray.init({ autoscalingConfig }) refuses what is wrong, naming it", async () => {
  const bad = async (autoscalingConfig: unknown) => {
    try { await rayModule.init({ autoscalingConfig: autoscalingConfig as never, numCpus: 1 }); } catch (e) { return (e as Error).message; } finally { await rayModule.shutdown(); }
    return "accepted";
  };
  assert.match(await bad({ ...CONFIG, colour: "red" }), /ray\.init: autoscalingConfig: \(configuration\): Unrecognized key.*colour/);
  assert.match(await bad({ ...CONFIG, workerGroupSpecs: [{ ...CONFIG.workerGroupSpecs[0], minReplicas: 5 }] }), /autoscalingConfig: workerGroupSpecs\.0\.minReplicas: 5 is more than maxReplicas 3/);
  assert.match(await bad({ ...CONFIG, provider: { type: "local" } }), /autoscalingConfig\.provider is for `tsray start` daemons/);
  assert.match(await bad({ ...CONFIG, enableInTreeAutoscaling: false }), /enableInTreeAutoscaling is false/);
  assert.match(await bad(7), /autoscalingConfig must be an object/);
});
