// Streaming generators in the core worker model: an owner and a worker wired by hand, the test
// playing the raylet and the host, so each report, ack and answer can be looked at.

import assert from "node:assert/strict";
import { test } from "node:test";
import { NO_BUGS, type Bugs } from "../../src/core/bugs.ts";
import type { CallResult } from "../../src/core/effects.ts";
import { CoreWorker } from "../../src/core/core-worker.ts";
import type { Msg } from "../../src/core/messages.ts";
import type { Addr, FunctionDescriptor, Payload, TaskSpec } from "../../src/core/types.ts";
import type { TraceBody } from "../../spec/trace.ts";

const OWNER = "head/driver";
const WORKER = "head/w1";
const OTHER = "node-1/w1";
const FN: FunctionDescriptor = { id: "fn-gen", name: "gen", kind: "function", source: "function* gen() {}" };
const value = (n: number): Payload => ({ size: 8, hash: `v${n}`, data: n });
const opts = (backpressure?: number) => ({
  resources: { CPU: 1 }, strategy: "DEFAULT" as const, maxRetries: 3, retryExceptions: false, streaming: backpressure === undefined ? {} : { backpressure },
});

function rig(bugs: Bugs = NO_BUGS) {
  const sent: { from: Addr; to: Addr; m: Msg }[] = [];
  const executed: TaskSpec[] = [];
  const completed = new Map<number, CallResult>();
  const traced: TraceBody[] = [];
  const make = (addr: Addr, node: string) => new CoreWorker(addr, {
    node, gcs: "head/gcs", maxInlineBytes: 100_000, maxPendingLeases: 10, maxTasksInFlightPerWorker: 1, pipelineMaxTaskMs: 1, bugs,
  }, {
    now: () => 0, random: () => 0.5, send: (to, m) => sent.push({ from: addr, to, m }), setTimer: () => {}, cancelTimer: () => {}, trace: (e) => traced.push(e),
    execute: (spec) => executed.push(spec), complete: (callId, r) => completed.set(callId, r), interrupt: () => {},
  });
  const owner = make(OWNER, "head");
  const workers = new Map([[WORKER, make(WORKER, "head")], [OTHER, make(OTHER, "node-1")]]);
  for (const w of workers.values()) { w.start(true); w.registerFunction(FN); }
  const take = <T extends Msg["type"]>(type: T): Extract<Msg, { type: T }>[] => {
    const out: Extract<Msg, { type: T }>[] = [];
    for (let i = sent.length - 1; i >= 0; i--) if (sent[i].m.type === type) out.unshift(sent.splice(i, 1)[0].m as Extract<Msg, { type: T }>);
    return out;
  };
  const toWorker = (m: Msg, to = WORKER) => workers.get(to)!.step({ kind: "message", from: OWNER, msg: m as never });
  const toOwner = (m: Msg, from = WORKER) => owner.step({ kind: "message", from, msg: m as never });
  /** Grants the pending lease on `worker` and delivers the push: the attempt runs there. */
  const grant = (worker = WORKER) => {
    const [req] = take("RequestLease");
    toOwner({ type: "LeaseGranted", reqId: req.reqId, leaseId: `lease-${worker}`, worker }, "head/raylet");
    const [push] = take("PushTask");
    toWorker(push, worker);
    return push.spec;
  };
  let calls = 1000;
  /** The host's yield of item `index`: the call id it waits on. */
  const yieldItem = (spec: TaskSpec, index: number, n: number, worker = WORKER) => {
    const call = ++calls;
    workers.get(worker)!.generatorItem(spec.taskId, spec.attempt, index, value(n), call);
    return call;
  };
  /** Delivers every item report and ack in flight, both ways. */
  const deliver = (worker = WORKER) => {
    for (const m of take("ReportGeneratorItem")) toOwner(m, worker);
    for (const m of take("GeneratorAck")) toWorker(m, worker);
  };
  /** The program's next(): the item id, "end", or "waiting". */
  const next = (returnId: string, index: number) => {
    const call = ++calls;
    owner.generatorNext(returnId, index, call);
    const r = completed.get(call);
    if (r === undefined) return { call, got: "waiting" };
    return { call, got: r.kind === "item" ? r.id ?? "end" : r.kind };
  };
  const valueOf = (id: string) => {
    owner.get([{ id, owner: OWNER }], undefined, 99);
    const r = completed.get(99);
    completed.delete(99);
    if (r?.kind !== "values") return "not ready";
    const v = r.values[0];
    return "hash" in v ? v.hash : v.type;
  };
  return { owner, workers, sent, executed, completed, traced, take, toWorker, toOwner, grant, yieldItem, deliver, next, valueOf };
}

test("each yielded item reaches the owner as it is yielded, in order, and the stream ends with the task", () => {
  const r = rig();
  const gen = r.owner.submitTask(`${OWNER}#t1`, FN, [], opts());
  const spec = r.grant();
  assert.equal(spec.streaming !== undefined, true, "the spec says it streams");
  const c0 = r.yieldItem(spec, 0, 10);
  assert.deepEqual(r.completed.get(c0), { kind: "yielded" }, "no back-pressure: the code goes on at once");
  r.deliver();
  // The caller sees item 0 while the task still runs.
  assert.equal(r.next(gen, 0).got, `${OWNER}#t1.y0`);
  assert.equal(r.valueOf(`${OWNER}#t1.y0`), "v10");
  const pending = r.next(gen, 1);
  assert.equal(pending.got, "waiting");
  r.yieldItem(spec, 1, 11);
  r.deliver();
  assert.deepEqual(r.completed.get(pending.call), { kind: "item", id: `${OWNER}#t1.y1` });
  const end = r.next(gen, 2);
  assert.equal(end.got, "waiting");
  r.workers.get(WORKER)!.taskDone(spec.taskId, spec.attempt, { ok: true, payload: value(0) });
  const [reply] = r.take("TaskReply");
  assert.equal(reply.items, 2, "the reply counts the items reported");
  r.toOwner(reply);
  assert.deepEqual(r.completed.get(end.call), { kind: "item" }, "the stream ended");
  assert.ok(r.traced.some((e) => e.kind === "generator.end" && e.items === 2 && e.error === undefined));
});

