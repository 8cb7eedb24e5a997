// The raylet's lease queue on messages a unit can set up by hand: a duplicated registration, an
// earlier life's registration answer, a request that waits for its arguments (and stays here
// while it does, whatever the view says), a request into a bundle that is only prepared, a cancelled infeasible request, a returned lease's
// arguments unpinned, a blocked worker's resources lent and waited for, a dead holder's leases,
// duplicate prepares and stale releases of bundles, and a fenced raylet.
import assert from "node:assert/strict";
import { test } from "node:test";
import { rayletHost } from "../helpers/raylet-host.ts";
import { REGISTER_RETRY_MS } from "../../src/core/raylet.ts";
import type { LeaseRequest } from "../../src/core/messages.ts";
import type { NodeView } from "../../src/core/types.ts";

function raylet(cpus = 2, storeCapacity = 1 << 20) {
  const { h, sent, started, spilled, of, timers } = rayletHost({ cpus, storeCapacity });
  const req = (over: Partial<LeaseRequest> = {}): LeaseRequest => ({ resources: { CPU: 1 }, strategy: "DEFAULT", deps: [], job: "head/driver", grantOrReject: false, taskId: "t", ...over });
  const lease = (reqId: number, over: Partial<LeaseRequest> = {}, owner = "head/driver") => h.message(owner, { type: "RequestLease", reqId, req: req(over) });
  const register = () => { for (const w of started.splice(0)) h.message(w, { type: "RegisterWorker", worker: w, driver: false }); };
  return { h, sent, lease, register, of, spilled, timers };
}
const view = (...nodes: [string, number][]): NodeView[] => nodes.map(([node, cpu]) => ({ node, incarnation: 1, total: { CPU: cpu }, available: { CPU: cpu }, alive: true }));

test("a duplicated NodeRegistered does not start the heartbeat clock again", () => {
  const r = raylet();
  const before = r.timers();
  r.h.message("head/gcs", { type: "NodeRegistered", head: "head", incarnation: 1 });
  assert.equal(r.timers(), before, "the registration was handled twice");
});

test("the answer to an earlier life's registration is not this raylet's: it registers on until its own comes", () => {
  const { h, of, advance } = rayletHost({ incarnation: 2, registered: false });
  h.message("head/gcs", { type: "NodeRegistered", head: "head", incarnation: 1 });
  advance(REGISTER_RETRY_MS);
  assert.deepEqual(of("RegisterNode").map((m) => m.incarnation), [2, 2], "the stale answer stopped the registration");
  assert.deepEqual(of("Heartbeat"), []);
  h.message("head/gcs", { type: "NodeRegistered", head: "head", incarnation: 2 });
  advance(REGISTER_RETRY_MS);
  assert.equal(of("RegisterNode").length, 2, "registered, it stops asking");
});

test("a lease waits for its arguments: they are looked up first, and granted once here", () => {
  const r = raylet();
  r.lease(1, { deps: [{ id: "o1", owner: "head/driver" }] });
  r.register();
  assert.deepEqual(r.of("GetLocations").map((m) => m.id), ["o1"], "the argument was not fetched");
  assert.deepEqual(r.of("LeaseGranted"), [], "granted before its argument was here");
});

test("a request into a bundle only prepared (not committed) is turned away; once committed it is granted", () => {
  const r = raylet();
  r.h.message("head/gcs", { type: "PrepareBundles", pgId: "pg", attempt: 1, bundles: [{ index: 0, resources: { CPU: 1 } }] });
  const into = { strategy: { placementGroup: "pg", bundleIndex: 0, captureChildTasks: false }, job: "head/driver", grantOrReject: true } as const;
  r.lease(1, into);
  assert.equal(r.of("LeaseRejected").length, 1, "a prepared bundle took a lease before its group was committed");
  r.h.message("head/gcs", { type: "CommitBundles", pgId: "pg", attempt: 1 });
  r.lease(2, into);
  r.register();
  assert.deepEqual(r.of("LeaseGranted").map((m) => m.reqId), [2]);
});

