// The head as operators use it, on a real two-node cluster started with `tsray start`: Ray's Jobs
// API over REST and through `tsray job`, running the examples as drivers; failing and stopped
// jobs; the log tail WebSocket; health probes; Prometheus metrics whose task counts match the
// work done; the state API and `tsray list|get|summary`; `tsray timeline` and `tsray status`.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { getStatus } from "../../src/runtime/daemon/transport.ts";
import { parseEndpoint } from "../../src/runtime/daemon/object-channel.ts";
import { freePort } from "../../src/runtime/free-port.ts";
import type { ChromeTrace } from "../../src/runtime/head/timeline.ts";
import { parsePrometheus } from "../helpers/prometheus.ts";
import * as ray from "../../src/index.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BIN = path.join(ROOT, "bin/tsray.js");
const run = promisify(execFile);
const tsrayCmd = (...args: string[]) => [process.execPath, BIN, ...args].map((a) => `'${a}'`).join(" ");

let home: string;
let env: NodeJS.ProcessEnv;
let address: string;
let base: string;
let token: string;
const nodes: { node: string; agentPort: number; metricsPort: number }[] = [];

async function tsray(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { env, cwd: ROOT, timeout: 90_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === "number" ? x.code : 1, stdout: x.stdout ?? "", stderr: x.stderr ?? "" };
  }
}

async function api(method: string, p: string, body?: unknown, auth = true): Promise<{ status: number; text: string; json: () => any }> {
  const res = await fetch(base + p, {
    method, headers: { ...(auth ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text) };
}

async function until<T>(what: string, get: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await get().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

const finished = (id: string) => until(`job ${id} to finish`, async () => {
  const j = (await api("GET", `/api/jobs/${id}`)).json();
  return ["SUCCEEDED", "FAILED", "STOPPED"].includes(j.status) ? j : undefined;
});

async function finishedTasks(): Promise<number> {
  let sum = 0;
  for (const n of nodes) {
    const text = await (await fetch(`http://127.0.0.1:${n.metricsPort}/metrics`)).text();
    for (const s of parsePrometheus(text)) if (s.name === "ray_tasks" && s.labels.State === "FINISHED") sum += s.value;
  }
  return sum;
}

before(async () => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), "tsray-head-"));
  env = { ...process.env, TSRAY_HOME: home };
  delete env.TSRAY_ADDRESS;
  delete env.TSRAY_DASHBOARD_ADDRESS;
  const port = await freePort();
  const dashboard = await freePort();
  address = `127.0.0.1:${port}`;
  base = `http://127.0.0.1:${dashboard}`;
  const ports = ["--metrics-export-port", "0", "--dashboard-agent-listen-port", "0"];
  const head = await tsray("start", "--head", "--port", String(port), "--dashboard-port", String(dashboard), "--num-cpus", "2", "--temp-dir", path.join(home, "session"), ...ports);
  assert.equal(head.code, 0, head.stderr);
  token = JSON.parse(fs.readFileSync(path.join(home, "sessions", `${port}.json`), "utf8")).token;
  env.TSRAY_TOKEN = token;
  const joined = await tsray("start", "--address", address, "--num-cpus", "2", ...ports);
  assert.equal(joined.code, 0, joined.stderr);
  const s = (await getStatus(address, token)) as { nodes: { node: string; endpoint: string }[] };
  for (const n of s.nodes) {
    const r = (await getStatus(parseEndpoint(n.endpoint).grpc, token)) as { agentPort: number; metricsPort: number };
    nodes.push({ node: n.node, agentPort: r.agentPort, metricsPort: r.metricsPort });
  }
  assert.equal(nodes.length, 2);
});

after(async () => {
  await tsray("stop");
  fs.rmSync(home, { recursive: true, force: true });
});

test("GET /api/version answers as Ray's dashboard does; the API wants the token, the probe does not", async () => {
  const v = (await api("GET", "/api/version")).json();
  assert.equal(v.version, "4");
  assert.match(v.ray_version, /^\d+\.\d+\.\d+$/);
  assert.equal((await api("GET", "/api/jobs/", undefined, false)).status, 401);
  const probe = await api("GET", "/api/gcs_healthz", undefined, false);
  assert.deepEqual([probe.status, probe.text], [200, "success"]);
});