test("a next() withdrawn (its task was cancelled) is not answered, and the item it waited for counts as not taken", () => {
  const r = rig();
  const gen = r.owner.submitTask(`${OWNER}#t1`, FN, [], opts(1));
  const spec = r.grant();
  const withdrawn = r.next(gen, 0);
  assert.equal(withdrawn.got, "waiting");
  r.owner.withdrawCall(withdrawn.call);
  r.yieldItem(spec, 0, 10);
  r.take("ReportGeneratorItem").forEach((m) => r.toOwner(m));
  assert.equal(r.completed.has(withdrawn.call), false, "the withdrawn call was answered");
  assert.deepEqual(r.take("GeneratorAck").map((m) => m.consumed), [0], "an item nobody took was acknowledged as consumed");
  // The program asks again (its generator gave the index back): the item is there, and taken now.
  assert.equal(r.next(gen, 0).got, `${OWNER}#t1.y0`);
  assert.deepEqual(r.take("GeneratorAck").map((m) => m.consumed), [1]);
});

test("an error ends the stream with one more item holding it", () => {
  const r = rig();
  const gen = r.owner.submitTask(`${OWNER}#t1`, FN, [], { ...opts(), maxRetries: 0 });
  const spec = r.grant();
  r.yieldItem(spec, 0, 1);
  r.deliver();
  r.workers.get(WORKER)!.taskDone(spec.taskId, spec.attempt, { ok: false, error: { type: "TaskError", message: "boom" } });
  r.toOwner(r.take("TaskReply")[0]);
  assert.equal(r.next(gen, 0).got, `${OWNER}#t1.y0`);
  assert.equal(r.next(gen, 1).got, `${OWNER}#t1.y1`);
  assert.equal(r.valueOf(`${OWNER}#t1.y1`), "TaskError");
  assert.equal(r.next(gen, 2).got, "end");
});

test("a retried attempt's reports of items the owner already has are dropped: no duplicate, no gap", () => {
  const r = rig();
  const gen = r.owner.submitTask(`${OWNER}#t1`, FN, [], opts());
  const first = r.grant();
  r.yieldItem(first, 0, 1);
  r.yieldItem(first, 1, 2);
  r.deliver();
  // The worker dies: the owner retries the task on another worker.
  r.toOwner({ type: "WorkerDied", worker: WORKER }, "head/raylet");
  const second = r.grant(OTHER);
  assert.equal(second.attempt, 1);
  for (let i = 0; i < 3; i++) r.yieldItem(second, i, i + 1, OTHER);
  r.deliver(OTHER);
  r.workers.get(OTHER)!.taskDone(second.taskId, second.attempt, { ok: true, payload: value(0) });
  r.toOwner(r.take("TaskReply")[0], OTHER);
  const seen = [0, 1, 2, 3].map((i) => r.next(gen, i).got);
  assert.deepEqual(seen, [`${OWNER}#t1.y0`, `${OWNER}#t1.y1`, `${OWNER}#t1.y2`, "end"]);
  assert.deepEqual(seen.slice(0, 3).map((id) => r.valueOf(id)), ["v1", "v2", "v3"]);
  assert.equal(r.traced.filter((e) => e.kind === "generator.duplicate").length, 2);
});

test("a report past a lost one leaves a gap: it is dropped, and not traced as a duplicate", () => {
  const r = rig();
  const gen = r.owner.submitTask(`${OWNER}#t1`, FN, [], opts());
  const spec = r.grant();
  r.yieldItem(spec, 0, 1);
  r.yieldItem(spec, 1, 2);
  const [, second] = r.take("ReportGeneratorItem");
  r.toOwner(second);
  assert.equal(r.next(gen, 0).got, "waiting", "item 1 is not handed out as item 0");
  assert.deepEqual(r.traced.filter((e) => e.kind === "generator.duplicate"), []);
});

test("with the seeded bug generator-duplicate-items the retry's items are recorded twice", () => {
  const r = rig(new Set(["generator-duplicate-items"]));
  const gen = r.owner.submitTask(`${OWNER}#t1`, FN, [], opts());
  const first = r.grant();
  r.yieldItem(first, 0, 1);
  r.deliver();
  r.toOwner({ type: "WorkerDied", worker: WORKER }, "head/raylet");
  const second = r.grant(OTHER);
  r.yieldItem(second, 0, 1, OTHER);
  r.deliver(OTHER);
  assert.equal(r.next(gen, 1).got, `${OWNER}#t1.y1`, "a duplicate became item 1");
});

test("back-pressure: the executor holds the code while that many items are unconsumed, and lets it go as the caller consumes", () => {
  const r = rig();
  const gen = r.owner.submitTask(`${OWNER}#t1`, FN, [], opts(2));
  const spec = r.grant();
  const c0 = r.yieldItem(spec, 0, 0);
  r.deliver();
  assert.deepEqual(r.completed.get(c0), { kind: "yielded" });
  const c1 = r.yieldItem(spec, 1, 1);
  r.deliver();
  assert.equal(r.completed.get(c1), undefined, "two unconsumed items: held");
  assert.ok(r.traced.some((e) => e.kind === "generator.paused" && e.reported === 2 && e.consumed === 0));
  r.next(gen, 0);
  r.deliver();
  assert.deepEqual(r.completed.get(c1), { kind: "yielded" }, "one consumed: it goes on");
});

