// How an owner dispatches its tasks: a task waits for all of its arguments before it asks for a
// lease, and tasks of one function with other resources are another scheduling class (they
// never share a lease); a failed task is retried within its budget only; wait and get answer as
// they should (one ready of two is enough; an object no longer held is lost); an actor's creator
// hears of its registration, and a kill is sent again to a restarted GCS. An owner wired by
// hand, the test playing the raylet, the GCS, workers and owners.

import assert from "node:assert/strict";
import { test } from "node:test";
import { NO_BUGS, type Bugs } from "../../src/core/bugs.ts";
import type { CallResult } from "../../src/core/effects.ts";
import { CoreWorker } from "../../src/core/core-worker.ts";
import type { Msg } from "../../src/core/messages.ts";
import type { FunctionDescriptor, Payload } from "../../src/core/types.ts";

const OWNER = "head/driver";
const FN: FunctionDescriptor = { id: "fn-f", name: "f", kind: "function", source: "(...xs) => xs.length" };
const value = (n: number): Payload => ({ size: 8, hash: `v${n}`, data: n });
const opts = (resources: Record<string, number>) => ({ resources, strategy: "DEFAULT" as const, maxRetries: 0, retryExceptions: false });

function rig(maxPendingLeases = 10, bugs: Bugs = NO_BUGS) {
  const sent: { to: string; m: Msg }[] = [];
  const completed = new Map<number, CallResult>();
  const owner = new CoreWorker(OWNER, { node: "head", gcs: "head/gcs", maxInlineBytes: 100_000, maxPendingLeases, maxTasksInFlightPerWorker: 1, pipelineMaxTaskMs: 0, bugs }, {
    now: () => 0, random: () => 0.5, send: (to, m) => sent.push({ to, m }), setTimer: () => {}, cancelTimer: () => {}, trace: () => {},
    execute: () => {}, complete: (callId, r) => completed.set(callId, r), interrupt: () => {},
  });
  owner.start(false);
  const of = <T extends Msg["type"]>(type: T) => sent.flatMap((s) => (s.m.type === type ? [s as { to: string; m: Extract<Msg, { type: T }> }] : []));
  const from = (addr: string, msg: Msg) => owner.step({ kind: "message", from: addr, msg: msg as never });
  return { owner, of, from, completed };
}

test("a task's lease request names the arguments held in a store, for the raylet to stage; an inline one is passed by value", () => {
  const r = rig();
  r.owner.submitTask("t1", FN, [{ ref: "head/w8#a", owner: "head/w8" }, { ref: "head/w9#b", owner: "head/w9" }], opts({ CPU: 1 }));
  r.from("head/w8", { type: "Status", id: "head/w8#a", status: { kind: "stored", nodes: ["n2"], size: 1_000_000 } });
  r.from("head/w9", { type: "Status", id: "head/w9#b", status: { kind: "inline", payload: value(2) } });
  assert.deepEqual(r.of("RequestLease").map((s) => s.m.req.deps), [[{ id: "head/w8#a", owner: "head/w8" }]]);
});

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

test("wait for 1 of 2 refs answers as soon as one is ready", () => {
  const r = rig();
  r.owner.wait([{ id: "head/w8#a", owner: "head/w8" }, { id: "head/w9#b", owner: "head/w9" }], 1, undefined, true, 7);
  r.from("head/w8", { type: "Status", id: "head/w8#a", status: { kind: "inline", payload: value(1) } });
  assert.deepEqual(r.completed.get(7), { kind: "ready", ready: ["head/w8#a"] });
});

test("a get of an object of this owner that it no longer holds is an ObjectLostError", () => {
  const r = rig();
  r.owner.get([{ id: `${OWNER}#gone`, owner: OWNER }], undefined, 7);
  const got = r.completed.get(7);
  assert.equal(got?.kind === "values" && !("hash" in got.values[0]!) ? got.values[0].type : got?.kind, "ObjectLostError");
});

test("a task with one retry left is retried after a failure its budget covers, and not a second time", () => {
  const r = rig();
  const id = r.owner.submitTask("t", FN, [], { ...opts({ CPU: 1 }), maxRetries: 1 });
  const fail = (n: number) => {
    const req = r.of("RequestLease")[n]!;
    r.from("head/raylet", { type: "LeaseGranted", reqId: req.m.reqId, leaseId: `lease-${n}`, worker: `head/w${n}` });
    const push = r.of("PushTask")[n]!;
    r.from(`head/w${n}`, { type: "TaskReply", taskId: "t", returnId: id, attempt: push.m.spec.attempt, result: { kind: "error", error: { type: "WorkerCrashedError", message: "crashed" }, retryable: true } });
  };
  fail(0);
  assert.equal(r.of("RequestLease").length, 2, "the retry budget did not cover one failure");
  fail(1);
  assert.equal(r.of("RequestLease").length, 2, "retried past its budget");
  r.owner.get([{ id, owner: OWNER }], undefined, 7);
  const got = r.completed.get(7);
  assert.equal(got?.kind === "values" && !("hash" in got.values[0]!) ? got.values[0].type : got?.kind, "WorkerCrashedError");
});

