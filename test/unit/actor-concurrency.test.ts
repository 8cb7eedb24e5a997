// An actor's worker, driven by hand (the test plays the GCS, the callers and the clock): a sync
// actor runs one call at a time; an async actor (maxConcurrency > 1) starts calls while earlier
// ones await, never more than maxConcurrency at once, each caller's calls in order; with
// concurrency groups, each group's calls wait only for that group's slots.

import assert from "node:assert/strict";
import { test } from "node:test";
import { NO_BUGS } from "../../src/core/bugs.ts";
import { CoreWorker } from "../../src/core/core-worker.ts";
import type { Msg } from "../../src/core/messages.ts";
import type { ConcurrencyGroup, Payload, TaskSpec } from "../../src/core/types.ts";
import type { TraceBody } from "../../spec/trace.ts";

/** What a push says of the caller's other calls. */
type CallOrder = Pick<Extract<Msg, { type: "PushTask" }>, "minPendingSeq" | "closedSeqs">;

const ACTOR = "head/driver#1";
const CALLER = "head/driver";
const value = (n: number): Payload => ({ size: 8, hash: `v${n}`, data: n });

/** A call's method (default "add"), the concurrency group it names, if any, and its caller (default CALLER). */
interface CallAs { readonly method?: string; readonly group?: string; readonly caller?: string }

function actorWorker(maxConcurrency: number | undefined, actor = ACTOR, groups?: readonly ConcurrencyGroup[]) {
  const executed: TaskSpec[] = [];
  const sent: Msg[] = [];
  const traced: TraceBody[] = [];
  const interrupted: string[] = [];
  const w = new CoreWorker("head/w1", {
    node: "head", gcs: "head/gcs", maxInlineBytes: 100_000, maxPendingLeases: 10, maxTasksInFlightPerWorker: 1, pipelineMaxTaskMs: 1, bugs: NO_BUGS,
  }, {
    now: () => 0, random: () => 0.5, send: (_to, m) => sent.push(m), setTimer: () => {}, cancelTimer: () => {}, trace: (e) => traced.push(e),
    execute: (spec) => executed.push(spec), complete: () => {}, interrupt: (taskId) => interrupted.push(taskId),
  });
  w.start(true);
  w.registerFunction({ id: "cls", name: "Acc", kind: "class", source: "class Acc {}" });
  const push = (spec: TaskSpec, order: CallOrder = {}) => w.step({ kind: "message", from: spec.owner, msg: { type: "PushTask", spec, ...order } });
  const creation: TaskSpec = {
    taskId: `${ACTOR}:create:0`, kind: "actor-create", fn: "cls", name: "Acc", args: [], returnId: `${ACTOR}:created`, owner: "head/gcs", job: "head/driver",
    resources: {}, strategy: "DEFAULT", maxRetries: 0, retryExceptions: false, attempt: 0, actorId: ACTOR,
    ...(maxConcurrency === undefined ? {} : { maxConcurrency }), ...(groups === undefined ? {} : { concurrencyGroups: groups }),
  };
  push(creation);
  w.taskDone(`${ACTOR}:create:0`, 0, { ok: true, payload: value(0) });
  executed.length = 0;
  /** `order`: what the caller says of its other calls (minPendingSeq, closedSeqs). */
  const call = (seq: number, order: CallOrder = {}, as: CallAs = {}, caller = as.caller ?? CALLER) => push({
    taskId: `${caller}#c${seq}`, kind: "actor-task", fn: actor, method: as.method ?? "add", name: as.method ?? "add", args: [{ v: value(seq) }], returnId: `${caller}#c${seq}.r`,
    owner: caller, job: "head/driver", resources: {}, strategy: "DEFAULT", maxRetries: 0, retryExceptions: false, attempt: 0, actorId: actor, seq, caller,
    ...(as.group === undefined ? {} : { concurrencyGroup: as.group }),
  }, order);
  const done = (seq: number, caller = CALLER) => w.taskDone(`${caller}#c${seq}`, 0, { ok: true, payload: value(seq) });
  const started = () => executed.map((s) => s.seq);
  /** The callers whose place in order the worker keeps. */
  const callers = () => [...(w.state.actor?.callers.keys() ?? [])].sort();
  /** News of a death, as the worker's raylet forwards it. */
  const news = (msg: Extract<Msg, { type: "WorkerDied" | "NodeDead" }>) => w.step({ kind: "message", from: "head/raylet", msg });
  const replies = () => sent.filter((m) => m.type === "TaskReply" && m.taskId.includes("#c")).length;
  /** The trace's `concurrent` flag of each call started (the checkers judge a sync actor's order only). */
  const concurrent = () => traced.flatMap((e) => (e.kind === "task.started" && e.task.includes("#c") ? [e.concurrent === true] : []));
  const errors = () => sent.flatMap((m) => (m.type === "TaskReply" && m.result.kind === "error" ? [m.result.error.type] : []));
  /** The calls answered with an error their caller may retry. */
  const retryable = () => sent.flatMap((m) => (m.type === "TaskReply" && m.result.kind === "error" && m.result.retryable ? [m.taskId] : []));
  /** The GCS pushes the creation again (its first reply was lost): how many creation replies went out. */
  const createAgain = () => { push(creation); return sent.filter((m) => m.type === "TaskReply" && m.taskId === creation.taskId).length; };
  /** The caller cancels call `seq` (attempt 0). */
  const cancel = (seq: number) => w.step({ kind: "message", from: CALLER, msg: { type: "CancelTask", taskId: `${CALLER}#c${seq}`, returnId: `${CALLER}#c${seq}.r`, attempt: 0, recursive: false } });
  /** Call `seq`'s method called ray.exitActor(). */
  const exit = (seq: number) => w.taskDone(`${CALLER}#c${seq}`, 0, { ok: false, error: { type: "ActorDiedError", message: "exit" }, exit: true });
  return { w, sent, traced, call, done, exit, started, replies, concurrent, errors, retryable, createAgain, executed, cancel, interrupted, callers, news };
}

