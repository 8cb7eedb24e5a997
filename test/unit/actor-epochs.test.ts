// Actor incarnations on the caller's side: once a caller has heard of an actor's next
// incarnation, an answer from the one before is refused, even one epoch old. A core worker is
// wired by hand, the test playing the GCS and the actor's workers.

import assert from "node:assert/strict";
import { test } from "node:test";
import { NO_BUGS } from "../../src/core/bugs.ts";
import { CoreWorker } from "../../src/core/core-worker.ts";
import type { Msg } from "../../src/core/messages.ts";
import type { TraceEvent } from "../../spec/trace.ts";
import type { FunctionDescriptor } from "../../src/core/types.ts";

const OWNER = "head/driver";
const CLS: FunctionDescriptor = { id: "cls-counter", name: "Counter", kind: "class", source: "class Counter { inc() { return 1 } }" };

function rig() {
  const sent: { to: string; m: Msg }[] = [];
  const traced: TraceEvent[] = [];
  const owner = new CoreWorker(OWNER, { node: "head", gcs: "head/gcs", maxInlineBytes: 100_000, maxPendingLeases: 10, maxTasksInFlightPerWorker: 1, pipelineMaxTaskMs: 0, bugs: NO_BUGS }, {
    now: () => 0, random: () => 0.5,
    send: (to, m) => sent.push({ to, m }),
    setTimer: () => {}, cancelTimer: () => {},
    trace: (e) => traced.push({ t: 0, ...e } as TraceEvent),
    execute: () => {}, complete: () => {}, interrupt: () => {},
  });
  owner.start(false);
  const alive = (epoch: number, address: string) =>
    owner.step({ kind: "message", from: "head/gcs", msg: { type: "ActorUpdate", info: { actorId: "a1", state: "ALIVE", address, epoch, owner: OWNER } } });
  return { owner, sent, traced, alive };
}

for (const epochs of [{ old: 0, next: 1 }, { old: 3, next: 4 }, { old: 0, next: 2 }]) {
  test(`a caller that heard of epoch ${epochs.next} refuses an answer from epoch ${epochs.old}, and takes one from epoch ${epochs.next}`, () => {
    const r = rig();
    r.owner.createActor("a1", CLS, [], { resources: {}, strategy: "DEFAULT", maxRestarts: -1, maxTaskRetries: 0, maxConcurrency: 1 });
    r.alive(epochs.old, "n1/w1");
    const ret = r.owner.submitActorTask(`${OWNER}#c1`, "a1", "inc", [], 0);
    const push = r.sent.find((s) => s.m.type === "PushTask");
    assert.ok(push && push.to === "n1/w1" && push.m.type === "PushTask", "the call went to the live incarnation");
    const spec = push.m.spec;
    // The caller learns of the next incarnation straight away (no RESTARTING in between).
    r.alive(epochs.next, "n2/w1");
    const reply = (epoch: number) => r.owner.step({ kind: "message", from: "n1/w1", msg: { type: "TaskReply", taskId: spec.taskId, returnId: ret, attempt: spec.attempt, result: { kind: "inline", payload: { size: 8, hash: "v1", data: 1 } }, epoch } });
    const results = () => r.traced.filter((e) => e.kind === "actor.result");
    reply(epochs.old);
    assert.deepEqual(results(), [], "an answer from the older incarnation was accepted");
    reply(epochs.next);
    assert.deepEqual(results().map((e) => e.kind === "actor.result" && e.epoch), [epochs.next]);
  });
}

// An actor call caught running by a restart is sent again while its maxTaskRetries last; the
// restart after the budget is spent fails it with ActorDiedError (budgets are spent, not just read).
for (const maxTaskRetries of [1, 2]) {
  test(`a call with maxTaskRetries: ${maxTaskRetries} survives ${maxTaskRetries} restart(s) of its actor and fails on the next`, () => {
    const r = rig();
    r.owner.createActor("a1", CLS, [], { resources: {}, strategy: "DEFAULT", maxRestarts: -1, maxTaskRetries, maxConcurrency: 1 });
    r.alive(0, "n1/w1");
    r.owner.submitActorTask(`${OWNER}#c1`, "a1", "inc", [], maxTaskRetries);
    const restarting = (epoch: number) =>
      r.owner.step({ kind: "message", from: "head/gcs", msg: { type: "ActorUpdate", info: { actorId: "a1", state: "RESTARTING", epoch, owner: OWNER } } });
    const pushes = () => r.sent.filter((s) => s.m.type === "PushTask").length;
    const failed = () => r.traced.filter((e) => e.kind === "task.failed");
    for (let epoch = 1; epoch <= maxTaskRetries; epoch++) {
      restarting(epoch);
      r.alive(epoch, `n${epoch + 1}/w1`);
      assert.equal(pushes(), epoch + 1, `restart ${epoch}: the call was sent again`);
      assert.deepEqual(failed(), []);
    }
    restarting(maxTaskRetries + 1);
    r.alive(maxTaskRetries + 1, "n9/w1");
    assert.equal(pushes(), maxTaskRetries + 1, "the call was sent again with its retries spent");
    assert.deepEqual(failed().map((e) => e.kind === "task.failed" && e.error), ["ActorDiedError"]);
    assert.equal(r.traced.filter((e) => e.kind === "task.retry").length, maxTaskRetries);
  });
}

