// An owner's count of its borrowers: each AddBorrower is one hold, RemoveBorrower gives back
// the holds it names, and a borrower that dies gives back all of its own, nobody else's. The
// object goes out of scope only once the owner and every borrower let go. An owner wired by
// hand, the test playing the borrowers, the raylet and the GCS.
import assert from "node:assert/strict";
import { test } from "node:test";
import { NO_BUGS } from "../../src/core/bugs.ts";
import { CoreWorker } from "../../src/core/core-worker.ts";
import type { CallResult } from "../../src/core/effects.ts";
import type { Msg } from "../../src/core/messages.ts";
import type { TraceBody } from "../../spec/trace.ts";

const OWNER = "head/driver";
const ID = `${OWNER}#put1`;

/** A core worker wired by hand (started; `driver`: as a driver): what it sent, to whom, what it traced and completed. */
function wired(addr: string, driver = false) {
  const sent: Msg[] = [];
  const to: string[] = [];
  const traced: TraceBody[] = [];
  const completed = new Map<number, CallResult>();
  const w = new CoreWorker(addr, { node: "head", gcs: "head/gcs", maxInlineBytes: 100_000, maxPendingLeases: 10, maxTasksInFlightPerWorker: 1, pipelineMaxTaskMs: 0, bugs: NO_BUGS }, {
    now: () => 0, random: () => 0.5, send: (dest, m) => { sent.push(m); to.push(dest); }, setTimer: () => {}, cancelTimer: () => {}, trace: (e) => traced.push(e),
    execute: () => {}, complete: (callId, r) => completed.set(callId, r), interrupt: () => {},
  });
  w.start(driver);
  return { w, sent, to, traced, completed };
}

function rig() {
  const { w: owner, sent, traced } = wired(OWNER);
  owner.put(ID, { size: 8, hash: "v1", data: 1 }, 1);
  const put = sent.find((m) => m.type === "StorePut");
  assert.ok(put?.type === "StorePut");
  const from = (addr: string, msg: Msg) => owner.step({ kind: "message", from: addr, msg: msg as never });
  from("head/raylet", { type: "StorePutReply", reqId: put.reqId, id: ID });
  const inScope = () => !traced.some((e) => e.kind === "object.out-of-scope" && e.obj === ID);
  return { owner, from, inScope, sent };
}

test("a borrower's holds are counted one by one: the object lives until the last is given back", () => {
  const r = rig();
  r.from("head/w9", { type: "AddBorrower", id: ID, borrower: "head/w9", seq: 1 });
  r.from("head/w9", { type: "AddBorrower", id: ID, borrower: "head/w9", seq: 2 });
  r.owner.releaseRef(ID);
  assert.ok(r.inScope(), "freed while borrowed twice");
  r.from("head/w9", { type: "RemoveBorrower", id: ID, borrower: "head/w9", holds: 1, seq: 3 });
  assert.ok(r.inScope(), "freed while the borrower still holds one");
  r.from("head/w9", { type: "RemoveBorrower", id: ID, borrower: "head/w9", holds: 1, seq: 4 });
  assert.ok(!r.inScope(), "never freed after every hold was given back");
});

test("a borrower asking about an object its owner freed hears ObjectLostError", () => {
  const r = rig();
  r.owner.releaseRef(ID);
  assert.equal(r.inScope(), false);
  r.from("head/w9", { type: "GetStatus", id: ID });
  const reply = r.sent.at(-1);
  assert.equal(reply?.type === "Status" && reply.status.kind === "error" ? reply.status.error.type : reply?.type, "ObjectLostError");
});

