// The KubeRay contract, run here without Kubernetes: the pods KubeRay v1.7 would build from
// k8s/kuberay/ray-cluster.yaml (src/k8s/kuberay-pods.ts renders their commands, environment,
// wait-gcs-ready init containers and probes) run as containers of the tsray image on a podman
// network where the head answers at the head Service's DNS name, as in a cluster. It checks
// what KubeRay and its users rely on: the workers' init containers wait for the GCS and then
// let the workers start, every pod passes its readiness probe (HTTP /api/healthz, and the exec
// probes of older rayVersions), the seed's remote client (`ray.init({ address: "auto" })` with
// RAY_ADDRESS) runs tasks on the cluster, a RayJob in HTTPMode is submitted and followed as the
// operator does it, and the preStop hook `ray stop` ends a worker.
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { V1Container, V1EnvVar } from "@kubernetes/client-node";
import { GenericContainer, Network, Wait, type StartedNetwork, type StartedTestContainer } from "testcontainers";
import { parse, parseAllDocuments } from "yaml";
import { renderRayCluster, type RayClusterManifest, type RenderedPod } from "../../src/k8s/kuberay-pods.ts";
import { ROOT } from "../helpers/cli-cluster.ts";
import { buildImage, podmanService, skipWithoutPodman } from "../helpers/podman.ts";

const skip = skipWithoutPodman();
const manifest = parseAllDocuments(readFileSync(path.join(ROOT, "k8s/kuberay/ray-cluster.yaml"), "utf8")).map((d) => d.toJS())
  .find((d) => d.kind === "RayCluster") as RayClusterManifest;
const rayJob = parse(readFileSync(path.join(ROOT, "k8s/kuberay/ray-job.yaml"), "utf8")) as { metadata: { name: string }; spec: { entrypoint: string } };
// What the operator's generated Secret would hold (authOptions mode token).
const token = randomBytes(16).toString("hex");
const secrets: Record<string, Record<string, string>> = { [manifest.metadata.name]: { auth_token: token } };
const rendered = renderRayCluster(manifest, { podSuffix: () => randomBytes(3).toString("hex").slice(0, 5) });
const STARTUP_MS = 240_000;

/** A container's environment as the kubelet gives it: values, and Secret references resolved. */
function envOf(c: V1Container): Record<string, string> {
  return Object.fromEntries((c.env ?? []).map((e: V1EnvVar) => {
    if (e.value !== undefined) return [e.name, e.value];
    const ref = e.valueFrom?.secretKeyRef;
    const v = ref ? secrets[ref.name ?? ""]?.[ref.key] : undefined;
    if (v === undefined) throw new Error(`env ${e.name}: cannot resolve ${JSON.stringify(e.valueFrom)}`);
    return [e.name, v];
  }));
}

/** The container of `c` as the kubelet would run it (command = entrypoint, args = command), on `net`. */
function containerOf(c: V1Container, net: StartedNetwork, name: string): GenericContainer {
  const image = c.image!.includes("/") ? c.image! : `localhost/${c.image}`;
  return new GenericContainer(image).withName(name).withNetwork(net).withEnvironment(envOf(c))
    .withEntrypoint(c.command!).withCommand(c.args ?? []).withStartupTimeout(STARTUP_MS);
}

function state(id: string): { status: string; exitCode: number } {
  const r = spawnSync("podman", ["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", id], { encoding: "utf8" });
  const [status = "unknown", code = "-1"] = r.stdout.trim().split(" ");
  return { status, exitCode: Number(code) };
}

/** Everything a container wrote to stdout and stderr so far. */
function podmanLogs(id: string): string {
  const r = spawnSync("podman", ["logs", id], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`podman logs ${id}: ${r.stderr}`);
  return r.stdout + r.stderr;
}

/** Runs `cmd` in a container as a kubelet's exec hook does, with its exit code and output. */
function podmanExec(id: string, cmd: string[]): Promise<{ exitCode: number; output: string }> {
  return new Promise((resolve) => {
    execFile("podman", ["exec", id, ...cmd], { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : -1;
      resolve({ exitCode: code, output: `${stdout}${stderr}${err && typeof err.code !== "number" ? String(err) : ""}` });
    });
  });
}

async function until<T>(what: string, f: () => Promise<T | undefined> | T | undefined, ms = STARTUP_MS): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