test("back-pressure holds no generator whose owner is known dead: no ack will come (an actor's call would hold the actor)", () => {
  const r = rig();
  r.owner.submitTask(`${OWNER}#t1`, FN, [], opts(1));
  const spec = r.grant();
  r.yieldItem(spec, 0, 0);
  const held = r.yieldItem(spec, 1, 1);
  assert.equal(r.completed.get(held), undefined, "held before the news");
  r.toWorker({ type: "WorkerDied", worker: OWNER });
  assert.deepEqual(r.completed.get(held), { kind: "yielded" }, "still held after its owner's death");
  assert.deepEqual(r.completed.get(r.yieldItem(spec, 2, 2)), { kind: "yielded" }, "held again");
  // The news before the first item: never held.
  const late = rig();
  late.owner.submitTask(`${OWNER}#t1`, FN, [], opts(1));
  const s2 = late.grant(OTHER);
  late.toWorker({ type: "WorkerDied", worker: OWNER }, OTHER);
  for (let i = 0; i < 3; i++) assert.deepEqual(late.completed.get(late.yieldItem(s2, i, i, OTHER)), { kind: "yielded" });
  assert.ok(!late.traced.some((e) => e.kind === "generator.reported" && e.consumed === 0), "traced as held back");
});

test("with the seeded bug generator-ignores-backpressure the executor never holds the code", () => {
  const r = rig(new Set(["generator-ignores-backpressure"]));
  r.owner.submitTask(`${OWNER}#t1`, FN, [], opts(1));
  const spec = r.grant();
  for (let i = 0; i < 3; i++) assert.deepEqual(r.completed.get(r.yieldItem(spec, i, i)), { kind: "yielded" });
});

test("a cancel lets a held generator go, telling its code to stop; the stream ends with TaskCancelledError", () => {
  const r = rig();
  const gen = r.owner.submitTask(`${OWNER}#t1`, FN, [], opts(1));
  const spec = r.grant();
  const c0 = r.yieldItem(spec, 0, 0);
  r.deliver();
  assert.equal(r.completed.get(c0), undefined, "held");
  r.owner.cancelTask(gen, false, true);
  r.toWorker(r.take("CancelTask")[0]);
  assert.deepEqual(r.completed.get(c0), { kind: "yielded", stop: true });
  r.workers.get(WORKER)!.taskDone(spec.taskId, spec.attempt, { ok: false, error: { type: "TaskCancelledError", message: "cancelled" } });
  r.toOwner(r.take("TaskReply")[0]);
  assert.equal(r.next(gen, 0).got, `${OWNER}#t1.y0`);
  assert.equal(r.valueOf(`${OWNER}#t1.y1`), "TaskCancelledError");
  assert.equal(r.next(gen, 2).got, "end");
});

test("items are owned like returns: dropping the generator frees what it never handed out, and its task runs on unheld", () => {
  const r = rig();
  const gen = r.owner.submitTask(`${OWNER}#t1`, FN, [], opts(1));
  const spec = r.grant();
  r.yieldItem(spec, 0, 0);
  r.deliver();
  const taken = r.next(gen, 0).got;
  const c1 = r.yieldItem(spec, 1, 1);
  r.deliver();
  assert.equal(r.completed.get(c1), undefined, "held: item 1 is not consumed");
  r.owner.releaseRef(gen);
  r.deliver();
  assert.deepEqual(r.completed.get(c1), { kind: "yielded" }, "nobody will consume: back-pressure is off");
  assert.equal(r.owner.state.owned.has(`${OWNER}#t1.y1`), false, "the untaken item is freed");
  assert.equal(r.owner.state.owned.has(taken), true, "the taken one is the program's");
  r.yieldItem(spec, 2, 2);
  r.deliver();
  assert.equal(r.owner.state.owned.has(`${OWNER}#t1.y2`), false, "later items are dropped");
  assert.deepEqual(r.take("FreeObjects").map((m) => m.ids), [], "a dropped item sent inline was stored nowhere: nothing to free");
  r.workers.get(WORKER)!.taskDone(spec.taskId, spec.attempt, { ok: true, payload: value(0) });
  r.toOwner(r.take("TaskReply")[0]);
  assert.equal(r.owner.state.generators.size, 0, "the generator is forgotten with its task's object");
  r.owner.releaseRef(taken);
  assert.deepEqual([...r.owner.state.owned.keys()], []);
});

test("dropping a generator whose stream ended frees the items it never handed out, and not the ones it did", () => {
  const r = rig();
  const gen = r.owner.submitTask(`${OWNER}#t1`, FN, [], opts());
  const spec = r.grant();
  for (const i of [0, 1]) r.yieldItem(spec, i, i);
  r.deliver();
  r.workers.get(WORKER)!.taskDone(spec.taskId, spec.attempt, { ok: true, payload: value(0) });
  r.toOwner(r.take("TaskReply")[0]);
  const taken = r.next(gen, 0).got;
  r.owner.releaseRef(gen);
  assert.equal(r.owner.state.owned.has(`${OWNER}#t1.y1`), false, "the untaken item outlived its generator");
  assert.equal(r.owner.state.owned.has(taken), true, "the taken one is the program's");
});