test("a borrower message the network repeated counts once: no early free, no leak", () => {
  const early = rig();
  early.from("head/w9", { type: "AddBorrower", id: ID, borrower: "head/w9", seq: 1 });
  early.from("head/w9", { type: "AddBorrower", id: ID, borrower: "head/w9", seq: 2 });
  early.owner.releaseRef(ID);
  early.from("head/w9", { type: "RemoveBorrower", id: ID, borrower: "head/w9", holds: 1, seq: 3 });
  early.from("head/w9", { type: "RemoveBorrower", id: ID, borrower: "head/w9", holds: 1, seq: 3 });
  assert.ok(early.inScope(), "a repeated RemoveBorrower freed the object while a hold was left");
  const leak = rig();
  leak.from("head/w9", { type: "AddBorrower", id: ID, borrower: "head/w9", seq: 1 });
  leak.from("head/w9", { type: "AddBorrower", id: ID, borrower: "head/w9", seq: 1 });
  leak.owner.releaseRef(ID);
  leak.from("head/w9", { type: "RemoveBorrower", id: ID, borrower: "head/w9", holds: 1, seq: 2 });
  assert.ok(!leak.inScope(), "a repeated AddBorrower kept the object after its one hold was given back");
  // Seqs are the sender's: an executor lending to a caller counts apart from the caller itself.
  const lent = rig();
  lent.from("head/w8", { type: "AddBorrower", id: ID, borrower: "head/w9", seq: 5 });
  lent.from("head/w9", { type: "AddBorrower", id: ID, borrower: "head/w9", seq: 1 });
  lent.owner.releaseRef(ID);
  lent.from("head/w9", { type: "RemoveBorrower", id: ID, borrower: "head/w9", holds: 1, seq: 2 });
  assert.ok(lent.inScope(), "the lent hold was lost");
  lent.from("head/w9", { type: "RemoveBorrower", id: ID, borrower: "head/w9", holds: 1, seq: 3 });
  assert.ok(!lent.inScope());
});

test("a dead borrower's holds go with it, and only its own", () => {
  const r = rig();
  r.from("head/w8", { type: "AddBorrower", id: ID, borrower: "head/w8", seq: 1 });
  r.from("head/w9", { type: "AddBorrower", id: ID, borrower: "head/w9", seq: 1 });
  r.owner.releaseRef(ID);
  r.from("head/raylet", { type: "WorkerDied", worker: "head/w9" });
  assert.ok(r.inScope(), "the live borrower's hold went with the dead one's");
  r.from("head/w8", { type: "RemoveBorrower", id: ID, borrower: "head/w8", holds: 1, seq: 2 });
  assert.ok(!r.inScope(), "the dead borrower's hold kept the object");
});

test("a registration that comes after its borrower's death news holds nothing", () => {
  const r = rig();
  r.from("head/raylet", { type: "NodeDead", node: "node-1", incarnation: 1 });
  r.from("head/raylet", { type: "WorkerDied", worker: "head/w9" });
  // Sent before those deaths, held on the way: a worker of the dead node, a lender naming the dead worker.
  r.from("node-1/w1-1", { type: "AddBorrower", id: ID, borrower: "node-1/w1-1", seq: 1 });
  r.from("head/w8", { type: "AddBorrower", id: ID, borrower: "head/w9", seq: 1 });
  r.owner.releaseRef(ID);
  assert.ok(!r.inScope(), "a dead borrower's late registration kept the object");
});

test("a borrower that lets go of its last hold says so once (ref.unborrowed), not before", () => {
  const { w, sent, traced } = wired("head/w1");
  // A value fetched from its owner holds a ref owned by a third worker, twice: two holds on it.
  const inner = { id: "head/w9#x", owner: "head/w9" };
  w.get([{ id: "head/w8#a", owner: "head/w8" }], undefined, 1);
  w.step({ kind: "message", from: "head/w8", msg: { type: "Status", id: "head/w8#a", status: { kind: "inline", payload: { size: 8, hash: "v", data: 0, refs: [inner, inner] } } } });
  const unborrowed = () => traced.filter((e) => e.kind === "ref.unborrowed" && e.obj === inner.id).length;
  assert.ok(traced.some((e) => e.kind === "ref.borrowed" && e.obj === inner.id), "the nested ref was not borrowed");
  w.releaseRef(inner.id);
  assert.equal(unborrowed(), 0, "unborrowed while one hold is left");
  w.releaseRef(inner.id);
  assert.equal(unborrowed(), 1);
  assert.ok(sent.some((m) => m.type === "RemoveBorrower" && m.id === inner.id));
});