test("under the seeded bug retry-decrement-before-check only a failure spends a retry: a success leaves its object the budget to be remade", () => {
  const r = rig(10, new Set(["retry-decrement-before-check"]) as Bugs);
  const id = r.owner.submitTask("t", FN, [], { ...opts({ CPU: 1 }), maxRetries: 1 });
  r.from("head/raylet", { type: "LeaseGranted", reqId: r.of("RequestLease")[0]!.m.reqId, leaseId: "lease-0", worker: "node-2/w0" });
  r.from("node-2/w0", { type: "TaskReply", taskId: "t", returnId: id, attempt: 0, result: { kind: "stored", node: "node-2", size: 200_000, hash: "h", refs: undefined } });
  r.from("head/gcs", { type: "NodeDead", node: "node-2", incarnation: 1 });
  assert.equal(r.of("RequestLease").length, 2, "the lost object was not remade: its success spent the retry");
});

for (const maxRetries of [0, 2]) {
  test(`a task running in a placement group this process removed fails with TaskPlacementGroupRemoved when its worker goes with the bundles (maxRetries ${maxRetries})`, () => {
    const r = rig();
    const id = r.owner.submitTask("t", FN, [], { ...opts({ CPU: 1 }), strategy: { placementGroup: "pg", bundleIndex: 0, captureChildTasks: false }, maxRetries });
    r.from("head/raylet", { type: "LeaseGranted", reqId: r.of("RequestLease")[0]!.m.reqId, leaseId: "lease-0", worker: "head/w0" });
    assert.equal(r.of("PushTask").length, 1);
    r.owner.removePlacementGroup("pg");
    r.from("head/raylet", { type: "WorkerDied", worker: "head/w0" }); // killed with the group's bundles
    r.owner.get([{ id, owner: OWNER }], undefined, 7);
    const got = r.completed.get(7);
    assert.equal(got?.kind === "values" && !("hash" in got.values[0]!) ? got.values[0].type : got?.kind, "TaskPlacementGroupRemoved", "the worker's death was taken for the reason");
    assert.equal(r.of("RequestLease").length, 1, "retried in a group that is gone");
  });
}

test("an actor's creator waits for the GCS to take its registration, then hears how it went", () => {
  const r = rig();
  r.owner.createActor("a1", { id: "cls", name: "C", kind: "class", source: "class C {}" }, [], { resources: {}, strategy: undefined, maxRestarts: 0, maxTaskRetries: 0, maxConcurrency: 1 });
  assert.equal(r.of("CreateActor").length, 1);
  r.owner.actorRegistered("a1", 8);
  assert.equal(r.completed.get(8), undefined, "answered before the GCS took the registration");
  r.from("head/gcs", { type: "ActorUpdate", info: { actorId: "a1", state: "PENDING_CREATION", epoch: 0, owner: OWNER } });
  assert.deepEqual(r.completed.get(8), { kind: "actor", info: { actorId: "a1", state: "PENDING_CREATION", epoch: 0, owner: OWNER } });
});

test("a kill sent while the GCS was down is sent again when it comes back, even before the actor's first update", () => {
  const r = rig();
  r.owner.createActor("a1", { id: "cls", name: "C", kind: "class", source: "class C {}" }, [], { resources: {}, strategy: undefined, maxRestarts: 0, maxTaskRetries: 0, maxConcurrency: 1 });
  r.owner.killActor("a1");
  const kills = () => r.of("KillActor").filter((s) => s.m.actorId === "a1").length;
  const before = kills();
  r.from("head/raylet", { type: "GcsRestarted" });
  assert.equal(kills(), before + 1, "the kill was not sent again");
});

test("a list of named actors unanswered when the GCS restarts is asked again of the new GCS, in the namespace it named", () => {
  const r = rig();
  r.owner.listNamedActors(1, "ns");
  r.owner.listNamedActors(2);
  const asked = () => r.of("ListNamedActors").map((s) => s.m);
  const before = asked();
  r.from("head/raylet", { type: "GcsRestarted" });
  assert.deepEqual(asked().slice(before.length), before);
  assert.deepEqual(before.map((m) => m.namespace), ["ns", undefined]);
});