test("a recovered GCS's registration answer gives back the bundles an earlier GCS reserved and this one does not know", () => {
  const r = raylet(3);
  const prepare = (pgId: string, attempt: number) => r.h.message("head/gcs", { type: "PrepareBundles", pgId, attempt, bundles: [{ index: 0, resources: { CPU: 1 } }] });
  prepare("lost", 7); // reserved for GCS 1, whose wait for this answer died with it
  prepare("known", 8);
  r.h.message("head/gcs", { type: "CommitBundles", pgId: "known", attempt: 8 });
  prepare("new", 2_000_000_001); // reserved already for the recovered GCS 2
  r.lease(1);
  r.register();
  assert.deepEqual(r.of("LeaseGranted"), [], "the three bundles hold every CPU");
  r.h.message("head/gcs", { type: "NodeRegistered", head: "head", incarnation: 1, bundles: { keep: ["known#0"], before: 2_000_000_000 } });
  assert.deepEqual([...r.h.model.bundles.keys()].sort(), ["known#0", "new#0"]);
  r.register();
  assert.deepEqual(r.of("LeaseGranted").map((m) => m.reqId), [1], "the CPU the lost reservation held is free again");
});

test("a queued request that fits here stays when the view shows other nodes, even one it would prefer", () => {
  const r = raylet();
  // Sent here on spillback (grantOrReject), it fits but waits for its argument.
  r.lease(1, { strategy: { nodeId: "n2", soft: true }, job: "head/driver", grantOrReject: true, deps: [{ id: "o1", owner: "head/driver" }] });
  r.h.message("head/gcs", { type: "ClusterView", nodes: view(["n1", 2], ["n2", 8]) });
  assert.deepEqual(r.of("LeaseSpillback"), [], "a request that fits here was moved");
});

test("a cancelled infeasible request stops holding the node: it drains", () => {
  const r = raylet(1);
  r.lease(1, { resources: { CPU: 8 } });
  r.h.message("head/driver", { type: "CancelLease", reqId: 1 });
  r.h.message("head/gcs", { type: "DrainNode", node: "n1", reason: "idle" });
  assert.deepEqual(r.of("DrainReply").map((m) => m.accepted), [true]);
});

test("a returned lease unpins its arguments: their copies may be spilled again to make room", () => {
  const r = raylet(2, 100);
  const put = (reqId: number, id: string) => r.h.message("n1/w0", { type: "StorePut", reqId, id, payload: { size: 60, hash: id, data: null }, owner: "head/driver" });
  put(1, "head/driver#o1");
  r.lease(1, { deps: [{ id: "head/driver#o1", owner: "head/driver" }] }); // o1 is here: pinned for the lease
  r.register();
  const [granted] = r.of("LeaseGranted");
  assert.ok(granted, "the lease was granted");
  r.h.message("head/driver", { type: "ReturnLease", leaseId: granted.leaseId, destroyWorker: false });
  put(2, "head/driver#o2"); // needs o1's room
  assert.deepEqual(r.spilled, ["head/driver#o1"], "the argument stayed pinned after its lease ended");
});

test("a blocked worker's resources serve another lease; it goes on only once they are free again", () => {
  const r = raylet(1);
  r.lease(1);
  r.register();
  const [first] = r.of("LeaseGranted");
  r.h.message(first!.worker, { type: "WorkerBlocked", worker: first!.worker });
  r.lease(2, {}, "head/d2");
  r.register();
  const second = r.of("LeaseGranted")[1];
  assert.ok(second, "the blocked worker's CPU was not lent to the next lease");
  r.h.message(first!.worker, { type: "WorkerUnblocked", worker: first!.worker });
  const unblocked = () => r.sent.filter((s) => s.m.type === "Unblocked" && s.to === first!.worker).length;
  assert.equal(unblocked(), 0, "went on while its CPU was in use");
  r.h.message("head/d2", { type: "ReturnLease", leaseId: second.leaseId, destroyWorker: false });
  assert.equal(unblocked(), 1);
  r.h.message("n1/w9", { type: "WorkerBlocked", worker: "n1/w9" }); // a worker this raylet never leased: ignored
});

