// The raylet's worker pool and lease queue: a worker that dies while starting is replaced for
// the lease that waits for it, one that dies while busy takes no idle worker with it, and a
// cancelled request leaves the queue (only the one its owner named).
import assert from "node:assert/strict";
import { test } from "node:test";
import { rayletHost } from "../helpers/raylet-host.ts";

function raylet(cpus: number, incarnation = 1) {
  const { h, sent, started, traced } = rayletHost({ cpus, incarnation });
  const lease = (reqId: number, owner = "head/driver") => h.message(owner, { type: "RequestLease", reqId, req: { resources: { CPU: 1 }, strategy: "DEFAULT", deps: [], job: "head/driver", grantOrReject: false, taskId: `t${reqId}` } });
  const register = (worker: string) => h.message(worker, { type: "RegisterWorker", worker, driver: false });
  const granted = () => sent.flatMap((s) => (s.m.type === "LeaseGranted" ? [{ ...s.m, to: s.to }] : []));
  return { h, sent, started, traced, lease, register, granted };
}

test("a worker that dies while starting is replaced for the lease waiting for it", () => {
  const r = raylet(1);
  r.lease(1);
  assert.equal(r.started.length, 1);
  r.h.model.step({ kind: "worker-exited", worker: r.started[0]! });
  assert.equal(r.started.length, 2, "no worker was started in its place");
  r.register(r.started[1]!);
  assert.deepEqual(r.granted().map((g) => [g.reqId, g.worker]), [[1, r.started[1]]]);
});

test("a busy worker's death leaves the idle workers idle: the next lease reuses one", () => {
  const r = raylet(2);
  r.lease(1);
  r.lease(2);
  for (const w of r.started) r.register(w);
  const [g1, g2] = r.granted();
  assert.ok(g1 && g2);
  r.h.message("head/driver", { type: "ReturnLease", leaseId: g1.leaseId, destroyWorker: false });
  r.h.model.step({ kind: "worker-exited", worker: g2.worker });
  r.lease(3);
  assert.equal(r.started.length, 2, "a new worker was started while one sat idle");
  assert.deepEqual(r.granted().at(-1)!.worker, g1.worker);
});

test("a worker's exit heard twice changes nothing the second time", () => {
  const r = raylet(1);
  r.lease(1);
  r.h.model.step({ kind: "worker-exited", worker: r.started[0]! });
  const traced = r.traced.length;
  // The pool no longer knows the worker: the raylet must not look it up as if it did.
  r.h.model.step({ kind: "worker-exited", worker: r.started[0]! });
  assert.equal(r.started.length, 2);
  assert.equal(r.traced.length, traced, "the second exit was traced as another death");
});

test("a worker that registers after the owner of its lease request died waits idle, and the next lease takes it", () => {
  const r = raylet(1);
  r.lease(1, "head/w9");
  r.h.message("head/gcs", { type: "WorkerDied", worker: "head/w9" });
  r.register(r.started[0]!);
  r.lease(2);
  assert.equal(r.started.length, 1, "a new worker was started: the first was not kept");
  assert.deepEqual(r.granted().map((g) => [g.reqId, g.worker]), [[2, r.started[0]]]);
});

test("CancelLease takes out the request its owner named, and no other owner's of the same number", () => {
  const r = raylet(1);
  r.lease(1, "head/d1"); // takes the one CPU
  r.lease(2, "head/d2"); // queued
  r.lease(2, "head/d1"); // queued, then cancelled
  r.h.message("head/d1", { type: "CancelLease", reqId: 2 });
  r.register(r.started[0]!);
  const first = r.granted();
  assert.deepEqual(first.map((g) => [g.to, g.reqId]), [["head/d1", 1]]);
  r.h.message("head/d1", { type: "ReturnLease", leaseId: first[0]!.leaseId, destroyWorker: false });
  const second = r.granted();
  assert.deepEqual(second.map((g) => [g.to, g.reqId]), [["head/d1", 1], ["head/d2", 2]]);
  r.h.message("head/d2", { type: "ReturnLease", leaseId: second[1]!.leaseId, destroyWorker: false });
  assert.equal(r.granted().length, 2, "the cancelled request was granted");
});