test("an object passed to a task outlives the owner's own handle until the task is done with it", () => {
  const r = rig();
  const FN = { id: "fn-f", name: "f", kind: "function" as const, source: "(x) => x" };
  r.owner.submitTask(`${OWNER}#t1`, FN, [{ ref: ID, owner: OWNER }], { resources: { CPU: 1 }, strategy: "DEFAULT", maxRetries: 0, retryExceptions: false });
  r.owner.releaseRef(ID);
  assert.ok(r.inScope(), "freed while a submitted task still needs it");
});

test("a get of a ref whose owner is known dead fails with OwnerDiedError at once; the dead owner is not asked", () => {
  const { w, to, completed } = wired("head/w1", true);
  w.step({ kind: "message", from: "head/raylet", msg: { type: "WorkerDied", worker: "n2/w5" } });
  w.get([{ id: "n2/w5#o1", owner: "n2/w5" }], undefined, 9);
  const got = completed.get(9) as { kind: string; values: { type?: string }[] } | undefined;
  assert.deepEqual([got?.kind, got?.values.map((v) => v.type)], ["values", ["OwnerDiedError"]]);
  assert.ok(!to.includes("n2/w5"), "the dead owner was asked");
});

test("a task reply the network repeated neither takes nor gives back its executor's loans twice", () => {
  const { w, sent } = wired(OWNER);
  const FN = { id: "fn-f", name: "f", kind: "function" as const, source: "() => 0" };
  const returnId = w.submitTask(`${OWNER}#t1`, FN, [], { resources: { CPU: 1 }, strategy: "DEFAULT", maxRetries: 1, retryExceptions: false });
  const req = sent.find((m) => m.type === "RequestLease");
  assert.ok(req?.type === "RequestLease");
  w.step({ kind: "message", from: "head/raylet", msg: { type: "LeaseGranted", reqId: req.reqId, leaseId: "L1", worker: "head/w8" } });
  // The executor lent the ref it returns (owned by a third worker) to us: one borrow, registered by it.
  const inner = { id: "head/w9#x", owner: "head/w9" };
  const reply = (attempt: number): Msg => ({ type: "TaskReply", taskId: `${OWNER}#t1`, returnId, attempt, result: { kind: "inline", payload: { size: 8, hash: "v", data: 0, refs: [inner] } } });
  const loansBack = () => sent.filter((m) => m.type === "RemoveBorrower" && m.id === inner.id).length;
  w.step({ kind: "message", from: "head/w8", msg: reply(0) as never });
  w.step({ kind: "message", from: "head/w8", msg: reply(0) as never });
  assert.equal(loansBack(), 0, "the repeated reply gave back the loan the first one took");
  // A stale attempt's reply gives its loan back once, however often it arrives.
  w.step({ kind: "message", from: "head/w7", msg: reply(1) as never });
  w.step({ kind: "message", from: "head/w7", msg: reply(1) as never });
  assert.equal(loansBack(), 1);
});

/** A worker that borrows refs nested in a value it got: `inner` n times, each its own object. */
function borrowing(n: number) {
  const { w, completed } = wired("head/w1");
  const inner = Array.from({ length: n }, (_, i) => ({ id: `head/w9#x${i}`, owner: "head/w9" }));
  w.get([{ id: "head/w8#a", owner: "head/w8" }], undefined, 1);
  w.step({ kind: "message", from: "head/w8", msg: { type: "Status", id: "head/w8#a", status: { kind: "inline", payload: { size: 8, hash: "v", data: 0, refs: inner } } } });
  const status = (id: string): Msg => ({ type: "Status", id, status: { kind: "inline", payload: { size: 8, hash: `v-${id}`, data: 1 } } });
  return { w, inner, completed, answer: (id: string) => w.step({ kind: "message", from: "head/w9", msg: status(id) as never }) };
}

