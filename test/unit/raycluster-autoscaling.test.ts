// The autoscaling `ray kuberay-autoscaler` derives from a live RayCluster
// (src/k8s/raycluster-autoscaling.ts): each worker group's nodes offer what their pods' `ray
// start` will offer (KubeRay's flags from the Ray container's resources, overridden by
// rayStartParams), idle timeouts and upscaling mode come from autoscalerOptions and the group,
// and every malformed or unsupported field is refused with its path.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { autoscalingFromRayCluster } from "../../src/k8s/raycluster-autoscaling.ts";

const template = (resources: object) => ({ spec: { containers: [{ name: "ray-worker", image: "tsray", resources }] } });
const rc = (spec: object) => ({ apiVersion: "ray.io/v1", kind: "RayCluster", metadata: { name: "rc", namespace: "ray", uid: "u" }, spec: { enableInTreeAutoscaling: true, headGroupSpec: {}, ...spec } });

describe("RayCluster → autoscaling", () => {
  it("derives groups, resources, idle timeouts and the provider as KubeRay's sidecar does", () => {
    const a = autoscalingFromRayCluster(rc({
      autoscalerOptions: { idleTimeoutSeconds: 90, upscalingMode: "Conservative", version: "v1", image: "x" },
      workerGroupSpecs: [
        { groupName: "cpu", replicas: 1, minReplicas: 1, maxReplicas: 3, template: template({ limits: { cpu: "1500m", memory: "2Gi" } }) },
        { groupName: "req", maxReplicas: 2, idleTimeoutSeconds: 5, template: template({ requests: { cpu: "2" } }) },
        { groupName: "gpu", maxReplicas: 1, rayStartParams: { "num-cpus": "8", resources: `'{"special":2}'` }, template: template({ limits: { cpu: "2", "nvidia.com/gpu": "2" } }) },
      ],
    }), 5);
    assert.deepEqual(a.config.groups, [
      { name: "cpu", minReplicas: 1, maxReplicas: 3, resources: { CPU: 2, memory: 2 * 2 ** 30 }, idleTimeoutMs: 90_000 },
      { name: "req", minReplicas: 0, maxReplicas: 2, resources: { CPU: 2 }, idleTimeoutMs: 5_000 },
      { name: "gpu", minReplicas: 0, maxReplicas: 1, resources: { CPU: 8, GPU: 2, special: 2 }, idleTimeoutMs: 90_000 },
    ]);
    assert.equal(a.config.upscalingSpeed, 1);
    assert.equal(a.periodMs, 5_000);
    assert.deepEqual([...a.initialReplicas], [["cpu", 1], ["req", 0], ["gpu", 0]]);
    assert.deepEqual(a.provider, { type: "kuberay", cluster: "rc", namespace: "ray" });
  });

  it("defaults to KubeRay's: idle 60 s, upscaling Default, maxReplicas unbounded", () => {
    const a = autoscalingFromRayCluster(rc({ workerGroupSpecs: [{ groupName: "w", rayStartParams: { "num-cpus": "1" }, template: template({}) }] }), 1);
    assert.deepEqual(a.config.groups[0], { name: "w", minReplicas: 0, maxReplicas: 2147483647, resources: { CPU: 1 }, idleTimeoutMs: 60_000 });
    assert.equal(a.config.upscalingSpeed, 1000);
  });

  it("refuses a malformed or unsupported field by its path", () => {
    const w = { groupName: "w", template: template({ limits: { cpu: "1" } }) };
    const cases: [object, RegExp][] = [
      [{ workerGroupSpecs: [{ ...w, maxReplicas: "2" }] }, /RayCluster: spec\.workerGroupSpecs\.0\.maxReplicas: Expected number/],
      [{ workerGroupSpecs: [{ ...w, template: { spec: { containers: [] } } }] }, /spec\.workerGroupSpecs\.0\.template\.spec\.containers: the Ray container \(containers\[0\]\) is missing/],
      [{ workerGroupSpecs: [] }, /spec\.workerGroupSpecs: no worker group to scale/],
      [{ autoscalerOptions: { upscalingMode: "Fast" }, workerGroupSpecs: [w] }, /spec\.autoscalerOptions\.upscalingMode/],
      [{ workerGroupSpecs: [{ ...w, template: template({}) }] }, /RayCluster ray\/rc: spec\.workerGroupSpecs\.0: no CPU count for group w: set rayStartParams num-cpus/],
      [{ workerGroupSpecs: [{ ...w, rayStartParams: { "num-cpus": "x" } }] }, /spec\.workerGroupSpecs\.0\.rayStartParams: ray start: --num-cpus must be a number/],
      [{ workerGroupSpecs: [{ ...w, template: template({ limits: { cpu: "lots" } }) }] }, /spec\.workerGroupSpecs\.0\.template\.spec\.containers\[0\]\.resources: not a Kubernetes quantity/],
      [{ workerGroupSpecs: [{ ...w, numOfHosts: 2 }] }, /spec\.workerGroupSpecs\.0\.numOfHosts: 2 is not supported by tsray/],
      [{ workerGroupSpecs: [{ ...w, minReplicas: 3, maxReplicas: 2 }] }, /RayCluster ray\/rc: spec\.workerGroupSpecs\.0\.minReplicas: 3 is more than maxReplicas 2/],
      [{ workerGroupSpecs: [w, w] }, /spec\.workerGroupSpecs\.1\.groupName: "w" appears twice/],
      [{ enableInTreeAutoscaling: false, workerGroupSpecs: [w] }, /spec\.enableInTreeAutoscaling is not true/],
    ];
    for (const [spec, re] of cases) assert.throws(() => autoscalingFromRayCluster(rc(spec), 5), re, JSON.stringify(spec));
    assert.throws(() => autoscalingFromRayCluster({ spec: {} }, 5), /^Error: RayCluster: metadata: /);
  });
});
