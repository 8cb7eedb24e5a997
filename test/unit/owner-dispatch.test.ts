// How an owner dispatches its tasks: a task waits for all of its arguments before it asks for a
// lease, and tasks of one function with other resources are another scheduling class (they
// never share a lease). An owner wired by hand, the test playing the raylet, workers and owners.

import assert from "node:assert/strict";
import { test } from "node:test";
import { NO_BUGS } from "../../src/core/bugs.ts";
import { CoreWorker } from "../../src/core/core-worker.ts";
import type { Msg } from "../../src/core/messages.ts";
import type { FunctionDescriptor, Payload } from "../../src/core/types.ts";

const OWNER = "head/driver";
const FN: FunctionDescriptor = { id: "fn-f", name: "f", kind: "function", source: "(...xs) => xs.length" };
const value = (n: number): Payload => ({ size: 8, hash: `v${n}`, data: n });
const opts = (resources: Record<string, number>) => ({ resources, strategy: "DEFAULT" as const, maxRetries: 0, retryExceptions: false });

function rig() {
  const sent: { to: string; m: Msg }[] = [];
  const owner = new CoreWorker(OWNER, { node: "head", gcs: "head/gcs", maxInlineBytes: 100_000, maxPendingLeases: 10, maxTasksInFlightPerWorker: 1, pipelineMaxTaskMs: 0, bugs: NO_BUGS }, {
    now: () => 0, random: () => 0.5, send: (to, m) => sent.push({ to, m }), setTimer: () => {}, cancelTimer: () => {}, trace: () => {},
    execute: () => {}, complete: () => {}, interrupt: () => {},
  });
  owner.start(false);
  const of = <T extends Msg["type"]>(type: T) => sent.flatMap((s) => (s.m.type === type ? [s as { to: string; m: Extract<Msg, { type: T }> }] : []));
  const from = (addr: string, msg: Msg) => owner.step({ kind: "message", from: addr, msg: msg as never });
  return { owner, of, from };
}

test("a task asks for a lease only once every argument is ready, not after the first", () => {
  const r = rig();
  r.owner.submitTask("t1", FN, [{ ref: "head/w8#a", owner: "head/w8" }, { ref: "head/w9#b", owner: "head/w9" }], opts({ CPU: 1 }));
  assert.deepEqual(r.of("GetStatus").map((s) => s.m.id).sort(), ["head/w8#a", "head/w9#b"]);
  r.from("head/w8", { type: "Status", id: "head/w8#a", status: { kind: "inline", payload: value(1) } });
  assert.equal(r.of("RequestLease").length, 0, "asked for a lease with an argument still pending");
  r.from("head/w9", { type: "Status", id: "head/w9#b", status: { kind: "inline", payload: value(2) } });
  assert.equal(r.of("RequestLease").length, 1);
});

test("a function submitted with other resources is another scheduling class: its task never rides the first one's lease", () => {
  const r = rig();
  const a = r.owner.submitTask("a", FN, [], opts({ CPU: 1 }));
  r.owner.submitTask("b", FN, [], opts({ CPU: 2 }));
  const reqs = r.of("RequestLease");
  assert.deepEqual(reqs.map((s) => s.m.req.resources), [{ CPU: 1 }, { CPU: 2 }]);
  r.from("head/raylet", { type: "LeaseGranted", reqId: reqs[0]!.m.reqId, leaseId: "lease-1", worker: "head/w1" });
  const pushA = r.of("PushTask");
  assert.deepEqual(pushA.map((s) => [s.to, s.m.spec.taskId]), [["head/w1", "a"]]);
  r.from("head/w1", { type: "TaskReply", taskId: "a", returnId: a, attempt: pushA[0]!.m.spec.attempt, result: { kind: "inline", payload: value(0) } });
  assert.deepEqual(r.of("PushTask").map((s) => s.m.spec.taskId), ["a"], "b was pushed onto a's lease, which holds one CPU, not two");
  assert.deepEqual(r.of("ReturnLease").map((s) => s.m.leaseId), ["lease-1"]);
});
