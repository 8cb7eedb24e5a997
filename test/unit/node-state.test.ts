// A node's live state as its trace events build it: tasks by state (retries apart), leases,
// store bytes by location through spills and restores, transfers, and fencing.

import assert from "node:assert/strict";
import { test } from "node:test";
import { KEEP_EVENTS, NodeState } from "../../src/runtime/head/node-state.ts";
import { TIMELINE_KINDS } from "../../src/runtime/head/timeline.ts";
import type { TraceBody } from "../../spec/trace.ts";

function feed(state: NodeState, bodies: TraceBody[]): void {
  bodies.forEach((b, i) => state.observe({ t: i, node: "n1", ...b } as never));
}

test("tasks are counted by state and retry; a nested task's function names its row", () => {
  const s = new NodeState();
  feed(s, [
    { kind: "task.submitted", comp: "owner", task: "t1", fn: "square", owner: "n1/w1", returns: "t1.r", args: [], maxRetries: 3 },
    { kind: "task.started", comp: "worker", task: "t1", worker: "n1/w1", attempt: 0 },
    { kind: "task.started", comp: "worker", task: "t2", worker: "n1/w2", attempt: 0 },
    { kind: "task.finished", comp: "worker", task: "t2", worker: "n1/w2", attempt: 0, ok: false, hash: "", error: "boom" },
    { kind: "task.started", comp: "worker", task: "t2", worker: "n1/w2", attempt: 1 },
  ]);
  assert.deepEqual(Object.fromEntries(s.taskCounts()), { "FAILED|0": 1, "RUNNING|0": 1, "RUNNING|1": 1 });
  const row = (task: string) => s.taskRows().find((r) => r.task_id === task)!;
  assert.equal(row("t1").name, "square");
  assert.equal(row("t2").attempt_number, 1, "a task's row is its latest attempt");
  feed(s, [
    { kind: "task.finished", comp: "worker", task: "t1", worker: "n1/w1", attempt: 0, ok: true, hash: "h" },
    { kind: "task.finished", comp: "worker", task: "t2", worker: "n1/w2", attempt: 1, ok: true, hash: "h" },
  ]);
  assert.deepEqual(Object.fromEntries(s.taskCounts()), { "FAILED|0": 1, "FINISHED|0": 1, "FINISHED|1": 1 });
  assert.equal(row("t2").state, "FINISHED");
  assert.deepEqual(s.taskRows().map((r) => r.task_id), ["t1", "t2"], "in the order they started");
});

test("store bytes follow creations, spills, restores and deletions; leases and transfers are counted", () => {
  const s = new NodeState();
  feed(s, [
    { kind: "object.created", comp: "store", obj: "a", size: 100, hash: "h", where: "store", primary: true },
    { kind: "object.created", comp: "store", obj: "b", size: 30, hash: "h", where: "store" },
    { kind: "object.created", comp: "owner", obj: "c", size: 5, hash: "h", where: "inline" },
    { kind: "object.spilled", comp: "store", obj: "a" },
    { kind: "lease.granted", comp: "raylet", job: "head/driver", lease: "l1", worker: "w", resources: { CPU: 1 } },
    { kind: "lease.granted", comp: "raylet", job: "head/driver", lease: "l2", worker: "w", resources: { CPU: 1 } },
    { kind: "lease.returned", comp: "raylet", lease: "l1", worker: "w", resources: { CPU: 1 } },
    { kind: "object.transferred", comp: "raylet", obj: "b", from: "n2", size: 30 },
  ]);
  assert.deepEqual(s.storeBytes(), { MMAP_SHM: 30, SPILLED: 100 });
  assert.equal(s.objects.size, 2);
  assert.deepEqual([s.counters.leasesGranted, s.counters.leasesActive, s.counters.spilled, s.counters.transfers, s.counters.transferBytes], [2, 1, 1, 1, 30]);
  feed(s, [{ kind: "object.restored", comp: "store", obj: "a" }, { kind: "object.deleted", comp: "store", obj: "b", reason: "freed" }]);
  assert.deepEqual(s.storeBytes(), { MMAP_SHM: 100, SPILLED: 0 });
  assert.equal(s.fenced, false);
  feed(s, [{ kind: "node.fenced", comp: "raylet", id: "n1" }]);
  assert.equal(s.fenced, true);
});

test("the timeline's events are kept in a ring of KEEP_EVENTS, oldest first, and no others", () => {
  const s = new NodeState();
  const n = KEEP_EVENTS + 3;
  feed(s, Array.from({ length: n }, (_, i): TraceBody[] => [
    { kind: "task.started", comp: "worker", task: `t${i}`, worker: "n1/w1", attempt: 0 },
    { kind: "lease.granted", comp: "raylet", job: "head/driver", lease: `l${i}`, worker: "n1/w1", resources: { CPU: 1 } },
  ]).flat());
  const kept = s.recentEvents();
  assert.equal(kept.length, KEEP_EVENTS);
  assert.ok(kept.every((e) => TIMELINE_KINDS.has(e.kind)), "a lease's events are not drawn, so not kept");
  assert.deepEqual([kept[0], kept.at(-1)].map((e) => (e as { task: string }).task), ["t3", `t${n - 1}`]);
});

test("a task still running keeps its row and its count after its start left the kept events", () => {
  const s = new NodeState();
  feed(s, [{ kind: "task.started", comp: "worker", task: "long", worker: "n1/w1", attempt: 2 }]);
  feed(s, Array.from({ length: KEEP_EVENTS }, (_, i): TraceBody => ({ kind: "task.started", comp: "worker", task: `t${i}`, worker: "n1/w2", attempt: 0 })));
  feed(s, Array.from({ length: KEEP_EVENTS }, (_, i): TraceBody => ({ kind: "task.finished", comp: "worker", task: `t${i}`, worker: "n1/w2", attempt: 0, ok: true, hash: "h" })));
  const rows = s.taskRows();
  assert.deepEqual([rows[0].task_id, rows[0].state, rows[0].attempt_number], ["long", "RUNNING", 2]);
  assert.equal(rows.length, 1, "the other tasks' starts are no longer kept, so neither are their rows");
  assert.deepEqual(Object.fromEntries(s.taskCounts()), { "FINISHED|0": KEEP_EVENTS, "RUNNING|1": 1 });
});
