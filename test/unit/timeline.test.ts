// `tsray timeline` over a saved simulator trace: the output is Chrome trace JSON with a process
// per node, a thread per worker and exactly one complete slice per task attempt the trace shows
// starting, each as long as the attempt ran; transfers and injected faults become instant events.

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { runCli } from "../../src/cli/main.ts";
import { main as timeline } from "../../src/cli/timeline.ts";
import { toChromeTrace, type ChromeTrace } from "../../src/runtime/head/timeline.ts";
import { parseTrace, type TraceEvent } from "../../spec/trace.ts";

const quiet = { stdout: { write: () => true }, stderr: { write: () => true } };

test("a simulator trace becomes a Chrome trace with one slice per task attempt", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tsray-timeline-"));
  try {
    const traceFile = join(dir, "run.jsonl");
    const faults = JSON.stringify({ schedule: [{ at: 30, kind: "kill-node", node: "node-2" }] });
    assert.equal(await runCli(["sim", "examples/map-reduce.ts", "--seed", "3", "--nodes", "3", "--faults", faults, "--trace", traceFile], quiet), 0);
    const out = join(dir, "timeline.json");
    assert.equal(await timeline([traceFile, "-o", out]), 0);
    const chrome = JSON.parse(readFileSync(out, "utf8")) as ChromeTrace;
    const events = parseTrace(readFileSync(traceFile, "utf8"));

    const started = events.filter((e): e is Extract<TraceEvent, { kind: "task.started" }> => e.kind === "task.started");
    const slices = chrome.traceEvents.filter((e) => e.ph === "X");
    assert.equal(slices.length, started.length);
    assert.ok(slices.length >= 63, `map-reduce runs 63 tasks, got ${slices.length} slices`);
    const finishedAt = new Map(events.filter((e) => e.kind === "task.finished").map((e) => [`${(e as { task: string }).task}|${(e as { attempt: number }).attempt}`, e.t]));
    for (const s of started) {
      const slice = slices.find((x) => x.args!.task_id === s.task && x.args!.attempt === s.attempt && x.args!.worker === s.worker);
      assert.ok(slice, `no slice for ${s.task} attempt ${s.attempt}`);
      assert.equal(slice.ts, Math.round(s.t * 1000));
      const end = finishedAt.get(`${s.task}|${s.attempt}`);
      if (end !== undefined) assert.equal(slice.dur, Math.round(end * 1000) - Math.round(s.t * 1000));
    }
    // Function names from the submissions label the slices.
    assert.ok(slices.some((x) => x.name !== x.args!.task_id));
    // A process per node that ran work, a thread per worker.
    const procs = chrome.traceEvents.filter((e) => e.ph === "M" && e.name === "process_name");
    assert.deepEqual(new Set(procs.map((p) => p.args!.name)), new Set([...new Set(events.map((e) => e.node))].map((n) => `node ${n}`)));
    const workers = new Set(started.map((s) => s.worker));
    assert.equal(chrome.traceEvents.filter((e) => e.ph === "M" && e.name === "thread_name" && e.tid > 0).length, workers.size);
    // The injected fault is there, as an instant event.
    assert.ok(chrome.traceEvents.some((e) => e.ph === "i" && e.cat === "fault"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an attempt the trace never saw finish lasts to the trace's end, marked unfinished", () => {
  const t = toChromeTrace([
    { t: 1, node: "head", kind: "task.started", comp: "worker", task: "a", worker: "head/w1", attempt: 0 },
    { t: 5, node: "head", kind: "object.transferred", comp: "raylet", obj: "o", from: "node-1", size: 10 },
  ]);
  const s = t.traceEvents.find((e) => e.ph === "X")!;
  assert.deepEqual([s.ts, s.dur, s.args!.unfinished], [1000, 4000, true]);
  assert.ok(t.traceEvents.some((e) => e.ph === "i" && e.cat === "transfer"));
});
