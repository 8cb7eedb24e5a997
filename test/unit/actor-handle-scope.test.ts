// Actor handle reference counting (Ray's): the owner counts the references to the handle of
// each actor it created (its program's copies, borrowers', pending calls') and, once none is
// left, tells the GCS (ActorOutOfScope), which ends the actor for good. An owner and a GCS wired
// by hand, the test playing everyone else.
import assert from "node:assert/strict";
import { test } from "node:test";
import { NO_BUGS } from "../../src/core/bugs.ts";
import { CoreWorker } from "../../src/core/core-worker.ts";
import type { GcsTable } from "../../src/core/gcs.ts";
import type { Msg } from "../../src/core/messages.ts";
import { handleIdOf, type ActorSpec, type FunctionDescriptor } from "../../src/core/types.ts";
import { msgProblem } from "../../src/runtime/daemon/validate.ts";
import type { TraceBody } from "../../spec/trace.ts";
import { gcsHost } from "../helpers/gcs-host.ts";

const OWNER = "head/driver";
const CLS: FunctionDescriptor = { id: "cls", name: "C", kind: "class", source: "class C {}" };
const actorOpts = (detached = false) => ({ resources: {}, strategy: undefined, maxRestarts: -1, maxTaskRetries: 0, maxConcurrency: 1, ...(detached ? { detached: true } : {}) });
const H = handleIdOf("a1");

function owner() {
  const sent: { to: string; m: Msg }[] = [];
  const traced: TraceBody[] = [];
  const w = new CoreWorker(OWNER, { node: "head", gcs: "head/gcs", maxInlineBytes: 100_000, maxPendingLeases: 10, maxTasksInFlightPerWorker: 1, pipelineMaxTaskMs: 0, bugs: NO_BUGS }, {
    now: () => 0, random: () => 0.5, send: (to, m) => sent.push({ to, m }), setTimer: () => {}, cancelTimer: () => {}, trace: (e) => traced.push(e),
    execute: () => {}, complete: () => {}, interrupt: () => {},
  });
  w.start(false);
  const from = (addr: string, msg: Msg) => w.step({ kind: "message", from: addr, msg: msg as never });
  const outOfScope = () => sent.filter((s) => s.m.type === "ActorOutOfScope").map((s) => [s.to, (s.m as Extract<Msg, { type: "ActorOutOfScope" }>).actorId]);
  const alive = () => from("head/gcs", { type: "ActorUpdate", info: { actorId: "a1", state: "ALIVE", epoch: 0, owner: OWNER, address: "head/w1" } });
  return { w, sent, traced, from, outOfScope, alive };
}

test("the owner tells the GCS once its program's last handle is released, and only once", () => {
  const r = owner();
  r.w.createActor("a1", CLS, [], actorOpts());
  r.alive();
  assert.deepEqual(r.outOfScope(), []);
  r.w.releaseRef(H);
  r.w.releaseRef(H);
  assert.deepEqual(r.outOfScope(), [["head/gcs", "a1"]]);
  assert.deepEqual(r.traced.filter((e) => e.kind === "actor.out-of-scope"), [{ kind: "actor.out-of-scope", comp: "owner", actor: "a1", owner: OWNER }]);
});

test("an actor already dead (its constructor failed, say) is not ended again when its handles go", () => {
  const r = owner();
  r.w.createActor("a1", CLS, [], actorOpts());
  r.from("head/gcs", { type: "ActorUpdate", info: { actorId: "a1", state: "DEAD", epoch: 0, owner: OWNER } });
  r.w.releaseRef(H);
  assert.deepEqual(r.outOfScope(), []);
  assert.equal(r.traced.some((e) => e.kind === "actor.out-of-scope"), false);
});

test("a pending call keeps its actor: the handle goes out of scope when the call is answered", () => {
  const r = owner();
  r.w.createActor("a1", CLS, [], actorOpts());
  r.alive();
  const ret = r.w.submitActorTask(`${OWNER}#c1`, "a1", "m", [], 0);
  r.w.releaseRef(H);
  assert.deepEqual(r.outOfScope(), [], "the actor was ended with a call pending");
  const push = r.sent.find((s) => s.m.type === "PushTask")!.m as Extract<Msg, { type: "PushTask" }>;
  r.from("head/w1", { type: "TaskReply", taskId: push.spec.taskId, returnId: ret, attempt: 0, result: { kind: "inline", payload: { size: 1, hash: "h", data: 1 } } });
  assert.deepEqual(r.outOfScope(), [["head/gcs", "a1"]]);
});

test("a borrower's holds keep the actor until it lets go of the last", () => {
  const r = owner();
  r.w.createActor("a1", CLS, [], actorOpts());
  r.alive();
  r.from("head/w2", { type: "AddBorrower", id: H, borrower: "head/w2", seq: 1 });
  r.w.releaseRef(H);
  assert.deepEqual(r.outOfScope(), []);
  r.from("head/w2", { type: "RemoveBorrower", id: H, borrower: "head/w2", holds: 1, seq: 2 });
  assert.deepEqual(r.outOfScope(), [["head/gcs", "a1"]]);
});