test("a large item is stored in the executor's node and reported stored; a lost report fails the attempt, which is retried", () => {
  const r = rig();
  const gen = r.owner.submitTask(`${OWNER}#t1`, FN, [], opts());
  const spec = r.grant();
  r.workers.get(WORKER)!.generatorItem(spec.taskId, spec.attempt, 0, { size: 200_000, hash: "big", data: 0 }, 5000);
  const [put] = r.take("StorePut");
  assert.equal(put.id, `${OWNER}#t1.y0`);
  r.toWorker({ type: "StorePutReply", reqId: put.reqId, id: put.id });
  const [report] = r.take("ReportGeneratorItem");
  assert.deepEqual(report.result, { kind: "stored", node: "head", size: 200_000, hash: "big", refs: undefined });
  // The report is lost on the way: the attempt's reply counts one item the owner never got.
  r.workers.get(WORKER)!.taskDone(spec.taskId, spec.attempt, { ok: true, payload: value(0) });
  r.toOwner(r.take("TaskReply")[0]);
  assert.equal(r.take("RequestLease").length, 1, "retried");
  assert.equal(r.next(gen, 0).got, "waiting");
});

// An actor's streaming call: the item its worker stored but had not reported when the worker
// died is freed on that node (the lease-less twin of a task's lost attempt).
const CLS: FunctionDescriptor = { id: "cls-gen", name: "Gen", kind: "class", source: "class Gen { *items() {} }" };
for (const news of ["RESTARTING", "DEAD"] as const) {
  test(`an actor generator's item stored but unreported when its actor's worker died is freed there (${news})`, () => {
    const r = rig();
    r.owner.createActor("a1", CLS, [], { resources: {}, strategy: "DEFAULT", maxRestarts: -1, maxTaskRetries: 1, maxConcurrency: 1 });
    const update = (state: "ALIVE" | "RESTARTING" | "DEAD", epoch: number) =>
      r.toOwner({ type: "ActorUpdate", info: { actorId: "a1", state, epoch, owner: OWNER, ...(state === "ALIVE" ? { address: OTHER } : {}) } }, "head/gcs");
    update("ALIVE", 0);
    const gen = r.owner.submitActorTask(`${OWNER}#c1`, "a1", "items", [], 1, { streaming: {} });
    const [push] = r.take("PushTask");
    assert.equal(push.spec.streaming !== undefined, true);
    r.toOwner({ type: "ReportGeneratorItem", taskId: push.spec.taskId, returnId: gen, attempt: 0, index: 0, result: { kind: "stored", node: "node-1", size: 200_000, hash: "i0", refs: undefined } }, OTHER);
    assert.equal(r.next(gen, 0).got, `${OWNER}#c1.y0`);
    assert.equal(r.owner.state.lineages.size, 0, "an actor call's items have no lineage: a call is never re-run to remake one");
    r.sent.length = 0;
    update(news, 1);
    const frees = r.sent.filter((s) => s.m.type === "FreeObjects").map((s) => ({ to: s.to, m: s.m }));
    assert.deepEqual(frees, [{ to: "node-1/raylet", m: { type: "FreeObjects", ids: [`${OWNER}#c1.y1`], orphaned: true } }],
      "the unreported item 1 is freed on the dead worker's node, the recorded item 0 is not");
  });
}

// Lineage reconstruction of lost items (Ray re-runs a task's generator to remake a lost item).
const stored = (r: ReturnType<typeof rig>, spec: TaskSpec, index: number, node: string, from: string) =>
  r.toOwner({ type: "ReportGeneratorItem", taskId: spec.taskId, returnId: spec.returnId, attempt: spec.attempt, index, result: { kind: "stored", node, size: 200_000, hash: `h${index}`, refs: undefined } }, from);
const nodeDead = (r: ReturnType<typeof rig>, node: string) => r.toOwner({ type: "NodeDead", node, incarnation: 1 }, "head/gcs");
const itemState = (r: ReturnType<typeof rig>, id: string) => {
  const o = r.owner.state.owned.get(id);
  return o && { state: o.state, nodes: o.nodes, error: o.value?.kind === "error" ? o.value.error.type : undefined };
};

/**
 * A task's generator on WORKER stores its two items on `nodes` and finishes; the program takes
 * both. Returns the stream, the first attempt's spec and the items' ids.
 */
function finishedWithTwoItems(r: ReturnType<typeof rig>, nodes: readonly [string, string]) {
  const gen = r.owner.submitTask(`${OWNER}#t1`, FN, [], opts());
  const spec = r.grant(WORKER);
  stored(r, spec, 0, nodes[0], WORKER);
  stored(r, spec, 1, nodes[1], WORKER);
  r.workers.get(WORKER)!.taskDone(spec.taskId, spec.attempt, { ok: true, payload: value(0) });
  r.toOwner(r.take("TaskReply")[0]);
  const [y0, y1] = [0, 1].map((i) => r.next(gen, i).got);
  return { gen, spec, y0, y1 };
}

/**
 * Attempt 0 runs on node-1 and stores item 0 there, which the program takes; then its worker dies
 * (node-1 not declared dead), and the task is retried: attempt 1 runs on the head.
 */
function retriedAfterItemZero(r: ReturnType<typeof rig>, backpressure?: number) {
  const gen = r.owner.submitTask(`${OWNER}#t1`, FN, [], opts(backpressure));
  const first = r.grant(OTHER);
  stored(r, first, 0, "node-1", OTHER);
  const y0 = `${OWNER}#t1.y0`;
  assert.equal(r.next(gen, 0).got, y0);
  r.toOwner({ type: "WorkerDied", worker: OTHER }, "head/raylet");
  return { gen, first, y0 };
}

