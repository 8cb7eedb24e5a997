// ray.cancel in the core worker model, and a push duplicated on the network: an owner and a
// worker wired by hand, the test playing the raylet, so each message and effect can be looked at.

import assert from "node:assert/strict";
import { test } from "node:test";
import { NO_BUGS } from "../../src/core/bugs.ts";
import type { CallResult } from "../../src/core/effects.ts";
import { CoreWorker } from "../../src/core/core-worker.ts";
import type { Msg } from "../../src/core/messages.ts";
import type { Addr, FunctionDescriptor, Payload, TaskSpec } from "../../src/core/types.ts";
import type { WorkerTimer } from "../../src/core/worker/inputs.ts";
import type { TraceBody } from "../../spec/trace.ts";

const OWNER = "head/driver";
const WORKER = "head/w1";
const FN: FunctionDescriptor = { id: "fn-noop", name: "noop", kind: "function", source: "() => 0" };
const value = (n: number): Payload => ({ size: 8, hash: `v${n}`, data: n });
const OPTS = { resources: { CPU: 1 }, strategy: "DEFAULT" as const, maxRetries: 3, retryExceptions: false };

function rig() {
  const sent: { from: Addr; to: Addr; m: Msg }[] = [];
  const executed: TaskSpec[] = [];
  const interrupted: string[] = [];
  const completed = new Map<number, CallResult>();
  const traced: TraceBody[] = [];
  const timersCancelled: WorkerTimer[] = [];
  const make = (addr: Addr) => new CoreWorker(addr, {
    node: "head", gcs: "head/gcs", maxInlineBytes: 100_000, maxPendingLeases: 10, maxTasksInFlightPerWorker: 1, pipelineMaxTaskMs: 1, bugs: NO_BUGS,
  }, {
    now: () => 0, random: () => 0.5, send: (to, m) => sent.push({ from: addr, to, m }), setTimer: () => {}, cancelTimer: (t) => timersCancelled.push(t), trace: (e) => traced.push(e),
    execute: (spec) => executed.push(spec), complete: (callId, r) => completed.set(callId, r), interrupt: (taskId) => interrupted.push(taskId),
  });
  const owner = make(OWNER);
  const worker = make(WORKER);
  worker.start(true);
  worker.registerFunction(FN);
  const take = <T extends Msg["type"]>(type: T): Extract<Msg, { type: T }>[] => {
    const out: Extract<Msg, { type: T }>[] = [];
    for (let i = sent.length - 1; i >= 0; i--) if (sent[i].m.type === type) out.unshift(sent.splice(i, 1)[0].m as Extract<Msg, { type: T }>);
    return out;
  };
  const toWorker = (m: Msg) => worker.step({ kind: "message", from: OWNER, msg: m as never });
  const toOwner = (m: Msg, from = WORKER) => owner.step({ kind: "message", from, msg: m as never });
  const grant = () => {
    const [req] = take("RequestLease");
    toOwner({ type: "LeaseGranted", reqId: req.reqId, leaseId: "lease-1", worker: WORKER }, "head/raylet");
    const [push] = take("PushTask");
    toWorker(push);
    return push.spec;
  };
  /** The error the owner's get of `id` completes with (the get is answered at once once settled). */
  const errorOf = (id: string): string | undefined => {
    owner.get([{ id, owner: OWNER }], undefined, 99);
    const r = completed.get(99);
    completed.delete(99);
    if (r?.kind !== "values") return undefined;
    const v = r.values[0];
    return "hash" in v ? undefined : v.type;
  };
  /** The worker each task.cancelled names as destroyed (undefined: none). */
  const cancelledWorkers = () => traced.flatMap((e) => (e.kind === "task.cancelled" ? [e.worker] : []));
  /** Objects the owner traced out of scope (freed). */
  const freed = () => traced.flatMap((e) => (e.kind === "object.out-of-scope" ? [e.obj] : []));
  return { owner, worker, sent, executed, interrupted, completed, timersCancelled, take, toWorker, toOwner, grant, errorOf, cancelledWorkers, freed };
}

