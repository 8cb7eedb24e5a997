// The kubernetes chaos target (chaos/kubernetes-cluster.ts, chaos/kube-pods.ts) against a fake
// Kubernetes API server (test/helpers/fake-kube-api.ts) that plays the kubelet (a created pod
// runs at an IP on the next read; a pod the test marks fails) and Chaos Mesh (a PodChaos
// container-kill restarts the named container): the pods are those KubeRay builds for the
// experiment's nodes, pods are created and deleted at once (pod-kill), container-kill goes
// through a PodChaos and is refused without Chaos Mesh, and a cluster that cannot start leaves
// nothing behind. The runs on a real cluster are in test/containers/chaos-kubernetes.test.ts.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import type { V1Pod } from "@kubernetes/client-node";
import { KubePods, TRACE_DIR, chaosPod, headService, redisObjects, type KubeChaosSpec } from "../../chaos/kube-pods.ts";
import { KubernetesCluster } from "../../chaos/kubernetes-cluster.ts";
import { startCluster } from "../../chaos/target.ts";
import { FakeKubeApi, notFound } from "../helpers/fake-kube-api.ts";

const NS = "chaos";
const nodes = [{ id: "head", cpus: 1 }, { id: "node-1", cpus: 2 }, { id: "node-2", cpus: 2 }];
const spec: KubeChaosSpec = { cluster: "tsray-chaos-abc", namespace: NS, image: "tsray:0.1.0", nodes, token: "tok", bugs: "" };
const ftSpec: KubeChaosSpec = { ...spec, redis: { image: "redis:7", password: "pw" } };

interface FakePod { pod: V1Pod; phase: string; restarts: number; reads: number }
let api: FakeKubeApi;
let pods: Map<string, FakePod>;
let services: Set<string>;
let chaosMesh: boolean;
let podChaos: Map<string, unknown>;
/** Which pods the fake kubelet cannot start (they go Failed). */
let fails: (pod: string) => boolean;

const podStatus = (name: string) => {
  const p = pods.get(name)!;
  return { ...p.pod, status: { phase: p.phase, ...(p.phase === "Running" ? { podIP: `10.244.0.${[...pods.keys()].indexOf(name) + 10}` } : {}), message: p.phase === "Failed" ? "ErrImagePull" : undefined, containerStatuses: [{ name: "ray", restartCount: p.restarts }] } };
};

before(async () => {
  api = await FakeKubeApi.start((req, url) => {
    const p = url.pathname;
    const core = `/api/v1/namespaces/${NS}`;
    const cm = `/apis/chaos-mesh.org/v1alpha1/namespaces/${NS}/podchaos`;
    if (p === `${core}/pods` && req.method === "POST") {
      const pod = req.body as V1Pod;
      pods.set(pod.metadata!.name!, { pod, phase: "Pending", restarts: 0, reads: 0 });
      return { code: 201, body: pod };
    }
    const pod = /^\/api\/v1\/namespaces\/chaos\/pods\/([^/]+)$/.exec(p)?.[1];
    if (pod !== undefined) {
      const fp = pods.get(pod);
      if (!fp) return notFound(`pods "${pod}"`);
      if (req.method === "DELETE") { pods.delete(pod); return { code: 200, body: fp.pod }; }
      // The kubelet: the pod runs (or fails) once it has been looked at.
      if (fp.reads++ > 0) fp.phase = fails(pod) ? "Failed" : "Running";
      return { code: 200, body: podStatus(pod) };
    }
    if (p === `${core}/services` && req.method === "POST") {
      services.add((req.body as { metadata: { name: string } }).metadata.name);
      return { code: 201, body: req.body };
    }
    const svc = /^\/api\/v1\/namespaces\/chaos\/services\/([^/]+)$/.exec(p)?.[1];
    if (svc !== undefined && req.method === "DELETE") return services.delete(svc) ? { code: 200, body: {} } : notFound(`services "${svc}"`);
    if (p.startsWith(cm)) {
      if (!chaosMesh) return notFound("the server could not find the requested resource");
      if (p === cm && req.method === "GET") return { code: 200, body: { items: [...podChaos.values()] } };
      if (p === cm && req.method === "POST") {
        // Chaos Mesh: kill the named container of each selected pod; the kubelet restarts it.
        const body = req.body as { metadata: { name: string }; spec: { selector: { pods: Record<string, string[]> } } };
        podChaos.set(body.metadata.name, body);
        for (const name of body.spec.selector.pods[NS] ?? []) if (pods.has(name)) pods.get(name)!.restarts++;
        return { code: 201, body };
      }
      const name = p.slice(cm.length + 1);
      if (req.method === "DELETE") return podChaos.delete(name) ? { code: 200, body: {} } : notFound(name);
    }
    return undefined;
  });
});
after(() => api.close());
beforeEach(() => {
  api.requests.length = 0;
  pods = new Map();
  services = new Set();
  podChaos = new Map();
  chaosMesh = false;
  fails = () => false;
});

