// Pipelined leases (maxTasksInFlightPerWorker): an owner and a worker core worker wired by
// hand, the test playing the raylet and the clock, so each message can be looked at.

import assert from "node:assert/strict";
import { test } from "node:test";
import { NO_BUGS } from "../../src/core/bugs.ts";
import { CoreWorker, type CoreWorkerTuning } from "../../src/core/core-worker.ts";
import { isWorkerMsg, type Msg } from "../../src/core/messages.ts";
import { classKeyOf } from "../../src/core/worker/task-manager.ts";
import type { Ctx } from "../../src/core/worker/context.ts";
import type { Addr, FunctionDescriptor, Payload, TaskSpec } from "../../src/core/types.ts";
import type { TraceBody } from "../../spec/trace.ts";

const OWNER = "head/driver";
const WORKER = "head/w1";
const FN: FunctionDescriptor = { id: "fn-noop", name: "noop", kind: "function", source: "() => 0" };
const value = (n: number): Payload => ({ size: 8, hash: `v${n}`, data: n });
const OPTS = { resources: { CPU: 1 }, strategy: "DEFAULT" as const, maxRetries: 3, retryExceptions: false };

interface Sent { from: Addr; to: Addr; m: Msg }

/** The spec the owner pushes for task `i` (attempt 0, never bounced). */
const dupOf = (i: number, returnId: string): TaskSpec => ({
  taskId: `${OWNER}#t${i}`, kind: "normal", fn: FN.id, name: "noop", args: [{ v: value(i) }], returnId, owner: OWNER, job: "head/driver",
  resources: { CPU: 1 }, strategy: "DEFAULT", maxRetries: 3, retryExceptions: false, attempt: 0,
});

function rig(tuning: Partial<CoreWorkerTuning> = {}) {
  let now = 0;
  const sent: Sent[] = [];
  const executed: TaskSpec[] = [];
  const completed = new Map<number, unknown>();
  const traced: TraceBody[] = [];
  const make = (addr: Addr) => new CoreWorker(addr, {
    node: "head", gcs: "head/gcs", maxInlineBytes: 100_000, maxPendingLeases: 10, maxTasksInFlightPerWorker: 4, pipelineMaxTaskMs: 1,
    ...tuning, bugs: NO_BUGS,
  }, {
    now: () => now, random: () => 0.5,
    send: (to, m) => sent.push({ from: addr, to, m }),
    setTimer: () => {}, cancelTimer: () => {}, trace: (b) => { traced.push(b); },
    execute: (spec) => executed.push(spec),
    complete: (callId, r) => completed.set(callId, r),
    interrupt: () => {},
  });
  const owner = make(OWNER);
  const worker = make(WORKER);
  worker.start(true);
  worker.registerFunction(FN); // as if fetched from the GCS
  /** Takes the messages of one type sent so far (and forgets them). */
  const take = <T extends Msg["type"]>(type: T): Extract<Msg, { type: T }>[] => {
    const out: Extract<Msg, { type: T }>[] = [];
    for (let i = sent.length - 1; i >= 0; i--) if (sent[i].m.type === type) out.unshift(sent.splice(i, 1)[0].m as Extract<Msg, { type: T }>);
    return out;
  };
  /** Delivers the messages between the two sent so far (not those they send in answer: one hop). */
  const deliver = (): void => {
    const hop = sent.filter((s) => s.to === WORKER || s.to === OWNER);
    for (const s of hop) sent.splice(sent.indexOf(s), 1);
    for (const s of hop) {
      assert.ok(isWorkerMsg(s.m), `${s.m.type} is not for a core worker`);
      (s.to === WORKER ? worker : owner).step({ kind: "message", from: s.from, msg: s.m });
    }
  };
  const submit = (n: number) => Array.from({ length: n }, (_, i) => owner.submitTask(`${OWNER}#t${i}`, FN, [{ v: value(i) }], OPTS));
  const grant = () => {
    const reqs = take("RequestLease");
    assert.ok(reqs.length > 0, "the owner asked for a lease");
    owner.step({ kind: "message", from: "head/raylet", msg: { type: "LeaseGranted", reqId: reqs[0].reqId, leaseId: "lease-1", worker: WORKER } });
    return reqs.slice(1); // still pending
  };
  /** The host finishes the task the worker runs now, after `ms`. */
  const finish = (ms: number) => {
    now += ms;
    const s = executed.shift();
    assert.ok(s, "the worker runs a task");
    worker.taskDone(s.taskId, s.attempt, { ok: true, payload: value(100) });
    return s;
  };
  return { owner, worker, sent, executed, completed, traced, take, deliver, submit, grant, finish, advance: (ms: number) => { now += ms; } };
}

