// The head's services in this process over a GCS daemon (no raylet: these jobs do not use the
// cluster): job records survive a GCS restart from file storage, a job that was running when the
// GCS went away comes back FAILED with its driver killed, and /api/gcs_healthz stops answering
// `success` once the GCS's storage no longer takes writes.

import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { GcsDaemon } from "../../src/runtime/daemon/gcs-daemon.ts";
import { startHeadServices, type HeadServices } from "../../src/runtime/head/head-services.ts";
import { gcsMetrics } from "../../src/runtime/head/metrics.ts";
import { FileStorage, MemoryStorage, type GcsStorage } from "../../src/runtime/storage/index.ts";
import type { Entry } from "../../src/runtime/storage/batched.ts";
import { isRunning } from "../../src/runtime/process.ts";
import { parsePrometheus } from "../helpers/prometheus.ts";
import { checkers } from "../../spec/invariants/index.ts";
import { parseTrace } from "../../spec/trace.ts";

const token = "test-token-head-jobs";

async function startHead(storage: GcsStorage, sessionDir: string, traceFile?: string): Promise<{ gcs: GcsDaemon; head: HeadServices; base: string }> {
  let head: HeadServices | undefined;
  const metrics = gcsMetrics({ head: "head", actors: () => ({}), jobs: () => head?.jobs.counts() ?? {} });
  const gcs = await GcsDaemon.start({ head: "head", token, port: 0, storage, onFlush: (ms) => metrics.storageLatency(ms), log: () => {}, ...(traceFile ? { traceFile } : {}) });
  head = await startHeadServices({
    gcs, metrics, head: "head", token, address: `127.0.0.1:${gcs.port}`, dashboardHost: "127.0.0.1", dashboardPort: 0, sessionDir, version: "test", log: () => {},
  });
  return { gcs, head, base: `http://127.0.0.1:${head.dashboard.port}` };
}

const get = async (base: string, p: string) => {
  const res = await fetch(base + p, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, text: await res.text() };
};
const post = (base: string, p: string, body: unknown) =>
  fetch(base + p, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body) }).then((r) => r.json());

async function waitStatus(base: string, id: string, want: string): Promise<Record<string, unknown>> {
  for (let i = 0; i < 400; i++) {
    const j = JSON.parse((await get(base, `/api/jobs/${id}`)).text);
    if (j.status === want) return j;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`job ${id} never reached ${want}`);
}

test("job records survive a GCS restart; a job running when the GCS died comes back FAILED, its driver killed", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsray-head-jobs-"));
  try {
    const traces = [path.join(dir, "first.jsonl"), path.join(dir, "second.jsonl")];
    const first = await startHead(new FileStorage(path.join(dir, "gcs")), dir, traces[0]);
    await post(first.base, "/api/jobs/", { entrypoint: "echo kept", submission_id: "done" });
    await waitStatus(first.base, "done", "SUCCEEDED");
    await post(first.base, "/api/jobs/", { entrypoint: "echo up; exec sleep 60", submission_id: "orphan" });
    const running = await waitStatus(first.base, "orphan", "RUNNING");
    const pid = ((first.head.jobs as unknown as { running: Map<string, { child: { pid: number } }> }).running.get("orphan")!).child.pid;
    assert.ok(isRunning(pid));
    assert.equal(running.driver_node_id, "head");
    // The GCS goes away without stopping its jobs (as when its process is killed).
    await first.head.dashboard.close();
    await first.gcs.close();

    const second = await startHead(new FileStorage(path.join(dir, "gcs")), dir, traces[1]);
    try {
      const done = JSON.parse((await get(second.base, "/api/jobs/done")).text);
      assert.equal(done.status, "SUCCEEDED");
      assert.equal(JSON.parse((await get(second.base, "/api/jobs/done/logs")).text).logs, "kept\n");
      const orphan = JSON.parse((await get(second.base, "/api/jobs/orphan")).text);
      assert.equal(orphan.status, "FAILED");
      assert.match(orphan.message, /GCS restarted/);
      for (let i = 0; i < 100 && isRunning(pid); i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(isRunning(pid), false, "the lost job's driver was killed");
      // The GCS's own metrics: storage commits were timed, jobs counted by status.
      const samples = parsePrometheus((await get(second.base, "/metrics")).text);
      assert.ok(samples.some((s) => s.name === "ray_gcs_storage_operation_latency_ms_count" && s.value > 0));
      assert.deepEqual(samples.filter((s) => s.name === "tsray_jobs").map((s) => [s.labels.Status, s.value]).sort(), [["FAILED", 1], ["SUCCEEDED", 1]]);
    } finally {
      await second.head.close();
      await second.gcs.close();
    }
    // Each status change was traced beside the GCS's events, along the job chart, across the restart.
    const events = traces.flatMap((f) => parseTrace(fs.readFileSync(f, "utf8")));
    const jobs = events.flatMap((e) => (e.kind === "job.state" ? [`${e.job}:${e.state}`] : []));
    assert.deepEqual(jobs, ["done:PENDING", "done:RUNNING", "done:SUCCEEDED", "orphan:PENDING", "orphan:RUNNING", "orphan:FAILED"]);
    assert.deepEqual(checkers.lifecycles(events, {}), []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** Memory storage whose commits fail once `broken` is set (a lost disk, a Redis gone). */
class BreakableStorage extends MemoryStorage {
  broken = false;
  protected override async commit(batch: readonly Entry[]): Promise<void> {
    if (this.broken) throw new Error("disk gone");
    return super.commit(batch);
  }
}

test("/api/gcs_healthz answers success only while the GCS's storage takes writes", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsray-head-health-"));
  const storage = new BreakableStorage();
  const { gcs, head, base } = await startHead(storage, dir);
  try {
    assert.deepEqual(await get(base, "/api/gcs_healthz"), { status: 200, text: "success" });
    storage.broken = true;
    // A probe's answer is reused for a second: the next fresh one sees the broken storage.
    let sick = await get(base, "/api/gcs_healthz");
    for (let i = 0; i < 100 && sick.status === 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      sick = await get(base, "/api/gcs_healthz");
    }
    assert.equal(sick.status, 503);
    assert.match(sick.text, /storage.*disk gone/);
    // Broken storage stays broken: the GCS does not come back as healthy.
    storage.broken = false;
    await new Promise((r) => setTimeout(r, 1_100));
    assert.equal((await get(base, "/api/gcs_healthz")).status, 503);
  } finally {
    await head.close();
    await gcs.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
