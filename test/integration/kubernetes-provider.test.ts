// The Kubernetes node provider against the fake API server (test/helpers/fake-kube-api.ts), which records every
// request: the RayCluster patches must be exactly KubeRay's autoscaler's (a JSON patch replacing
// workerGroupSpecs[i].replicas, and scaleStrategy.workersToDelete naming the pod to remove, then
// cleared once the pod is gone), and without KubeRay, a Deployment's replicas and the pod's
// deletion cost. The fake plays the operator: it creates and deletes pods to match. A request
// the API server never answers fails after the request timeout, and the next change goes on.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { KubernetesProvider } from "../../src/runtime/autoscaler/kubernetes-provider.ts";
import type { WorkerGroup } from "../../src/core/autoscaler/autoscaler.ts";
import { FakeKubeApi, notFound, type KubeRequest } from "../helpers/fake-kube-api.ts";

type Op = { op: string; path: string; value: unknown };

const NS = "ray";
const cpu: WorkerGroup = { name: "cpu", minReplicas: 0, maxReplicas: 4, resources: { CPU: 1 }, idleTimeoutMs: 1000 };
let server: FakeKubeApi;
let requests: KubeRequest[] = [];
let rayCluster: { spec: { workerGroupSpecs: { groupName: string; replicas: number; scaleStrategy?: { workersToDelete?: string[] } }[] } };
let deployment: { spec: { replicas: number } };
let pods: Map<string, { group: string; annotations: Record<string, string> }>;
let made = 0;
/** Requests the fake API server leaves unanswered, from the next one on. */
let hang = 0;

/** Applies `replace`/`add` operations (the only kinds the provider sends) to an object. */
function applyPatch(target: Record<string, unknown>, ops: Op[]): void {
  for (const o of ops) {
    const keys = o.path.split("/").slice(1).map((k) => k.replace(/~1/g, "/").replace(/~0/g, "~"));
    let at: Record<string, unknown> = target;
    for (const k of keys.slice(0, -1)) at = (at[k] ??= {}) as Record<string, unknown>;
    at[keys[keys.length - 1]] = o.value;
  }
}

/** The operator: pods follow replicas; listed workersToDelete go first. */
function reconcile(mode: "raycluster" | "deployment"): void {
  const want = mode === "raycluster" ? rayCluster.spec.workerGroupSpecs[0].replicas : deployment.spec.replicas;
  if (mode === "raycluster") for (const p of rayCluster.spec.workerGroupSpecs[0].scaleStrategy?.workersToDelete ?? []) pods.delete(p);
  while (pods.size < want) pods.set(`rc-cpu-worker-${++made}`, { group: "cpu", annotations: {} });
  while (pods.size > want) {
    // A ReplicaSet removes the pod with the lowest deletion cost first.
    const victim = [...pods].sort(([, a], [, b]) => Number(a.annotations["controller.kubernetes.io/pod-deletion-cost"] ?? 0) - Number(b.annotations["controller.kubernetes.io/pod-deletion-cost"] ?? 0))[0][0];
    pods.delete(victim);
  }
}

function podJson(name: string) {
  const p = pods.get(name)!;
  return { metadata: { name, namespace: NS, labels: { "ray.io/cluster": "rc", "ray.io/group": p.group, "ray.io/node-type": "worker" }, annotations: p.annotations } };
}

before(async () => {
  server = await FakeKubeApi.start((req, url) => {
    requests.push(req);
    if (hang > 0) { hang--; return "hang"; }
    const body = req.body;
    const p = url.pathname;
    if (p === `/apis/ray.io/v1/namespaces/${NS}/rayclusters/rc`) {
      if (req.method === "PATCH") { applyPatch(rayCluster as never, body as Op[]); reconcile("raycluster"); }
      return { code: 200, body: rayCluster };
    }
    if (p === `/apis/apps/v1/namespaces/${NS}/deployments/rc-cpu`) {
      if (req.method === "PATCH") { applyPatch(deployment as never, body as Op[]); reconcile("deployment"); }
      return { code: 200, body: { metadata: { name: "rc-cpu" }, ...deployment } };
    }
    if (p === `/api/v1/namespaces/${NS}/pods`) return { code: 200, body: { items: [...pods.keys()].map(podJson) } };
    const m = /^\/api\/v1\/namespaces\/ray\/pods\/([^/]+)$/.exec(p);
    if (m) {
      if (!pods.has(m[1])) return notFound(`pod ${m[1]}`);
      if (req.method === "PATCH") Object.assign(pods.get(m[1])!.annotations, (body as { metadata: { annotations: Record<string, string> } }).metadata.annotations);
      return { code: 200, body: podJson(m[1]) };
    }
    return undefined;
  });
});

after(() => server.close());