test("a worker that blocks again before its CPU came back stops waiting for it, and is answered when it next asks", () => {
  const r = raylet(1);
  r.lease(1);
  r.register();
  const [first] = r.of("LeaseGranted");
  const w = first!.worker;
  r.h.message(w, { type: "WorkerBlocked", worker: w });
  r.lease(2, {}, "head/d2");
  r.register();
  const second = r.of("LeaseGranted")[1];
  assert.ok(second, "the blocked worker's CPU was not lent");
  const unblocked = () => r.sent.filter((s) => s.m.type === "Unblocked" && s.to === w).length;
  r.h.message(w, { type: "WorkerUnblocked", worker: w }); // its task's get ended; the CPU is in use
  r.h.message(w, { type: "WorkerBlocked", worker: w }); // its next task blocks before the CPU is back
  r.h.message("head/d2", { type: "ReturnLease", leaseId: second.leaseId, destroyWorker: false });
  assert.equal(unblocked(), 0, "the CPU went to a worker blocked again, which ignores it");
  r.h.message(w, { type: "WorkerUnblocked", worker: w });
  assert.equal(unblocked(), 1, "the worker's next ask went unanswered");
});

test("a worker's death returns the leases it held, and no other owner's", () => {
  const r = raylet(2);
  r.lease(1, {}, "head/d1");
  r.lease(2, {}, "head/d2");
  r.register();
  r.h.message("head/gcs", { type: "WorkerDied", worker: "head/d1" });
  r.h.message("head/gcs", { type: "DrainNode", node: "n1", reason: "idle" });
  assert.deepEqual(r.of("DrainReply").map((m) => m.reason), ["1 lease(s)"]);
});

test("bundles: a prepare naming a bundle already reserved is refused; a release of another attempt keeps this one's", () => {
  const r = raylet(2);
  const prepare = (attempt: number) => r.h.message("head/gcs", { type: "PrepareBundles", pgId: "pg", attempt, bundles: [{ index: 0, resources: { CPU: 1 } }] });
  prepare(1);
  r.h.message("head/gcs", { type: "CommitBundles", pgId: "pg", attempt: 1 });
  prepare(2);
  assert.deepEqual(r.of("BundlesPrepared").map((m) => [m.attempt, m.ok]), [[1, true], [2, false]]);
  r.h.message("head/gcs", { type: "ReleaseBundles", pgId: "pg", attempt: 2 });
  r.lease(1, { strategy: { placementGroup: "pg", bundleIndex: 0, captureChildTasks: false }, job: "head/driver", grantOrReject: true });
  r.register();
  assert.deepEqual(r.of("LeaseGranted").map((m) => m.reqId), [1], "attempt 1's bundle went with a release of attempt 2");
});

test("a fenced raylet (the GCS buried this life) takes no more requests", () => {
  const r = raylet(2);
  r.h.message("head/gcs", { type: "ClusterView", nodes: [{ node: "n1", incarnation: 1, total: { CPU: 2 }, available: { CPU: 2 }, alive: false }] });
  const before = r.sent.length;
  r.lease(1);
  r.register();
  assert.deepEqual(r.sent.slice(before).filter((s) => s.m.type === "LeaseGranted" || s.m.type === "LeaseRejected"), []);
});

// A request queued here while its argument is being fetched, that cannot start yet: a new
// cluster view keeps it as it is (no second fetch, no lost wake-up), so it is granted once the
// argument comes and the resources are free.
for (const into of [undefined, "a bundle"] as const) {
  test(`a request waiting for room and for its argument keeps its place across a new view (${into ?? "no group"})`, () => {
    const r = raylet(1);
    const group = into ? { strategy: { placementGroup: "pg", bundleIndex: 0, captureChildTasks: false }, job: "head/driver", grantOrReject: true } as const : {};
    if (into) {
      r.h.message("head/gcs", { type: "PrepareBundles", pgId: "pg", attempt: 1, bundles: [{ index: 0, resources: { CPU: 1 } }] });
      r.h.message("head/gcs", { type: "CommitBundles", pgId: "pg", attempt: 1 });
    }
    r.lease(1, group);
    r.register();
    const [first] = r.of("LeaseGranted");
    assert.ok(first, "the first lease was granted");
    r.lease(2, { ...group, deps: [{ id: "head/driver#o1", owner: "head/driver" }] });
    r.h.message("head/gcs", { type: "ClusterView", nodes: view(["n1", 1]) });
    r.h.message("head/driver", { type: "Locations", id: "head/driver#o1", status: { kind: "inline", payload: { size: 8, hash: "o1", data: 1 } } });
    r.h.message("head/driver", { type: "ReturnLease", leaseId: first.leaseId, destroyWorker: false });
    r.register();
    assert.deepEqual(r.of("LeaseGranted").map((m) => m.reqId), [1, 2], "the waiting request was never granted");
    assert.equal(r.of("GetLocations").length, 1, "the argument was looked up again");
  });
}