const envOf = (pod: V1Pod) => Object.fromEntries((pod.spec!.containers[0]!.env ?? []).map((e) => [e.name, e.value]));

describe("the kubernetes target's pods are KubeRay's", () => {
  it("the head runs KubeRay's ray start line; each worker joins the head Service under its node id", () => {
    const head = chaosPod(spec, "head", 1);
    const ray = head.spec!.containers[0]!;
    assert.equal(head.metadata!.name, "tsray-chaos-abc-head-1");
    assert.deepEqual(ray.command, ["/bin/bash", "-c", "--"]);
    assert.match(ray.args![0]!, /^ulimit -n \$\{RAY_START_ULIMIT_OPEN_FILES:-65536\}; ray start --head --block .*--num-cpus=1 .*--temp-dir=\/tmp\/ray\/chaos/);
    assert.equal(head.metadata!.labels!["ray.io/node-type"], "head");
    assert.equal(envOf(head).TSRAY_TOKEN, "tok");
    assert.equal(envOf(head).RAY_REDIS_ADDRESS, undefined, "no Redis unless asked");

    const w = chaosPod(spec, "node-2", 3);
    assert.equal(w.metadata!.name, "tsray-chaos-abc-node-2-3");
    assert.equal(envOf(w).RAY_CLOUD_INSTANCE_ID, "node-2", "the experiment's node id (the workload places work by it)");
    assert.match(w.spec!.containers[0]!.args![0]!, /ray start --address=tsray-chaos-abc-head-svc\.chaos\.svc\.cluster\.local:6379 --block .*--num-cpus=2/);
    assert.equal(w.spec!.initContainers![0]!.name, "wait-gcs-ready");
    assert.equal(w.spec!.restartPolicy, "Always", "a killed container restarts in its pod (container-kill)");
    assert.ok(w.spec!.containers[0]!.volumeMounts!.some((m) => m.mountPath === TRACE_DIR), "traces on an emptyDir, kept across container restarts");
    assert.throws(() => chaosPod(spec, "node-9", 1), /no node "node-9"/);

    const svc = headService(spec);
    assert.equal(svc.metadata!.name, "tsray-chaos-abc-head-svc");
    assert.equal(svc.spec!.clusterIP, "None");
    assert.deepEqual(svc.spec!.selector, { "ray.io/cluster": "tsray-chaos-abc", "ray.io/node-type": "head" });
  });

  it("with Redis GCS fault tolerance: the head's RAY_REDIS_ADDRESS and password, the workers' reconnect timeout, and the Redis pod and Service", () => {
    const head = envOf(chaosPod(ftSpec, "head", 1));
    assert.equal(head.RAY_REDIS_ADDRESS, "tsray-chaos-abc-redis:6379");
    assert.equal(head.REDIS_PASSWORD, "pw");
    assert.equal(head.RAY_external_storage_namespace, "tsray-chaos-abc");
    assert.match(chaosPod(ftSpec, "head", 1).spec!.containers[0]!.args![0]!, /--redis-password=\$REDIS_PASSWORD/);
    assert.equal(envOf(chaosPod(ftSpec, "node-1", 1)).RAY_gcs_rpc_server_reconnect_timeout_s, "600");
    const r = redisObjects(ftSpec);
    assert.equal(r.service.metadata!.name, "tsray-chaos-abc-redis");
    assert.deepEqual(r.pod.spec!.containers[0]!.args!.slice(0, 2), ["--requirepass", "pw"]);
    assert.throws(() => redisObjects(spec), /no Redis/);
  });
});

