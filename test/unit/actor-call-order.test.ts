// The caller's side of an actor's per-caller order: which seqs a push tells the actor to wait for
// (minPendingSeq: the lowest open call) and which to pass over (closedSeqs: calls that ended
// while an earlier one was open). An owner wired by hand, the test playing the GCS and the actor.

import assert from "node:assert/strict";
import { test } from "node:test";
import { NO_BUGS } from "../../src/core/bugs.ts";
import { CoreWorker } from "../../src/core/core-worker.ts";
import type { Msg } from "../../src/core/messages.ts";
import type { ActorInfo, FunctionDescriptor, Payload, TaskSpec } from "../../src/core/types.ts";

type PushTask = Extract<Msg, { type: "PushTask" }>;

const OWNER = "head/driver";
const ACTOR = `${OWNER}#a`;
const CLS: FunctionDescriptor = { id: "cls-acc", name: "Acc", kind: "class", source: "class Acc {}" };
/** An argument owned elsewhere: the caller asks its owner, and waits for the answer. */
const BORROWED = { ref: "head/w9#obj", owner: "head/w9" };
const value = (n: number): Payload => ({ size: 8, hash: `v${n}`, data: n });

function caller(maxConcurrency: number) {
  const sent: Msg[] = [];
  const w = new CoreWorker(OWNER, { node: "head", gcs: "head/gcs", maxInlineBytes: 100_000, maxPendingLeases: 10, maxTasksInFlightPerWorker: 1, pipelineMaxTaskMs: 0, bugs: NO_BUGS }, {
    now: () => 0, random: () => 0.5, send: (_to, m) => sent.push(m), setTimer: () => {}, cancelTimer: () => {}, trace: () => {},
    execute: () => {}, complete: () => {}, interrupt: () => {},
  });
  w.start(false);
  w.createActor(ACTOR, CLS, [], { resources: {}, strategy: undefined, maxRestarts: -1, maxTaskRetries: -1, maxConcurrency });
  const update = (info: Omit<ActorInfo, "actorId" | "owner">) => w.step({ kind: "message", from: "head/gcs", msg: { type: "ActorUpdate", info: { actorId: ACTOR, owner: OWNER, ...info } } });
  /** The PushTasks sent since the last look: each call's spec, with what its push said of the caller's order. */
  const pushed = (): (TaskSpec & Pick<PushTask, "minPendingSeq" | "closedSeqs">)[] =>
    sent.splice(0).flatMap((m) => (m.type === "PushTask" ? [{ ...m.spec, minPendingSeq: m.minPendingSeq, closedSeqs: m.closedSeqs }] : []));
  const call = (n: number, args: Parameters<CoreWorker["submitActorTask"]>[3] = [{ v: value(n) }]) => w.submitActorTask(`${OWNER}#c${n}`, ACTOR, "add", args, -1);
  const reply = (n: number, epoch: number, attempt = 0) => w.step({ kind: "message", from: `head/w${epoch}`, msg: {
    type: "TaskReply", taskId: `${OWNER}#c${n}`, returnId: `${OWNER}#c${n}.r`, attempt, result: { kind: "inline", payload: value(n) }, epoch,
  } });
  return { w, sent, update, pushed, call, reply };
}

test("a call waiting for its argument holds back the calls after it: the actor is told to wait for its seq", () => {
  const c = caller(1);
  c.update({ state: "ALIVE", epoch: 0, address: "head/w0" });
  c.call(0, [BORROWED]);
  c.call(1);
  const [second] = c.pushed();
  assert.equal(second.seq, 1);
  assert.equal(second.minPendingSeq, 0, "seq 0 is still open (its argument is pending): the actor must wait for it");
});

test("a call whose argument failed is sent as a cancelled placeholder, so the calls after it do not wait for it", () => {
  const c = caller(1);
  c.update({ state: "ALIVE", epoch: 0, address: "head/w0" });
  c.call(0, [BORROWED]);
  c.call(1);
  c.pushed();
  c.w.step({ kind: "message", from: BORROWED.owner, msg: { type: "Status", id: BORROWED.ref, status: { kind: "error", error: { type: "TaskError", message: "boom" } } } });
  const [placeholder] = c.pushed();
  assert.equal(placeholder.seq, 0);
  assert.equal(placeholder.cancelled, true);
  assert.deepEqual(placeholder.args, []);
});

test("a restarted actor is told which calls an earlier incarnation answered out of order, once", () => {
  const c = caller(2);
  c.update({ state: "ALIVE", epoch: 0, address: "head/w0" });
  for (const n of [0, 1, 2]) c.call(n);
  assert.deepEqual(c.pushed().map((s) => [s.seq, s.minPendingSeq, s.closedSeqs]), [[0, 0, undefined], [1, 0, undefined], [2, 0, undefined]]);
  c.reply(1, 0); // an async actor's later call may end first
  c.update({ state: "RESTARTING", epoch: 1 });
  c.update({ state: "ALIVE", epoch: 1, address: "head/w1" });
  const resent = c.pushed();
  assert.deepEqual(resent.map((s) => [s.seq, s.attempt, s.minPendingSeq, s.closedSeqs]), [[0, 1, 0, [1]], [2, 1, 0, undefined]],
    "the new incarnation would wait for seq 1, which is never sent again");
  c.reply(0, 1, 1);
  c.call(3);
  const [next] = c.pushed();
  assert.deepEqual([next.seq, next.minPendingSeq, next.closedSeqs], [3, 2, undefined], "seq 1 is below the lowest open call now: nothing left to tell");
});

test("after a restart the calls go in seq order, whichever order they became ready to send in", () => {
  const c = caller(2);
  c.update({ state: "ALIVE", epoch: 0, address: "head/w0" });
  c.call(0, [BORROWED]); // waits for its argument: seqs 1 and 2 go first
  c.call(1);
  c.call(2);
  assert.deepEqual(c.pushed().map((s) => s.seq), [1, 2]);
  // The actor restarts: seqs 1 and 2 wait to be sent again; seq 0's argument comes meanwhile.
  c.update({ state: "RESTARTING", epoch: 1 });
  c.w.step({ kind: "message", from: BORROWED.owner, msg: { type: "Status", id: BORROWED.ref, status: { kind: "inline", payload: value(9) } } });
  assert.deepEqual(c.pushed(), []);
  c.update({ state: "ALIVE", epoch: 1, address: "head/w1" });
  assert.deepEqual(c.pushed().map((s) => [s.seq, s.attempt]), [[0, 0], [1, 1], [2, 1]]);
});
