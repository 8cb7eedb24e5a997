// Issue 13's acceptance on the simulator: a program on a cluster that autoscales from 1 to 4
// worker nodes. Under load the node count rises to 4; after the idle timeout it falls back to
// minReplicas; the results are right, the invariants hold, and a seed replays the same trace.

import assert from "node:assert/strict";
import { test } from "node:test";
import { simulate, type SimResult } from "../../sim/index.ts";
import type { SimCluster } from "../../sim/cluster.ts";
import { parseAutoscaling } from "../../src/runtime/autoscaler/config.ts";

const autoscaling = parseAutoscaling({
  enableInTreeAutoscaling: true,
  autoscalerOptions: { idleTimeoutSeconds: 10, periodSeconds: 1 },
  workerGroupSpecs: [{ groupName: "cpu", replicas: 1, minReplicas: 1, maxReplicas: 4, resources: { CPU: 1 } }],
});

interface Seen { values: number[]; counts: number[]; after: number }

async function run(seed: number, launchFailureRate = 0): Promise<SimResult<Seen>> {
  let sim!: SimCluster;
  const workers = () => sim.gcs.autoscalingState().nodes.filter((n) => n.alive && n.node !== "head").length;
  return simulate<Seen>({
    seed,
    // The head runs no tasks (KubeRay's usual num-cpus 0 on the head): work needs worker nodes.
    nodes: [{ id: "head", resources: { CPU: 0 } }],
    config: { autoscaling: { autoscaling, provisionMs: [500, 1500], launchFailureRate } },
    setup: (s) => { sim = s; },
    program: async (ray) => {
      const square = ray.remote(async (x: number) => { await ray.sleep(2000); return x * x; });
      const refs = Array.from({ length: 16 }, (_, i) => square.remote(i));
      let done = false;
      const all = ray.get(refs).then((v) => { done = true; return v; });
      const counts: number[] = [];
      while (!done) { counts.push(workers()); await ray.sleep(500); }
      const values = await all;
      await ray.sleep(20_000); // past the idle timeout
      return { values, counts, after: workers() };
    },
  });
}

test("the simulated cluster scales from 1 to 4 workers under load and back to 1 when idle", async () => {
  const r = await run(1);
  assert.equal(r.error, undefined);
  assert.deepEqual(r.violations, []);
  const seen = r.result!;
  assert.deepEqual(seen.values, Array.from({ length: 16 }, (_, i) => i * i));
  assert.equal(seen.counts[0], 1, "one worker at the start");
  assert.equal(Math.max(...seen.counts), 4, "four workers under load (maxReplicas)");
  assert.equal(seen.after, 1, "back to minReplicas after the idle timeout");
  const kinds = r.trace.map((e) => e.kind);
  assert.ok(kinds.includes("autoscaler.launch") && kinds.includes("autoscaler.started"));
  const drained = r.trace.filter((e) => e.kind === "node.drain" && e.accepted);
  assert.equal(drained.length, 3);
  assert.equal(r.trace.filter((e) => e.kind === "autoscaler.terminated").length, 3);
  // Every task ran on a worker node.
  assert.ok(r.trace.filter((e) => e.kind === "task.started").every((e) => e.node.startsWith("cpu-")));
});

test("scaling is deterministic per seed, and runs through machines that fail to start", async () => {
  const a = await run(7, 0.5);
  const b = await run(7, 0.5);
  assert.equal(a.traceHash, b.traceHash);
  assert.equal(a.error, undefined);
  assert.deepEqual(a.violations, []);
  assert.deepEqual(a.result!.values, Array.from({ length: 16 }, (_, i) => i * i));
  assert.ok(a.trace.some((e) => e.kind === "autoscaler.launch-failed"), "some launch failed with this seed");
  assert.equal(a.result!.after, 1);
  const c = await run(8, 0.5);
  assert.notEqual(c.traceHash, a.traceHash);
});

test("a demand only a worker group can meet launches a node of that group (0 → 1), and no more than maxReplicas", async () => {
  const gpu = parseAutoscaling({
    enableInTreeAutoscaling: true,
    autoscalerOptions: { idleTimeoutSeconds: 5, periodSeconds: 1 },
    workerGroupSpecs: [
      { groupName: "cpu", minReplicas: 0, maxReplicas: 2, resources: { CPU: 1 } },
      { groupName: "gpu", minReplicas: 0, maxReplicas: 1, resources: { CPU: 1, GPU: 1 } },
    ],
  });
  const r = await simulate({
    seed: 3, nodes: [{ id: "head", resources: { CPU: 1 } }],
    config: { autoscaling: { autoscaling: gpu, provisionMs: [200, 400], launchFailureRate: 0 } },
    program: async (ray) => {
      const f = ray.remote(() => "on a GPU").options({ resources: { GPU: 1 } });
      return ray.get([f.remote(), f.remote(), f.remote()]);
    },
  });
  assert.equal(r.error, undefined);
  assert.deepEqual(r.result, ["on a GPU", "on a GPU", "on a GPU"]);
  assert.deepEqual(r.violations, []);
  const launches = r.trace.filter((e) => e.kind === "autoscaler.launch");
  assert.deepEqual(launches.map((e) => e.kind === "autoscaler.launch" && e.group), ["gpu"]);
});

test("tsray sim --autoscale runs a program file with the autoscaler and reports its activity; a bad config names the field", async () => {
  const { tsrayCli } = await import("../helpers/cli-cluster.ts");
  const fs = await import("node:fs");
  const os = await import("node:os");
  const path = await import("node:path");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsray-sim-as-"));
  try {
    const prog = path.join(dir, "prog.mjs");
    fs.writeFileSync(prog, "export default async (ray) => { const f = ray.remote(async (x) => { await ray.sleep(3000); return x + 1; }); return ray.get([1, 2, 3, 4].map((x) => f.remote(x))); };\n");
    const config = JSON.stringify({ enableInTreeAutoscaling: true, autoscalerOptions: { periodSeconds: 1 }, workerGroupSpecs: [{ groupName: "cpu", maxReplicas: 3, resources: { CPU: 1 } }] });
    const out = await tsrayCli(process.env, "sim", prog, "--cpus", "1", "--autoscale", config);
    assert.match(out, /result +\[2,3,4,5\]/);
    assert.match(out, /autoscaler +3 launched, 0 failed to start, 0 removed/);
    const bad = JSON.stringify({ enableInTreeAutoscaling: true, workerGroupSpecs: [{ groupName: "cpu", resources: { CPU: 1 }, replicas: "2" }] });
    await assert.rejects(tsrayCli(process.env, "sim", prog, "--autoscale", bad), /workerGroupSpecs\.0\.replicas/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