test("a restarting kill sent while the GCS was down is sent again when it comes back, even before the actor's first update", () => {
  const r = rig();
  r.owner.createActor("a1", { id: "cls", name: "C", kind: "class", source: "class C {}" }, [], { resources: {}, strategy: undefined, maxRestarts: 1, maxTaskRetries: 0, maxConcurrency: 1 });
  r.owner.killActor("a1", false);
  const kills = () => r.of("KillActor").filter((s) => s.m.actorId === "a1").map((s) => s.m);
  r.from("head/raylet", { type: "GcsRestarted" });
  assert.deepEqual(kills(), [1, 2].map(() => ({ type: "KillActor", actorId: "a1", noRestart: false, epoch: 0 })));
});

test("a kill that lets the actor restart names the incarnation it ends, and leaves the caller's later calls to go on", () => {
  const r = rig();
  r.owner.createActor("a1", { id: "cls", name: "C", kind: "class", source: "class C {}" }, [], { resources: {}, strategy: undefined, maxRestarts: 1, maxTaskRetries: 0, maxConcurrency: 1 });
  r.owner.killActor("a1", false);
  const [kill] = r.of("KillActor").filter((s) => s.m.actorId === "a1").map((s) => s.m);
  assert.deepEqual(kill, { type: "KillActor", actorId: "a1", noRestart: false, epoch: 0 });
  // Not killed for good here: a call made after it waits for the restarted actor instead of failing.
  r.owner.submitActorTask("t1", "a1", "m", [], 0);
  assert.equal(r.owner.state.callerActors.get("a1")?.killed, undefined, "the caller took the actor for dead");
});

test("a restarting kill of an actor this process never created nor called (a handle passed to it) names incarnation 0", () => {
  const r = rig();
  r.owner.killActor("other", false);
  assert.deepEqual(r.of("KillActor").map((s) => s.m), [{ type: "KillActor", actorId: "other", noRestart: false, epoch: 0 }]);
});

test("a duplicated answer about the cluster completes nothing more", () => {
  const r = rig();
  r.owner.clusterInfo(9);
  const [ask] = r.of("GetClusterInfo");
  assert.ok(ask);
  const nodes = [{ node: "head", incarnation: 1, total: { CPU: 1 }, available: { CPU: 1 }, alive: true }];
  r.from("head/gcs", { type: "ClusterInfo", reqId: ask.m.reqId, nodes });
  r.from("head/gcs", { type: "ClusterInfo", reqId: ask.m.reqId, nodes });
  assert.deepEqual([...r.completed.keys()], [9]);
});

test("a lease request spilled back to another node follows it there, and is asked again here if that node dies", () => {
  const r = rig();
  r.owner.submitTask("t", FN, [], opts({ CPU: 1 }));
  const [first] = r.of("RequestLease");
  r.from("head/raylet", { type: "LeaseSpillback", reqId: first!.m.reqId, node: "n2", incarnation: 1 });
  const asks = () => r.of("RequestLease").map((s) => s.to);
  assert.deepEqual(asks(), ["head/raylet", "n2/raylet"]);
  r.from("head/gcs", { type: "NodeDead", node: "n2", incarnation: 1 });
  assert.deepEqual(asks(), ["head/raylet", "n2/raylet", "head/raylet"], "the request lost with n2 was not made again");
});

test("an argument's copies on a node known dead draw no lease request there, whether the death or the status came first", () => {
  const arg = { ref: "node-1/w1#a", owner: "node-1/w1" };
  const stored = { kind: "stored" as const, nodes: ["node-2"], size: 200_000 };
  const asks = (r: ReturnType<typeof rig>) => r.of("RequestLease").map((s) => s.to);
  // The owner had not heard of the death when it answered.
  const late = rig();
  late.from("head/gcs", { type: "NodeDead", node: "node-2", incarnation: 1 });
  late.owner.submitTask("t", FN, [arg], opts({ CPU: 1 }));
  late.from(arg.owner, { type: "Status", id: arg.ref, status: stored });
  assert.deepEqual(asks(late), ["head/raylet"], "asked node-2's dead raylet");
  // The status is kept while the borrow lasts: a later task finds it.
  const kept = rig();
  kept.owner.submitTask("t1", FN, [arg], opts({ CPU: 1 }));
  kept.from(arg.owner, { type: "Status", id: arg.ref, status: stored });
  kept.from("head/gcs", { type: "NodeDead", node: "node-2", incarnation: 1 });
  assert.deepEqual(asks(kept), ["node-2/raylet", "head/raylet"]);
  kept.owner.submitTask("t2", FN, [arg], opts({ CPU: 1 }));
  assert.deepEqual(asks(kept), ["node-2/raylet", "head/raylet", "head/raylet"], "asked node-2's dead raylet");
});