test("a borrowed object's entry, and the status it was read with, go once nothing here holds it", () => {
  const b = borrowing(50);
  b.inner.forEach((r, i) => {
    b.w.get([r], undefined, 10 + i);
    b.answer(r.id);
    assert.equal(b.completed.get(10 + i)?.kind, "values", `the get of ${r.id} was not answered`);
  });
  // The owner asked once per object; the value's entry (head/w8#a) is the program's own get, not held.
  assert.equal(b.w.state.borrowed.size, 50);
  for (const r of b.inner) b.w.releaseRef(r.id);
  assert.deepEqual([...b.w.state.borrowed.keys()], [], "released borrows left their statuses behind");
});

test("a wait counts a borrowed ref it heard of, even if the program let go of that ref meanwhile", () => {
  const b = borrowing(2);
  const [x, y] = b.inner;
  b.w.wait([x, y], 2, undefined, false, 20);
  b.answer(x.id);
  b.w.releaseRef(x.id);
  assert.equal(b.completed.get(20), undefined, "the wait ended with one ref of two known");
  b.answer(y.id);
  assert.deepEqual(b.completed.get(20), { kind: "ready", ready: [x.id, y.id] });
});

test("a get of a borrowed ref is answered though the program let go of that ref while the owner's answer was on its way", () => {
  const b = borrowing(1);
  const [x] = b.inner;
  b.w.get([x], undefined, 20);
  b.w.releaseRef(x.id); // the last hold: the entry stays for the get that waits on it
  b.answer(x.id);
  assert.equal(b.completed.get(20)?.kind, "values");
  assert.deepEqual([...b.w.state.borrowed.keys()], [], "answered, and held by nothing: the entry goes");
});

test("a borrowed ref nested in a task's argument stays borrowed while the task is pending, though the program let go of it", () => {
  const b = borrowing(1);
  const [x] = b.inner;
  const fn = { id: "fn", name: "f", kind: "function" as const, source: "(box) => box" };
  b.w.submitTask("head/w1#t1", fn, [{ v: { size: 8, hash: "box", data: 0, refs: [x] } }], { resources: { CPU: 1 }, strategy: "DEFAULT", maxRetries: 0, retryExceptions: false });
  b.w.releaseRef(x.id);
  assert.equal(b.w.state.borrowed.get(x.id)?.held, 1, "the pending task's use of the ref is not counted");
});

test("an owner that exited takes no borrower: a task's result that comes after its exit is freed", () => {
  const { w, sent, traced } = wired(OWNER);
  const FN = { id: "fn-f", name: "f", kind: "function" as const, source: "() => 0" };
  const returnId = w.submitTask(`${OWNER}#t1`, FN, [], { resources: { CPU: 1 }, strategy: "DEFAULT", maxRetries: 0, retryExceptions: false });
  const req = sent.find((m) => m.type === "RequestLease");
  assert.ok(req?.type === "RequestLease");
  w.step({ kind: "message", from: "head/raylet", msg: { type: "LeaseGranted", reqId: req.reqId, leaseId: "L1", worker: "head/w8" } });
  w.releaseAll();
  // An actor constructed with the result registers as its borrower, then the result comes.
  w.step({ kind: "message", from: "head/w7", msg: { type: "AddBorrower", id: returnId, borrower: "head/w7", seq: 1 } });
  w.step({ kind: "message", from: "head/w8", msg: { type: "TaskReply", taskId: `${OWNER}#t1`, returnId, attempt: 0, result: { kind: "stored", node: "head", size: 200_000, hash: "h" } } as never });
  assert.ok(traced.some((e) => e.kind === "object.out-of-scope" && e.obj === returnId), "the exited owner kept the result for a borrower");
});
