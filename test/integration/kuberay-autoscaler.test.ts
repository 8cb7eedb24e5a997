// KubeRay's in-tree autoscaling end to end, without a cluster: a real head (`tsray start --head`,
// no CPUs), a fake API server holding a RayCluster and playing the operator
// (test/helpers/fake-kuberay.ts), and `ray kuberay-autoscaler` as a child process with the
// environment KubeRay gives the `autoscaler` sidecar and KUBECONFIG pointing at the fake. A task
// needing 3 CPUs, which only the "big" group's nodes have, makes the sidecar raise that group's
// replicas; the worker is then started as its pod would start it (`ray start` with
// RAY_CLOUD_INSTANCE_ID = the pod's name), the task runs, and once the worker is idle past the
// group's idleTimeoutSeconds the sidecar drains it through the GCS, lowers the replicas naming
// the pod in scaleStrategy.workersToDelete, and clears the list once the pod is gone.

import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import * as ray from "../../src/index.ts";
import { getStatus } from "../../src/runtime/daemon/transport.ts";
import { ROOT, startHeadCli, stopHeadCli, tsrayCli, until } from "../helpers/cli-cluster.ts";
import { FakeKubeApi } from "../helpers/fake-kube-api.ts";
import { FakeRayClusterOperator } from "../helpers/fake-kuberay.ts";

const RAY = path.join(ROOT, "bin/ray.js");
const container = (cpu: string) => ({ spec: { containers: [{ name: "ray-worker", image: "tsray:0.1.0", resources: { limits: { cpu, memory: "1Gi" } } }] } });

let head: Awaited<ReturnType<typeof startHeadCli>>;
let api: FakeKubeApi;
let operator: FakeRayClusterOperator;
let sidecar: ChildProcess;
let sidecarLog = "";
const created: string[] = [];
const deleted: string[] = [];
let workerHome: string;

/** The environment KubeRay gives the sidecar (authOptions mode token), with KUBECONFIG for the fake. */
function sidecarEnv(kubeconfig: string, address: string, token: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env, KUBECONFIG: kubeconfig, RAY_ADDRESS: address, RAY_AUTH_MODE: "token", RAY_AUTH_TOKEN: token,
    RAY_CLUSTER_NAME: "rc", RAY_CLUSTER_NAMESPACE: "ray", KUBERAY_CRD_VER: "v1", RAY_HEAD_POD_NAME: "rc-head-00000",
    AUTOSCALER_UPDATE_INTERVAL_S: "1",
  };
  delete env.TSRAY_TOKEN;
  delete env.TSRAY_ADDRESS;
  return env;
}

/** Runs `ray ARGS…` to its end: exit code and output. */
function runRay(env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [RAY, ...args], { env, cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    p.stdout.on("data", (d) => { out += d; });
    p.stderr.on("data", (d) => { err += d; });
    p.on("exit", (code) => resolve({ code, out, err }));
  });
}

before(async () => {
  head = await startHeadCli("tsray-kuberay-as-", 0);
  workerHome = fs.mkdtempSync(path.join(os.tmpdir(), "tsray-kuberay-worker-"));
  operator = new FakeRayClusterOperator({
    metadata: { name: "rc", namespace: "ray" },
    spec: {
      rayVersion: "2.53.0", enableInTreeAutoscaling: true, authOptions: { mode: "token" },
      autoscalerOptions: { version: "v2", upscalingMode: "Default", idleTimeoutSeconds: 60, image: "tsray:0.1.0", resources: { limits: { cpu: "500m" } } },
      headGroupSpec: { rayStartParams: { "num-cpus": "0" }, template: container("1") },
      workerGroupSpecs: [
        { groupName: "small", replicas: 0, minReplicas: 0, maxReplicas: 2, rayStartParams: { "num-cpus": "1" }, template: container("1") },
        // 3500m rounds up to 4 CPUs, and the memory limit is the node's `memory` (KubeRay's flags).
        { groupName: "big", replicas: 0, minReplicas: 0, maxReplicas: 1, idleTimeoutSeconds: 2, rayStartParams: {}, template: container("3500m") },
      ],
    },
  }, { created: (pod) => created.push(pod), deleted: (pod) => deleted.push(pod) });
  api = await FakeKubeApi.start(operator.route);
  const kubeconfig = api.kubeConfigFile(path.join(workerHome, "kubeconfig"));
  sidecar = spawn(process.execPath, [RAY, "kuberay-autoscaler", "--cluster-name", "rc", "--cluster-namespace", "ray"], {
    env: sidecarEnv(kubeconfig, head.address, head.session.token), cwd: ROOT, stdio: ["ignore", "pipe", "pipe"],
  });
  sidecar.stdout!.on("data", (d) => { sidecarLog += d; });
  sidecar.stderr!.on("data", (d) => { sidecarLog += d; });
  process.env.TSRAY_TOKEN = head.session.token;
  await ray.init({ address: head.address });
});

