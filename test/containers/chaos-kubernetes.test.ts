// Chaos experiments on the kubernetes target (chaos/kubernetes-cluster.ts) against the cluster in
// KUBECONFIG — kind made by k8s/kind/up.sh, with the tsray image loaded — where this process
// reaches pod IPs (docs/chaos.md): pod-kill of a worker through the API, a network partition
// through the daemons' fault layer, and the head's pod-kill with Redis GCS fault tolerance, each
// judged by every invariant checker and against the simulator's values. Skipped with the reason
// printed where no cluster answers (this machine has none); its API calls are tested against a
// fake API server in test/integration/chaos-kubernetes.test.ts.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { runExperiment, type ChaosExperiment } from "../../chaos/experiment.ts";
import type { ChaosFault } from "../../chaos/faults.ts";
import type { ChaosNode } from "../../chaos/target.ts";
import { ONE_DRIVER_FEATURES, workloadArb } from "../../sim/arbitraries.ts";
import { skipWithoutKubernetes } from "../helpers/kubernetes.ts";

const skip = skipWithoutKubernetes();
const nodes: ChaosNode[] = [{ id: "head", cpus: 1 }, { id: "node-1", cpus: 2 }, { id: "node-2", cpus: 2 }];
const [workload] = fc.sample(workloadArb(nodes.length, 16, false, ONE_DRIVER_FEATURES).filter((w) => w.steps.length >= 8), { seed: 16, numRuns: 1 });

async function run(faults: ChaosFault[], redis = false) {
  const e: ChaosExperiment = { nodes, workload: workload!, faults };
  const r = await runExperiment(e, { target: "kubernetes", redis, log: (l) => console.log(l), timeoutMs: 120_000 });
  assert.deepEqual(r.problems, [], "every invariant holds and every value is the simulator's");
  for (const a of r.applied) assert.equal(a.error, undefined, `${a.fault.kind} was not applied: ${a.error}`);
  assert.ok(r.tracedNodes.includes("head"), `no trace of the head pod was judged (traced: ${r.tracedNodes.join(", ")})`);
  return r;
}

describe("chaos experiments on the kubernetes target", { skip, timeout: 30 * 60_000 }, () => {
  it("pod-kill of a worker: its pod is deleted and a new one joins under its id", async () => {
    const r = await run([{ kind: "pod-kill", at: 300, node: "node-1" }]);
    assert.equal(r.registrations["node-1"], 2);
  });

  it("a network partition of a worker, healed after 1.5 s", async () => {
    await run([{ kind: "partition", at: 200, node: "node-2", direction: "both", ms: 1_500 }]);
  });

  it("pod-kill of the head with Redis GCS fault tolerance: the workers carry on", async () => {
    const r = await run([{ kind: "pod-kill", at: 300, node: "head" }], true);
    assert.equal(r.registrations.head, 2);
    for (const w of ["node-1", "node-2"]) assert.ok(!r.deadNodes.includes(w), `${w} was declared dead`);
  });
});