function provider(m: "raycluster" | "deployment", requestTimeoutMs?: number) {
  requests = [];
  made = 0;
  pods = new Map();
  rayCluster = { spec: { workerGroupSpecs: [{ groupName: "cpu", replicas: 0 }] } };
  deployment = { spec: { replicas: 0 } };
  return new KubernetesProvider({ kubeConfig: server.kubeConfig(), namespace: NS, cluster: "rc", mode: m, pollMs: 10, waitMs: 5000, requestTimeoutMs, log: () => {} });
}

const launch = (p: KubernetesProvider, id: string) => new Promise<{ ok: true; node: string } | { ok: false; reason: string }>((r) => p.launch(id, cpu, r));
const terminate = (p: KubernetesProvider, node: string) => new Promise<void>((r) => p.terminate(node, cpu, r));
const patches = () => requests.filter((r) => r.method === "PATCH");

test("RayCluster: scale up patches workerGroupSpecs[i].replicas, one change at a time, and reports each new pod", async () => {
  const p = provider("raycluster");
  const [a, b] = await Promise.all([launch(p, "launch-1"), launch(p, "launch-2")]);
  assert.deepEqual([a, b], [{ ok: true, node: "rc-cpu-worker-1" }, { ok: true, node: "rc-cpu-worker-2" }]);
  assert.deepEqual(patches().map((r) => [r.path, r.contentType, r.body]), [
    ["/apis/ray.io/v1/namespaces/ray/rayclusters/rc", "application/json-patch+json", [{ op: "replace", path: "/spec/workerGroupSpecs/0/replicas", value: 1 }]],
    ["/apis/ray.io/v1/namespaces/ray/rayclusters/rc", "application/json-patch+json", [{ op: "replace", path: "/spec/workerGroupSpecs/0/replicas", value: 2 }]],
  ]);
  assert.ok(requests.some((r) => r.method === "GET" && r.path.startsWith("/api/v1/namespaces/ray/pods?labelSelector=") && decodeURIComponent(r.path).includes("ray.io/cluster=rc,ray.io/node-type=worker,ray.io/group=cpu")));
});

test("RayCluster: scale down names the pod in scaleStrategy.workersToDelete with the lower replicas, then clears it once the pod is gone", async () => {
  const p = provider("raycluster");
  await launch(p, "launch-1");
  await launch(p, "launch-2");
  requests = [];
  await terminate(p, "rc-cpu-worker-1");
  assert.deepEqual([...pods.keys()], ["rc-cpu-worker-2"], "the operator deleted exactly the named pod");
  assert.deepEqual(patches().map((r) => r.body), [
    [
      { op: "replace", path: "/spec/workerGroupSpecs/0/replicas", value: 1 },
      { op: "replace", path: "/spec/workerGroupSpecs/0/scaleStrategy", value: { workersToDelete: ["rc-cpu-worker-1"] } },
    ],
    [{ op: "replace", path: "/spec/workerGroupSpecs/0/scaleStrategy", value: { workersToDelete: [] } }],
  ]);
  assert.ok(patches().every((r) => r.contentType === "application/json-patch+json"));
});

test("RayCluster: a group the RayCluster lacks is a failed launch, naming it", async () => {
  const p = provider("raycluster");
  const r = await new Promise<{ ok: boolean; reason?: string }>((res) => p.launch("launch-1", { ...cpu, name: "gpu" }, res));
  assert.equal(r.ok, false);
  assert.match(r.reason!, /RayCluster rc has no worker group gpu/);
});

test("Deployments (no KubeRay): replicas patched; the pod to remove gets the lowest deletion cost first", async () => {
  const p = provider("deployment");
  await launch(p, "launch-1");
  await launch(p, "launch-2");
  await terminate(p, "rc-cpu-worker-2");
  assert.deepEqual([...pods.keys()], ["rc-cpu-worker-1"]);
  const json = "application/json-patch+json";
  assert.deepEqual(patches().map((r) => [r.path, r.contentType, r.body]), [
    ["/apis/apps/v1/namespaces/ray/deployments/rc-cpu", json, [{ op: "replace", path: "/spec/replicas", value: 1 }]],
    ["/apis/apps/v1/namespaces/ray/deployments/rc-cpu", json, [{ op: "replace", path: "/spec/replicas", value: 2 }]],
    ["/api/v1/namespaces/ray/pods/rc-cpu-worker-2", "application/merge-patch+json", { metadata: { annotations: { "controller.kubernetes.io/pod-deletion-cost": "-2147483648" } } }],
    ["/apis/apps/v1/namespaces/ray/deployments/rc-cpu", json, [{ op: "replace", path: "/spec/replicas", value: 1 }]],
  ]);
});

test("a request the API server never answers fails the launch after the request timeout, and the next change goes on", async () => {
  const p = provider("raycluster", 200);
  hang = 1; // the launch's first request: the worker pods as they are
  const r = await launch(p, "launch-1");
  assert.equal(r.ok, false);
  assert.match((r as { reason: string }).reason, /RayCluster cpu: .*(abort|timeout)/i);
  assert.deepEqual(await launch(p, "launch-2"), { ok: true, node: "rc-cpu-worker-1" });
});
