// The tsray image's `ray` command (src/cli/ray-shim.ts): every flag KubeRay v1.7 can put on a
// `ray start` line is either mapped onto `tsray start` or refused with a message naming it, and
// the environment KubeRay sets (auth, GCS fault tolerance, pod identity) is read as documented.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RAY_START_FLAGS, Refused, nodeResources, planStart, runRayShim } from "../../src/cli/ray-shim.ts";
import { envAddress, envToken } from "../../src/runtime/daemon/session.ts";

const ip = () => "10.1.2.3";
const WORKER = "--address=rc-head-svc.default.svc.cluster.local:6379";
const TOKEN = { TSRAY_TOKEN: "t" };

/**
 * The flags KubeRay v1.7 writes (setMissingRayStartParams / generateRayStartCommand): those it
 * adds itself, and the rayStartParams keys it treats specially. A sample value for each.
 */
const KUBERAY_FLAGS: Record<string, { head?: boolean; value?: string }> = {
  head: { head: true },
  block: {},
  address: { head: false, value: "rc-head-svc.default.svc.cluster.local:6379" },
  port: { head: true, value: "6379" },
  "dashboard-host": { head: true, value: "0.0.0.0" },
  "dashboard-port": { head: true, value: "8265" },
  "num-cpus": { value: "4" },
  "num-gpus": { value: "1" },
  memory: { value: "1073741824" },
  resources: { value: '{"TPU":4}' },
  "metrics-export-port": { value: "8080" },
  "dashboard-agent-listen-port": { value: "52365" },
  "no-monitor": { head: true },
  labels: { value: "zone=a,tier=gpu" },
  "node-ip-address": { value: "10.9.9.9" },
  "redis-password": { head: true, value: "pw" },
  "log-color": { value: "false" },
  "include-dashboard": { value: "false" },
  "include-log-monitor": { value: "false" },
  "plasma-directory": { value: "/plasma" },
};

function argvWith(flag: string, spec: { head?: boolean; value?: string }): string[] {
  const base = spec.head === false ? [WORKER] : spec.head ? ["--head"] : [WORKER];
  if (flag === "head" || flag === "address") return [...base, "--block"];
  return [...base, spec.value === undefined ? `--${flag}` : `--${flag}=${spec.value}`];
}

function refusal(f: () => unknown): string {
  try { f(); } catch (e) { assert.ok(e instanceof Refused, `expected a Refused error, got ${String(e)}`); return (e as Error).message; }
  assert.fail("expected a refusal");
}