test("an item lost while its task runs is yielded again by the retry and restored, and never handed out twice", () => {
  const r = rig();
  const { gen, y0 } = retriedAfterItemZero(r);
  // Its node is declared dead too: item 0's only copy is gone.
  nodeDead(r, "node-1");
  assert.deepEqual(itemState(r, y0), { state: "PENDING", nodes: [], error: undefined }, "lost, waiting to be yielded again");
  const second = r.grant(WORKER);
  assert.equal(second.attempt, 1);
  stored(r, second, 0, "head", WORKER);
  assert.deepEqual(itemState(r, y0), { state: "READY", nodes: ["head"], error: undefined }, "restored with the retry's copy");
  assert.ok(r.traced.some((e) => e.kind === "generator.restored" && e.obj === y0 && e.attempt === 1));
  stored(r, second, 1, "head", WORKER);
  r.workers.get(WORKER)!.taskDone(second.taskId, second.attempt, { ok: true, payload: value(0) });
  r.toOwner(r.take("TaskReply")[0]);
  assert.deepEqual([1, 2].map((i) => r.next(gen, i).got), [`${OWNER}#t1.y1`, "end"], "item 0 is not handed out again");
});

test("a retry's stored copy of an item the owner has is kept as one more copy, so the item outlives the first copy's node", () => {
  const r = rig();
  const { y0 } = retriedAfterItemZero(r);
  const second = r.grant(WORKER);
  r.take("FreeObjects");
  stored(r, second, 0, "head", WORKER);
  assert.ok(r.traced.some((e) => e.kind === "generator.duplicate" && e.index === 0 && e.attempt === 1), "a duplicate: not handed out again");
  assert.deepEqual(r.take("FreeObjects"), [], "the retry's copy is not freed");
  assert.deepEqual(itemState(r, y0), { state: "READY", nodes: ["node-1", "head"], error: undefined });
  // node-1 had died with its worker: the item lives on in the retry's copy, with no reconstruction to wait for.
  nodeDead(r, "node-1");
  assert.deepEqual(itemState(r, y0), { state: "READY", nodes: ["head"], error: undefined });
  assert.ok(!r.traced.some((e) => e.kind === "object.lost" && e.obj === y0), "never lost");
});

test("a late report of an attempt given up on is freed, even of the same value: its lost lease had that copy freed", () => {
  const r = rig();
  const { first } = retriedAfterItemZero(r);
  const second = r.grant(WORKER);
  stored(r, second, 0, "head", WORKER);
  stored(r, second, 1, "head", WORKER);
  r.take("FreeObjects");
  stored(r, first, 1, "node-1", OTHER); // attempt 0's report of item 1, overtaken by its worker's death
  assert.deepEqual(r.take("FreeObjects"), [{ type: "FreeObjects", ids: [`${OWNER}#t1.y1`], orphaned: true }]);
  assert.deepEqual(itemState(r, `${OWNER}#t1.y1`), { state: "READY", nodes: ["head"], error: undefined });
});

test("a retry's stored copy of an item with another value is freed where it was stored", () => {
  const r = rig();
  const { y0 } = retriedAfterItemZero(r);
  const second = r.grant(WORKER);
  r.take("FreeObjects");
  r.toOwner({ type: "ReportGeneratorItem", taskId: second.taskId, returnId: second.returnId, attempt: 1, index: 0, result: { kind: "stored", node: "head", size: 200_000, hash: "changed", refs: undefined } }, WORKER);
  assert.deepEqual(r.take("FreeObjects"), [{ type: "FreeObjects", ids: [y0], orphaned: true }]);
  assert.deepEqual(itemState(r, y0), { state: "READY", nodes: ["node-1"], error: undefined }, "the value first handed out stands");
});

test("an item lost behind the attempt under way lets that attempt go of back-pressure, and a re-run remakes it once it ends", () => {
  const r = rig();
  const { gen, y0 } = retriedAfterItemZero(r, 1);
  const second = r.grant(WORKER);
  // The retry yields item 0 with another value (its copy is freed, not kept), then item 1, and is held there.
  r.toOwner({ type: "ReportGeneratorItem", taskId: second.taskId, returnId: gen, attempt: 1, index: 0, result: { kind: "stored", node: "head", size: 200_000, hash: "changed", refs: undefined } }, WORKER);
  stored(r, second, 1, "head", WORKER);
  assert.equal(r.take("GeneratorAck").at(-1)?.consumed, 1, "held: one item unconsumed");
  // node-1 is declared dead: item 0 is lost, and the attempt under way is past it.
  nodeDead(r, "node-1");
  assert.deepEqual(r.take("GeneratorAck").map((m) => m.consumed), [Number.MAX_SAFE_INTEGER], "let go, to end");
  // Its next item does not bring back-pressure back: only a new attempt, which yields item 0 again, does.
  stored(r, second, 2, "head", WORKER);
  assert.deepEqual(r.take("GeneratorAck").map((m) => m.consumed), [Number.MAX_SAFE_INTEGER], "held again by the attempt that will not yield the lost item");
  r.toOwner({ type: "TaskReply", taskId: second.taskId, returnId: gen, attempt: 1, result: { kind: "inline", payload: value(0) }, items: 3 }, WORKER);
  assert.ok(r.traced.some((e) => e.kind === "task.retry" && e.attempt === 2 && e.reason.includes(y0)), "a re-run for the lost item");
  const again = r.grant(WORKER);
  stored(r, again, 0, "head", WORKER);
  assert.deepEqual(itemState(r, y0), { state: "READY", nodes: ["head"], error: undefined }, "remade");
});

