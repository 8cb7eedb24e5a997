// A read can reach a raylet after the raylet heard that the object's owner died: sent before the
// news, or racing it. The raylet failed the pulls under way when the news came; a read that
// comes later must not ask the dead owner where the object is (it never answers, and the read
// hung: read-after-its-owners-death-news-asked-the-dead-owner). It hears OwnerDiedError at once,
// and a lease does not wait for such an argument (the task reads the error from the store). A
// worker that registers after the news hears it from its raylet (KnownDeaths).
import assert from "node:assert/strict";
import { test } from "node:test";
import { rayletHost } from "../helpers/raylet-host.ts";

const DEAD = "n2/w1-1";
const LOCAL = "n1/w1-1";

function raylet() {
  const r = rayletHost();
  r.h.message(LOCAL, { type: "StorePut", reqId: 1, id: `${LOCAL}#1`, payload: { size: 150, hash: "h1", data: new Uint8Array(150) }, owner: LOCAL });
  r.h.message("head/gcs", { type: "WorkerDied", worker: DEAD });
  r.sent.length = 0;
  return r;
}

test("a read of an object whose owner this raylet knows is dead is answered at once with OwnerDiedError, beside a local one", () => {
  const r = raylet();
  r.h.message("head/driver", { type: "StoreGet", reqId: 9, ids: [{ id: `${DEAD}#4`, owner: DEAD }, { id: `${LOCAL}#1`, owner: LOCAL }] });
  const replies = r.of("StoreGetReply");
  assert.equal(replies.length, 1, "the read was not answered at once");
  assert.equal((replies[0].values[0] as { type?: string }).type, "OwnerDiedError");
  assert.equal((replies[0].values[1] as { hash?: string }).hash, "h1");
  assert.deepEqual(r.sent.filter((s) => s.to === DEAD), [], "it asked the dead owner");
});

test("a lease whose argument's owner is known dead does not wait for the argument", () => {
  const r = raylet();
  r.h.message("head/driver", {
    type: "RequestLease", reqId: 1,
    req: { resources: { CPU: 1 }, strategy: "DEFAULT", deps: [{ id: `${DEAD}#4`, owner: DEAD }, { id: `${LOCAL}#1`, owner: LOCAL }], job: "head/driver", grantOrReject: true, taskId: "t" },
  });
  for (const w of r.started.splice(0)) r.h.message(w, { type: "RegisterWorker", worker: w, driver: false });
  assert.deepEqual(r.sent.filter((s) => s.m.type === "LeaseGranted").map((s) => s.to), ["head/driver"]);
  assert.deepEqual(r.sent.filter((s) => s.to === DEAD), [], "it asked the dead owner");
});

test("a worker that registers hears which workers and node lives the raylet knew dead; with none known it hears nothing", () => {
  const r = raylet();
  r.h.message("head/gcs", {
    type: "ClusterView", nodes: [
      { node: "n1", incarnation: 1, total: { CPU: 1 }, available: { CPU: 1 }, alive: true },
      { node: "n3", incarnation: 2, total: { CPU: 1 }, available: { CPU: 1 }, alive: false },
      { node: "n4", incarnation: 3, total: { CPU: 1 }, available: { CPU: 1 }, alive: true },
    ],
  });
  r.h.message("n1/w1-9", { type: "RegisterWorker", worker: "n1/w1-9", driver: false });
  assert.deepEqual(r.of("KnownDeaths"), [{ type: "KnownDeaths", workers: [DEAD], nodes: [{ node: "n3", incarnation: 2 }, { node: "n4", incarnation: 2 }] }]);
  const fresh = rayletHost();
  fresh.h.message("n1/w1-1", { type: "RegisterWorker", worker: "n1/w1-1", driver: false });
  assert.deepEqual(fresh.of("KnownDeaths"), []);
});