test("a task waiting for a lease is cancelled at once, and the lease granted later goes back unused", () => {
  const r = rig();
  const id = r.owner.submitTask(`${OWNER}#t1`, FN, [{ v: value(1) }], OPTS);
  const [req] = r.take("RequestLease");
  r.owner.cancelTask(id, false, true);
  assert.equal(r.errorOf(id), "TaskCancelledError");
  assert.deepEqual(r.cancelledWorkers(), [undefined], "no worker is destroyed without force");
  r.toOwner({ type: "LeaseGranted", reqId: req.reqId, leaseId: "lease-1", worker: WORKER }, "head/raylet");
  assert.equal(r.take("PushTask").length, 0, "nothing is pushed for a cancelled task");
  assert.deepEqual(r.take("ReturnLease").map((m) => m.leaseId), ["lease-1"]);
});

test("a running task's worker signals its code; the error it ends with is the cancellation, and it is not retried", () => {
  const r = rig();
  const id = r.owner.submitTask(`${OWNER}#t1`, FN, [{ v: value(1) }], OPTS);
  const spec = r.grant();
  assert.equal(r.executed.length, 1);
  r.owner.cancelTask(id, false, true);
  assert.equal(r.errorOf(id), undefined, "still running: not settled yet");
  assert.deepEqual(r.cancelledWorkers(), [undefined], "no worker is destroyed without force");
  const [cancel] = r.take("CancelTask");
  assert.equal(cancel.taskId, spec.taskId);
  r.toWorker(cancel);
  assert.deepEqual(r.interrupted, [spec.taskId], "the host is asked to signal the running code");
  r.worker.taskDone(spec.taskId, spec.attempt, { ok: false, error: { type: "TaskError", message: "aborted" } });
  const [reply] = r.take("TaskReply");
  r.toOwner(reply);
  assert.equal(r.errorOf(id), "TaskCancelledError");
  assert.equal(r.take("RequestLease").length, 0, "no retry, though maxRetries is 3");
});

test("a get and a wait the cancel interrupted are withdrawn: the CPU they lent is asked back, their timers stop, and late answers find no call", () => {
  const r = rig();
  r.owner.submitTask(`${OWNER}#t1`, FN, [{ v: value(1) }], OPTS);
  r.grant();
  const pending = { id: `${OWNER}#o9`, owner: OWNER };
  r.worker.get([pending], 5_000, 7);
  r.worker.wait([pending], 1, 5_000, true, 8);
  assert.equal(r.take("WorkerBlocked").length, 1, "the first blocking call lends the task's CPU back");
  r.worker.withdrawCall(7);
  assert.equal(r.take("WorkerUnblocked").length, 0, "the wait still blocks");
  r.worker.withdrawCall(8);
  assert.equal(r.take("WorkerUnblocked").length, 1, "the last withdrawn call asks for the CPU back");
  assert.deepEqual(r.timersCancelled.map((t) => [t.kind, t.id]), [["get-timeout", 7], ["wait-timeout", 8]]);
  r.worker.withdrawCall(7);
  assert.equal(r.take("WorkerUnblocked").length, 0, "a second withdrawal changes nothing");
  // The owner answers the status requests the calls made: nobody is answered.
  const asks = r.take("GetStatus");
  assert.ok(asks.length > 0, "the calls asked the owner for the object's status");
  for (const m of asks) r.worker.step({ kind: "message", from: OWNER, msg: { type: "Status", id: m.id, status: { kind: "inline", payload: value(3) } } });
  assert.ok(!r.completed.has(7) && !r.completed.has(8), "a withdrawn call was answered");
});