test("handles gone before the actor is registered: the GCS is told right after the registration; again after a GCS restart", () => {
  const r = owner();
  // The constructor's argument is owned elsewhere: the registration waits for it.
  r.w.createActor("a1", CLS, [{ ref: "head/w9#x", owner: "head/w9" }], actorOpts());
  r.w.releaseRef(H);
  assert.deepEqual(r.sent.filter((s) => s.m.type === "CreateActor" || s.m.type === "ActorOutOfScope"), []);
  r.from("head/w9", { type: "Status", id: "head/w9#x", status: { kind: "inline", payload: { size: 1, hash: "h", data: 1 } } });
  assert.deepEqual(r.sent.filter((s) => s.m.type === "CreateActor" || s.m.type === "ActorOutOfScope").map((s) => s.m.type), ["CreateActor", "ActorOutOfScope"]);
  r.from("head/raylet", { type: "GcsRestarted" });
  assert.equal(r.outOfScope().length, 2, "a restarted GCS (which may have lost it) was not told again");
  r.from("head/gcs", { type: "ActorUpdate", info: { actorId: "a1", state: "DEAD", epoch: 0, owner: OWNER } });
  r.from("head/raylet", { type: "GcsRestarted" });
  assert.equal(r.outOfScope().length, 2, "told again though the actor is known dead");
});

test("a detached actor's handles count nothing; an owner that exits says nothing (its actors die with it)", () => {
  const d = owner();
  d.w.createActor("a1", CLS, [], actorOpts(true));
  assert.equal(d.w.state.owned.has(H), false);
  const x = owner();
  x.w.createActor("a1", CLS, [], actorOpts());
  x.w.releaseAll();
  assert.deepEqual(x.outOfScope(), []);
});

function gcs(tables?: Map<GcsTable, Map<string, unknown>>) {
  const { g, sent, rows } = gcsHost(tables ? { rows: tables, recover: true } : {});
  g.message("head/raylet", { type: "RegisterNode", node: "head", incarnation: 1, resources: { CPU: 4 } });
  const create = (actorId: string, extra: Partial<ActorSpec> = {}) => g.message(OWNER, {
    type: "CreateActor", spec: { actorId, fn: "C:1", className: "C", args: [], owner: OWNER, job: "head/driver", resources: {}, strategy: "DEFAULT", maxRestarts: -1, maxTaskRetries: 0, ...extra },
  });
  const actor = (id: string) => g.model.state.actors.get(id);
  return { g, sent, rows, create, actor };
}

test("the GCS ends an actor out of scope for good, restarts left or not, with the cause in its error", () => {
  const r = gcs();
  r.create("a1");
  r.g.message(OWNER, { type: "ActorOutOfScope", actorId: "a1" });
  assert.equal(r.actor("a1")?.state, "DEAD");
  assert.match(r.actor("a1")?.error?.message ?? "", /all handles to it went out of scope/);
  // Idempotent: a repeat (or a later kill) keeps the first cause.
  r.g.message(OWNER, { type: "ActorOutOfScope", actorId: "a1" });
  r.g.message(OWNER, { type: "KillActor", actorId: "a1" });
  assert.match(r.actor("a1")?.error?.message ?? "", /went out of scope/);
  // Its DEAD row is persisted: a restarted GCS has it dead.
  const restarted = gcs(r.rows);
  assert.equal(restarted.actor("a1")?.state, "DEAD");
  restarted.g.message(OWNER, { type: "ActorOutOfScope", actorId: "a1" });
  assert.equal(restarted.actor("a1")?.state, "DEAD");
});

test("the GCS ignores ActorOutOfScope for a detached actor, from anyone but the owner, and for an unknown actor", () => {
  const r = gcs();
  r.create("kept", { detached: true });
  r.create("mine");
  r.g.message(OWNER, { type: "ActorOutOfScope", actorId: "kept" });
  r.g.message("head/w7", { type: "ActorOutOfScope", actorId: "mine" });
  r.g.message(OWNER, { type: "ActorOutOfScope", actorId: "unknown" });
  assert.notEqual(r.actor("kept")?.state, "DEAD");
  assert.notEqual(r.actor("mine")?.state, "DEAD");
});

