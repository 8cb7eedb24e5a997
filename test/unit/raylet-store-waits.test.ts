// What a raylet's store makes wait, and for how long: a put the store cannot take is held and
// tried again every PUT_RETRY_MS until storeFullTimeoutMs have passed, then refused with
// ObjectStoreFullError (not a period sooner or later); a pull with no copy to pull from asks the
// owner again after 50 ms, doubling up to 1 s; a get of several objects answers each with its own
// value, whichever order they come in; and the copy to pull is drawn at random among the holders.
import assert from "node:assert/strict";
import { test } from "node:test";
import { PULL_RETRY_MAX_MS, PULL_RETRY_MS, PUT_RETRY_MS } from "../../src/core/raylet/object-manager.ts";
import { defaultTuning } from "../../src/core/tuning.ts";
import { rayletHost } from "../helpers/raylet-host.ts";

const OWNER = "n2/w2-1";
const DRIVER = "n1/driver";
const bytes = (n: number, hash: string) => ({ size: n, hash, data: new Uint8Array(n) });

test("a put the store cannot take waits storeFullTimeoutMs, tried every PUT_RETRY_MS, then is refused with ObjectStoreFullError", () => {
  let room = false;
  const { h, of, advance } = rayletHost({ admit: (p) => (room ? p : undefined) });
  h.message(DRIVER, { type: "StorePut", reqId: 1, id: `${DRIVER}#1`, payload: bytes(100, "a"), owner: DRIVER });
  h.message(DRIVER, { type: "StorePut", reqId: 2, id: `${DRIVER}#2`, payload: bytes(100, "b"), owner: DRIVER });
  const timeout = defaultTuning.storeFullTimeoutMs;
  assert.equal(timeout % PUT_RETRY_MS, 0, "the test counts whole retry periods");
  advance(timeout - 1);
  assert.deepEqual(of("StorePutReply"), [], "refused before its time");
  advance(1);
  const replies = of("StorePutReply");
  assert.deepEqual(replies.map((r) => [r.reqId, r.error?.type]), [[1, "ObjectStoreFullError"], [2, "ObjectStoreFullError"]]);
  // The message counts the bytes in use (docs/embedded.md), and the put's.
  assert.match(replies[0].error?.message ?? "", /^object store on n1 is full: 0 of 1048576 bytes are in use and cannot be evicted or spilled; cannot fit 100 bytes$/);
  // A put that finds room on a retry is stored then, and answered without an error.
  h.message(DRIVER, { type: "StorePut", reqId: 3, id: `${DRIVER}#3`, payload: bytes(100, "c"), owner: DRIVER });
  room = true;
  advance(PUT_RETRY_MS);
  assert.deepEqual(of("StorePutReply").filter((r) => r.reqId === 3).map((r) => r.error), [undefined]);
});

test("a pull with no copy to pull from asks the owner again after 50 ms, doubling up to 1 s", () => {
  const { h, sent, advance } = rayletHost();
  const id = `${OWNER}#1`;
  h.message(DRIVER, { type: "StoreGet", reqId: 1, ids: [{ id, owner: OWNER }] });
  const asks: number[] = [];
  let now = 0;
  const answerNone = () => {
    for (const s of sent.splice(0)) if (s.m.type === "GetLocations") { asks.push(now); h.message(OWNER, { type: "Locations", id, status: { kind: "stored", nodes: [], size: 10 } }); }
  };
  answerNone();
  for (let i = 0; i < 3000; i++) { advance(1); now++; answerNone(); }
  const gaps = asks.slice(1).map((t, i) => t - asks[i]);
  const want = gaps.map((_, i) => Math.min(PULL_RETRY_MS * 2 ** i, PULL_RETRY_MAX_MS));
  assert.deepEqual(gaps, want);
  assert.deepEqual(gaps.slice(0, 6), [50, 100, 200, 400, 800, 1000]);
});