test("a task waiting for a generator's next item lends its CPU back as a get does; withdrawn, it asks for it back; answered, it gets the item once the CPU is back", () => {
  const r = rig();
  r.owner.submitTask(`${OWNER}#t1`, FN, [{ v: value(1) }], OPTS);
  r.grant();
  // The running task submits a streaming generator (no node can run it) and waits for its first item.
  const gen = r.worker.submitTask(`${WORKER}#g1`, FN, [], { ...OPTS, streaming: {} });
  const [req] = r.take("RequestLease");
  r.worker.generatorNext(gen, 0, 5);
  assert.equal(r.take("WorkerBlocked").length, 1, "waiting for an item lends the task's CPU back");
  r.worker.withdrawCall(5);
  assert.equal(r.take("WorkerUnblocked").length, 1, "the withdrawn wait asks for the CPU back");
  r.worker.step({ kind: "message", from: "head/raylet", msg: { type: "Unblocked" } });
  r.worker.generatorNext(gen, 0, 6);
  assert.equal(r.take("WorkerBlocked").length, 1);
  // The stream ends (the generator cannot be scheduled): the answer waits for the CPU.
  r.worker.step({ kind: "message", from: "head/raylet", msg: { type: "LeaseRejected", reqId: req.reqId, reason: "no node has it", infeasible: true } });
  assert.equal(r.take("WorkerUnblocked").length, 1);
  assert.equal(r.completed.has(6), false, "answered before the task had its CPU back");
  r.worker.step({ kind: "message", from: "head/raylet", msg: { type: "Unblocked" } });
  assert.equal(r.completed.get(6)?.kind, "item");
  assert.equal(r.completed.has(5), false, "the withdrawn call was answered");
  // An item already there is answered at once, without lending anything.
  r.worker.generatorNext(gen, 0, 7);
  assert.equal(r.take("WorkerBlocked").length, 0);
  assert.equal(r.completed.get(7)?.kind, "item");
});

test("a running task that finishes despite the cancel keeps its value (as in Ray)", () => {
  const r = rig();
  const id = r.owner.submitTask(`${OWNER}#t1`, FN, [{ v: value(1) }], OPTS);
  const spec = r.grant();
  r.owner.cancelTask(id, false, true);
  r.toWorker(r.take("CancelTask")[0]);
  r.worker.taskDone(spec.taskId, spec.attempt, { ok: true, payload: value(7) });
  r.toOwner(r.take("TaskReply")[0]);
  assert.equal(r.errorOf(id), undefined);
});

test("force: the lease goes back with its worker destroyed, the task settles now, and a copy of its result is dropped once the worker is dead", () => {
  const r = rig();
  const id = r.owner.submitTask(`${OWNER}#t1`, FN, [{ v: value(1) }], OPTS);
  r.grant();
  r.owner.cancelTask(id, true, true);
  assert.equal(r.errorOf(id), "TaskCancelledError");
  assert.deepEqual(r.take("ReturnLease"), [{ type: "ReturnLease", leaseId: "lease-1", destroyWorker: true }]);
  assert.equal(r.take("CancelTask").length, 0, "nothing to ask a worker that is being destroyed");
  assert.deepEqual(r.cancelledWorkers(), [WORKER], "the trace names the worker destroyed (the checkers count what it owned as lost)");
  // Until the raylet kills it, the worker may finish and store the result: dropped only after.
  assert.deepEqual(r.take("FreeObjects"), [], "a copy stored after this free would outlive every reference");
  r.toOwner({ type: "WorkerDied", worker: WORKER }, "head/raylet");
  assert.deepEqual(r.take("FreeObjects"), [{ type: "FreeObjects", ids: [id], orphaned: true }]);
});

/** A put the owner made (stored on head), whose program handle is dropped once a task holds it. */
function putArg(r: ReturnType<typeof rig>, id: string): { ref: string; owner: Addr } {
  r.owner.put(id, { size: 200_000, hash: "big", data: 0 }, 1);
  const [sp] = r.take("StorePut");
  r.toOwner({ type: "StorePutReply", reqId: sp.reqId, id }, "head/raylet");
  return { ref: id, owner: OWNER };
}