test("an owner pipelines short tasks onto a lease; its worker runs them in order, bounces them when it blocks, and drops a late duplicate of a bounced push", () => {
  const r = rig();
  const ids = r.submit(6);
  const pending = r.grant();
  r.deliver(); // PushTask t0 → worker runs it
  assert.deepEqual(r.executed.map((s) => s.taskId), [`${OWNER}#t0`]);
  r.finish(0.1); // short: the class's tasks now count as short
  r.deliver(); // TaskReply → owner fills the lease up to the window (4)
  const pushes = r.sent.filter((s) => s.m.type === "PushTask").map((s) => (s.m as Extract<Msg, { type: "PushTask" }>).spec.taskId);
  assert.deepEqual(pushes, [1, 2, 3, 4].map((i) => `${OWNER}#t${i}`), "four tasks in flight on the one lease");
  r.deliver();
  assert.deepEqual(r.executed.map((s) => s.taskId), [`${OWNER}#t1`], "the worker runs one; the rest queue behind it");
  r.finish(0.1);
  assert.deepEqual(r.executed.map((s) => s.taskId), [`${OWNER}#t2`], "the next queued task starts when the running one ends");

  // t2 blocks in a get: the worker sends t3 and t4 back unrun.
  r.worker.get([{ id: ids[0], owner: OWNER }], undefined, 1);
  const bounced = r.sent.filter((s) => s.m.type === "TaskBounced").map((s) => s.m as Extract<Msg, { type: "TaskBounced" }>);
  assert.deepEqual(bounced.map((b) => [b.taskId, b.bounces]), [[`${OWNER}#t3`, 0], [`${OWNER}#t4`, 0]]);
  // In order, the owner hears t1's answer (and fills the lease again: t5), then the bounces.
  r.deliver();
  assert.deepEqual(r.take("PushTask").map((m) => m.spec.taskId), [`${OWNER}#t5`]);
  r.worker.step({ kind: "message", from: OWNER, msg: { type: "PushTask", spec: { ...dupOf(5, ids[5]) } } });
  assert.deepEqual(r.take("TaskBounced").map((b) => b.taskId), [`${OWNER}#t5`], "a push to a blocked worker comes straight back");
  r.owner.step({ kind: "message", from: WORKER, msg: { type: "TaskBounced", taskId: `${OWNER}#t5`, returnId: ids[5], attempt: 0, bounces: 0 } });
  assert.equal(r.take("PushTask").length, 0, "nothing more goes to the blocked worker");
  // Another lease takes them, each push marked as coming after its bounce.
  r.owner.step({ kind: "message", from: "head/raylet", msg: { type: "LeaseGranted", reqId: pending[0].reqId, leaseId: "lease-2", worker: "head/w2" } });
  const moved = r.take("PushTask").map((m) => [m.spec.taskId, m.spec.bounces ?? 0]);
  for (const t of [3, 4, 5]) assert.ok(moved.some(([id, b]) => id === `${OWNER}#t${t}` && b === 1), `t${t} went to the other lease: ${JSON.stringify(moved)}`);

  // A late duplicate of t3's first push reaches the worker after it unblocked: dropped.
  const dup = dupOf(3, ids[3]);
  r.executed.length = 0;
  r.worker.taskDone(`${OWNER}#t2`, 0, { ok: true, payload: value(2) });
  r.worker.step({ kind: "message", from: OWNER, msg: { type: "PushTask", spec: dup } });
  assert.equal(r.executed.length, 0, "a duplicate of a bounced push does not run");
  // The re-push after the bounce (bounces: 1) does run.
  r.worker.step({ kind: "message", from: OWNER, msg: { type: "PushTask", spec: { ...dup, bounces: 1 } } });
  assert.deepEqual(r.executed.map((s) => [s.taskId, s.bounces]), [[`${OWNER}#t3`, 1]]);
});

