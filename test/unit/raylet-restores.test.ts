// A read of a spilled copy waits for the host to bring it back; if the copy is freed meanwhile
// (its owner died, or freed it), the reader hears why at once. It used to wait for ever: the
// restore's answer found the copy gone and dropped its waiters, and the program's get hung.
// A node declared dead deletes its spilled copies, as it does the rest of its store.
import assert from "node:assert/strict";
import { test } from "node:test";
import { rayletHost } from "../helpers/raylet-host.ts";

const OWNER = "n1/w1-1";

function raylet() {
  const { h, of, spilled, restoring, deletedSpilled } = rayletHost({ storeCapacity: 200 });
  // Two primary copies of 150 bytes in a 200-byte store: the first is spilled to make room.
  for (const [i, id] of [`${OWNER}#1`, `${OWNER}#2`].entries()) {
    h.message(OWNER, { type: "StorePut", reqId: i + 1, id, payload: { size: 150, hash: `h${i}`, data: new Uint8Array(150) }, owner: OWNER });
  }
  assert.deepEqual(spilled, [`${OWNER}#1`], "the first copy was not spilled");
  h.message("head/driver", { type: "StoreGet", reqId: 9, ids: [{ id: `${OWNER}#1`, owner: OWNER }] });
  assert.deepEqual(restoring, [`${OWNER}#1`], "the read did not start a restore");
  const replies = () => of("StoreGetReply").filter((m) => m.reqId === 9);
  assert.equal(replies().length, 0);
  return { h, of, replies, deletedSpilled };
}

test("a read waiting on a restore hears OwnerDiedError when the owner dies meanwhile", () => {
  const r = raylet();
  r.h.message("head/gcs", { type: "WorkerDied", worker: OWNER });
  const [reply] = r.replies();
  assert.ok(reply, "the read was never answered");
  assert.equal((reply.values[0] as { type?: string }).type, "OwnerDiedError");
  // The host's restore still answers later: nothing is sent twice.
  r.h.model.step({ kind: "restored", id: `${OWNER}#1`, payload: { size: 150, hash: "h0", data: new Uint8Array(150) } });
  assert.equal(r.replies().length, 1);
});

test("a read waiting on a restore hears ObjectLostError when the owner frees the object meanwhile", () => {
  const r = raylet();
  r.h.message(OWNER, { type: "FreeObjects", ids: [`${OWNER}#1`] });
  const [reply] = r.replies();
  assert.ok(reply, "the read was never answered");
  assert.equal((reply.values[0] as { type?: string }).type, "ObjectLostError");
});

test("a node the GCS declared dead deletes its spilled copies with the rest of its store", () => {
  const r = raylet();
  r.h.message("head/gcs", { type: "NodeDead", node: "n1", incarnation: 1 });
  assert.deepEqual(r.deletedSpilled, [`${OWNER}#1`]);
});

test("another node's pull of a spilled copy is served in chunks once the copy is restored", () => {
  const r = raylet();
  r.h.message("n2/raylet", { type: "Pull", id: `${OWNER}#1` });
  assert.deepEqual(r.of("Chunk"), [], "served before the restore");
  r.h.model.step({ kind: "restored", id: `${OWNER}#1`, payload: { size: 150, hash: "h0", data: new Uint8Array(150) } });
  assert.deepEqual(r.of("Chunk").map((c) => [c.id, c.payload?.hash]), [[`${OWNER}#1`, "h0"]]);
  assert.deepEqual(r.of("PullFailed"), []);
});

test("a node whose only primary copy is spilled is still busy: removing it would lose the copy", () => {
  const { h } = rayletHost({ storeCapacity: 200 });
  for (const [i, id] of [`${OWNER}#1`, `${OWNER}#2`].entries()) {
    h.message(OWNER, { type: "StorePut", reqId: i + 1, id, payload: { size: 150, hash: `h${i}`, data: new Uint8Array(150) }, owner: OWNER });
  }
  h.message(OWNER, { type: "FreeObjects", ids: [`${OWNER}#2`] });
  assert.equal(h.model.busyWith(), "1 spilled primary copies");
});

test("a restore the host's memory cannot take keeps the spilled copy: the next read restores it again", () => {
  let admit = true;
  const { h, of, restoring } = rayletHost({ storeCapacity: 200, admit: (p) => (admit ? p : undefined) });
  for (const [i, id] of [`${OWNER}#1`, `${OWNER}#2`].entries()) {
    h.message(OWNER, { type: "StorePut", reqId: i + 1, id, payload: { size: 150, hash: `h${i}`, data: new Uint8Array(150) }, owner: OWNER });
  }
  h.message(OWNER, { type: "FreeObjects", ids: [`${OWNER}#2`] }); // room for #1, so nothing is spilled again
  h.message("head/driver", { type: "StoreGet", reqId: 9, ids: [{ id: `${OWNER}#1`, owner: OWNER }] });
  admit = false; // fragmented memory: the restored copy is served, but not kept in memory
  h.model.step({ kind: "restored", id: `${OWNER}#1`, payload: { size: 150, hash: "h0", data: new Uint8Array(150) } });
  assert.equal(of("StoreGetReply").length, 1);
  h.message("head/driver", { type: "StoreGet", reqId: 10, ids: [{ id: `${OWNER}#1`, owner: OWNER }] });
  assert.deepEqual(restoring, [`${OWNER}#1`, `${OWNER}#1`], "the copy in storage was forgotten");
  assert.deepEqual(of("GetLocations"), []);
});