test("a sync actor (no maxConcurrency) runs one call at a time, in order", () => {
  const a = actorWorker(undefined);
  for (const s of [0, 1, 2]) a.call(s);
  assert.deepEqual(a.started(), [0]);
  a.done(0);
  assert.deepEqual(a.started(), [0, 1]);
  a.done(1);
  a.done(2);
  assert.deepEqual(a.started(), [0, 1, 2]);
  assert.equal(a.replies(), 3);
  assert.deepEqual(a.concurrent(), [false, false, false]);
});

test("an async actor starts up to maxConcurrency calls at once, the next as one ends", () => {
  const a = actorWorker(2);
  for (const s of [0, 1, 2, 3]) a.call(s);
  assert.deepEqual(a.started(), [0, 1], "two at once, no more");
  a.done(1); // a later call may end first
  assert.deepEqual(a.started(), [0, 1, 2]);
  a.done(0);
  assert.deepEqual(a.started(), [0, 1, 2, 3]);
  a.done(2);
  a.done(3);
  assert.equal(a.replies(), 4);
  assert.deepEqual(a.concurrent(), [true, true, true, true]);
});

test("an async actor's calls that arrive out of order still start in the caller's order", () => {
  const a = actorWorker(1000);
  a.call(2);
  a.call(1);
  assert.deepEqual(a.started(), []);
  a.call(0);
  assert.deepEqual(a.started(), [0, 1, 2]);
});

test("an actor passes over the seqs its caller closed, and drops calls below the caller's lowest open one", () => {
  const a = actorWorker(1000);
  // A new incarnation: seq 1 was answered by the one before, seq 0 is resent later.
  a.call(2, { minPendingSeq: 0, closedSeqs: [1] });
  assert.deepEqual(a.started(), [], "seq 2 waits for seq 0");
  a.call(0, { minPendingSeq: 0 });
  assert.deepEqual(a.started(), [0, 2], "seq 1 is closed: not waited for");
  a.call(4, { minPendingSeq: 3 });
  a.call(6, { minPendingSeq: 5 });
  assert.deepEqual(a.started(), [0, 2], "seq 6 waits for seq 5");
  a.call(5, { minPendingSeq: 5 });
  assert.deepEqual(a.started(), [0, 2, 5, 6], "seq 4, below the lowest open call, was dropped as done");
  // The very next seq closed (a cancelled call never sent): not waited for either.
  a.call(8, { closedSeqs: [7] });
  assert.deepEqual(a.started(), [0, 2, 5, 6, 8], "seq 7, the next one due, is closed: not waited for");
});

test("a call for an actor this worker does not host is answered with ActorDiedError, never run", () => {
  const a = actorWorker(undefined, "head/driver#other");
  a.call(0);
  assert.deepEqual(a.started(), []);
  assert.deepEqual(a.errors(), ["ActorDiedError"]);
});