test("a request into any bundle of its group (index -1) takes one of its own group's, never another group's", () => {
  const r = raylet(2);
  for (const pgId of ["pgA", "pgB"]) {
    r.h.message("head/gcs", { type: "PrepareBundles", pgId, attempt: 1, bundles: [{ index: 0, resources: { CPU: 1 } }] });
    r.h.message("head/gcs", { type: "CommitBundles", pgId, attempt: 1 });
  }
  const into = (placementGroup: string, bundleIndex: number) => ({ strategy: { placementGroup, bundleIndex, captureChildTasks: false }, job: "head/driver", grantOrReject: true } as const);
  r.lease(1, into("pgB", -1));
  r.register();
  r.lease(2, into("pgA", 0));
  r.register();
  assert.deepEqual(r.of("LeaseGranted").map((m) => m.reqId), [1, 2], "group B's task took group A's bundle");
});

test("a get whose object's owner dies while it is pulled is answered with OwnerDiedError", () => {
  for (const death of ["worker", "node"] as const) {
    const r = raylet();
    r.h.message("n1/w0", { type: "StoreGet", reqId: 7, ids: [{ id: "n2/w1-1#o1", owner: "n2/w1-1" }] });
    assert.deepEqual(r.of("GetLocations").map((m) => m.id), ["n2/w1-1#o1"]);
    if (death === "worker") r.h.message("head/gcs", { type: "WorkerDied", worker: "n2/w1-1" });
    else r.h.message("head/gcs", { type: "NodeDead", node: "n2", incarnation: 1 });
    const [reply] = r.of("StoreGetReply");
    assert.deepEqual(reply?.values.map((v) => ("type" in v ? v.type : "a value")), ["OwnerDiedError"], `its owner's ${death} died`);
  }
});

test("a copy on a node this raylet has no view of yet is pulled from there", () => {
  const r = raylet();
  r.h.message("n1/w0", { type: "StoreGet", reqId: 7, ids: [{ id: "head/driver#o1", owner: "head/driver" }] });
  r.h.message("head/driver", { type: "Locations", id: "head/driver#o1", status: { kind: "stored", nodes: ["n2"], size: 8 } });
  assert.deepEqual(r.sent.filter((s) => s.m.type === "Pull").map((s) => s.to), ["n2/raylet"]);
});

test("a released bundle takes its leases with it: their workers are killed, and each holder hears its worker died", () => {
  const { h, of, sent, killed, started } = rayletHost({ cpus: 2 });
  h.message("head/gcs", { type: "PrepareBundles", pgId: "pg", attempt: 1, bundles: [{ index: 0, resources: { CPU: 1 } }] });
  h.message("head/gcs", { type: "CommitBundles", pgId: "pg", attempt: 1 });
  h.message("head/driver", { type: "RequestLease", reqId: 1, req: { resources: { CPU: 1 }, strategy: { placementGroup: "pg", bundleIndex: 0, captureChildTasks: false }, deps: [], job: "head/driver", grantOrReject: true, taskId: "t" } });
  for (const w of started.splice(0)) h.message(w, { type: "RegisterWorker", worker: w, driver: false });
  const [granted] = of("LeaseGranted");
  assert.ok(granted, "the lease into the bundle was not granted");
  h.message("head/gcs", { type: "ReleaseBundles", pgId: "pg" });
  assert.deepEqual(killed, [granted.worker]);
  assert.deepEqual(sent.filter((s) => s.m.type === "WorkerDied" && s.to === "head/driver").map((s) => (s.m as { worker: string }).worker), [granted.worker]);
});

test("another node's death marks only that node's life dead in the view: a request that does not fit here spills to a live node of the same incarnation", () => {
  const r = raylet(1);
  r.h.message("head/gcs", { type: "ClusterView", nodes: view(["n1", 1], ["n2", 4], ["n3", 4]) });
  r.h.message("head/gcs", { type: "NodeDead", node: "n2", incarnation: 1 });
  r.lease(1);
  r.register();
  r.lease(2); // the one CPU here is taken
  assert.deepEqual(r.of("LeaseSpillback").map((m) => [m.reqId, m.node]), [[2, "n3"]]);
});
