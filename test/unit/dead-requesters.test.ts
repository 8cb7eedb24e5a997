// A lease request can reach a raylet after its sender died: delayed on the network, or replayed
// to the next process of the node it was sent to. As Ray's raylet does with its caches of the
// GCS's failed workers and nodes, a raylet grants nothing to a requester it knows dead, and the
// GCS tells a raylet that registers which workers died before it joined.
import assert from "node:assert/strict";
import { test } from "node:test";
import { gcsHost } from "../helpers/gcs-host.ts";
import { rayletHost } from "../helpers/raylet-host.ts";
import type { LeaseRequest } from "../../src/core/messages.ts";
import { RecentDeaths } from "../../src/core/recent-deaths.ts";
import type { NodeView } from "../../src/core/types.ts";

function raylet() {
  const { h, sent, started } = rayletHost({ node: "auto-1", cpus: 2, incarnation: 2, registered: false });
  const req: LeaseRequest = { resources: { CPU: 1 }, strategy: "DEFAULT", deps: [], job: "head/driver", grantOrReject: true, taskId: "t" };
  const lease = (from: string, reqId = 1) => h.message(from, { type: "RequestLease", reqId, req });
  /** Starts the workers the raylet asked for; returns who got a lease. */
  const grantees = () => {
    for (const w of started.splice(0)) h.message(w, { type: "RegisterWorker", worker: w, driver: false });
    return sent.flatMap((s) => (s.m.type === "LeaseGranted" ? [s.to] : []));
  };
  return { h, lease, grantees };
}

test("a request that arrives before registration, from a worker the GCS says died, is dropped at registration", () => {
  const r = raylet();
  r.lease("head/w1-2"); // sent to this node's previous process, replayed to this one
  r.lease("head/w1-3", 2);
  r.h.message("head/gcs", { type: "NodeRegistered", head: "head", incarnation: 2, deadWorkers: ["head/w1-2"] });
  assert.deepEqual(r.grantees(), ["head/w1-3"]);
  assert.deepEqual(r.h.model.state.queue, []);
});

test("a request from a worker whose death was published, or from a driver declared gone, is refused", () => {
  const r = raylet();
  r.h.message("head/gcs", { type: "NodeRegistered", head: "head", incarnation: 2 });
  r.h.message("head/gcs", { type: "WorkerDied", worker: "head/w1-2" });
  r.h.message("head/gcs", { type: "WorkerDied", worker: "head/driver-9-x" });
  r.lease("head/w1-2");
  r.lease("head/driver-9-x", 2);
  assert.deepEqual(r.grantees(), []);
  assert.equal(r.h.model.state.queue.length, 0, "nothing queued for the dead");
});

test("a request from a worker of a node life that is over, dead or followed by a later one, is refused", () => {
  const r = raylet();
  r.h.message("head/gcs", { type: "NodeRegistered", head: "head", incarnation: 2 });
  const view: NodeView[] = [
    { node: "auto-1", incarnation: 2, total: { CPU: 2 }, available: { CPU: 2 }, alive: true },
    { node: "node-1", incarnation: 3, total: { CPU: 2 }, available: { CPU: 2 }, alive: true },
    { node: "node-2", incarnation: 1, total: { CPU: 2 }, available: { CPU: 2 }, alive: false },
  ];
  r.h.message("head/gcs", { type: "ClusterView", nodes: view });
  r.lease("node-1/w2-1", 1); // life 2 of node-1 ended: life 3 runs now
  r.lease("node-2/w1-1", 2); // node-2's life 1 is dead
  r.lease("node-1/w3-1", 3); // the live one
  assert.deepEqual(r.grantees(), ["node-1/w3-1"]);
});

test("a request from a worker of a node life that died before this raylet joined goes once the first view shows the death", () => {
  const r = raylet();
  r.lease("node-2/w1-1"); // sent before its node was declared dead, held on the way
  r.lease("node-1/w3-1", 2);
  r.h.message("head/gcs", { type: "NodeRegistered", head: "head", incarnation: 2 });
  r.h.message("head/gcs", { type: "ClusterView", nodes: [
    { node: "auto-1", incarnation: 2, total: { CPU: 2 }, available: { CPU: 2 }, alive: true },
    { node: "node-1", incarnation: 3, total: { CPU: 2 }, available: { CPU: 2 }, alive: true },
    { node: "node-2", incarnation: 1, total: { CPU: 2 }, available: { CPU: 2 }, alive: false },
  ] });
  assert.deepEqual(r.grantees(), ["node-1/w3-1"], "granted to a holder no NodeDead will ever be published for again");
  assert.deepEqual([...r.h.model.state.leases.values()].map((l) => l.holder), ["node-1/w3-1"]);
});

test("the GCS tells a registering raylet the deaths it published before, drivers' too", () => {
  const { g, sent } = gcsHost();
  g.message("head/raylet", { type: "RegisterNode", node: "head", incarnation: 1, resources: { CPU: 1 } });
  const first = sent.find((s) => s.m.type === "NodeRegistered")!.m;
  assert.deepEqual(first, { type: "NodeRegistered", head: "head", incarnation: 1 }, "nothing died yet");
  g.message("head/raylet", { type: "WorkerDied", worker: "head/w1-2" });
  g.message("head/driver-1", { type: "SubscribeFailures" });
  g.model.step({ kind: "driver-gone", driver: "head/driver-1" });
  sent.length = 0;
  g.message("auto-1/raylet", { type: "RegisterNode", node: "auto-1", incarnation: 2, resources: { CPU: 2 } });
  const reg = sent.find((s) => s.to === "auto-1/raylet" && s.m.type === "NodeRegistered")!.m;
  assert.deepEqual(reg, { type: "NodeRegistered", head: "head", incarnation: 2, deadWorkers: ["head/w1-2", "head/driver-1"] });
});

test("the record of deaths keeps the latest ones, each once", () => {
  const d = new RecentDeaths(3);
  for (const w of ["a/w1-1", "a/w1-2", "a/w1-1", "a/w1-3", "a/w1-4"]) d.add(w);
  assert.deepEqual(d.list(), ["a/w1-2", "a/w1-3", "a/w1-4"]);
  assert.ok(!d.has("a/w1-1") && d.has("a/w1-4"));
});
