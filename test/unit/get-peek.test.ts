// ray.get with timeoutMs 0 reads what is at hand at once, as Ray's get with timeout=0 reads its
// node's store: a value held in the caller's node's store (or inline here, or a known error) is
// answered; one only on another node, or not made yet, fails with GetTimeoutError, and nothing
// is pulled or restored for it. The store's answer comes before any timeout: there is none to race.

import assert from "node:assert/strict";
import { test } from "node:test";
import { simulate } from "../../sim/simulate.ts";
import type { Ray } from "../../src/api/ray.ts";
import type { ObjectRef } from "../../src/api/handles.ts";
import { formatViolations } from "../../spec/invariants/index.ts";
import { msgProblem } from "../../src/runtime/daemon/validate.ts";
import { rayletHost } from "../helpers/raylet-host.ts";

const NODES = [{ id: "head", resources: { CPU: 1 } }, { id: "node-1", resources: { CPU: 1 } }];

/** The value a get with timeoutMs 0 gives, or the name of its error. */
async function peek(ray: Ray, ref: ObjectRef<unknown>): Promise<unknown> {
  try {
    const v = await ray.get(ref, { timeoutMs: 0 });
    return ArrayBuffer.isView(v) ? (v as Float64Array)[0] : v;
  } catch (e) {
    return (e as Error).name;
  }
}

async function driverPeeks(ray: Ray) {
  const onNode1 = { schedulingStrategy: { nodeId: "node-1", soft: false } };
  const put = await ray.put(new Float64Array(50_000).fill(1));
  const small = ray.remote(() => 2).remote();
  await ray.get(small);
  const fail = ray.remote(() => { throw new RangeError("no"); }).options({ maxRetries: 0 });
  const failed = fail.remote();
  await ray.get(failed).catch(() => undefined);
  const slow = ray.remote(async () => { await ray.sleep(1_000); return 4; }).remote();
  const seen = { slow: await peek(ray, slow), put: await peek(ray, put), small: await peek(ray, small), failed: await peek(ray, failed), far: undefined as unknown, farAgain: undefined as unknown };
  const far = ray.remote(() => new Float64Array(50_000).fill(5)).options(onNode1).remote();
  // Ready on node-1, and only there: a wait that fetches nothing.
  await ray.wait([far], { fetchLocal: false });
  seen.far = await peek(ray, far);
  await ray.get(far); // copies it here
  seen.farAgain = await peek(ray, far);
  // No refs: answered at once, with none.
  return { ...seen, none: await ray.get([], { timeoutMs: 0 }) };
}

test("the driver's peeks: a put and an inline or failed result answered, a pending task and a value only on another node time out", async () => {
  for (const seed of [1, 2]) {
    const r = await simulate({ seed, nodes: NODES, program: driverPeeks, config: { traceMessages: true } });
    assert.equal(r.error, undefined, r.error?.stack);
    assert.deepEqual(r.violations, [], formatViolations(r.violations));
    assert.deepEqual(r.result, { put: 1, small: 2, failed: "TaskError", slow: "GetTimeoutError", far: "GetTimeoutError", farAgain: 5, none: [] });
    const at = (pred: (e: (typeof r.trace)[number]) => boolean) => r.trace.findIndex(pred);
    const absent = at((e) => e.kind === "msg" && e.type === "StoreAbsent" && e.to === "head/driver");
    const pulled = at((e) => e.kind === "object.transferred" && e.node === "head");
    assert.ok(absent >= 0, "the far value's peek was not answered StoreAbsent");
    assert.ok(pulled > absent, "the far value was copied to the head before the get that fetches it");
    assert.equal(r.trace.filter((e) => e.kind === "object.transferred").length, 1, "only the get that fetches copies anything");
  }
});

/** A task on `node` given a box of the driver's refs reads them with timeoutMs 0: borrowed. */
async function borrowedPeeks(ray: Ray) {
  const put = await ray.put(new Float64Array(50_000).fill(1));
  const small = ray.remote(() => 2).remote();
  await ray.get(small);
  const reader = ray.remote(async (box: ObjectRef<unknown>[]) => {
    // Remote functions are shipped as source: this one has its own copy of peek.
    const peek = (ref: ObjectRef<unknown>) => ray.get(ref, { timeoutMs: 0 }).then((v) => (ArrayBuffer.isView(v) ? (v as Float64Array)[0] : v), (e: Error) => e.name);
    const first = [await peek(box[0]), await peek(box[1])];
    await ray.sleep(100); // the owner's answers come meanwhile
    return [...first, await peek(box[0]), await peek(box[1])];
  });
  const on = (nodeId: string) => reader.options({ schedulingStrategy: { nodeId, soft: false } });
  return { head: await ray.get(on("head").remote([put, small])), node1: await ray.get(on("node-1").remote([put, small])) };
}