test("a late duplicate of a push that ran after a bounce, or of a retry, does not run again", () => {
  for (const again of [{ bounces: 1 }, { attempt: 1 }]) {
    const r = rig();
    const spec = { ...dupOf(0, `${OWNER}#t0.r`), ...again };
    r.worker.step({ kind: "message", from: OWNER, msg: { type: "PushTask", spec } });
    assert.equal(r.finish(1).taskId, spec.taskId);
    r.worker.step({ kind: "message", from: OWNER, msg: { type: "PushTask", spec } });
    assert.deepEqual(r.executed, [], `the duplicate of ${JSON.stringify(again)} ran again`);
  }
});

test("tasks of one function and resources but other scheduling strategies are of other classes (the last class is cached)", () => {
  const w = { lastClassKey: "", lastClassOf: undefined } as unknown as Ctx;
  const spec = dupOf(0, `${OWNER}#t0.r`);
  const spread = classKeyOf(w, { ...spec, strategy: "SPREAD" });
  assert.notEqual(classKeyOf(w, spec), spread);
  assert.equal(classKeyOf(w, { ...spec, strategy: "SPREAD" }), spread);
});

test("cancelling a task queued behind the running one on its worker answers it cancelled and leaves the others queued", () => {
  const r = rig();
  const ids = r.submit(6);
  r.grant();
  r.deliver();
  r.finish(0.1);
  r.deliver(); // t1 runs; t2, t3 and t4 wait on the worker
  r.deliver();
  assert.deepEqual(r.executed.map((s) => s.taskId), [`${OWNER}#t1`]);
  r.worker.step({ kind: "message", from: OWNER, msg: { type: "CancelTask", taskId: `${OWNER}#t3`, returnId: ids[3], attempt: 0, recursive: false } });
  const replies = r.sent.flatMap((s) => (s.m.type === "TaskReply" && s.m.result.kind === "error" ? [[s.m.taskId, s.m.result.error.type]] : []));
  assert.deepEqual(replies, [[`${OWNER}#t3`, "TaskCancelledError"]]);
  const ran = [r.finish(0.1), r.finish(0.1), r.finish(0.1)].map((s) => s.taskId);
  assert.deepEqual(ran, [1, 2, 4].map((i) => `${OWNER}#t${i}`));
});

test("no pipelining for tasks that take longer than pipelineMaxTaskMs", () => {
  const r = rig({ pipelineMaxTaskMs: 1 });
  r.submit(6);
  r.grant();
  r.deliver();
  r.finish(5); // a 5 ms task
  r.deliver();
  assert.equal(r.sent.filter((s) => s.m.type === "PushTask").length, 1, "one task at a time");
});

test("a task that ran for exactly pipelineMaxTaskMs, timed from its own start, is short enough to pipeline", () => {
  const r = rig({ pipelineMaxTaskMs: 5 });
  r.advance(100); // the first task starts at 100 ms, not at the clock's zero
  r.submit(6);
  r.grant();
  r.deliver();
  r.finish(5);
  r.deliver();
  assert.equal(r.take("PushTask").length, 4, "a task as long as the limit was taken for a long one: not pipelined");
});

test("a worker that dies fails every task in flight on its lease, and each is retried", () => {
  const r = rig();
  r.submit(6);
  const reqs = r.take("RequestLease");
  r.owner.step({ kind: "message", from: "head/raylet", msg: { type: "LeaseGranted", reqId: reqs[0].reqId, leaseId: "lease-1", worker: WORKER } });
  r.deliver();
  r.finish(0.1);
  r.deliver();
  assert.equal(r.take("PushTask").length, 4, "four in flight, lost with the worker");
  r.owner.step({ kind: "message", from: "head/raylet", msg: { type: "WorkerDied", worker: WORKER } });
  r.owner.step({ kind: "message", from: "head/raylet", msg: { type: "LeaseGranted", reqId: reqs[1].reqId, leaseId: "lease-2", worker: "head/w2" } });
  // The task the request staged first, then the queue: t5 (never pushed), then the retries.
  assert.deepEqual(r.take("PushTask").map((m) => [m.spec.taskId, m.spec.attempt]),
    [[`${OWNER}#t1`, 1], [`${OWNER}#t5`, 0], [`${OWNER}#t2`, 1], [`${OWNER}#t3`, 1]]);
});

