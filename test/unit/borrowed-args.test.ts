// A task whose arguments include a ref owned by another process (the caller borrows it): the
// caller counts uses only of the objects it owns, so when the task ends it releases its own
// arguments and leaves the borrowed one to its owner. An owner wired by hand, the test playing
// the raylet and the worker.

import assert from "node:assert/strict";
import { test } from "node:test";
import { NO_BUGS } from "../../src/core/bugs.ts";
import type { CallResult } from "../../src/core/effects.ts";
import { CoreWorker } from "../../src/core/core-worker.ts";
import type { Msg } from "../../src/core/messages.ts";
import type { FunctionDescriptor, Payload } from "../../src/core/types.ts";

const OWNER = "head/driver";
const FN: FunctionDescriptor = { id: "fn-add", name: "add", kind: "function", source: "(a, b) => a + b" };
const value = (n: number): Payload => ({ size: 8, hash: `v${n}`, data: n });

/** An owner wired by hand: what it sends and the calls it completed. */
function rig(maxPendingLeases = 10) {
  const sent: Msg[] = [];
  const completed = new Map<number, CallResult>();
  const owner = new CoreWorker(OWNER, { node: "head", gcs: "head/gcs", maxInlineBytes: 100_000, maxPendingLeases, maxTasksInFlightPerWorker: 1, pipelineMaxTaskMs: 0, bugs: NO_BUGS }, {
    now: () => 0, random: () => 0.5, send: (_to, m) => sent.push(m), setTimer: () => {}, cancelTimer: () => {}, trace: () => {},
    execute: () => {}, complete: (callId, r) => completed.set(callId, r), interrupt: () => {},
  });
  owner.start(false);
  return { sent, completed, owner };
}

test("a task with a borrowed and an owned argument ends cleanly, and its result is read", () => {
  const { sent, completed, owner } = rig();
  const mine = `${OWNER}#put1`;
  owner.put(mine, value(1), 1);
  const ret = owner.submitTask("t1", FN, [{ ref: mine, owner: OWNER }, { ref: "head/w9#obj", owner: "head/w9" }], { resources: { CPU: 1 }, strategy: "DEFAULT", maxRetries: 0, retryExceptions: false });
  // The store took the put; the borrowed object's owner says it is ready (inline).
  const put = sent.find((m) => m.type === "StorePut");
  assert.ok(put?.type === "StorePut");
  owner.step({ kind: "message", from: "head/raylet", msg: { type: "StorePutReply", reqId: put.reqId, id: mine } });
  owner.step({ kind: "message", from: "head/w9", msg: { type: "Status", id: "head/w9#obj", status: { kind: "inline", payload: value(4) } } });
  const req = sent.find((m) => m.type === "RequestLease");
  assert.ok(req?.type === "RequestLease");
  owner.step({ kind: "message", from: "head/raylet", msg: { type: "LeaseGranted", reqId: req.reqId, leaseId: "lease-1", worker: "head/w1" } });
  const push = sent.find((m) => m.type === "PushTask");
  assert.ok(push?.type === "PushTask");
  owner.step({ kind: "message", from: "head/w1", msg: { type: "TaskReply", taskId: push.spec.taskId, returnId: ret, attempt: push.spec.attempt, result: { kind: "inline", payload: value(5) } } });
  owner.get([{ id: ret, owner: OWNER }], undefined, 2);
  const r = completed.get(2);
  assert.ok(r?.kind === "values" && "hash" in r.values[0]! && r.values[0].hash === "v5", `the result was not read: ${JSON.stringify(r)}`);
});

test("a task whose arguments failed fails with the first failed one in argument order, whichever failed first", () => {
  const { sent, completed, owner } = rig();
  const ret = owner.submitTask("t1", FN, [{ ref: "head/w9#a", owner: "head/w9" }, { ref: "head/w8#b", owner: "head/w8" }], { resources: { CPU: 1 }, strategy: "DEFAULT", maxRetries: 0, retryExceptions: false });
  const failed = (message: string) => ({ kind: "error" as const, error: { type: "TaskError" as const, message } });
  // The second argument's failure is heard first.
  owner.step({ kind: "message", from: "head/w8", msg: { type: "Status", id: "head/w8#b", status: failed("b failed") } });
  owner.step({ kind: "message", from: "head/w9", msg: { type: "Status", id: "head/w9#a", status: failed("a failed") } });
  assert.equal(sent.filter((m) => m.type === "RequestLease").length, 0, "a task with a failed argument never runs");
  owner.get([{ id: ret, owner: OWNER }], undefined, 2);
  const r = completed.get(2);
  assert.ok(r?.kind === "values" && !("hash" in r.values[0]!), `the task did not fail: ${JSON.stringify(r)}`);
  assert.equal(r.values[0].message, "a failed");
});

test("a queued task whose borrowed argument's owner died after its status came still asks for a lease (the status is an error now, with no nodes)", () => {
  const { sent, owner } = rig(1);
  const opts = { resources: { CPU: 1 }, strategy: "DEFAULT" as const, maxRetries: 0, retryExceptions: false };
  owner.submitTask("t1", FN, [], opts);
  owner.submitTask("t2", FN, [{ ref: "head/w9#obj", owner: "head/w9" }], opts);
  owner.step({ kind: "message", from: "head/w9", msg: { type: "Status", id: "head/w9#obj", status: { kind: "stored", nodes: ["n2"], size: 8 } } });
  // t2 is queued behind t1's request (one pending request at most); its status is then an OwnerDiedError.
  owner.step({ kind: "message", from: "head/raylet", msg: { type: "WorkerDied", worker: "head/w9" } });
  const [first] = sent.filter((m) => m.type === "RequestLease");
  assert.ok(first?.type === "RequestLease" && first.req.taskId === "t1");
  owner.step({ kind: "message", from: "head/raylet", msg: { type: "LeaseGranted", reqId: first.reqId, leaseId: "lease-1", worker: "head/w1" } });
  const requests = sent.flatMap((m) => (m.type === "RequestLease" ? [m.req.taskId] : []));
  assert.deepEqual(requests, ["t1", "t2"]);
});