test("a lost result's re-run whose borrowed argument nothing holds any more still asks for a lease (the argument's status is not kept)", () => {
  const r = rig(1);
  const arg = { ref: "node-1/w1#a", owner: "node-1/w1" };
  const ret = r.owner.submitTask("t", FN, [arg], { ...opts({ CPU: 1 }), maxRetries: 1 });
  r.from(arg.owner, { type: "Status", id: arg.ref, status: { kind: "stored", nodes: ["n3"], size: 200_000 } });
  r.from("head/raylet", { type: "LeaseGranted", reqId: r.of("RequestLease")[0]!.m.reqId, leaseId: "lease-1", worker: "n2/w1-1" });
  r.from("n2/w1-1", { type: "TaskReply", taskId: "t", returnId: ret, attempt: 0, result: { kind: "stored", node: "n2", size: 1_000_000, hash: "big" } });
  assert.equal(r.owner.state.borrowed.has(arg.ref), false, "the finished task still borrows its argument");
  r.owner.submitTask("u", FN, [], opts({ CPU: 1 })); // takes the one pending request
  r.from("head/gcs", { type: "NodeDead", node: "n2", incarnation: 1 }); // the result's only copy goes: t is run again
  r.from(arg.owner, { type: "Status", id: arg.ref, status: { kind: "stored", nodes: ["n3"], size: 200_000 } });
  assert.equal(r.of("RequestLease").length, 2, "the re-run asked before u's request was answered");
  r.from("head/raylet", { type: "LeaseGranted", reqId: r.of("RequestLease")[1]!.m.reqId, leaseId: "lease-2", worker: "head/w2" });
  assert.deepEqual(r.of("RequestLease").map((s) => s.m.req.taskId), ["t", "u", "t"]);
});

test("a stored result's reply repeated (the network duplicated it) frees nothing: the copy it names is the object's", () => {
  const r = rig();
  const ret = r.owner.submitTask("t", FN, [], opts({ CPU: 1 }));
  r.from("head/raylet", { type: "LeaseGranted", reqId: r.of("RequestLease")[0]!.m.reqId, leaseId: "lease-1", worker: "n2/w1-1" });
  const reply: Msg = { type: "TaskReply", taskId: "t", returnId: ret, attempt: 0, result: { kind: "stored", node: "n2", size: 1_000_000, hash: "big" } };
  r.from("n2/w1-1", reply);
  r.from("n2/w1-1", reply);
  assert.deepEqual(r.of("FreeObjects"), [], "the object's only copy was freed");
});

test("a get of borrowed refs stored elsewhere asks its raylet once, for all of them, once every status is known", () => {
  const r = rig();
  const a = { id: "head/w8#a", owner: "head/w8" }, b = { id: "head/w9#b", owner: "head/w9" }, c = { id: "head/w7#c", owner: "head/w7" };
  r.owner.get([a, b, c], undefined, 7);
  r.from("head/w8", { type: "Status", id: a.id, status: { kind: "stored", nodes: ["n2"], size: 1_000_000 } });
  r.from("head/w7", { type: "Status", id: c.id, status: { kind: "inline", payload: value(3) } });
  assert.deepEqual(r.of("StoreGet"), [], "the store was asked before every status was known");
  r.from("head/w9", { type: "Status", id: b.id, status: { kind: "stored", nodes: ["n3"], size: 1_000_000 } });
  assert.deepEqual(r.of("StoreGet").map((s) => s.m.ids.map((x) => x.id)), [[a.id, b.id]]);
});

test("an idle scheduling class outside a placement group is kept when another is made (it remembers how long its tasks ran)", () => {
  const r = rig();
  const a = r.owner.submitTask("a", FN, [], opts({ CPU: 1 }));
  r.from("head/raylet", { type: "LeaseGranted", reqId: r.of("RequestLease")[0]!.m.reqId, leaseId: "lease-1", worker: "head/w1" });
  r.from("head/w1", { type: "TaskReply", taskId: "a", returnId: a, attempt: 0, result: { kind: "inline", payload: value(0) }, runMs: 0 });
  assert.equal(r.of("ReturnLease").length, 1, "the class is idle: its lease went back");
  r.owner.submitTask("b", FN, [], opts({ CPU: 2 }));
  assert.equal(r.owner.state.classes.size, 2, "the idle class was dropped");
});