test("a creation pushed again (its reply lost) is answered again from the first construction, not built twice", () => {
  const a = actorWorker(undefined);
  assert.equal(a.createAgain(), 2);
  assert.deepEqual(a.executed, [], "the constructor ran again");
});

test("a creation pushed again after calls finished is answered with the constructor's result, not a call's", () => {
  const a = actorWorker(undefined);
  a.call(0);
  a.done(0); // call 0 returns value 0, as the constructor did: call 1 returns another
  a.call(1);
  a.done(1);
  assert.equal(a.createAgain(), 2);
  const [first, again] = a.sent.flatMap((m) => (m.type === "TaskReply" && !m.taskId.includes("#c") ? [m.result] : []));
  assert.deepEqual(again, first);
});

test("cancelling one of an async actor's running calls interrupts that call only", () => {
  const a = actorWorker(2);
  for (const s of [0, 1]) a.call(s);
  assert.deepEqual(a.started(), [0, 1]);
  a.cancel(1);
  assert.deepEqual(a.interrupted, [`${CALLER}#c1`], "another running call was interrupted");
});

test("a method that calls ray.exitActor ends the actor: the GCS is told, and every call, waiting, running beside it or later, is answered ActorDiedError under its epoch", () => {
  const a = actorWorker(2);
  for (const s of [0, 1, 2, 3]) a.call(s);
  assert.deepEqual(a.started(), [0, 1]);
  a.exit(0);
  const kills = () => a.sent.filter((m) => m.type === "KillActor");
  assert.deepEqual(kills(), [{ type: "KillActor", actorId: ACTOR, exited: true, epoch: 0 }]);
  a.done(1); // it ran beside the exit: its process would be gone in Ray
  a.call(4);
  assert.deepEqual(a.started(), [0, 1], "nothing starts after the exit");
  const answers = a.sent.flatMap((m) => (m.type === "TaskReply" && m.taskId.includes("#c") ? [[m.taskId.slice(-2), m.result.kind === "error" ? m.result.error.type : "ok", m.epoch]] : []));
  assert.deepEqual(answers.map(([id]) => id).sort(), ["c0", "c1", "c2", "c3", "c4"]);
  assert.ok(answers.every(([, kind, epoch]) => kind === "ActorDiedError" && epoch === 0), JSON.stringify(answers));
  // The actor is gone for good: a retry would only be refused again.
  assert.deepEqual(a.retryable(), []);
  assert.ok(a.traced.some((e) => e.kind === "actor.exited" && e.actor === ACTOR && e.method === "add"));
  a.w.step({ kind: "message", from: "head/gcs", msg: { type: "GcsRestarted" } });
  assert.equal(kills().length, 2, "a restarted GCS is told again");
});

test("a call still waiting for its argument when a method exits the actor never runs", () => {
  const a = actorWorker(2);
  a.call(0);
  a.w.step({ kind: "message", from: CALLER, msg: { type: "PushTask", spec: {
    taskId: `${CALLER}#c1`, kind: "actor-task", fn: ACTOR, method: "add", name: "add", args: [{ ref: `${CALLER}#x`, owner: CALLER }], returnId: `${CALLER}#c1.r`,
    owner: CALLER, job: "head/driver", resources: {}, strategy: "DEFAULT", maxRetries: 0, retryExceptions: false, attempt: 0, actorId: ACTOR, seq: 1, caller: CALLER,
  } } });
  assert.ok(a.sent.some((m) => m.type === "StoreGet"), "it reads its argument");
  a.exit(0);
  a.w.step({ kind: "message", from: "head/raylet", msg: { type: "StoreGetReply", reqId: 1, values: [value(5)] } });
  assert.deepEqual(a.started(), [0], "the call ran after the exit");
  assert.deepEqual(a.errors(), ["ActorDiedError", "ActorDiedError"]);
  assert.deepEqual(a.retryable(), []);
});

const IO: readonly ConcurrencyGroup[] = [{ name: "io", maxConcurrency: 1, methods: ["fetch"] }];