test("health: each node's agent answers success for its raylet, the head's /api/healthz checks the GCS too", async () => {
  for (const n of nodes) {
    for (const p of ["/api/local_raylet_healthz", "/api/healthz"]) {
      const res = await fetch(`http://127.0.0.1:${n.agentPort}${p}`);
      assert.deepEqual([res.status, await res.text()], [200, "success"], `${n.node} ${p}`);
    }
  }
});

test("examples submitted over REST run to SUCCEEDED, their output in the logs; /metrics counts their tasks", async () => {
  const before = await finishedTasks();
  // Each example's output, and the tasks it runs: square 5, add 3, map-reduce 32 maps + 31 merges.
  const examples = [["square", /\[ 0, 1, 4, 9, 16 \]/, 5], ["add", /^10$/m, 3], ["map-reduce", /total: 6400/, 63]] as const;
  for (const [name] of examples) {
    const sub = await api("POST", "/api/jobs/", { entrypoint: tsrayCmd("run", `examples/${name}.ts`), submission_id: `rest-${name}`, metadata: { owner: "test" } });
    assert.equal(sub.status, 200, sub.text);
    assert.deepEqual(sub.json(), { job_id: `rest-${name}`, submission_id: `rest-${name}` });
  }
  for (const [name, output] of examples) {
    const j = await finished(`rest-${name}`);
    assert.equal(j.status, "SUCCEEDED", j.message);
    assert.equal(j.driver_exit_code, 0);
    assert.equal(j.type, "SUBMISSION");
    assert.deepEqual(j.metadata, { owner: "test" });
    assert.ok(j.end_time >= j.start_time);
    assert.match((await api("GET", `/api/jobs/rest-${name}/logs`)).json().logs, output);
  }
  // The nodes' FINISHED counts grow by exactly the tasks the examples ran.
  const ran = examples.reduce((n, [, , tasks]) => n + tasks, 0);
  await until("the task counters", async () => ((await finishedTasks()) - before === ran ? true : undefined), 10_000);
  assert.ok((await api("GET", "/api/jobs/")).json().some((x: { submission_id: string }) => x.submission_id === "rest-square"));
  // A duplicate id is refused as Ray refuses it (KubeRay matches status and sentence).
  const dup = await api("POST", "/api/jobs/", { entrypoint: "true", submission_id: "rest-square" });
  assert.equal(dup.status, 500);
  assert.match(dup.text, /Please use a different submission_id/);
});

test("bad submissions get a 400 naming the field; unknown jobs a 404", async () => {
  for (const [body, field] of [[{}, "entrypoint"], [{ entrypoint: "true", runtime_env: { pip: ["x"] } }, "runtime_env.pip"], [{ entrypoint: "true", entrypoint_num_cpus: 2 }, "entrypoint_num_cpus"], [{ entrypoint: "true", bogus: 1 }, "bogus"]] as const) {
    const r = await api("POST", "/api/jobs/", body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.match(r.text, new RegExp(field.replace(".", "\\.")));
  }
  assert.equal((await api("GET", "/api/jobs/no-such-job")).status, 404);
  assert.equal((await api("POST", "/api/jobs/no-such-job/stop")).status, 404);
});

test("tsray job submit runs an example to SUCCEEDED and prints its output; status and list see it", async () => {
  const r = await tsray("job", "submit", "--submission-id", "cli-counter", "--", process.execPath, BIN, "run", "examples/counter.ts");
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /\[ 1, 2 \]/);
  assert.match(r.stdout, /Job 'cli-counter' SUCCEEDED/);
  const st = await tsray("job", "status", "cli-counter");
  assert.match(st.stdout, /Status for job 'cli-counter': SUCCEEDED/);
  assert.equal((await tsray("job", "status", "nope")).code, 1);
  assert.match((await tsray("job", "list")).stdout, /cli-counter\s+SUCCEEDED/);
  assert.match((await tsray("job", "logs", "cli-counter")).stdout, /\[ 1, 2 \]/);
});

test("a failing entrypoint gives FAILED with its exit code and output; submit exits 1", async () => {
  const r = await tsray("job", "submit", "--submission-id", "fails", "--", "echo boom; exit 3");
  assert.equal(r.code, 1);
  const j = (await api("GET", "/api/jobs/fails")).json();
  assert.equal(j.status, "FAILED");
  assert.equal(j.driver_exit_code, 3);
  assert.equal(j.error_type, "JOB_ENTRYPOINT_COMMAND_ERROR");
  assert.match(j.message, /boom/);
});