test("a get of several objects answers each with its own value, in whichever order they come", () => {
  const { h, of } = rayletHost();
  const [a, b] = [`${OWNER}#1`, `${OWNER}#2`];
  h.message(DRIVER, { type: "StoreGet", reqId: 7, ids: [{ id: a, owner: OWNER }, { id: b, owner: OWNER }, { id: a, owner: OWNER }] });
  // b comes first, then a (both inline at their owner).
  h.message(OWNER, { type: "Locations", id: b, status: { kind: "inline", payload: bytes(3, "B") } });
  assert.deepEqual(of("StoreGetReply"), [], "answered before every value was in");
  h.message(OWNER, { type: "Locations", id: a, status: { kind: "inline", payload: bytes(3, "A") } });
  const [reply] = of("StoreGetReply");
  assert.deepEqual(reply.values.map((v) => (v as { hash: string }).hash), ["A", "B", "A"]);
});

test("the copy to pull is drawn at random among the nodes that hold it", () => {
  const froms = [0, 0.4, 0.99].map((r) => {
    const { h, sent } = rayletHost({ random: () => r });
    const id = `${OWNER}#1`;
    h.message(DRIVER, { type: "StoreGet", reqId: 1, ids: [{ id, owner: OWNER }] });
    h.message(OWNER, { type: "Locations", id, status: { kind: "stored", nodes: ["n2", "n3", "n4"], size: 10 } });
    return sent.filter((s) => s.m.type === "Pull").map((s) => s.to);
  });
  assert.deepEqual(froms, [["n2/raylet"], ["n3/raylet"], ["n4/raylet"]]);
});

/** A 200-byte store whose one 150-byte copy is handed to a get still waiting for another object. */
function heldByAWaitingGet() {
  const r = rayletHost({ storeCapacity: 200 });
  const [held, other] = [`${DRIVER}#1`, `${OWNER}#9`];
  r.h.message(DRIVER, { type: "StorePut", reqId: 1, id: held, payload: bytes(150, "a"), owner: DRIVER });
  r.h.message(DRIVER, { type: "StoreGet", reqId: 2, ids: [{ id: held, owner: DRIVER }, { id: other, owner: OWNER }] });
  r.h.message(DRIVER, { type: "StorePut", reqId: 3, id: `${DRIVER}#2`, payload: bytes(150, "b"), owner: DRIVER });
  return { ...r, held };
}

test("a copy handed to a get that still waits for another object is pinned: a put that needs its room waits rather than spill it", () => {
  const { of, spilled } = heldByAWaitingGet();
  assert.deepEqual(spilled, [], "the copy the get holds was spilled under it");
  assert.deepEqual(of("StorePutReply").map((r) => r.reqId), [1], "the second put was stored while the store had no room");
});

test("a put waiting for room is stored as soon as a free makes room, not at its next retry", () => {
  const { h, of, held } = heldByAWaitingGet();
  h.message(DRIVER, { type: "FreeObjects", ids: [held] });
  assert.deepEqual(of("StorePutReply").map((r) => [r.reqId, r.error]), [[1, undefined], [3, undefined]]);
});

test("a put waiting for room whose worker exits is dropped: room made later stores no copy nobody waits for", () => {
  let room = false;
  const { h, sent, started, traced, of, advance } = rayletHost({ admit: (p) => (room ? p : undefined) });
  h.message(DRIVER, { type: "RequestLease", reqId: 1, req: { resources: { CPU: 1 }, strategy: "DEFAULT", deps: [], job: DRIVER, grantOrReject: false, taskId: "t1" } });
  const worker = started[0]!;
  h.message(worker, { type: "RegisterWorker", worker, driver: false });
  assert.equal(of("LeaseGranted").length, 1);
  // The task's result, stored for its owner (the driver), which will retry the task elsewhere.
  h.message(worker, { type: "StorePut", reqId: 1, id: `${DRIVER}#r`, payload: bytes(100, "r"), owner: DRIVER });
  h.model.step({ kind: "worker-exited", worker });
  room = true;
  advance(PUT_RETRY_MS);
  assert.deepEqual(sent.filter((s) => s.m.type === "StorePutReply"), []);
  assert.deepEqual(traced.filter((t) => t.kind === "object.created"), []);
});