// The GCS's news of an actor can arrive out of order (a restart races a late update): news from
// an incarnation older than the one the caller knows, even one epoch older, is ignored.
for (const epochs of [{ old: 1, next: 2 }, { old: 0, next: 2 }]) {
  test(`a caller that knows epoch ${epochs.next} ignores late news of epoch ${epochs.old}: its calls go to the newer address`, () => {
    const r = rig();
    r.owner.createActor("a1", CLS, [], { resources: {}, strategy: "DEFAULT", maxRestarts: -1, maxTaskRetries: 0, maxConcurrency: 1 });
    r.alive(epochs.next, "n2/w1");
    r.alive(epochs.old, "n1/w1");
    r.owner.submitActorTask(`${OWNER}#c1`, "a1", "inc", [], 0);
    assert.deepEqual(r.sent.filter((s) => s.m.type === "PushTask").map((s) => s.to), ["n2/w1"]);
  });
}

// The GCS names an actor dead before its worker is gone: a call already pushed there may still
// run and read its arguments, so they stay held until the worker is known dead.
test("a call in flight when its actor is declared dead keeps its argument until the actor's worker is known dead", () => {
  const r = rig();
  r.owner.createActor("a1", CLS, [], { resources: {}, strategy: "DEFAULT", maxRestarts: 0, maxTaskRetries: 0, maxConcurrency: 1 });
  r.alive(0, "n1/w1");
  r.owner.put(`${OWNER}#o1`, { size: 8, hash: "v", data: 1 }, 1);
  const put = r.sent.find((s) => s.m.type === "StorePut");
  assert.ok(put?.m.type === "StorePut");
  r.owner.step({ kind: "message", from: "head/raylet", msg: { type: "StorePutReply", reqId: put.m.reqId, id: `${OWNER}#o1` } });
  r.owner.submitActorTask(`${OWNER}#c1`, "a1", "inc", [{ ref: `${OWNER}#o1`, owner: OWNER }], 0);
  assert.ok(r.sent.some((s) => s.m.type === "PushTask" && s.to === "n1/w1"), "the call was pushed");
  r.owner.releaseRef(`${OWNER}#o1`); // only the call holds the argument now
  const freed = () => r.traced.filter((e) => e.kind === "object.out-of-scope" && e.obj === `${OWNER}#o1`).length;
  r.owner.step({ kind: "message", from: "head/gcs", msg: { type: "ActorUpdate", info: { actorId: "a1", state: "DEAD", epoch: 0, owner: OWNER } } });
  assert.ok(r.traced.some((e) => e.kind === "task.failed" && e.task === `${OWNER}#c1`), "the call failed with its actor");
  assert.equal(freed(), 0, "the argument was freed while the actor's worker may still read it");
  r.owner.step({ kind: "message", from: "head/raylet", msg: { type: "WorkerDied", worker: "n1/w1" } });
  assert.equal(freed(), 1, "the argument outlived the worker");
});

for (const released of [false, true]) {
  test(`a call in flight when its actor is declared dead, on a worker already known dead, has the copy of its result it may have stored on that node freed at once${released ? " (its result's ref released before: the object is gone when the call fails)" : ""}`, () => {
    const r = rig();
    r.owner.createActor("a1", CLS, [], { resources: {}, strategy: "DEFAULT", maxRestarts: 0, maxTaskRetries: 0, maxConcurrency: 1 });
    r.alive(0, "n1/w1");
    const ret = r.owner.submitActorTask(`${OWNER}#c1`, "a1", "inc", [], 0);
    if (released) r.owner.releaseRef(ret);
    r.owner.step({ kind: "message", from: "head/raylet", msg: { type: "WorkerDied", worker: "n1/w1" } });
    r.sent.length = 0;
    r.owner.step({ kind: "message", from: "head/gcs", msg: { type: "ActorUpdate", info: { actorId: "a1", state: "DEAD", epoch: 0, owner: OWNER } } });
    assert.deepEqual(r.sent.filter((s) => s.m.type === "FreeObjects"), [{ to: "n1/raylet", m: { type: "FreeObjects", ids: [ret], orphaned: true } }]);
  });
}
