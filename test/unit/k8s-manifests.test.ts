// Every manifest under k8s/ passes offline validation (built-in kinds against the Kubernetes API
// types, RayCluster/RayJob/Chaos Mesh/kind against their CRD subsets), and the validator refuses
// what the API server would: unknown fields, wrong types, bad enums, missing required fields.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { autoscalingFromRayCluster } from "../../src/k8s/raycluster-autoscaling.ts";
import { validateManifests } from "../../src/k8s/validate.ts";

const root = fileURLToPath(new URL("../../k8s/", import.meta.url));
const manifests = readdirSync(root, { recursive: true, encoding: "utf8" }).filter((f) => /\.ya?ml$/.test(f)).sort();

describe("k8s/ manifests", () => {
  it("has the seed's RayCluster and RayJob, the Redis FT variant, plain manifests, Chaos Mesh experiments and a kind config", () => {
    const kinds = new Set(manifests.flatMap((f) => validateManifests(readFileSync(path.join(root, f), "utf8")).kinds));
    for (const k of ["ray.io/v1 RayCluster", "ray.io/v1 RayJob", "apps/v1 Deployment", "v1 Service",
      "chaos-mesh.org/v1alpha1 PodChaos", "chaos-mesh.org/v1alpha1 NetworkChaos", "kind.x-k8s.io/v1alpha4 Cluster"]) {
      assert.ok(kinds.has(k), `no manifest of kind ${k}`);
    }
  });

  for (const f of manifests) {
    it(`${f} validates`, () => {
      const { problems } = validateManifests(readFileSync(path.join(root, f), "utf8"));
      assert.deepEqual(problems.map((p) => `doc ${p.doc} ${p.kind}: ${p.message}`), []);
    });
  }

  it("the seed's RayCluster has a head and a worker group of 3 with num-cpus 4", () => {
    const text = readFileSync(path.join(root, "kuberay/ray-cluster.yaml"), "utf8");
    assert.match(text, /replicas: 3\n/);
    assert.match(text, /num-cpus: "4"/);
  });

  it("has an in-tree autoscaling variant: KubeRay's autoscaler options, a worker group with bounds and an idle timeout", () => {
    const rc = validateManifests(readFileSync(path.join(root, "kuberay/ray-cluster-autoscaler.yaml"), "utf8"));
    assert.deepEqual(rc.kinds, ["ray.io/v1 RayCluster"]);
    const text = readFileSync(path.join(root, "kuberay/ray-cluster-autoscaler.yaml"), "utf8");
    for (const re of [/enableInTreeAutoscaling: true/, /autoscalerOptions:\n/, /minReplicas: 0/, /maxReplicas: 4/, /idleTimeoutSeconds: 30/, /upscalingMode: Default/]) assert.match(text, re);
  });

  it("its worker group is what ray kuberay-autoscaler derives: 0-4 nodes of 4 CPUs and the 1Gi memory limit, idle 30 s", () => {
    const text = readFileSync(path.join(root, "kuberay/ray-cluster-autoscaler.yaml"), "utf8");
    const a = autoscalingFromRayCluster({ ...parse(text), metadata: { name: "ray-cluster-autoscaler", namespace: "default" } }, 5);
    assert.deepEqual(a.config.groups, [{ name: "workers", minReplicas: 0, maxReplicas: 4, resources: { CPU: 4, memory: 2 ** 30 }, idleTimeoutMs: 30_000 }]);
  });
});

describe("manifest validation refuses what the API server would", () => {
  const rayCluster = (spec: string) => `apiVersion: ray.io/v1\nkind: RayCluster\nmetadata:\n  name: c\nspec:\n${spec}`;
  const head = "  headGroupSpec:\n    template:\n      spec:\n        containers:\n          - name: h\n            image: i\n";
  const cases: [string, string, RegExp][] = [
    ["an unknown field in a pod's container", rayCluster(head + "            imagePullPolcy: Always\n"), /containers\[0\]\.imagePullPolcy: unknown field/],
    ["a wrong type in a built-in type", rayCluster(head + "            ports:\n              - containerPort: http\n"), /containerPort: expected a number/],
    ["a missing required CRD field", rayCluster("  rayVersion: \"2.53.0\"\n"), /spec\.headGroupSpec: required field missing/],
    ["an unknown CRD field", rayCluster(head + "  workerGroupSpec: []\n"), /spec\.workerGroupSpec: unknown field/],
    ["a non-string rayStartParams value", rayCluster(head.replace("  headGroupSpec:\n", "  headGroupSpec:\n    rayStartParams:\n      num-cpus: 4\n")), /rayStartParams\.num-cpus: expected a string/],
    ["a bad enum", "apiVersion: ray.io/v1\nkind: RayJob\nmetadata: { name: j }\nspec:\n  submissionMode: HttpMode\n", /submissionMode: expected one of/],
    ["a label that is not a string", "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  labels: { tier: 1 }\n", /labels\.tier: expected a string/],
    ["an unknown kind", "apiVersion: ray.io/v1\nkind: RayThing\n", /unknown kind ray\.io\/v1 RayThing/],
    ["broken YAML", "apiVersion: v1\nkind: [\n", /YAML:/],
  ];
  for (const [what, text, expected] of cases) {
    it(`refuses ${what}`, () => {
      const { problems } = validateManifests(text);
      assert.ok(problems.some((p) => expected.test(p.message)), `expected ${expected} among ${JSON.stringify(problems)}`);
    });
  }

  it("accepts resource quantities written as numbers, as the API server does", () => {
    const text = rayCluster(head + "            resources:\n              limits: { cpu: 2, memory: 1Gi }\n");
    assert.deepEqual(validateManifests(text).problems, []);
  });
});