test("an item lost after its task finished is remade by a re-run of the task; the re-run's other items are dropped", () => {
  const r = rig();
  const { gen, y0, y1 } = finishedWithTwoItems(r, ["node-1", "head"]);
  r.take("ReturnLease");
  nodeDead(r, "node-1");
  assert.ok(r.traced.some((e) => e.kind === "task.retry" && e.attempt === 1 && e.reason.includes(y0)), "the task is run again for its lost item");
  const again = r.grant(WORKER);
  assert.equal(again.attempt, 1);
  stored(r, again, 0, "head", WORKER);
  stored(r, again, 1, "head", WORKER);
  assert.deepEqual(itemState(r, y0), { state: "READY", nodes: ["head"], error: undefined });
  assert.deepEqual(itemState(r, y1), { state: "READY", nodes: ["head"], error: undefined }, "item 1 kept its one copy");
  // The re-run's reply ends it: its lease goes back, and the stream had ended already.
  r.toOwner({ type: "TaskReply", taskId: again.taskId, returnId: again.returnId, attempt: 1, result: { kind: "inline", payload: value(0) }, items: 2 }, WORKER);
  assert.equal(r.take("ReturnLease").length, 1, "the re-run's lease is returned");
  assert.equal(r.next(gen, 2).got, "end");
  // Once its items are freed, the lineage goes with them.
  for (const id of [y0, y1, gen]) r.owner.releaseRef(id);
  assert.equal(r.owner.state.lineages.size, 0);
});

test("a lost item of a task with no retries left, or with reconstruction off (seeded bug), fails with ObjectLostError saying why", () => {
  for (const [bugs, maxRetries] of [[NO_BUGS, 1], [new Set(["no-reconstruction"]) as Bugs, 3]] as const) {
    const r = rig(bugs);
    const gen = r.owner.submitTask(`${OWNER}#t1`, FN, [], { ...opts(), maxRetries });
    const first = r.grant(OTHER);
    stored(r, first, 0, "node-1", OTHER);
    const y0 = r.next(gen, 0).got;
    r.toOwner({ type: "WorkerDied", worker: OTHER }, "head/raylet");
    const second = r.grant(WORKER);
    stored(r, second, 0, "node-1", WORKER); // a duplicate: the item has its copy on node-1
    r.workers.get(WORKER)!.taskDone(second.taskId, second.attempt, { ok: true, payload: value(0) });
    r.toOwner(r.take("TaskReply")[0]);
    nodeDead(r, "node-1");
    assert.deepEqual(itemState(r, y0), { state: "FAILED", nodes: [], error: "ObjectLostError" }, `maxRetries ${maxRetries}, bugs ${[...bugs]}`);
    // The message says why, as docs/learn/07-lineage.md shows it (not "created by ray.put").
    const o = r.owner.state.owned.get(y0)!;
    assert.match(o.value?.kind === "error" ? o.value.error.message : "", bugs === NO_BUGS ? /cannot be reconstructed: its generator task gen has no retries left/ : /cannot be reconstructed: reconstruction is off$/);
  }
});

test("a re-run that fails fails its task for good, in the trace too: an item lost after it is not remade", () => {
  const r = rig();
  const { spec, y0, y1 } = finishedWithTwoItems(r, ["node-1", "node-2"]);
  r.take("ReturnLease");
  nodeDead(r, "node-1");
  const again = r.grant(WORKER);
  const error = { type: "TaskError" as const, message: "remote function gen: ObjectStoreFullError" };
  r.toOwner({ type: "TaskReply", taskId: again.taskId, returnId: again.returnId, attempt: 1, result: { kind: "error", error, retryable: false } }, WORKER);
  assert.deepEqual(r.traced.filter((e) => e.kind === "task.failed"), [{ kind: "task.failed", comp: "owner", task: spec.taskId, error: "TaskError" }]);
  assert.deepEqual(itemState(r, y0), { state: "FAILED", nodes: [], error: "TaskError" }, "the item it was run for holds its error");
  nodeDead(r, "node-2");
  assert.deepEqual(itemState(r, y1)?.state, "FAILED", "no re-run after the task failed for good");
  assert.equal(r.traced.filter((e) => e.kind === "task.retry").length, 1);
});

test("a re-run that remade some of the lost items but not all is run again for the rest, not given up on", () => {
  const r = rig();
  const gen = r.owner.submitTask(`${OWNER}#t1`, FN, [], opts());
  const first = r.grant(WORKER);
  stored(r, first, 0, "node-1", WORKER);
  stored(r, first, 1, "node-1", WORKER);
  const [y0, y1] = [0, 1].map((i) => r.next(gen, i).got);
  nodeDead(r, "node-1"); // both lost while the task runs: remade once it ends
  r.workers.get(WORKER)!.taskDone(first.taskId, first.attempt, { ok: true, payload: value(0) });
  r.toOwner(r.take("TaskReply")[0]);
  const again = r.grant(WORKER);
  stored(r, again, 0, "head", WORKER);
  // The re-run yields one item only (its code is not deterministic): it made progress, so it goes on.
  r.toOwner({ type: "TaskReply", taskId: again.taskId, returnId: again.returnId, attempt: 1, result: { kind: "inline", payload: value(0) }, items: 1 }, WORKER);
  assert.deepEqual([itemState(r, y0)?.state, itemState(r, y1)?.state], ["READY", "PENDING"]);
  assert.equal(r.grant(WORKER).attempt, 2);
});