test("force: the killed worker may still read the task's arguments, so they stay held until its death is known", () => {
  const r = rig();
  const arg = putArg(r, `${OWNER}#p1`);
  const borrowed = { ref: "node-2/w1-1#9.r", owner: "node-2/w1-1" };
  const id = r.owner.submitTask(`${OWNER}#t1`, FN, [arg, borrowed], OPTS);
  r.owner.releaseRef(arg.ref); // only the task holds it now
  r.take("AddBorrower");
  r.take("GetStatus");
  r.toOwner({ type: "Status", id: borrowed.ref, status: { kind: "stored", nodes: ["node-2"], size: 200_000 } }, borrowed.owner);
  r.grant();
  r.owner.cancelTask(id, true, false);
  assert.equal(r.errorOf(id), "TaskCancelledError", "the get fails at once");
  assert.deepEqual(r.freed().filter((o) => o === arg.ref), [], "the argument is not freed while the worker may read it");
  assert.equal(r.take("RemoveBorrower").length, 0, "nor is the borrowed argument given back");
  r.toOwner({ type: "WorkerDied", worker: WORKER }, "head/raylet");
  assert.deepEqual(r.freed().filter((o) => o === arg.ref), [arg.ref], "freed once the worker is known dead");
  assert.deepEqual(r.take("FreeObjects").map((m) => m.ids), [[arg.ref], [id]], "the argument, and any copy of the attempt's result");
  assert.deepEqual(r.take("RemoveBorrower").map((m) => [m.id, m.holds]), [[borrowed.ref, 1]]);
  r.toOwner({ type: "WorkerDied", worker: WORKER }, "head/gcs"); // the GCS's news of the same death
  assert.equal(r.take("FreeObjects").length + r.take("RemoveBorrower").length, 0, "released once");
});

test("force: the death of the killed worker's node ends the holds too", () => {
  const r = rig();
  const arg = putArg(r, `${OWNER}#p1`);
  const id = r.owner.submitTask(`${OWNER}#t1`, FN, [arg], OPTS);
  r.owner.releaseRef(arg.ref);
  const [req] = r.take("RequestLease");
  r.toOwner({ type: "LeaseGranted", reqId: req.reqId, leaseId: "node-1:1:L1", worker: "node-1/w1-1" }, "head/raylet");
  r.owner.cancelTask(id, true, false);
  r.toOwner({ type: "NodeDead", node: "node-2", incarnation: 1 }, "head/raylet");
  assert.deepEqual(r.freed().filter((o) => o === arg.ref), [], "another node's death ends nothing");
  r.toOwner({ type: "NodeDead", node: "node-1", incarnation: 1 }, "head/raylet");
  assert.deepEqual(r.freed().filter((o) => o === arg.ref), [arg.ref], "the killed worker died with its node");
});

test("a task pushed but not started on the worker (still fetching its function) is answered as cancelled, never run", () => {
  const r = rig();
  const other: FunctionDescriptor = { id: "fn-other", name: "other", kind: "function", source: "() => 1" };
  const id = r.owner.submitTask(`${OWNER}#t1`, other, [{ v: value(1) }], OPTS);
  r.grant();
  assert.equal(r.take("GetFunction").length, 1, "the worker waits for the function's source");
  r.owner.cancelTask(id, false, true);
  r.toWorker(r.take("CancelTask")[0]);
  r.worker.step({ kind: "message", from: "head/gcs", msg: { type: "Function", fn: other } });
  assert.equal(r.executed.length, 0, "never run");
  assert.deepEqual(r.interrupted, []);
  r.toOwner(r.take("TaskReply")[0]);
  assert.equal(r.errorOf(id), "TaskCancelledError");
});

test("cancelling a task already done does nothing", () => {
  const r = rig();
  const id = r.owner.submitTask(`${OWNER}#t1`, FN, [{ v: value(1) }], OPTS);
  const spec = r.grant();
  r.worker.taskDone(spec.taskId, spec.attempt, { ok: true, payload: value(7) });
  r.toOwner(r.take("TaskReply")[0]);
  r.owner.cancelTask(id, true, true);
  assert.equal(r.errorOf(id), undefined);
  assert.equal(r.take("CancelTask").length + r.sent.filter((s) => s.m.type === "ReturnLease" && s.m.destroyWorker).length, 0);
});

