// Chaos experiments on the containers target (chaos/containers-cluster.ts): a head and two
// workers as containers of the tsray image on a podman network, one short experiment per Chaos
// Mesh fault — pod-kill and pod-failure of a worker, container-kill, a partition, delay with
// loss, and pod-kill of the head with Redis GCS fault tolerance — each judged by every invariant checker over the traces of every container and the
// driver, and each round's values against the simulator's fault-free run of the same workload.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { runExperiment, type ChaosExperiment, type ChaosReport } from "../../chaos/experiment.ts";
import type { ChaosFault } from "../../chaos/faults.ts";
import type { ChaosNode } from "../../chaos/target.ts";
import { ONE_DRIVER_FEATURES, workloadArb } from "../../sim/arbitraries.ts";
import { buildImage, buildRedisImage, podmanService, skipWithoutPodman } from "../helpers/podman.ts";
import { skipWithout } from "../helpers/system.ts";

const skip = skipWithoutPodman();
// The Redis image is this machine's redis-server in the tsray base (k8s/image/build-redis.sh).
const skipRedis = skip || skipWithout("redis-server", { bin: process.env.TSRAY_REDIS_SERVER ?? "redis-server", install: "apt-get install -y redis-server" });
const nodes: ChaosNode[] = [{ id: "head", cpus: 1 }, { id: "node-1", cpus: 2 }, { id: "node-2", cpus: 2 }];
// One generated workload with work for every node (fixed seed: the same steps every run).
const [workload] = fc.sample(workloadArb(nodes.length, 16, false, ONE_DRIVER_FEATURES).filter((w) => w.steps.length >= 8), { seed: 16, numRuns: 1 });

async function run(faults: ChaosFault[], opts: { redis?: boolean } = {}): Promise<ChaosReport> {
  const e: ChaosExperiment = { nodes, workload: workload!, faults };
  const r = await runExperiment(e, { target: "containers", log: (l) => console.log(l), timeoutMs: 90_000, ...opts });
  console.log(`  ${r.ok ? "ok" : "FAILED"}: ${r.rounds} round(s), ${r.traceEvents} trace events from ${r.tracedNodes.join(", ")}; registrations ${JSON.stringify(r.registrations)}; ${(r.wallMs / 1000).toFixed(1)} s`);
  assert.deepEqual(r.problems, [], "every invariant holds and every value is the simulator's");
  assert.ok(r.ok);
  for (const a of r.applied) assert.equal(a.error, undefined, `${a.fault.kind} was not applied: ${a.error}`);
  assert.equal(r.applied.length, faults.length);
  // The checkers judged the containers' traces, not just the driver's (which runs on the host):
  // the head container's (GCS and raylet) always, and every traced node is one of the cluster's.
  // Not every worker's: a raylet traces only the work it gets, which a short run may not send it,
  // and a SIGKILLed daemon's unflushed trace dies with it.
  const ids = new Set(nodes.map((n) => n.id));
  assert.ok(r.tracedNodes.includes("head"), `no trace of the head container was judged (traced: ${r.tracedNodes.join(", ")})`);
  for (const n of r.tracedNodes) assert.ok(ids.has(n), `a trace from ${n}, which is no node of the cluster`);
  assert.ok(r.observed && r.reference, "the workload returned values to compare");
  return r;
}

describe("chaos experiments on the containers target (podman)", { skip, timeout: 20 * 60_000 }, () => {
  let service: { stop(): Promise<void> } | undefined;
  before(async () => {
    buildImage();
    service = await podmanService();
  });
  after(async () => { await service?.stop(); });

  it("pod-kill of a worker: its container is killed and a new one joins under its id", async () => {
    const r = await run([{ kind: "pod-kill", at: 300, node: "node-1" }]);
    assert.equal(r.registrations["node-1"], 2, "node-1 registered again (a new pod)");
  });

  it("pod-failure of a worker: down for 1.5 s, then a new container", async () => {
    const r = await run([{ kind: "pod-failure", at: 200, node: "node-2", ms: 1_500 }]);
    assert.equal(r.registrations["node-2"], 2);
  });

  it("container-kill: the same container starts again in place", async () => {
    const r = await run([{ kind: "container-kill", at: 200, node: "node-1" }]);
    assert.equal(r.registrations["node-1"], 2);
  });

  it("a network partition of a worker from every node, healed after 1.5 s", async () => {
    await run([{ kind: "partition", at: 200, node: "node-2", direction: "both", ms: 1_500 }]);
  });

  it("delay on one worker, loss on the other", async () => {
    await run([
      { kind: "delay", at: 100, node: "node-1", direction: "both", latencyMs: 80, jitterMs: 20, ms: 2_000 },
      { kind: "loss", at: 100, node: "node-2", direction: "to", rate: 0.2, ms: 2_000 },
    ]);
  });

  it("pod-kill of the head with Redis GCS fault tolerance: a new head on Redis's tables, the workers carry on", { skip: skipRedis }, async () => {
    if (!skipRedis) buildRedisImage();
    const r = await run([{ kind: "pod-kill", at: 300, node: "head" }], { redis: true });
    assert.equal(r.registrations.head, 2, "a second head container registered its raylet (the new pod)");
    // The new GCS knew the workers from Redis: they were never declared dead and never had to
    // register again (a GCS started empty would not know them).
    for (const w of ["node-1", "node-2"]) {
      assert.equal(r.registrations[w], 1, `${w} registered once`);
      assert.ok(!r.deadNodes.includes(w), `${w} was declared dead`);
    }
    assert.ok(r.rounds >= 1);
  });
});