/**
 * Six tasks submitted; t0 ran on lease-1 and was short, so t1–t4 are pushed to its worker at
 * once. The second lease request (`reqs[1]`) is still pending.
 */
function fourPipelined() {
  const r = rig();
  const ids = r.submit(6);
  const reqs = r.take("RequestLease");
  r.owner.step({ kind: "message", from: "head/raylet", msg: { type: "LeaseGranted", reqId: reqs[0].reqId, leaseId: "lease-1", worker: WORKER } });
  r.deliver();
  r.finish(0.1);
  r.deliver();
  assert.deepEqual(r.take("PushTask").map((m) => m.spec.taskId), [1, 2, 3, 4].map((i) => `${OWNER}#t${i}`));
  return { r, ids, reqs };
}

test("force-cancelling a task destroys its worker: the others pushed to it run elsewhere as a new attempt, which their budget does not pay for", () => {
  const { r, ids, reqs } = fourPipelined();
  r.owner.cancelTask(ids[1], true, false);
  assert.deepEqual(r.take("ReturnLease").map((m) => [m.leaseId, m.destroyWorker]), [["lease-1", true]]);
  r.owner.step({ kind: "message", from: "head/raylet", msg: { type: "LeaseGranted", reqId: reqs[1].reqId, leaseId: "lease-2", worker: "head/w2" } });
  const moved = r.take("PushTask").map((m) => [m.spec.taskId, m.spec.attempt]);
  // Any of them may have started on the destroyed worker (the ones ahead may have ended, their
  // replies on the way): an attempt runs at most once, so each goes as attempt 1.
  for (const t of [2, 3, 4]) assert.ok(moved.some(([id, a]) => id === `${OWNER}#t${t}` && a === 1), `t${t}: ${JSON.stringify(moved)}`);
  const retries = r.traced.filter((b) => b.kind === "task.retry");
  assert.deepEqual(retries.map((b) => [b.task, b.attempt, b.uncharged]), [2, 3, 4].map((t) => [`${OWNER}#t${t}`, 1, true]));
});

test("a forced cancel's worker takes with it a task cancelled there before: it ends cancelled, not run again", () => {
  const { r, ids, reqs } = fourPipelined();
  r.owner.cancelTask(ids[2], false, false); // its CancelTask is on the way to the worker
  assert.deepEqual(r.take("CancelTask").map((m) => m.taskId), [`${OWNER}#t2`]);
  r.owner.cancelTask(ids[1], true, false);
  r.owner.step({ kind: "message", from: "head/raylet", msg: { type: "LeaseGranted", reqId: reqs[1].reqId, leaseId: "lease-2", worker: "head/w2" } });
  const moved = r.take("PushTask").map((m) => m.spec.taskId);
  assert.ok(!moved.includes(`${OWNER}#t2`), `t2 was pushed again: ${JSON.stringify(moved)}`);
  assert.ok(moved.includes(`${OWNER}#t3`) && moved.includes(`${OWNER}#t4`), JSON.stringify(moved));
  const failed = r.traced.filter((b) => b.kind === "task.failed").map((b) => [b.task, b.error]).sort();
  assert.deepEqual(failed, [[`${OWNER}#t1`, "TaskCancelledError"], [`${OWNER}#t2`, "TaskCancelledError"]]);
});

test("a reply that says nothing of run time (the task never started) leaves the class's pipelining as it was", () => {
  const r = rig();
  const ids = r.submit(6);
  r.grant();
  r.deliver();
  r.finish(0.1); // short: pipelined from now on
  r.deliver();
  assert.equal(r.take("PushTask").length, 4, "four in flight");
  // t1 is answered without a run time (as a task cancelled before it started is).
  r.owner.step({ kind: "message", from: WORKER, msg: { type: "TaskReply", taskId: `${OWNER}#t1`, returnId: ids[1], attempt: 0, result: { kind: "inline", payload: value(1) } } });
  assert.deepEqual(r.take("PushTask").map((m) => m.spec.taskId), [`${OWNER}#t5`], "the freed slot was not filled");
});