test("a re-run whose worker dies frees the item it stored unreported, and is run again for the items still lost", () => {
  const r = rig();
  const { y0, y1 } = finishedWithTwoItems(r, ["node-1", "node-1"]);
  nodeDead(r, "node-1");
  const again = r.grant(WORKER);
  stored(r, again, 0, "head", WORKER);
  r.sent.length = 0;
  r.toOwner({ type: "WorkerDied", worker: WORKER }, "head/raylet");
  const frees = r.sent.flatMap((s) => (s.m.type === "FreeObjects" && s.m.ids.some((id) => id.includes(".y")) ? [{ to: s.to, m: s.m }] : []));
  assert.deepEqual(frees, [{ to: "head/raylet", m: { type: "FreeObjects", ids: [y1], orphaned: true } }], "item 1, stored but not reported, is freed");
  assert.equal(itemState(r, y0)?.state, "READY");
  const third = r.grant(WORKER);
  assert.equal(third.attempt, 2, "the re-run is retried for item 1");
  stored(r, third, 0, "head", WORKER);
  stored(r, third, 1, "head", WORKER);
  assert.deepEqual(itemState(r, y1), { state: "READY", nodes: ["head"], error: undefined });
});

test("a ref inside a yielded item is lent to the caller, as one inside a task's return value", () => {
  const r = rig();
  r.owner.submitTask(`${OWNER}#t1`, FN, [], opts());
  const spec = r.grant();
  const inner = { id: "node-1/w9#x", owner: "node-1/w9" };
  r.workers.get(WORKER)!.generatorItem(spec.taskId, spec.attempt, 0, { ...value(0), refs: [inner] }, 2000);
  assert.deepEqual(r.take("AddBorrower").map((m) => [m.id, m.borrower]), [[inner.id, OWNER]], "the caller was not made a borrower of the nested ref");
});

test("a re-run sent back unrun by a blocked worker is queued again and placed elsewhere, not forgotten", () => {
  const r = rig();
  const gen = r.owner.submitTask(`${OWNER}#t1`, FN, [], opts());
  const spec = r.grant(OTHER);
  stored(r, spec, 0, "node-1", OTHER);
  r.workers.get(OTHER)!.taskDone(spec.taskId, spec.attempt, { ok: true, payload: value(0) });
  r.toOwner(r.take("TaskReply")[0], OTHER);
  r.take("ReturnLease");
  const y0 = r.next(gen, 0).got;
  nodeDead(r, "node-1");
  const again = r.grant(WORKER);
  assert.equal(again.attempt, 1);
  // The worker it was pushed to blocked in a get behind another task, and sends it back unrun.
  r.toOwner({ type: "TaskBounced", taskId: again.taskId, returnId: again.returnId, attempt: again.attempt, bounces: 0 });
  const [req] = r.take("RequestLease");
  assert.ok(req, "the bounced re-run asks for a lease again");
  r.toOwner({ type: "LeaseGranted", reqId: req.reqId, leaseId: "lease-2", worker: OTHER }, "head/raylet");
  const [push] = r.take("PushTask");
  assert.deepEqual([push.spec.taskId, push.spec.attempt, push.spec.bounces], [again.taskId, 1, 1]);
  stored(r, push.spec, 0, "head", OTHER);
  assert.deepEqual(itemState(r, y0), { state: "READY", nodes: ["head"], error: undefined });
});

test("next() on a stream this worker does not own is refused with a RayError", () => {
  const r = rig();
  r.owner.generatorNext(`${OWNER}#nobody`, 0, 7);
  const got = r.completed.get(7);
  assert.equal(got?.kind, "error");
  assert.equal(got.kind === "error" && got.error.type, "RayError");
});

test("an item the store refuses throws at the yield and is never reported", () => {
  const r = rig();
  r.owner.submitTask(`${OWNER}#t1`, FN, [], opts());
  const spec = r.grant();
  r.workers.get(WORKER)!.generatorItem(spec.taskId, spec.attempt, 0, { size: 200_000, hash: "big", data: 0 }, 5000);
  const [put] = r.take("StorePut");
  const full = { type: "ObjectStoreFullError" as const, message: "no room" };
  r.toWorker({ type: "StorePutReply", reqId: put.reqId, id: put.id, error: full });
  assert.deepEqual(r.completed.get(5000), { kind: "error", error: full });
  assert.deepEqual(r.take("ReportGeneratorItem"), []);
});

test("a re-run's stored copy of the generator's own result, settled by the first run, is freed where it was stored", () => {
  const r = rig();
  const gen = r.owner.submitTask(`${OWNER}#t1`, FN, [], opts());
  const spec = r.grant(WORKER);
  stored(r, spec, 0, "node-1", WORKER);
  r.workers.get(WORKER)!.taskDone(spec.taskId, spec.attempt, { ok: true, payload: value(0) });
  r.toOwner(r.take("TaskReply")[0]);
  r.next(gen, 0);
  nodeDead(r, "node-1");
  const again = r.grant(WORKER);
  stored(r, again, 0, "head", WORKER);
  r.sent.length = 0;
  r.toOwner({ type: "TaskReply", taskId: again.taskId, returnId: again.returnId, attempt: 1, result: { kind: "stored", node: "head", size: 200_000, hash: "ret", refs: undefined }, items: 1 }, WORKER);
  const frees = r.sent.flatMap((s) => (s.m.type === "FreeObjects" ? [{ to: s.to, m: s.m }] : []));
  assert.deepEqual(frees, [{ to: "head/raylet", m: { type: "FreeObjects", ids: [gen], orphaned: true } }]);
});

test("a duplicated report of an item of a stream with no lineage is dropped while another stream has one", () => {
  const r = rig();
  const a = r.owner.submitTask(`${OWNER}#t1`, FN, [], opts());
  const specA = r.grant(WORKER);
  stored(r, specA, 0, "node-1", WORKER); // a stored item: t1 keeps a lineage
  r.workers.get(WORKER)!.taskDone(specA.taskId, specA.attempt, { ok: true, payload: value(0) });
  r.toOwner(r.take("TaskReply")[0]);
  r.take("ReturnLease");
  assert.equal(r.next(a, 0).got, `${OWNER}#t1.y0`);
  assert.equal(r.owner.state.lineages.size, 1);
  const b = r.owner.submitTask(`${OWNER}#t2`, FN, [], opts());
  const specB = r.grant(WORKER);
  r.yieldItem(specB, 0, 1);
  const [report] = r.take("ReportGeneratorItem");
  r.toOwner(report);
  r.toOwner(report); // the same report again
  assert.deepEqual([0, 1].map((i) => r.next(b, i).got), [`${OWNER}#t2.y0`, "waiting"]);
});