describe("KubeRay contract: the pods of k8s/kuberay/ray-cluster.yaml on podman", { skip, timeout: 20 * 60_000 }, () => {
  let service: { stop(): Promise<void> } | undefined;
  let net: StartedNetwork | undefined;
  const started: StartedTestContainer[] = [];
  const inits = new Map<string, StartedTestContainer>();
  let head: StartedTestContainer;
  const workers: StartedTestContainer[] = [];
  const headPod = rendered.pods.find((p) => p.role === "head")!;
  const workerPods = rendered.pods.filter((p) => p.role === "worker");
  const dashboard = () => `http://${head.getHost()}:${head.getMappedPort(8265)}`;

  before(async () => {
    buildImage();
    service = await podmanService();
    net = await new Network().start();
  });

  after(async () => {
    for (const c of [...started].reverse()) await c.stop({ timeout: 5_000 }).catch(() => {});
    await net?.stop().catch(() => {});
    await service?.stop();
  });

  it("holds the workers in wait-gcs-ready until the GCS at the head Service's name answers", async () => {
    assert.equal(workerPods.length, 3);
    for (const pod of workerPods) {
      const init = pod.initContainers.find((c) => c.name === "wait-gcs-ready")!;
      // Started before the head: they loop on `ray health-check` and say what they wait for.
      const c = await containerOf(init, net!, `${pod.name}-init`).withWaitStrategy(Wait.forLogMessage(/waiting for the GCS at ray-cluster-head-svc/)).start();
      started.push(c);
      inits.set(pod.name, c);
    }
    for (const c of inits.values()) assert.equal(state(c.getId()).status, "running");
    const ray = headPod.containers[0]!;
    const probe = ray.readinessProbe!.httpGet!;
    head = await containerOf(ray, net!, headPod.name)
      .withNetworkAliases(rendered.headService.name, rendered.headService.fqdn)
      .withExposedPorts(6379, 8265, Number(probe.port))
      .withWaitStrategy(Wait.forHttp(probe.path!, Number(probe.port)).forStatusCode(200))
      .start();
    started.push(head);
    for (const [pod, c] of inits) {
      const s = await until(`${pod}'s wait-gcs-ready to finish`, () => { const s = state(c.getId()); return s.status === "exited" ? s : undefined; });
      assert.equal(s.exitCode, 0, `${pod}: wait-gcs-ready exited ${s.exitCode}`);
    }
  });

  it("starts the workers with KubeRay's ray start lines; every pod passes its readiness probe", async () => {
    for (const pod of workerPods) {
      const ray = pod.containers[0]!;
      const probe = ray.readinessProbe!.httpGet!;
      const c = await containerOf(ray, net!, pod.name).withExposedPorts(Number(probe.port))
        .withWaitStrategy(Wait.forHttp(probe.path!, Number(probe.port)).forStatusCode(200)).start();
      started.push(c);
      workers.push(c);
    }
    const status = await until("4 alive nodes", async () => {
      const r = await head.exec(["ray", "status", "--json"]);
      if (r.exitCode !== 0) return undefined;
      const s = JSON.parse(r.stdout) as { nodes: { node: string; alive: boolean; total: Record<string, number> }[] };
      return s.nodes.filter((n) => n.alive).length === 4 ? s : undefined;
    });
    // Workers are named after their pods (RAY_CLOUD_INSTANCE_ID) and offer rayStartParams' 4 CPUs.
    const alive = status.nodes.filter((n) => n.alive);
    assert.deepEqual(alive.map((n) => n.node).sort(), ["head", ...workerPods.map((p) => p.name)].sort());
    for (const p of workerPods) assert.equal(alive.find((n) => n.node === p.name)!.total.CPU, 4);
    // The exec probes KubeRay gives rayVersion < 2.53 (wget | grep success) pass too.
    const old = renderRayCluster({ ...manifest, spec: { ...manifest.spec, rayVersion: "2.46.0" } });
    const execProbe = (p: RenderedPod) => p.containers[0]!.readinessProbe!.exec!.command!;
    for (const [c, pod] of [[head, old.pods[0]!], [workers[0]!, old.pods[1]!]] as const) {
      const r = await c.exec(execProbe(pod));
      assert.equal(r.exitCode, 0, `${pod.role} exec probe: ${r.output}`);
    }
  });

  it("runs the seed's remote client: ray.init({ address: \"auto\" }) with RAY_ADDRESS", async () => {
    const ray = workerPods[0]!.containers[0]!;
    const env = envOf(ray);
    const client = await new GenericContainer(`localhost/${ray.image}`).withName(`remote-client-${randomBytes(3).toString("hex")}`).withNetwork(net!)
      // A client pod: only the address KubeRay gives workers and the token.
      .withEnvironment({ RAY_ADDRESS: env.RAY_ADDRESS!, RAY_AUTH_TOKEN: env.RAY_AUTH_TOKEN! })
      .withEntrypoint(["tsx", "/opt/tsray/k8s/client/remote-client.ts"])
      .withWaitStrategy(Wait.forOneShotStartup()).withStartupTimeout(STARTUP_MS).start();
    started.push(client);
    // The client has exited (one-shot startup), so its logs are complete: read them at once. A
    // followed log stream of an exited container can close without 'end' through podman's API,
    // leaving the test awaiting a promise nothing will settle.
    const logs = podmanLogs(client.getId());
    const line = logs.split("\n").find((l) => l.startsWith("{"));
    assert.ok(line, `no result from the remote client:\n${logs}`);
    const result = JSON.parse(line) as { address: string; nodes: string[]; squares: number[] };
    assert.equal(result.address, `${rendered.headService.fqdn}:6379`);
    assert.deepEqual(result.nodes, ["head", ...workerPods.map((p) => p.name)].sort());
    assert.deepEqual(result.squares, [0, 1, 4, 9, 16, 25, 36, 49]);
  });

  it("takes a RayJob in HTTPMode as the operator submits and follows it", async () => {
    const id = `${rayJob.metadata.name}-${randomBytes(3).toString("hex").slice(0, 5)}`;
    const auth = { "x-ray-authorization": `Bearer ${token}`, "content-type": "application/json" };
    const body = JSON.stringify({ entrypoint: rayJob.spec.entrypoint, submission_id: id, runtime_env: {}, metadata: {}, entrypoint_num_cpus: 0, entrypoint_num_gpus: 0, entrypoint_resources: {} });
    // Without the token KubeRay's authOptions gives the operator, the Jobs API refuses.
    assert.equal((await fetch(`${dashboard()}/api/jobs/`, { method: "POST", body, headers: { "content-type": "application/json" } })).status, 401);
    const posted = await fetch(`${dashboard()}/api/jobs/`, { method: "POST", body, headers: auth });
    assert.equal(posted.status, 200, await posted.clone().text());
    assert.equal(((await posted.json()) as { job_id: string }).job_id, id);
    // A second POST of the same submission id: the operator expects a 500 naming the problem.
    const again = await fetch(`${dashboard()}/api/jobs/`, { method: "POST", body, headers: auth });
    assert.equal(again.status, 500);
    assert.match(await again.text(), /Please use a different submission_id/);
    const done = await until("the job to finish", async () => {
      const j = (await (await fetch(`${dashboard()}/api/jobs/${id}`, { headers: auth })).json()) as { status: string; message?: string };
      return ["SUCCEEDED", "FAILED", "STOPPED"].includes(j.status) ? j : undefined;
    });
    const logs = ((await (await fetch(`${dashboard()}/api/jobs/${id}/logs`, { headers: auth })).json()) as { logs: string }).logs;
    assert.equal(done.status, "SUCCEEDED", `${done.message}\n${logs}`);
    assert.match(logs, /total: 6400/);
  });

  it("ends a worker with its preStop hook (ray stop); the GCS sees the node go", async () => {
    const w = workers[0]!;
    const hook = (manifest.spec.workerGroupSpecs![0]!.template.spec!.containers[0]!.lifecycle!.preStop!.exec!.command)!;
    // Through podman's own CLI: an exec through its Docker-compatible API never ends when the
    // container dies under it, which this hook makes happen.
    const r = await podmanExec(w.getId(), hook);
    // The hook's process dies with the container once `ray start --block` (its main process)
    // has exited, as a kubelet's preStop hook does: 0 if it got to return first, else SIGKILL.
    assert.ok(r.exitCode === 0 || r.exitCode === 137, `ray stop exited ${r.exitCode}: ${r.output}`);
    const s = await until("the worker container to exit", () => { const s = state(w.getId()); return s.status === "exited" ? s : undefined; });
    assert.equal(s.exitCode, 0);
    await until("the GCS to count 3 alive nodes", async () => {
      const st = await head.exec(["ray", "status", "--json"]);
      const nodes = st.exitCode === 0 ? (JSON.parse(st.stdout) as { nodes: { alive: boolean }[] }).nodes : [];
      return nodes.filter((n) => n.alive).length === 3 ? true : undefined;
    });
  });
});