after(async () => {
  if (sidecar.exitCode === null) {
    const exited = new Promise((r) => sidecar.once("exit", r));
    sidecar.kill("SIGTERM");
    await exited;
  }
  await tsrayCli({ ...head.env, TSRAY_HOME: workerHome }, "stop").catch(() => undefined);
  fs.rmSync(workerHome, { recursive: true, force: true });
  await api.close();
  await stopHeadCli(head);
});

const replicas = (i: number, value: number) => ({ op: "replace", path: `/spec/workerGroupSpecs/${i}/replicas`, value });
const toDelete = (i: number, pods: string[]) => ({ op: "replace", path: `/spec/workerGroupSpecs/${i}/scaleStrategy`, value: { workersToDelete: pods } });

test("the sidecar scales the RayCluster's fitting group up for a pending task, and down with workersToDelete once the worker is idle", async () => {
  const heavy = ray.remote((x: number) => x * 7).options({ numCpus: 3 });
  const ref = heavy.remote(6);
  try {
    await until("the sidecar raises the big group's replicas", async () => created.length === 1, 60_000);
  } catch (e) {
    throw new Error(`${(e as Error).message}; sidecar said:\n${sidecarLog}`);
  }
  const pod = created[0]!;
  assert.match(pod, /^rc-big-worker-/, "only the group whose nodes have 3 CPUs is scaled");
  assert.deepEqual(operator.patches.map((p) => p.body), [[replicas(1, 1)]]);

  // The pod starts as KubeRay starts a worker: `ray start` with its generated flags and env.
  const start = await runRay({ ...head.env, TSRAY_HOME: workerHome, TSRAY_TOKEN: undefined, RAY_AUTH_MODE: "token", RAY_AUTH_TOKEN: head.session.token, RAY_CLOUD_INSTANCE_ID: pod },
    "start", `--address=${head.address}`, "--memory=1073741824", "--num-cpus=4", "--node-ip-address=127.0.0.1");
  assert.equal(start.code, 0, start.err);
  assert.equal(await ray.get(ref, { timeoutMs: 60_000 }), 42);

  const status = await tsrayCli(head.env, "status");
  assert.match(status, /Autoscaler: \(ray kuberay-autoscaler, reported [\d.]+ s ago\)\n {2}small: 0 running, 0 pending \(minReplicas 0, maxReplicas 2\)\n {2}big: 1 running/);

  await until("the idle worker's pod deleted and the list cleared", async () => operator.patches.length === 3, 60_000);
  assert.deepEqual(deleted, [pod]);
  assert.deepEqual(operator.patches.map((p) => p.body), [[replicas(1, 1)], [replicas(1, 0), toDelete(1, [pod])], [toDelete(1, [])]]);
  assert.ok(operator.patches.every((p) => p.contentType === "application/json-patch+json" && p.path === "/apis/ray.io/v1/namespaces/ray/rayclusters/rc"));
  // The GCS drained the node (its raylet accepted: it held nothing), so it is dead under the pod's name.
  const nodes = ((await getStatus(head.address, head.session.token)) as { nodes: { node: string; alive: boolean }[] }).nodes;
  assert.deepEqual(nodes.filter((n) => n.node === pod).map((n) => n.alive), [false]);
  assert.match(sidecarLog, /autoscaler\.drain/);
});

test("a malformed RayCluster is refused, naming the field, and nothing is patched", async () => {
  const bad = new FakeRayClusterOperator({
    metadata: { name: "rc", namespace: "ray" },
    spec: { enableInTreeAutoscaling: true, workerGroupSpecs: [{ groupName: "small", replicas: 0, minReplicas: 0, maxReplicas: "two" as never, template: container("1") }] },
  });
  const badApi = await FakeKubeApi.start(bad.route);
  try {
    const r = await runRay(sidecarEnv(badApi.kubeConfigFile(path.join(workerHome, "bad-kubeconfig")), head.address, head.session.token), "kuberay-autoscaler", "--cluster-name", "rc", "--cluster-namespace", "ray");
    assert.equal(r.code, 1);
    assert.match(r.err, /ray kuberay-autoscaler: RayCluster: spec\.workerGroupSpecs\.0\.maxReplicas: .*number/);
    assert.deepEqual(bad.patches, []);
  } finally {
    await badApi.close();
  }
});