test("an actor still being placed when its handles go is dropped: a late grant is given back", () => {
  const r = gcs();
  r.create("a1", { resources: { CPU: 1 } });
  const req = r.sent.find((s) => s.m.type === "RequestLease")!.m as Extract<Msg, { type: "RequestLease" }>;
  r.g.message(OWNER, { type: "ActorOutOfScope", actorId: "a1" });
  assert.equal(r.actor("a1")?.state, "DEAD");
  r.g.message("head/raylet", { type: "LeaseGranted", reqId: req.reqId, leaseId: "late", worker: "head/w1" });
  assert.deepEqual(r.sent.filter((s) => s.m.type === "ReturnLease").map((s) => (s.m as Extract<Msg, { type: "ReturnLease" }>).leaseId), ["late"]);
  assert.equal(r.sent.some((s) => s.m.type === "PushTask"), false, "its constructor was pushed");
});

test("a daemon refuses a malformed ActorOutOfScope, naming what is wrong", () => {
  assert.equal(msgProblem({ type: "ActorOutOfScope", actorId: "a1" }), undefined);
  assert.match(msgProblem({ type: "ActorOutOfScope", actorId: 7 }) ?? "", /^actorId: /);
  assert.match(msgProblem({ type: "ActorOutOfScope" }) ?? "", /^actorId: /);
  assert.match(msgProblem({ type: "ActorOutOfScope", actorId: "a1", extra: 1 }) ?? "", /"extra"/);
});

test("an actor created here, dead for good, with no handle and no call left is forgotten by its owner; not before", () => {
  const r = owner();
  const known = () => r.w.state.callerActors.has("a1");
  r.w.createActor("a1", CLS, [], actorOpts());
  r.alive();
  const ret = r.w.submitActorTask(`${OWNER}#c1`, "a1", "m", [], 0);
  r.w.releaseRef(H);
  r.from("head/gcs", { type: "ActorUpdate", info: { actorId: "a1", state: "DEAD", epoch: 0, owner: OWNER } });
  assert.equal(r.w.state.owned.has(ret), true);
  assert.equal(known(), true, "the failed call's worker may still run it: it holds its arguments, the handle too");
  r.from("head/raylet", { type: "WorkerDied", worker: "head/w1" });
  assert.equal(known(), false, "dead, no handle, no call: nothing is left to follow");
  // Dead while a handle is still held: kept (a later call fails at once), forgotten once the handle goes.
  r.w.createActor("a2", CLS, [], actorOpts());
  r.from("head/gcs", { type: "ActorUpdate", info: { actorId: "a2", state: "DEAD", epoch: 0, owner: OWNER } });
  assert.equal(r.w.state.callerActors.has("a2"), true);
  r.w.releaseRef(handleIdOf("a2"));
  assert.equal(r.w.state.callerActors.has("a2"), false);
  // A detached actor's handles count nothing: its record stays.
  r.w.createActor("a3", CLS, [], actorOpts(true));
  r.from("head/gcs", { type: "ActorUpdate", info: { actorId: "a3", state: "DEAD", epoch: 0, owner: OWNER } });
  assert.equal(r.w.state.callerActors.has("a3"), true);
});

test("an actor whose registration a restarted GCS may have lost is registered again; one the GCS has answered for is followed again", () => {
  const r = owner();
  r.w.createActor("a1", CLS, [], actorOpts());
  r.w.createActor("a2", CLS, [], actorOpts());
  r.from("head/gcs", { type: "ActorUpdate", info: { actorId: "a2", state: "ALIVE", epoch: 0, owner: OWNER, address: "head/w1" } });
  r.sent.length = 0;
  r.from("head/raylet", { type: "GcsRestarted" });
  const actors = r.sent.flatMap((s) => (s.m.type === "CreateActor" ? [["CreateActor", s.m.spec.actorId]] : s.m.type === "SubscribeActor" ? [["SubscribeActor", s.m.actorId]] : []));
  assert.deepEqual(actors, [["CreateActor", "a1"], ["SubscribeActor", "a2"]]);
  assert.ok(r.sent.every((s) => s.to === "head/gcs"));
});

test("an actor whose constructor argument failed is registered dead (ActorDiedError naming the argument's error), also with a restarted GCS", () => {
  const r = owner();
  r.w.createActor("a1", CLS, [{ ref: "head/w9#x", owner: "head/w9" }], actorOpts());
  r.from("head/w9", { type: "Status", id: "head/w9#x", status: { kind: "error", error: { type: "TaskError", message: "boom" } } });
  const sentFailed = () => r.sent.flatMap((s) => (s.m.type === "CreateActor" && s.to === "head/gcs" ? [[s.m.spec.actorId, s.m.failed?.type, s.m.failed?.message.includes("TaskError: boom")]] : []));
  assert.deepEqual(sentFailed(), [["a1", "ActorDiedError", true]], "the GCS is told, for whoever follows the actor there");
  assert.equal(r.w.state.callerActors.get("a1")?.info, undefined, "the GCS's news ends the calls, here as elsewhere");
  r.sent.length = 0;
  r.from("head/raylet", { type: "GcsRestarted" });
  assert.deepEqual(sentFailed(), [["a1", "ActorDiedError", true]], "told again, failed, to a GCS that may have lost it");
});