describe("ray shim: ray start", () => {
  it("has a rule, mapped or refused, for every flag KubeRay writes, and applies it as its status says", () => {
    for (const [flag, spec] of Object.entries(KUBERAY_FLAGS)) {
      const rule = RAY_START_FLAGS[flag];
      assert.ok(rule, `--${flag} (KubeRay writes it) is neither mapped nor refused by the shim`);
      const env = { ...TOKEN, ...(flag === "redis-password" ? { RAY_REDIS_ADDRESS: "redis:6379" } : {}) };
      const argv = argvWith(flag, spec);
      if (rule.status === "mapped") {
        // include-dashboard=false is refused although the flag is mapped (true is the only honoured value).
        if (flag === "include-dashboard") assert.match(refusal(() => planStart(argv, env, ip)), /--include-dashboard=false is not supported/);
        else assert.doesNotThrow(() => planStart(argv, env, ip), `--${flag}`);
      } else {
        assert.match(refusal(() => planStart(argv, env, ip)), new RegExp(`--${flag} is not supported by tsray: `));
      }
    }
  });

  it("lists every flag KubeRay writes, with what it becomes, in ray start --help", async () => {
    let text = "";
    const io = { stdout: { write: (t: string) => { text += t; } }, stderr: { write: (t: string) => { text += t; } } };
    assert.equal(await runRayShim(["start", "--help"], io), 0);
    for (const flag of Object.keys(KUBERAY_FLAGS)) assert.match(text, new RegExp(`^  --${flag}(=V)?: `, "m"));
    assert.match(text, /^ {2}RAY_AUTH_TOKEN: /m);
  });

  it("maps the head's command of KubeRay's own example onto tsray start", () => {
    const plan = planStart("--head --block --dashboard-agent-listen-port=52365 --dashboard-host=0.0.0.0 --memory=1073741824 --metrics-export-port=8080 --num-cpus=1".split(" "), {}, ip);
    assert.deepEqual(plan.argv, [
      "--head", "--block", "--dashboard-agent-listen-port", "52365", "--dashboard-host", "0.0.0.0", "--metrics-export-port", "8080",
      "--num-cpus", "1", "--resources", '{"memory":1073741824}', "--host", "0.0.0.0", "--node-ip-address", "10.1.2.3",
    ]);
    assert.deepEqual(plan.env, {}); // no token given: the head generates one
  });

  it("maps a worker's command: the GCS to join, resources merged, the pod's name as node id, the token", () => {
    const plan = planStart([WORKER, "--block", "--num-cpus=4", "--num-gpus", "1", '--resources={"TPU":4,"CPU":2}', "--node-ip-address=10.9.9.9"],
      { TSRAY_TOKEN: "tok", RAY_CLOUD_INSTANCE_ID: "rc-workers-worker-abcde" }, ip);
    assert.deepEqual(plan.argv, [
      "--address", "rc-head-svc.default.svc.cluster.local:6379", "--block", "--num-cpus", "2", "--num-gpus", "1", "--resources", '{"TPU":4}',
      "--node-id", "rc-workers-worker-abcde", "--host", "0.0.0.0", "--node-ip-address", "10.9.9.9",
    ]);
    assert.deepEqual(plan.env, { TSRAY_TOKEN: "tok" });
  });

  it("refuses unknown flags, flags of the other role, missing values and bad numbers by name", () => {
    assert.match(refusal(() => planStart(["--head", "--object-store-memory=100"], {}, ip)), /--object-store-memory is not supported by tsray: /);
    assert.match(refusal(() => planStart(["--head", "--frobnicate"], {}, ip)), /--frobnicate is not supported/);
    assert.match(refusal(() => planStart([WORKER, "--port=6379"], TOKEN, ip)), /--port applies to the head only/);
    assert.match(refusal(() => planStart(["--head", WORKER], {}, ip)), /--address applies to a worker only/);
    assert.match(refusal(() => planStart(["--head", "--num-cpus"], {}, ip)), /--num-cpus needs a value/);
    assert.match(refusal(() => planStart(["--head", "--num-cpus=lots"], {}, ip)), /--num-cpus must be a number/);
    assert.match(refusal(() => planStart(["--head", "--block=yes"], {}, ip)), /--block takes no value/);
    assert.match(refusal(() => planStart(["--block"], {}, ip)), /give --head or --address/);
    assert.match(refusal(() => planStart(["--head", "--resources=[1]"], {}, ip)), /--resources must be a JSON object/);
  });

  it("takes the cluster token from KubeRay's authOptions (RAY_AUTH_MODE=token) and refuses what it cannot honour", () => {
    assert.deepEqual(planStart([WORKER], { RAY_AUTH_MODE: "token", RAY_AUTH_TOKEN: " abc \n" }, ip).env, { TSRAY_TOKEN: "abc" });
    assert.deepEqual(planStart([WORKER], { RAY_AUTH_TOKEN: "abc", TSRAY_TOKEN: "mine" }, ip).env, { TSRAY_TOKEN: "mine" });
    assert.match(refusal(() => planStart([WORKER], {}, ip)), /no cluster token to join with/);
    assert.match(refusal(() => planStart(["--head"], { RAY_AUTH_MODE: "token" }, ip)), /RAY_AUTH_TOKEN is empty/);
    assert.match(refusal(() => planStart(["--head"], { RAY_AUTH_MODE: "k8s" }, ip)), /RAY_AUTH_MODE=k8s is not supported/);
    assert.match(refusal(() => planStart(["--head"], { RAY_ENABLE_K8S_TOKEN_AUTH: "true" }, ip)), /RAY_ENABLE_K8S_TOKEN_AUTH=true/);
    assert.match(refusal(() => planStart(["--head"], { RAY_USE_TLS: "1" }, ip)), /RAY_USE_TLS=1: tsray's daemons do not speak TLS/);
  });

  it("gives the head the GCS storage KubeRay's fault-tolerance options ask for", () => {
    const redis = planStart(["--head", "--redis-password=s3cret"], { RAY_REDIS_ADDRESS: "redis.ns.svc:6379", RAY_external_storage_namespace: "uid-1" }, ip);
    assert.deepEqual(redis.argv.slice(1, 5), ["--storage", "redis://:s3cret@redis.ns.svc:6379", "--storage-namespace", "uid-1"]);
    const envPw = planStart(["--head"], { RAY_REDIS_ADDRESS: "redis://r:6379", REDIS_PASSWORD: "pw" }, ip);
    assert.deepEqual(envPw.argv.slice(1, 3), ["--storage", "redis://:pw@r:6379"]);
    const rocks = planStart(["--head"], { RAY_gcs_storage: "rocksdb", RAY_gcs_storage_path: "/data/gcs" }, ip);
    assert.deepEqual(rocks.argv.slice(1, 3), ["--storage", "file:/data/gcs/tsray-gcs"]);
    assert.match(refusal(() => planStart(["--head"], { RAY_gcs_storage: "rocksdb" }, ip)), /needs RAY_gcs_storage_path/);
    assert.match(refusal(() => planStart(["--head"], { RAY_gcs_storage: "etcd" }, ip)), /RAY_gcs_storage=etcd is not supported/);
    assert.match(refusal(() => planStart(["--head", "--redis-password=x"], {}, ip)), /--redis-password without RAY_REDIS_ADDRESS/);
    assert.match(refusal(() => planStart([WORKER, "--redis-password=x"], TOKEN, ip)), /--redis-password applies to the head only/);
  });
});

describe("ray shim: other commands", () => {
  it("refuses ray job flags tsray cannot honour, and commands the image does not have, by name", async () => {
    let text = "";
    const io = { stdout: { write: (t: string) => { text += t; } }, stderr: { write: (t: string) => { text += t; } } };
    assert.equal(await runRayShim(["job", "submit", "--entrypoint-num-cpus=1", "--", "echo", "hi"], io), 2);
    assert.match(text, /ray job: --entrypoint-num-cpus is not supported by tsray: /);
    assert.equal(await runRayShim(["job", "submit", "--working-dir", ".", "--", "echo"], io), 2);
    assert.match(text, /--working-dir is not supported by tsray: runtime environments/);
    assert.equal(await runRayShim(["up", "cluster.yaml"], io), 2);
    assert.match(text, /ray up: not available in the tsray image/);
    assert.equal(await runRayShim(["stop", "--grace-period", "soon"], io), 2);
    assert.match(text, /--grace-period must be seconds/);
    assert.equal(await runRayShim([], io), 2);
  });
});

describe("ray shim: client environment", () => {
  it("reads KubeRay's RAY_ADDRESS after TSRAY_ADDRESS, and refuses the forms tsray cannot use", () => {
    assert.equal(envAddress({ RAY_ADDRESS: "127.0.0.1:6379" }), "127.0.0.1:6379");
    assert.equal(envAddress({ RAY_ADDRESS: "127.0.0.1:6379", TSRAY_ADDRESS: "h:1" }), "h:1");
    assert.equal(envAddress({}), undefined);
    assert.throws(() => envAddress({ RAY_ADDRESS: "ray://head:10001" }), /Ray Client \(ray:\/\/\) is not implemented/);
    assert.throws(() => envAddress({ RAY_ADDRESS: "http://head:8265" }), /a URL names the dashboard/);
    assert.equal(envToken({ RAY_AUTH_TOKEN: "x" }), "x");
    assert.equal(envToken({ RAY_AUTH_TOKEN: "x", TSRAY_TOKEN: "y" }), "y");
  });
});

describe("ray shim: kuberay-autoscaler", () => {
  it("takes Ray's two flags only, both required, and refuses what KubeRay's sidecar environment cannot mean to tsray", async () => {
    let text = "";
    const io = { stdout: { write: (t: string) => { text += t; } }, stderr: { write: (t: string) => { text += t; } } };
    assert.equal(await runRayShim(["kuberay-autoscaler", "--cluster-name", "rc"], io), 2);
    assert.match(text, /--cluster-name and --cluster-namespace are required/);
    assert.equal(await runRayShim(["kuberay-autoscaler", "--cluster-name", "rc", "--cluster-namespace", "ray", "--idle", "5"], io), 2);
    assert.match(text, /Unknown option '--idle'/);
    const saved = { ...process.env };
    try {
      Object.assign(process.env, { KUBERAY_CRD_VER: "v1alpha1" });
      assert.equal(await runRayShim(["kuberay-autoscaler", "--cluster-name", "rc", "--cluster-namespace", "ray"], io), 2);
      assert.match(text, /KUBERAY_CRD_VER=v1alpha1: tsray reads RayClusters of ray.io\/v1 only/);
      Object.assign(process.env, { KUBERAY_CRD_VER: "v1", AUTOSCALER_UPDATE_INTERVAL_S: "0.5" });
      assert.equal(await runRayShim(["kuberay-autoscaler", "--cluster-name", "rc", "--cluster-namespace", "ray"], io), 2);
      assert.match(text, /AUTOSCALER_UPDATE_INTERVAL_S=0\.5: a whole number of seconds >= 1/);
      process.env.AUTOSCALER_UPDATE_INTERVAL_S = "1";
      process.env.KUBERAY_REQUEST_TIMEOUT_S = "soon";
      assert.equal(await runRayShim(["kuberay-autoscaler", "--cluster-name", "rc", "--cluster-namespace", "ray"], io), 2);
      assert.match(text, /KUBERAY_REQUEST_TIMEOUT_S=soon: a whole number of seconds >= 1/);
      process.env.KUBERAY_REQUEST_TIMEOUT_S = "30";
      delete process.env.TSRAY_TOKEN;
      delete process.env.RAY_AUTH_TOKEN;
      delete process.env.RAY_AUTH_MODE;
      assert.equal(await runRayShim(["kuberay-autoscaler", "--cluster-name", "rc", "--cluster-namespace", "ray"], io), 2);
      assert.match(text, /no cluster token: enable KubeRay's authOptions/);
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });

  it("reads a node's resources from rayStartParams by ray start's rules, shell quoting taken off", () => {
    assert.deepEqual(nodeResources({ "num-cpus": "4", "num-gpus": "1", memory: "1073741824", resources: `'{"TPU":4}'` }), { CPU: 4, GPU: 1, memory: 1073741824, TPU: 4 });
    assert.deepEqual(nodeResources({ resources: `"{\\"Custom1\\": 1, \\"Custom2\\": 5}"` }), { Custom1: 1, Custom2: 5 });
    assert.deepEqual(nodeResources({ "num-cpus": "2", "dashboard-host": "0.0.0.0" }), { CPU: 2 });
    assert.match(refusal(() => nodeResources({ "num-cpus": "four" })), /--num-cpus must be a number >= 0, got "four"/);
  });
});