test("recursive: cancelling a running task cancels the tasks it submitted; without recursive they go on", () => {
  for (const recursive of [false, true]) {
    const r = rig();
    const id = r.owner.submitTask(`${OWNER}#t1`, FN, [{ v: value(1) }], OPTS);
    r.grant();
    r.worker.submitTask(`${WORKER}#c1`, FN, [{ v: value(2) }], OPTS); // submitted by the running task: waits for a lease
    const [childReq] = r.take("RequestLease");
    r.owner.cancelTask(id, false, recursive);
    r.toWorker(r.take("CancelTask")[0]);
    // A child waiting for its lease is cancelled by taking back its lease request.
    assert.deepEqual(r.take("CancelLease").map((m) => m.reqId), recursive ? [childReq.reqId] : [], recursive ? "the child went on" : "a non-recursive cancel cancelled the child");
  }
});

test("a pushed task that arrives twice while it waits behind another is queued, and run, once", () => {
  const r = rig();
  r.owner.submitTask(`${OWNER}#t1`, FN, [{ v: value(1) }], OPTS);
  const first = r.grant();
  const second = { ...first, taskId: `${OWNER}#t2`, returnId: `${OWNER}#t2.r` };
  r.toWorker({ type: "PushTask", spec: second });
  r.toWorker({ type: "PushTask", spec: second }); // duplicated on the network
  r.worker.taskDone(first.taskId, first.attempt, { ok: true, payload: value(1) });
  r.worker.taskDone(second.taskId, second.attempt, { ok: true, payload: value(2) });
  assert.deepEqual(r.executed.map((s) => s.taskId), [first.taskId, second.taskId]);
});

test("an actor call cancelled while it waits for its arguments still takes its turn: the actor gets it, marked cancelled", () => {
  const r = rig();
  const CLS: FunctionDescriptor = { id: "cls-acc", name: "Acc", kind: "class", source: "class Acc {}" };
  r.owner.createActor("a1", CLS, [], { resources: {}, strategy: undefined, maxRestarts: 0, maxTaskRetries: 0, maxConcurrency: 1 });
  r.toOwner({ type: "ActorUpdate", info: { actorId: "a1", state: "ALIVE", address: WORKER, epoch: 0, owner: OWNER } }, "head/gcs");
  const pending = r.owner.submitTask(`${OWNER}#t1`, FN, [], OPTS); // not done: the call below waits for it
  const call = r.owner.submitActorTask(`${OWNER}#c1`, "a1", "add", [{ ref: pending, owner: OWNER }], 0);
  r.owner.submitActorTask(`${OWNER}#c2`, "a1", "add", [], 0);
  r.owner.cancelTask(call, false, false);
  assert.equal(r.errorOf(call), "TaskCancelledError");
  // Without its placeholder the actor would wait for call 0 for ever and never run call 1.
  const pushed = r.take("PushTask").map((m) => [m.spec.taskId, m.spec.seq, m.spec.cancelled === true]);
  assert.deepEqual(pushed, [[`${OWNER}#c2`, 1, false], [`${OWNER}#c1`, 0, true]]);
});

test("cancelling an actor call the actor is running asks the actor's worker to stop it", () => {
  const r = rig();
  const CLS: FunctionDescriptor = { id: "cls-acc", name: "Acc", kind: "class", source: "class Acc {}" };
  r.owner.createActor("a1", CLS, [], { resources: {}, strategy: undefined, maxRestarts: 0, maxTaskRetries: 0, maxConcurrency: 1 });
  r.toOwner({ type: "ActorUpdate", info: { actorId: "a1", state: "ALIVE", address: WORKER, epoch: 0, owner: OWNER } }, "head/gcs");
  const call = r.owner.submitActorTask(`${OWNER}#c1`, "a1", "add", [], 0);
  assert.deepEqual(r.take("PushTask").map((m) => m.spec.taskId), [`${OWNER}#c1`]);
  r.owner.cancelTask(call, false, true);
  assert.deepEqual(r.sent.filter((s) => s.m.type === "CancelTask").map((s) => [s.to, s.m.type === "CancelTask" && s.m.taskId, s.m.type === "CancelTask" && s.m.recursive]), [[WORKER, `${OWNER}#c1`, true]]);
  assert.equal(r.errorOf(call), undefined, "settled before the actor answered");
});
