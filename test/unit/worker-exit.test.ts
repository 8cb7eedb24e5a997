// A worker asked to exit by its raylet (the soft limit on workers) agrees only if nothing would
// be lost with it, as Ray's refuses while it owns objects: no object it owns (a put, a pending
// task's return), none it borrows, no placement group it created. It answers the ask it got.
import assert from "node:assert/strict";
import { test } from "node:test";
import { NO_BUGS } from "../../src/core/bugs.ts";
import { CoreWorker } from "../../src/core/core-worker.ts";
import type { Msg } from "../../src/core/messages.ts";

const W = "n1/w1-1";
const RAYLET = "n1/raylet";

function worker() {
  const sent: { to: string; m: Msg }[] = [];
  const w = new CoreWorker(W, { node: "n1", gcs: "head/gcs", maxInlineBytes: 100_000, maxPendingLeases: 10, maxTasksInFlightPerWorker: 1, pipelineMaxTaskMs: 0, bugs: NO_BUGS }, {
    now: () => 0, random: () => 0.5, send: (to, m) => { sent.push({ to, m }); }, setTimer: () => {}, cancelTimer: () => {}, trace: () => {},
    execute: () => {}, complete: () => {}, interrupt: () => {},
  });
  w.start(true);
  let ask = 0;
  /** Asks it to exit: its answer. */
  const exits = () => {
    w.step({ kind: "message", from: RAYLET, msg: { type: "Exit", ask: ++ask } });
    const reply = sent.at(-1)!;
    assert.equal(reply.to, RAYLET);
    assert.ok(reply.m.type === "ExitReply" && reply.m.ask === ask, "the answer does not name the ask");
    return reply.m.exiting;
  };
  return { w, sent, exits };
}

test("a worker that owns an object refuses to exit, and agrees once the object is freed", () => {
  const { w, sent, exits } = worker();
  assert.equal(exits(), true, "a worker owning nothing refused");
  w.put(`${W}#1`, { size: 8, hash: "h", data: 1 }, 1);
  assert.equal(exits(), false, "a worker whose put is being stored agreed");
  const put = sent.find((s) => s.m.type === "StorePut")!.m as Extract<Msg, { type: "StorePut" }>;
  w.step({ kind: "message", from: RAYLET, msg: { type: "StorePutReply", reqId: put.reqId, id: put.id } });
  assert.equal(exits(), false);
  w.releaseRef(`${W}#1`);
  assert.equal(exits(), true);
});

test("a worker that borrows an object, or created a placement group, refuses to exit", () => {
  const borrower = worker();
  borrower.w.get([{ id: "n2/w1-1#7", owner: "n2/w1-1" }], undefined, 1);
  assert.equal(borrower.exits(), false);
  const creator = worker();
  creator.w.createPlacementGroup({ pgId: "pg:1", bundles: [{ CPU: 1 }], strategy: "PACK" });
  assert.equal(creator.exits(), false);
  creator.w.removePlacementGroup("pg:1");
  assert.equal(creator.exits(), true);
});
