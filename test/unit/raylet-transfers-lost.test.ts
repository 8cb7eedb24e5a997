// A transfer lost to a connection reset between live processes (the host's `transfers-lost`):
// the pulls from that node start over (the owner is asked again, then the node is pulled from
// again), a chunk of the lost transfer that still arrives is stale, the object is stored once
// the new transfer is whole, and pulls from other nodes go on untouched.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Msg } from "../../src/core/messages.ts";
import { rayletHost } from "../helpers/raylet-host.ts";

const OWNER = "n9/w1-1";
const A = `${OWNER}#1`;
const B = `${OWNER}#2`;
const SIZE = 12;
const payload = { size: SIZE, hash: "hA", data: new Uint8Array(SIZE) };
const chunk = (id: string, index: number): Msg => ({ type: "Chunk", id, index, total: 3, size: 4, payload: index === 2 ? { ...payload, hash: `h${id}` } : undefined });

test("a lost transfer is pulled again from the start; another node's goes on", () => {
  const r = rayletHost();
  r.h.message("head/driver", { type: "StoreGet", reqId: 1, ids: [{ id: A, owner: OWNER }] });
  r.h.message("head/driver", { type: "StoreGet", reqId: 2, ids: [{ id: B, owner: OWNER }] });
  r.h.message(OWNER, { type: "Locations", id: A, status: { kind: "stored", nodes: ["n2"], size: SIZE } });
  r.h.message(OWNER, { type: "Locations", id: B, status: { kind: "stored", nodes: ["n3"], size: SIZE } });
  assert.deepEqual(r.sent.filter((s) => s.m.type === "Pull").map((s) => s.to), ["n2/raylet", "n3/raylet"]);
  r.h.message("n2/raylet", chunk(A, 0));
  r.h.message("n3/raylet", chunk(B, 0));
  r.sent.length = 0;

  const timers = r.timers();
  r.h.model.step({ kind: "transfers-lost", node: "n2" });
  assert.equal(r.timers(), timers + 1, "the pull from n2 waits for its retry");
  r.h.message("n2/raylet", chunk(A, 2)); // went another way, after the news: stale
  r.h.message("n3/raylet", chunk(B, 1));
  r.h.message("n3/raylet", chunk(B, 2));
  assert.deepEqual(r.of("StoreGetReply").map((m) => m.reqId), [2], "only the pull from n3 finished");

  r.h.model.step({ kind: "timer", timer: { kind: "pull", id: A } });
  assert.deepEqual(r.of("GetLocations").map((m) => m.id), [A], "the owner is asked again");
  r.h.message(OWNER, { type: "Locations", id: A, status: { kind: "stored", nodes: ["n2"], size: SIZE } });
  assert.deepEqual(r.of("Pull").map((m) => m.id), [A]);
  r.h.message("n2/raylet", chunk(A, 0));
  r.h.message("n2/raylet", chunk(A, 1));
  assert.deepEqual(r.of("StoreGetReply").map((m) => m.reqId), [2], "not done before the new transfer is whole");
  r.h.message("n2/raylet", chunk(A, 2));
  const reply = r.of("StoreGetReply").find((m) => m.reqId === 1);
  assert.equal((reply?.values[0] as { hash?: string } | undefined)?.hash, `h${A}`);
  assert.ok(r.h.model.store.has(A), "stored once the transfer was whole");
});

test("a served pull is sent in chunks of chunkBytes, the last one holding the rest and the payload", () => {
  const r = rayletHost({ tuning: { chunkBytes: 5 } });
  r.h.message("n1/w0", { type: "StorePut", reqId: 1, id: A, payload, owner: OWNER });
  r.h.message("n2/raylet", { type: "Pull", id: A });
  assert.deepEqual(r.of("Chunk").map((c) => [c.index, c.total, c.size, c.payload !== undefined]), [[0, 3, 5, false], [1, 3, 5, false], [2, 3, 2, true]]);
});