test("with concurrency groups, a call waits only for its own group's slots, and says so in the trace", () => {
  const a = actorWorker(1, ACTOR, IO);
  a.call(0); // add: the default group (limit 1)
  a.call(1, {}, { method: "fetch" }); // the io group (limit 1)
  a.call(2);
  a.call(3, {}, { method: "fetch" });
  assert.deepEqual(a.started(), [0, 1], "one call of each group");
  a.done(1);
  assert.deepEqual(a.started(), [0, 1, 3], "io's next call, while the default group is still busy (out of the caller's order)");
  a.done(0);
  assert.deepEqual(a.started(), [0, 1, 3, 2]);
  const starts = a.traced.flatMap((e) => (e.kind === "task.started" && e.task.includes("#c") ? [[e.seq, e.concurrent, e.limit, e.group]] : []));
  assert.deepEqual(starts, [[0, true, 1, undefined], [1, true, 1, "io"], [3, true, 1, "io"], [2, true, 1, undefined]]);
});

test("a call that names a group runs in it, whatever its method's group", () => {
  const a = actorWorker(1, ACTOR, IO);
  a.call(0);
  a.call(1, {}, { group: "io" }); // add, sent to io
  assert.deepEqual(a.started(), [0, 1]);
  a.call(2, {}, { method: "fetch" }); // io is full
  assert.deepEqual(a.started(), [0, 1]);
  a.done(1);
  assert.deepEqual(a.started(), [0, 1, 2]);
});

test("a call naming a group the actor does not have is answered with a ValueError in its turn, and the calls after it run", () => {
  const a = actorWorker(1, ACTOR, IO);
  a.call(0, {}, { group: "nope" });
  a.call(1);
  assert.deepEqual(a.started(), [1]);
  const refused = a.sent.find((m) => m.type === "TaskReply" && m.taskId === `${CALLER}#c0`);
  assert.ok(refused?.type === "TaskReply" && refused.result.kind === "error");
  assert.equal(refused.result.error.type, "TaskError");
  assert.equal(refused.result.error.cause?.name, "ValueError");
  assert.match(refused.result.error.message, /no concurrency group "nope"/);
});

test("an exit answers the calls waiting in every group, and a cancel finds a call waiting in a group's queue", () => {
  const a = actorWorker(1, ACTOR, IO);
  for (const s of [0, 1, 2, 3]) a.call(s, {}, { method: s % 2 === 0 ? "add" : "fetch" });
  a.cancel(3);
  a.done(1);
  assert.deepEqual(a.started(), [0, 1], "the cancelled call 3 is answered, not run, in its turn");
  assert.deepEqual(a.errors(), ["TaskCancelledError"]);
  a.exit(0);
  assert.deepEqual(a.started(), [0, 1]);
  assert.deepEqual(a.errors(), ["TaskCancelledError", "ActorDiedError", "ActorDiedError"], "the exiting call's and call 2's (waiting in the default group)");
});

test("an actor's worker forgets a caller once its death is known, and a call that caller sent before it died, come late, never runs", () => {
  const a = actorWorker(undefined);
  const other = "node-1/w1-4";
  a.call(0);
  a.done(0);
  a.call(2); // early: waits for seq 1
  a.call(0, {}, { caller: other });
  a.done(0, other);
  assert.deepEqual(a.callers(), [CALLER, other].sort());
  a.news({ type: "WorkerDied", worker: CALLER });
  assert.deepEqual(a.callers(), [other], "a dead caller's place in order is kept");
  a.call(1); // held on the way: its turn had it come before the news
  a.call(0); // a duplicate of a call already run
  assert.deepEqual(a.started(), [0, 0], "a call of a dead caller ran");
  assert.deepEqual(a.callers(), [other], "a late call brought a dead caller's place back");
  // Its node's life 1 is over: its workers are dead; those of the next life are not.
  a.call(0, {}, { caller: "node-1/w2-1" });
  a.news({ type: "NodeDead", node: "node-1", incarnation: 1 });
  assert.deepEqual(a.callers(), ["node-1/w2-1"]);
  a.call(1, {}, { caller: other });
  assert.deepEqual(a.callers(), ["node-1/w2-1"]);
  assert.deepEqual(a.started(), [0, 0, 0], "only the live caller's call started");
});

test("a call released before its caller's death was known still runs", () => {
  const a = actorWorker(undefined);
  a.call(0);
  a.call(1); // released, waits for the running call
  a.news({ type: "WorkerDied", worker: CALLER });
  a.done(0);
  assert.deepEqual(a.started(), [0, 1]);
  assert.deepEqual(a.callers(), []);
});