test("a restarted raylet hears nothing from a worker of the node's earlier life, but serves the rest", () => {
  // The soak's case: a worker's lease request, sent just before its node restarted, reached the
  // raylet of the node's next life; it was granted to a dead requester and never returned.
  const r = raylet(1, 2);
  r.lease(1, "n1/w1-1");
  r.h.message("n1/w1-1", { type: "StorePut", reqId: 1, id: "x", payload: { size: 8, hash: "h", data: null }, owner: "n1/w1-1" });
  assert.deepEqual(r.started, [], "a worker was started for a request of the node's earlier life");
  assert.deepEqual(r.sent.filter((s) => s.to === "n1/w1-1"), [], "the raylet answered a process of the node's earlier life");
  r.lease(2, "n1/w2-9");
  r.lease(3, "head/driver");
  for (const w of r.started) r.register(w);
  assert.deepEqual(r.granted().map((g) => [g.to, g.reqId]), [["n1/w2-9", 2]]);
});

test("a raylet fenced by the GCS ends its bundle reservations, one reserved after its declared death too", () => {
  // The soak's case: a PrepareBundles delayed past the node's declared death reserved a bundle on
  // the zombie, which was then fenced; nothing said the reservation ended, so the node's next
  // life (an autoscaled machine with the same id) seemed to hold it when it was drained.
  const r = raylet(2);
  r.h.message("head/gcs", { type: "PrepareBundles", pgId: "pg1", attempt: 0, bundles: [{ index: 0, resources: { CPU: 1 } }] });
  assert.deepEqual(r.traced.filter((e) => e.kind === "bundle.reserved").length, 1);
  r.h.message("head/gcs", { type: "NodeDead", node: "n1", incarnation: 1 });
  assert.deepEqual(r.traced.filter((e) => e.kind === "bundle.released" || e.kind === "node.fenced").map((e) => e.kind), ["node.fenced", "bundle.released"]);
  assert.equal(r.h.model.bundles.size, 0);
});

test("a put whose owner died is refused (OwnerDiedError), and one from a dead worker dropped: nothing is stored that nobody would free", () => {
  // The soak's case: a killed driver's task ran late on another node, and its worker's put of the
  // result arrived after the raylet had dropped the dead driver's objects.
  const r = raylet(1);
  const put = (from: string, id: string, owner: string) => r.h.message(from, { type: "StorePut", reqId: 1, id, payload: { size: 8, hash: "h", data: null }, owner });
  r.h.message("head/gcs", { type: "WorkerDied", worker: "head/driver" });
  r.h.message("head/gcs", { type: "WorkerDied", worker: "n1/w1-2" });
  put("n1/w1-1", "of-dead-owner", "head/driver");
  put("n1/w1-2", "from-dead-worker", "head/other");
  put("n1/w1-1", "fine", "head/other");
  const replies = r.sent.flatMap((s) => (s.m.type === "StorePutReply" ? [[s.to, s.m.id, s.m.error?.type]] : []));
  assert.deepEqual(replies, [["n1/w1-1", "of-dead-owner", "OwnerDiedError"], ["n1/w1-1", "fine", undefined]]);
  assert.deepEqual(r.traced.flatMap((e) => (e.kind === "object.created" ? [e.obj] : [])), ["fine"]);
});

test("a worker the raylet kills itself (its lease returned with destroyWorker) hears no more news", () => {
  const r = raylet(1);
  r.lease(1);
  r.register(r.started[0]!);
  const [g] = r.granted();
  r.h.message("head/driver", { type: "ReturnLease", leaseId: g.leaseId, destroyWorker: true });
  r.sent.length = 0;
  r.h.message("head/gcs", { type: "WorkerDied", worker: "node-9/w1-1" });
  assert.deepEqual(r.sent.filter((s) => s.to === g.worker), [], "the killed worker was still sent failure news");
});
