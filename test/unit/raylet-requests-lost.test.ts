// A driver's connection to its raylet's store reset while both live (the daemons' object channel):
// the host hands the model `raylet-requests-lost`, and the model sends every request to its raylet
// not answered yet once more (and nothing it had an answer to). An owner wired by hand, the test
// playing the raylet.

import assert from "node:assert/strict";
import { test } from "node:test";
import { NO_BUGS } from "../../src/core/bugs.ts";
import { CoreWorker } from "../../src/core/core-worker.ts";
import type { Msg } from "../../src/core/messages.ts";

const DRIVER = "head/driver";

test("raylet-requests-lost sends the unanswered store requests again, and only those", () => {
  const sent: { to: string; m: Msg }[] = [];
  const driver = new CoreWorker(DRIVER, { node: "head", gcs: "head/gcs", maxInlineBytes: 100, maxPendingLeases: 10, maxTasksInFlightPerWorker: 1, pipelineMaxTaskMs: 0, bugs: NO_BUGS }, {
    now: () => 0, random: () => 0.5, send: (to, m) => sent.push({ to, m }), setTimer: () => {}, cancelTimer: () => {}, trace: () => {},
    execute: () => {}, complete: () => {}, interrupt: () => {},
  });
  driver.start(false);
  // Two puts too large to keep inline go to the store; the raylet answers the first.
  driver.put(`${DRIVER}#1`, { size: 1_000, hash: "a", data: 1 }, 1);
  driver.put(`${DRIVER}#2`, { size: 1_000, hash: "b", data: 2 }, 2);
  const puts = sent.filter((s) => s.m.type === "StorePut");
  assert.equal(puts.length, 2);
  const [first, second] = puts.map((s) => s.m as Extract<Msg, { type: "StorePut" }>);
  driver.step({ kind: "message", from: "head/raylet", msg: { type: "StorePutReply", reqId: first.reqId, id: first.id } });
  sent.length = 0;
  driver.step({ kind: "raylet-requests-lost" });
  assert.deepEqual(sent, [{ to: "head/raylet", m: second }]);
});
