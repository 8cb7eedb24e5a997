// The renderer of the pods KubeRay v1.7 builds from a RayCluster (src/k8s/kuberay-pods.ts): the
// ray start command, environment, init container, probes and head Service, checked against the
// operator's rules, and every command it renders from k8s/kuberay/ accepted by the image's `ray`.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { planStart } from "../../src/cli/ray-shim.ts";
import { parseQuantity, rayStartCommand, renderRayCluster, type RayClusterManifest } from "../../src/k8s/kuberay-pods.ts";

const dir = fileURLToPath(new URL("../../k8s/kuberay/", import.meta.url));
const clusters = (file: string): RayClusterManifest[] =>
  parseAllDocuments(readFileSync(dir + file, "utf8")).map((d) => d.toJS()).filter((d) => d?.kind === "RayCluster");
const seed = clusters("ray-cluster.yaml")[0]!;
const env = (c: { env?: { name: string; value?: string }[] }, name: string) => c.env?.find((e) => e.name === name);

function minimal(containers: object, extra: object = {}): RayClusterManifest {
  return {
    metadata: { name: "rc", namespace: "ns" },
    spec: { headGroupSpec: { rayStartParams: {}, template: { spec: { containers: [{ name: "ray-head", image: "i", ...containers }] } } }, ...extra },
  } as RayClusterManifest;
}

