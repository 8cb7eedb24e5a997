// ray.get with a timeout in the core worker model (the test plays the clock and the owner): the
// call fails with GetTimeoutError naming what was not ready, and a value that comes later does
// not answer it again. A wait answered in time stops its timer.
import assert from "node:assert/strict";
import { test } from "node:test";
import { NO_BUGS } from "../../src/core/bugs.ts";
import { CoreWorker } from "../../src/core/core-worker.ts";
import type { CallResult } from "../../src/core/effects.ts";
import type { WorkerTimer } from "../../src/core/worker/inputs.ts";

/** A core worker wired by hand: the timers it sets and cancels, and the calls it completes. */
function rig() {
  const completed: [number, CallResult][] = [];
  const timers: [WorkerTimer, number][] = [];
  const cancelled: WorkerTimer[] = [];
  const w = new CoreWorker("head/w1", { node: "head", gcs: "head/gcs", maxInlineBytes: 100_000, maxPendingLeases: 10, maxTasksInFlightPerWorker: 1, pipelineMaxTaskMs: 0, bugs: NO_BUGS }, {
    now: () => 0, random: () => 0.5, send: () => {}, setTimer: (t, ms) => timers.push([t, ms]), cancelTimer: (t) => cancelled.push(t), trace: () => {},
    execute: () => {}, complete: (callId, r) => completed.push([callId, r]), interrupt: () => {},
  });
  w.start(true);
  return { w, completed, timers, cancelled };
}

test("a get that times out fails with GetTimeoutError naming the objects not ready; a late value changes nothing", () => {
  const { w, completed, timers } = rig();
  const ref = { id: "n2/w5#o1", owner: "n2/w5" };
  w.get([ref], 50, 9);
  assert.deepEqual(timers.map(([t, ms]) => [t.kind, ms]), [["get-timeout", 50]]);
  assert.equal(completed.length, 0, "answered before its time");
  w.step({ kind: "timer", timer: timers[0][0] });
  assert.equal(completed.length, 1);
  const [callId, r] = completed[0];
  assert.equal(callId, 9);
  assert.equal(r.kind === "error" && r.error.type, "GetTimeoutError");
  assert.match(r.kind === "error" ? r.error.message : "", /1 of 1 objects not ready \(n2\/w5#o1\)/);
  w.step({ kind: "message", from: "n2/w5", msg: { type: "Status", id: ref.id, status: { kind: "inline", payload: { size: 8, hash: "v", data: 1 } } } });
  assert.equal(completed.length, 1, "the timed-out get was answered again");
});

test("a wait answered before its timeout stops its timer", () => {
  const { w, completed, cancelled } = rig();
  const ref = { id: "n2/w5#o1", owner: "n2/w5" };
  w.wait([ref], 1, 50, false, 9);
  w.step({ kind: "message", from: "n2/w5", msg: { type: "Status", id: ref.id, status: { kind: "inline", payload: { size: 8, hash: "v", data: 1 } } } });
  assert.deepEqual(completed.map(([callId, r]) => [callId, r.kind]), [[9, "ready"]]);
  assert.deepEqual(cancelled, [{ kind: "wait-timeout", id: 9 }]);
});

test("a raylet's StoreLocal for a read no longer waited on (its wait answered or timed out) is ignored", () => {
  const { w, completed } = rig();
  w.step({ kind: "message", from: "head/raylet", msg: { type: "StoreLocal", reqId: 77 } });
  assert.deepEqual(completed, []);
});