test("stop ends a running job (STOPPED); a running job cannot be deleted, a finished one can", async () => {
  const sub = await tsray("job", "submit", "--no-wait", "--submission-id", "sleeper", "--", "echo started; sleep 60");
  assert.equal(sub.code, 0, sub.stderr);
  await until("the job to run", async () => ((await api("GET", "/api/jobs/sleeper/logs")).json().logs.includes("started") ? true : undefined));
  assert.equal((await api("GET", "/api/jobs/sleeper")).json().status, "RUNNING");
  assert.equal((await api("DELETE", "/api/jobs/sleeper")).status, 400);
  assert.deepEqual((await api("POST", "/api/jobs/sleeper/stop")).json(), { stopped: true });
  assert.equal((await api("GET", "/api/jobs/sleeper")).json().status, "STOPPED");
  assert.deepEqual((await api("POST", "/api/jobs/sleeper/stop")).json(), { stopped: false });
  assert.deepEqual((await api("DELETE", "/api/jobs/sleeper")).json(), { deleted: true });
  assert.equal((await api("GET", "/api/jobs/sleeper")).status, 404);
});

test("the logs tail is a WebSocket of text frames, closed when the job ends", async () => {
  await api("POST", "/api/jobs/", { entrypoint: "echo first; sleep 0.5; echo second", submission_id: "tailed" });
  const frames = await new Promise<{ texts: string[]; closed: boolean }>((resolve, reject) => {
    const req = http.request(`${base}/api/jobs/tailed/logs/tail`, {
      headers: { connection: "Upgrade", upgrade: "websocket", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", authorization: `Bearer ${token}` },
    });
    // `head` holds what came in the same packets as the 101 answer: the first frames, maybe.
    req.on("upgrade", (res, socket, head: Buffer) => {
      assert.equal(res.headers["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
      let buf = Buffer.alloc(0);
      const texts: string[] = [];
      const feed = (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        for (;;) {
          if (buf.length < 2) return;
          let len = buf[1] & 0x7f;
          let off = 2;
          if (len === 126) { len = buf.readUInt16BE(2); off = 4; }
          if (buf.length < off + len) return;
          const op = buf[0] & 0x0f;
          const payload = buf.subarray(off, off + len);
          buf = buf.subarray(off + len);
          if (op === 1) texts.push(payload.toString("utf8"));
          if (op === 8) { socket.end(); resolve({ texts, closed: true }); return; }
        }
      };
      feed(head);
      socket.on("data", feed);
    });
    req.on("error", reject);
    req.end();
  });
  assert.equal(frames.closed, true);
  assert.equal(frames.texts.join(""), "first\nsecond\n");
});

test("the state API lists, filters, gets and summarizes; tsray list|get|summary print them", async () => {
  const ns = (await api("GET", "/api/v0/nodes")).json();
  assert.equal(ns.total, 2);
  for (const n of ns.result) {
    assert.equal(n.state, "ALIVE");
    assert.equal(n.resources_total.CPU, 2);
    assert.ok(n.object_store_capacity > 0 && n.memory_total > 0, JSON.stringify(n));
  }
  const tasks = (await api("GET", "/api/v0/tasks?filter=state%3DFINISHED&limit=1000")).json();
  assert.ok(tasks.total >= 71, JSON.stringify(tasks));
  assert.ok(tasks.result.every((t: { state: string }) => t.state === "FINISHED"));
  const one = (await api("GET", `/api/v0/tasks/${encodeURIComponent(tasks.result[0].task_id)}`)).json();
  assert.equal(one.task_id, tasks.result[0].task_id);
  assert.equal((await api("GET", "/api/v0/tasks?filter=nosuchfield%3D1")).status, 400);
  assert.equal((await api("GET", "/api/v0/jobs/rest-square")).json().status, "SUCCEEDED");
  const actors = (await api("GET", "/api/v0/actors")).json();
  assert.ok(actors.result.some((a: { class_name: string }) => a.class_name === "Counter"), JSON.stringify(actors));
  const summary = (await api("GET", "/api/v0/tasks/summarize")).json();
  assert.equal(Object.values(summary.summary as Record<string, Record<string, number>>).reduce((s, x) => s + (x.FINISHED ?? 0), 0), tasks.total);
  assert.equal((await api("GET", "/api/v0/placement-groups")).json().total, 0); // none created here
  const list = await tsray("list", "nodes");
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /node-1\s+ALIVE/);
  assert.match(list.stdout, /2 of 2 nodes/);
  assert.match((await tsray("get", "jobs", "cli-counter")).stdout, /"status": "SUCCEEDED"/);
  assert.match((await tsray("summary", "actors")).stdout, /"Counter"/);
  assert.equal((await tsray("list", "widgets")).code, 2);
  // From code, as ray.util.state: the same rows.
  const saved = { ...process.env };
  Object.assign(process.env, { TSRAY_DASHBOARD_ADDRESS: base, TSRAY_TOKEN: token });
  try {
    const fromCode = await ray.state.list("tasks", { filters: ["state=FINISHED"], limit: 1000 });
    assert.equal(fromCode.total, tasks.total);
    assert.equal((await ray.state.get("jobs", "rest-square")).status, "SUCCEEDED");
    assert.deepEqual((await ray.state.summarize("tasks")).summary, summary.summary);
  } finally {
    for (const k of ["TSRAY_DASHBOARD_ADDRESS", "TSRAY_TOKEN"]) if (saved[k] === undefined) delete process.env[k]; else process.env[k] = saved[k];
  }
});

test("tsray job logs --follow prints the output until the job ends", async () => {
  await api("POST", "/api/jobs/", { entrypoint: "echo one; sleep 0.5; echo two", submission_id: "followed" });
  const r = await tsray("job", "logs", "--follow", "followed");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "one\ntwo\n");
});

test("every node's /metrics parses; the head's also carries the GCS's (actors by state, storage latency)", async () => {
  for (const n of nodes) {
    const samples = parsePrometheus(await (await fetch(`http://127.0.0.1:${n.metricsPort}/metrics`)).text());
    const names = new Set(samples.map((s) => s.name));
    for (const m of ["ray_tasks", "ray_resources", "ray_object_store_memory", "tsray_leases_granted_total", "tsray_object_transfers_total", "ray_component_rss_mb"]) assert.ok(names.has(m), `${n.node}: ${m}`);
    assert.equal(samples.find((s) => s.name === "ray_resources" && s.labels.Name === "CPU" && s.labels.State === "AVAILABLE")?.labels.NodeId, n.node);
    const gcs = samples.some((s) => s.name === "ray_gcs_storage_operation_latency_ms_count" && s.value > 0);
    assert.equal(gcs, n.node === "head", n.node);
    if (n.node === "head") {
      // Actors by state, as many as the state API lists (examples/counter.ts made one).
      const actors = samples.filter((s) => s.name === "ray_actors").reduce((sum, s) => sum + s.value, 0);
      assert.equal(actors, (await api("GET", "/api/v0/actors")).json().total);
      assert.ok(samples.some((s) => s.name === "ray_component_rss_mb" && s.labels.Component === "gcs_server"));
    }
  }
});

test("tsray timeline --address writes a Chrome trace with a slice per task the cluster ran", async () => {
  const out = path.join(home, "timeline.json");
  const r = await tsray("timeline", "-o", out);
  assert.equal(r.code, 0, r.stderr);
  const trace = JSON.parse(fs.readFileSync(out, "utf8")) as ChromeTrace;
  const slices = trace.traceEvents.filter((e) => e.ph === "X");
  const tasks = (await api("GET", "/api/v0/tasks?limit=10000")).json();
  assert.equal(new Set(slices.map((s) => s.args!.task_id)).size, new Set(tasks.result.map((t: { task_id: string }) => t.task_id)).size);
  assert.ok(trace.traceEvents.some((e) => e.ph === "M" && e.name === "process_name" && (e.args!.name as string).includes("node-1")));
});

test("tsray status shows memory, object store and the running jobs", async () => {
  await api("POST", "/api/jobs/", { entrypoint: "sleep 30", submission_id: "running-now" });
  await until("the job to run", async () => ((await api("GET", "/api/jobs/running-now")).json().status === "RUNNING" ? true : undefined));
  const r = await tsray("status");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /memory used \/ total/);
  assert.match(r.stdout, /object store used \/ capacity/);
  assert.match(r.stdout, /head\s+ALIVE.*CPU \d+\/2.*GiB\/[\d.]+ GiB/);
  assert.match(r.stdout, /running-now\s+RUNNING\s+sleep 30/);
  assert.match(r.stdout, /Demands: \(no resource demands\)/);
  await api("POST", "/api/jobs/running-now/stop");
});