describe("KubeRay pod rendering", () => {
  it("renders the seed's RayCluster: a head and 3 workers with KubeRay's ray start lines", () => {
    const r = renderRayCluster(seed);
    assert.deepEqual(r.pods.map((p) => p.name), ["ray-cluster-head-00000", "ray-cluster-workers-worker-00000", "ray-cluster-workers-worker-00001", "ray-cluster-workers-worker-00002"]);
    const [head, worker] = r.pods;
    assert.deepEqual(head!.containers[0]!.command, ["/bin/bash", "-c", "--"]);
    assert.deepEqual(head!.containers[0]!.args, [
      "ulimit -n ${RAY_START_ULIMIT_OPEN_FILES:-65536}; ray start --head --block --dashboard-agent-listen-port=52365 --dashboard-host=0.0.0.0 --memory=2147483648 --metrics-export-port=8080 --num-cpus=1",
    ]);
    // rayStartParams num-cpus "4" wins over the 1 CPU limit; the address is the head Service's FQDN.
    assert.equal(env(worker!.containers[0]!, "KUBERAY_GEN_RAY_START_CMD")?.value,
      "ray start --address=ray-cluster-head-svc.default.svc.cluster.local:6379 --block --dashboard-agent-listen-port=52365 --memory=1073741824 --metrics-export-port=8080 --num-cpus=4");
    assert.deepEqual(r.headService, {
      name: "ray-cluster-head-svc", fqdn: "ray-cluster-head-svc.default.svc.cluster.local", headless: false,
      ports: [{ name: "gcs-server", port: 6379 }, { name: "dashboard", port: 8265 }, { name: "client", port: 10001 }, { name: "metrics", port: 8080 }],
    });
    assert.deepEqual(worker!.labels, { "ray.io/cluster": "ray-cluster", "ray.io/node-type": "worker", "ray.io/group": "workers" });
  });

  it("reproduces KubeRay's own example command (1 CPU, 1Gi)", () => {
    const r = renderRayCluster(minimal({ resources: { limits: { cpu: "1", memory: "1Gi" } } }));
    assert.equal(env(r.pods[0]!.containers[0]!, "KUBERAY_GEN_RAY_START_CMD")?.value,
      "ray start --head --block --dashboard-agent-listen-port=52365 --dashboard-host=0.0.0.0 --memory=1073741824 --metrics-export-port=8080 --num-cpus=1");
  });

  it("sets the environment KubeRay sets: addresses, identity, auth from authOptions", () => {
    const [head, worker] = renderRayCluster(seed).pods;
    const h = head!.containers[0]!, w = worker!.containers[0]!;
    assert.equal(env(h, "RAY_ADDRESS")?.value, "127.0.0.1:6379");
    assert.equal(env(w, "RAY_ADDRESS")?.value, "ray-cluster-head-svc.default.svc.cluster.local:6379");
    assert.equal(env(w, "FQ_RAY_IP")?.value, "ray-cluster-head-svc.default.svc.cluster.local");
    assert.equal(env(w, "RAY_IP")?.value, "ray-cluster-head-svc");
    assert.equal(env(h, "FQ_RAY_IP"), undefined);
    assert.equal(env(w, "RAY_CLOUD_INSTANCE_ID")?.value, "ray-cluster-workers-worker-00000");
    assert.equal(env(h, "RAY_NODE_TYPE_NAME")?.value, "headgroup");
    assert.equal(env(h, "RAY_AUTH_MODE")?.value, "token");
    assert.deepEqual(h.env?.find((e) => e.name === "RAY_AUTH_TOKEN")?.valueFrom, { secretKeyRef: { name: "ray-cluster", key: "auth_token" } });
    assert.match(env(h, "RAY_USAGE_STATS_EXTRA_TAGS")!.value!, /kuberay_version=v1\.7\.0/);
    assert.equal(env(w, "RAY_USAGE_STATS_EXTRA_TAGS"), undefined);
  });

  it("gives workers the wait-gcs-ready init container and Ray containers KubeRay's probes", () => {
    const [head, worker] = renderRayCluster(seed).pods;
    assert.deepEqual(head!.initContainers, []);
    const init = worker!.initContainers[0]!;
    assert.equal(init.name, "wait-gcs-ready");
    assert.equal(init.image, "tsray:0.1.0");
    assert.match(init.args![0]!, /ray health-check --address ray-cluster-head-svc\.default\.svc\.cluster\.local:6379/);
    assert.deepEqual(init.env, worker!.containers[0]!.env);
    const live = head!.containers[0]!.livenessProbe!, ready = worker!.containers[0]!.readinessProbe!;
    assert.deepEqual(live.httpGet, { path: "/api/healthz", port: 52365 });
    assert.deepEqual([live.initialDelaySeconds, live.timeoutSeconds, live.periodSeconds, live.failureThreshold], [30, 5, 5, 120]);
    assert.deepEqual([ready.initialDelaySeconds, ready.timeoutSeconds, ready.periodSeconds, ready.failureThreshold], [10, 2, 5, 10]);
    // Before Ray 2.53: exec probes with wget | grep success, the head also asking for the GCS.
    const old = renderRayCluster({ ...seed, spec: { ...seed.spec, rayVersion: "2.46.0" } }).pods[0]!.containers[0]!.readinessProbe!;
    assert.deepEqual(old.exec?.command, ["bash", "-c",
      "wget --tries 1 -T 5 -q -O- http://localhost:52365/api/local_raylet_healthz | grep success && wget --tries 1 -T 5 -q -O- http://localhost:8265/api/gcs_healthz | grep success"]);
  });

  it("follows KubeRay's rules for params, user commands, fault tolerance and autoscaling", () => {
    assert.equal(rayStartCommand(false, { "include-dashboard": "false", "log-style": "false", z: "true", a: "x" }), "ray start --a=x --include-dashboard=false --z");
    const prefixed = renderRayCluster(minimal({ command: ["echo", "hi"] })).pods[0]!.containers[0]!;
    assert.match(prefixed.args![0]!, /^echo hi && ulimit -n/);
    const own = renderRayCluster(minimal({ command: ["bash", "-c"], args: ["ray start --head --block"] })).pods[0]!.containers[0]!;
    assert.deepEqual([own.command, own.args], [["bash", "-c"], ["ray start --head --block"]]);
    const ft = renderRayCluster(clusters("ray-cluster-redis-ft.yaml")[0]!);
    assert.equal(env(ft.pods[0]!.containers[0]!, "RAY_REDIS_ADDRESS")?.value, "redis:6379");
    assert.equal(env(ft.pods[1]!.containers[0]!, "RAY_gcs_rpc_server_reconnect_timeout_s")?.value, "600");
    const auto = renderRayCluster(minimal({}, { enableInTreeAutoscaling: true, autoscalerOptions: { version: "v2" } })).pods[0]!;
    assert.match(env(auto.containers[0]!, "KUBERAY_GEN_RAY_START_CMD")!.value!, / --no-monitor$/);
    assert.equal(env(auto.containers[0]!, "RAY_enable_autoscaler_v2")?.value, "true");
    assert.deepEqual(auto.containers.map((c) => c.name), ["ray-head", "autoscaler"]);
  });

  it("parses Kubernetes quantities", () => {
    assert.deepEqual(["500m", "2", "1Gi", "1G", "1.5", "1e3", "256Mi"].map(parseQuantity), [0.5, 2, 2 ** 30, 1e9, 1.5, 1000, 256 * 2 ** 20]);
    assert.throws(() => parseQuantity("lots"), /not a Kubernetes quantity/);
  });

  it("renders commands the image's ray accepts, for every RayCluster under k8s/kuberay/", () => {
    for (const f of readdirSync(dir).filter((n) => n.endsWith(".yaml"))) {
      for (const rc of clusters(f)) {
        for (const pod of renderRayCluster(rc).pods) {
          const c = pod.containers[0]!;
          const line = env(c, "KUBERAY_GEN_RAY_START_CMD")!.value!;
          // bash would expand $REDIS_PASSWORD and strip the quotes around --resources' JSON.
          const argv = line.replace(/^ray start /, "").replace(/\$REDIS_PASSWORD/, "pw").replace(/'/g, "").split(" ");
          const podEnv = Object.fromEntries((c.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
          assert.doesNotThrow(() => planStart(argv, { ...podEnv, RAY_AUTH_TOKEN: "t" }, () => "10.0.0.1"), `${f} ${pod.name}: ${line}`);
        }
      }
    }
  });
});