test("a borrowed ref's peek: a copy in the node's store at once; an inline value once its owner has answered; a copy elsewhere never", async () => {
  for (const seed of [1, 2]) {
    const r = await simulate({ seed, nodes: NODES, program: borrowedPeeks });
    assert.equal(r.error, undefined, r.error?.stack);
    assert.deepEqual(r.violations, [], formatViolations(r.violations));
    assert.deepEqual(r.result, {
      head: [1, "GetTimeoutError", 1, 2],
      node1: ["GetTimeoutError", "GetTimeoutError", "GetTimeoutError", 2],
    });
    assert.ok(!r.trace.some((e) => e.kind === "object.transferred"), "a peek pulled a copy");
  }
});

test("a raylet answers a StorePeek at once: the values if it holds every object, else StoreAbsent; it pulls and restores nothing", () => {
  const OWNER = "n1/w1-1";
  const { h, of, restoring, spilled } = rayletHost({ storeCapacity: 200 });
  // Two primary copies of 150 bytes in a 200-byte store: the first is spilled to make room.
  for (const [i, id] of [`${OWNER}#1`, `${OWNER}#2`].entries()) {
    h.message(OWNER, { type: "StorePut", reqId: i + 1, id, payload: { size: 150, hash: `h${i}`, data: new Uint8Array(150) }, owner: OWNER });
  }
  assert.deepEqual(spilled, [`${OWNER}#1`]);
  const ids = (...n: number[]) => n.map((k) => ({ id: `${OWNER}#${k}`, owner: OWNER }));
  h.message("n1/driver", { type: "StorePeek", reqId: 7, ids: ids(2) });
  assert.deepEqual(of("StoreGetReply").map((m) => [m.reqId, m.values.map((v) => ("hash" in v ? v.hash : v.type))]), [[7, ["h1"]]]);
  h.message("n1/driver", { type: "StorePeek", reqId: 8, ids: ids(2, 3, 1) });
  assert.deepEqual(of("StoreAbsent"), [{ type: "StoreAbsent", reqId: 8, ids: [`${OWNER}#3`, `${OWNER}#1`] }], "a copy elsewhere, and a spilled one, are absent");
  assert.deepEqual(of("GetLocations"), [], "a peek pulled");
  assert.deepEqual(restoring, [], "a peek restored a spilled copy");
  // A dead owner's object is known lost: that is an answer too.
  h.message("head/gcs", { type: "WorkerDied", worker: "n2/w2-1" });
  h.message("n1/driver", { type: "StorePeek", reqId: 9, ids: [{ id: "n2/w2-1#1", owner: "n2/w2-1" }] });
  assert.deepEqual(of("StoreGetReply").filter((m) => m.reqId === 9).map((m) => m.values.map((v) => ("hash" in v ? v.hash : v.type))), [["OwnerDiedError"]]);
});

/** A large result lost with its node: read with timeoutMs 0 while its owner makes it again, then read for good. */
async function lostPeek(ray: Ray) {
  const make = ray.remote(async () => { await ray.sleep(300); return new Float64Array(50_000).fill(6); }).options({ schedulingStrategy: { nodeId: "node-1", soft: true } });
  const ref = make.remote();
  await ray.wait([ref], { fetchLocal: false });
  while ((await ray.nodes()).some((n) => n.nodeId === "node-1" && n.alive)) await ray.sleep(10);
  await ray.sleep(20); // the owner hears of the death too, and runs the task again
  const during = await peek(ray, ref);
  return { during, after: ((await ray.get(ref)) as Float64Array)[0] };
}

test("a lost object's peek times out while its owner makes it again (the peek neither starts nor waits for the recovery), and a get then has the value", async () => {
  for (const seed of [1, 2]) {
    const r = await simulate({ seed, nodes: NODES, program: lostPeek, faults: { schedule: [{ kind: "kill-node", at: 1_000, node: "node-1" }] } });
    assert.equal(r.error, undefined, r.error?.stack);
    assert.deepEqual(r.violations, [], formatViolations(r.violations));
    assert.deepEqual(r.result, { during: "GetTimeoutError", after: 6 });
    assert.equal(r.trace.filter((e) => e.kind === "task.started").length, 2, "the task was run again");
  }
});

test("a daemon refuses a malformed StorePeek or StoreAbsent naming the field", () => {
  const ids = [{ id: "n1/w1-1#1", owner: "n1/w1-1" }];
  assert.equal(msgProblem({ type: "StorePeek", reqId: 1, ids }), undefined);
  assert.equal(msgProblem({ type: "StoreAbsent", reqId: 1, ids: ["n1/w1-1#1"] }), undefined);
  assert.match(msgProblem({ type: "StorePeek", reqId: 1, ids: [{ id: "n1/w1-1#1", owner: "nobody" }] }) ?? "", /^ids\.0\.owner: /);
  assert.match(msgProblem({ type: "StorePeek", reqId: 1, ids, local: true }) ?? "", /local/);
  assert.match(msgProblem({ type: "StoreAbsent", reqId: -1, ids: [] }) ?? "", /^reqId: /);
  assert.match(msgProblem({ type: "StoreAbsent", reqId: 1, ids: ["has space"] }) ?? "", /^ids\.0: /);
});