test("a borrower letting go of a stream the program still holds leaves the stream going", () => {
  const r = rig();
  const gen = r.owner.submitTask(`${OWNER}#t1`, FN, [], opts());
  r.toOwner({ type: "AddBorrower", id: gen, borrower: OTHER, seq: 1 }, OTHER);
  r.toOwner({ type: "RemoveBorrower", id: gen, borrower: OTHER, holds: 1, seq: 2 }, OTHER);
  const spec = r.grant();
  r.yieldItem(spec, 0, 1);
  r.deliver();
  assert.deepEqual([0, 1].map((i) => r.next(gen, i).got), [`${OWNER}#t1.y0`, "waiting"]);
});

// The refs nested in an item report are lent to the owner with it: a report the owner does not
// record as a new item gives them back.
const inner = { id: "node-1/w9#x", owner: "node-1/w9" };
const loansReturned = (r: ReturnType<typeof rig>) => r.take("RemoveBorrower").map((m) => [m.id, m.borrower]);

test("a report that comes after the stream ended is dropped: its executor is told every item is consumed, and the refs lent inside it go back", () => {
  const r = rig();
  const gen = r.owner.submitTask(`${OWNER}#t1`, FN, [], opts(1));
  const spec = r.grant();
  r.yieldItem(spec, 0, 10);
  r.deliver();
  r.workers.get(WORKER)!.taskDone(spec.taskId, spec.attempt, { ok: true, payload: value(0) });
  r.toOwner(r.take("TaskReply")[0]);
  r.take("GeneratorAck");
  r.toOwner({ type: "ReportGeneratorItem", taskId: spec.taskId, returnId: gen, attempt: spec.attempt, index: 1, result: { kind: "inline", payload: { ...value(11), refs: [inner] } } });
  assert.deepEqual(r.take("GeneratorAck"), [{ type: "GeneratorAck", taskId: spec.taskId, attempt: spec.attempt, consumed: Number.MAX_SAFE_INTEGER }]);
  assert.deepEqual(r.traced.filter((e) => e.kind === "generator.item").map((e) => e.kind === "generator.item" && e.index), [0], "an item was recorded after the end");
  assert.deepEqual(loansReturned(r), [[inner.id, OWNER]]);
});

test("a lost item restored by an inline report gives back the refs lent inside it: the item holds them since it was first recorded", () => {
  const r = rig();
  const { y0 } = retriedAfterItemZero(r);
  nodeDead(r, "node-1");
  const second = r.grant(WORKER);
  r.toOwner({ type: "ReportGeneratorItem", taskId: second.taskId, returnId: second.returnId, attempt: second.attempt, index: 0, result: { kind: "inline", payload: { ...value(7), refs: [inner] } } });
  assert.equal(itemState(r, y0)?.state, "READY");
  assert.deepEqual(loansReturned(r), [[inner.id, OWNER]]);
});

test("a yield that comes after its attempt was answered tells the code to stop, and reports nothing", () => {
  const r = rig();
  r.owner.submitTask(`${OWNER}#t1`, FN, [], opts());
  const spec = r.grant();
  r.workers.get(WORKER)!.taskDone(spec.taskId, spec.attempt, { ok: true, payload: value(0) });
  const call = r.yieldItem(spec, 0, 10);
  assert.deepEqual(r.completed.get(call), { kind: "yielded", stop: true });
  assert.deepEqual(r.take("ReportGeneratorItem"), []);
});

test("a re-run whose worker dies leaves alone the copy of the generator's own result that the first run stored on that node", () => {
  const r = rig();
  const gen = r.owner.submitTask(`${OWNER}#t1`, FN, [], opts());
  const spec = r.grant(WORKER);
  stored(r, spec, 0, "node-1", WORKER);
  r.toOwner({ type: "TaskReply", taskId: spec.taskId, returnId: gen, attempt: spec.attempt, result: { kind: "stored", node: "head", size: 200_000, hash: "ret", refs: undefined }, items: 1 }, WORKER);
  r.next(gen, 0);
  nodeDead(r, "node-1");
  r.grant(WORKER); // the re-run, for item 0
  r.sent.length = 0;
  r.toOwner({ type: "WorkerDied", worker: WORKER }, "head/raylet");
  assert.deepEqual(r.sent.filter((s) => s.m.type === "FreeObjects" && s.m.ids.includes(gen)), [], "the result's only copy was freed");
  assert.deepEqual(r.owner.state.owned.get(gen)?.nodes, ["head"]);
});

test("a re-run's own result gives back the refs lent inside it: the generator's object was settled by the first run", () => {
  const r = rig();
  const { gen } = finishedWithTwoItems(r, ["node-1", "head"]);
  nodeDead(r, "node-1");
  const again = r.grant(WORKER);
  stored(r, again, 0, "head", WORKER);
  r.toOwner({ type: "TaskReply", taskId: again.taskId, returnId: again.returnId, attempt: 1, result: { kind: "inline", payload: { ...value(0), refs: [inner] } }, items: 2 }, WORKER);
  assert.deepEqual(loansReturned(r), [[inner.id, OWNER]]);
  assert.equal(r.owner.state.owned.get(gen)?.contains, undefined, "the settled object took the re-run's refs");
});