test("tasks that take refs are not pipelined behind another: fetching one may block the worker", () => {
  const r = rig();
  const arg = { ref: "head/w8#a", owner: "head/w8" };
  const ids = Array.from({ length: 4 }, (_, i) => r.owner.submitTask(`${OWNER}#r${i}`, FN, [arg], OPTS));
  r.owner.step({ kind: "message", from: "head/w8", msg: { type: "Status", id: arg.ref, status: { kind: "stored", nodes: ["head"], size: 1_000_000 } } });
  r.grant();
  assert.deepEqual(r.take("PushTask").map((m) => m.spec.taskId), [`${OWNER}#r0`]);
  // r0 ends quickly (the test plays its worker): values alone would be pipelined now.
  r.owner.step({ kind: "message", from: WORKER, msg: { type: "TaskReply", taskId: `${OWNER}#r0`, returnId: ids[0], attempt: 0, result: { kind: "inline", payload: value(0) }, runMs: 0.1 } });
  assert.deepEqual(r.take("PushTask").map((m) => m.spec.taskId), [`${OWNER}#r1`], "a task taking a ref was queued behind a running one");
});

test("SPREAD tasks are never pipelined: each lease runs one task and goes back, so the next can go elsewhere", () => {
  const r = rig();
  const ids = Array.from({ length: 3 }, (_, i) => r.owner.submitTask(`${OWNER}#s${i}`, FN, [{ v: value(i) }], { ...OPTS, strategy: "SPREAD" }));
  r.grant();
  assert.deepEqual(r.take("PushTask").map((m) => m.spec.taskId), [`${OWNER}#s0`]);
  r.owner.step({ kind: "message", from: WORKER, msg: { type: "TaskReply", taskId: `${OWNER}#s0`, returnId: ids[0], attempt: 0, result: { kind: "inline", payload: value(0) }, runMs: 0.1 } });
  assert.deepEqual(r.take("PushTask"), [], "a SPREAD task rode another's lease");
  assert.deepEqual(r.take("ReturnLease").map((m) => m.leaseId), ["lease-1"]);
});

// A lease request is made for one task (the raylet stages its arguments). Answered with a
// spillback or a refusal, it is asked again for that task if it still waits (here: it came back
// from a pipelined push), else for the first task that no request asks for.
for (const answer of ["LeaseSpillback", "LeaseRejected"] as const) {
  for (const bounced of [false, true]) {
    test(`a ${answer} is followed by a request for its own task if that still waits, else for one nobody asks for (${bounced ? "it came back" : "it runs"})`, () => {
      const r = rig({ maxPendingLeases: 1 });
      const [, id1] = r.submit(2);
      const [reqB] = r.grant(); // t0 on lease-1; t1 gets the one request in flight
      assert.equal(reqB, undefined, "one request at a time");
      const [forT1] = r.take("RequestLease");
      assert.equal(forT1?.req.taskId, `${OWNER}#t1`);
      r.deliver();
      r.finish(0.1);
      r.deliver(); // t0's reply: t1 is pipelined onto lease-1, its request still in flight
      assert.deepEqual(r.take("PushTask").map((m) => m.spec.taskId), [`${OWNER}#t1`]);
      r.owner.submitTask(`${OWNER}#t2`, FN, [{ v: value(2) }], OPTS); // no room for a request
      assert.deepEqual(r.take("RequestLease"), []);
      if (bounced) r.owner.step({ kind: "message", from: WORKER, msg: { type: "TaskBounced", taskId: `${OWNER}#t1`, returnId: id1, attempt: 0, bounces: 0 } });
      const msg: Msg = answer === "LeaseSpillback"
        ? { type: "LeaseSpillback", reqId: forT1!.reqId, node: "n2", incarnation: 1 }
        : { type: "LeaseRejected", reqId: forT1!.reqId, reason: "stale view", infeasible: false };
      r.owner.step({ kind: "message", from: "head/raylet", msg });
      // A spillback asks the node named, which must grant or refuse; a refusal asks the local raylet again, which may queue it.
      assert.deepEqual(r.take("RequestLease").map((m) => [m.req.taskId, m.req.grantOrReject]), [[`${OWNER}#t${bounced ? 1 : 2}`, answer === "LeaseSpillback"]]);
    });
  }
}