describe("the kubernetes target's API calls (fake API server)", () => {
  it("creates a pod, waits until it runs at an IP, and pod-kills it (deleted with grace period 0)", async () => {
    const k = new KubePods(api.kubeConfig(), NS, 5);
    await k.createPod(chaosPod(spec, "node-1", 1));
    const post = api.requests.find((r) => r.method === "POST")!;
    assert.equal(post.path, `/api/v1/namespaces/${NS}/pods`);
    assert.equal((post.body as V1Pod).metadata!.name, "tsray-chaos-abc-node-1-1");
    const ip = await k.running("tsray-chaos-abc-node-1-1", 5_000);
    assert.match(ip, /^10\.244\.0\.\d+$/);
    await k.deletePod("tsray-chaos-abc-node-1-1");
    const del = api.requests.find((r) => r.method === "DELETE")!;
    assert.match(del.path, /^\/api\/v1\/namespaces\/chaos\/pods\/tsray-chaos-abc-node-1-1/);
    assert.ok(del.path.includes("gracePeriodSeconds=0") || (del.body as { gracePeriodSeconds?: number })?.gracePeriodSeconds === 0, `grace period 0: ${del.path} ${JSON.stringify(del.body)}`);
    assert.equal(pods.size, 0);
    await k.deletePod("tsray-chaos-abc-node-1-1"); // gone already: no error
  });

  it("a pod that fails is an error naming it and why", async () => {
    const k = new KubePods(api.kubeConfig(), NS, 5);
    fails = (pod) => pod === "tsray-chaos-abc-node-2-1";
    await k.createPod(chaosPod(spec, "node-2", 1));
    await assert.rejects(k.running("tsray-chaos-abc-node-2-1", 5_000), /pod tsray-chaos-abc-node-2-1 is Failed: ErrImagePull/);
  });

  it("container-kill is refused without Chaos Mesh, naming what it needs", async () => {
    const k = new KubePods(api.kubeConfig(), NS, 5);
    await k.createPod(chaosPod(spec, "node-1", 1));
    await assert.rejects(k.containerKill("x", "tsray-chaos-abc-node-1-1", "ray-worker", 5_000), /needs Chaos Mesh/);
    assert.equal(pods.get("tsray-chaos-abc-node-1-1")!.restarts, 0);
  });

  it("container-kill with Chaos Mesh: a PodChaos of that container of that pod, deleted once the kubelet restarted it", async () => {
    chaosMesh = true;
    const k = new KubePods(api.kubeConfig(), NS, 5);
    await k.createPod(chaosPod(spec, "node-1", 1));
    await k.containerKill("kill-1", "tsray-chaos-abc-node-1-1", "ray-worker", 5_000);
    const created = api.requests.find((r) => r.method === "POST" && r.path.endsWith("/podchaos"))!;
    assert.deepEqual(created.body, {
      apiVersion: "chaos-mesh.org/v1alpha1", kind: "PodChaos", metadata: { name: "kill-1", namespace: NS },
      spec: { action: "container-kill", mode: "one", containerNames: ["ray-worker"], selector: { pods: { [NS]: ["tsray-chaos-abc-node-1-1"] } } },
    });
    assert.equal(pods.get("tsray-chaos-abc-node-1-1")!.restarts, 1);
    assert.equal(podChaos.size, 0, "the experiment was deleted");
  });

  it("a cluster whose head pod cannot start is an error naming the pod, and leaves nothing behind", async () => {
    fails = (pod) => pod.includes("-head-"); // the cluster's name is random
    await assert.rejects(KubernetesCluster.start(nodes, [], { kubeConfig: api.kubeConfig(NS), redis: true }), /pod tsray-chaos-[0-9a-f]{6}-head-1 is Failed/);
    const made = api.requests.filter((r) => r.method === "POST").map((r) => (r.body as { kind: string; metadata: { name: string } }));
    assert.deepEqual(made.map((m) => m.kind), ["Service", "Pod", "Service", "Pod"], "Redis's Service and pod, the head Service, the head pod");
    assert.equal(pods.size, 0, "every pod deleted");
    assert.equal(services.size, 0, "every Service deleted");
  });

  it("startCluster routes the kubernetes target here, and the local target refuses Redis by name", async () => {
    await assert.rejects(startCluster("local", nodes, [], { redis: true }), /local target keeps the GCS's tables in a file/);
    const saved = process.env.KUBECONFIG;
    process.env.KUBECONFIG = "/nonexistent/kubeconfig";
    try {
      await assert.rejects(startCluster("kubernetes", nodes), /kubernetes target found no cluster|nonexistent/);
    } finally {
      if (saved === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = saved;
    }
  });
});
