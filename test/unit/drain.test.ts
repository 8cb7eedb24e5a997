// The autoscaler's side of the raylet and the GCS: raylets report their idle time and queued
// requests in heartbeats; a drain is accepted only by a raylet that holds nothing, which then
// takes no new work, and the GCS declares an accepted node dead (Ray's DrainNode).

import assert from "node:assert/strict";
import { test } from "node:test";
import { gcsHost } from "../helpers/gcs-host.ts";
import { NO_BUGS } from "../../src/core/bugs.ts";
import type { Msg } from "../../src/core/messages.ts";
import { defaultTuning } from "../../src/core/tuning.ts";
import { hostRaylet, type ProcessPorts } from "../../src/runtime/kernel.ts";
import type { TraceBody } from "../../spec/trace.ts";

function ports(sent: { to: string; m: Msg }[], trace: TraceBody[] = [], now = { t: 0 }): ProcessPorts<number> {
  return { now: () => now.t, random: () => 0.5, send: (to, m) => { sent.push({ to, m }); }, schedule: () => 0, cancel: () => {}, trace: (b) => { trace.push(b); } };
}

function raylet(now = { t: 0 }) {
  const sent: { to: string; m: Msg }[] = [];
  const h = hostRaylet({ node: "n1", head: "head", resources: { CPU: 1 }, incarnation: 1, storeCapacity: 1 << 20 }, defaultTuning, NO_BUGS, {
    ...ports(sent, [], now), startWorker: () => {}, killWorker: () => {}, admit: (p) => p, release: () => {}, spill: () => {}, restore: () => {}, deleteSpilled: () => {},
  });
  h.model.start();
  h.message("head/gcs", { type: "NodeRegistered", head: "head", incarnation: 1 });
  sent.length = 0;
  return { h, sent };
}

const lease = (reqId: number): Msg => ({ type: "RequestLease", reqId, req: { resources: { CPU: 1 }, strategy: "DEFAULT", deps: [], job: "head/driver", grantOrReject: false, taskId: `t${reqId}` } });

test("a raylet holding a lease refuses a drain, naming what it holds", () => {
  const { h, sent } = raylet();
  h.message("head/driver", lease(1));
  h.message("head/gcs", { type: "DrainNode", node: "n1", reason: "idle" });
  const reply = sent.find((s) => s.m.type === "DrainReply")!.m;
  assert.deepEqual(reply, { type: "DrainReply", node: "n1", accepted: false, reason: "1 lease(s)" });
});

test("an idle raylet accepts a drain, then refuses new leases and bundles", () => {
  const { h, sent } = raylet();
  h.message("head/gcs", { type: "DrainNode", node: "n1", reason: "idle for 60 s" });
  assert.deepEqual(sent.pop()!.m, { type: "DrainReply", node: "n1", accepted: true, reason: "idle for 60 s" });
  h.message("head/driver", lease(2));
  assert.deepEqual(sent.pop()!.m, { type: "LeaseRejected", reqId: 2, reason: "node n1 is draining", infeasible: false });
  h.message("head/gcs", { type: "PrepareBundles", pgId: "pg", attempt: 1, bundles: [{ index: 0, resources: { CPU: 1 } }] });
  assert.deepEqual(sent.pop()!.m, { type: "BundlesPrepared", pgId: "pg", attempt: 1, node: "n1", ok: false });
});

test("heartbeats carry the node's idle time (0 while busy) and its queued requests", () => {
  const now = { t: 100 };
  const { h, sent } = raylet(now);
  now.t = 5100;
  h.model.step({ kind: "timer", timer: { kind: "heartbeat" } });
  const idle = sent.pop()!.m;
  assert.equal(idle.type === "Heartbeat" && idle.idleMs, 5000);
  h.message("head/driver", lease(1));
  h.message("head/driver", lease(2)); // queued behind the first: no room
  h.model.step({ kind: "timer", timer: { kind: "heartbeat" } });
  const busy = sent.filter((s) => s.m.type === "Heartbeat").pop()!.m;
  assert.ok(busy.type === "Heartbeat");
  assert.equal(busy.idleMs, 0);
  assert.deepEqual(busy.backlog, [{ resources: { CPU: 1 }, count: 1, ageMs: 0 }]);
});

test("the GCS asks the raylet to drain, and declares the node dead once it accepted; the autoscaler's view follows", () => {
  const { g, sent, traced: trace } = gcsHost();
  g.model.start();
  g.message("n1/raylet", { type: "RegisterNode", node: "n1", incarnation: 1, resources: { CPU: 1 } });
  g.message("n1/raylet", { type: "Heartbeat", node: "n1", available: { CPU: 1 }, demands: [], backlog: [{ resources: { CPU: 1 }, count: 2, ageMs: 0 }], idleMs: 0 });
  assert.deepEqual(g.model.autoscalingState().backlog, [{ resources: { CPU: 1 }, count: 2, ageMs: 0 }]);
  g.message("n1/raylet", { type: "Heartbeat", node: "n1", available: { CPU: 1 }, demands: [], backlog: [], idleMs: 70_000 });
  assert.deepEqual(g.model.autoscalingState().nodes, [{ node: "n1", alive: true, total: { CPU: 1 }, available: { CPU: 1 }, idleMs: 70_000 }]);
  g.model.step({ kind: "drain-node", node: "n1", reason: "idle for 70 s" });
  assert.deepEqual(sent.pop(), { to: "n1/raylet", m: { type: "DrainNode", node: "n1", reason: "idle for 70 s" } });
  g.message("n1/raylet", { type: "DrainReply", node: "n1", accepted: false, reason: "1 lease(s)" });
  assert.equal(g.model.autoscalingState().nodes[0].alive, true, "a refused drain leaves the node be");
  g.message("n1/raylet", { type: "DrainReply", node: "n1", accepted: true, reason: "idle for 70 s" });
  assert.equal(g.model.autoscalingState().nodes[0].alive, false);
  assert.deepEqual(trace.filter((t) => t.kind === "node.dead"), [{ kind: "node.dead", comp: "gcs", id: "n1", reason: "drained: idle for 70 s" }]);
});

test("a raylet with an infeasible request waiting for the cluster to grow refuses a drain", () => {
  const { h, sent } = raylet();
  h.message("head/driver", { type: "RequestLease", reqId: 1, req: { resources: { CPU: 8 }, strategy: "DEFAULT", deps: [], job: "head/driver", grantOrReject: false, taskId: "t1" } });
  h.message("head/gcs", { type: "DrainNode", node: "n1", reason: "idle" });
  assert.deepEqual(sent.find((s) => s.m.type === "DrainReply")!.m, { type: "DrainReply", node: "n1", accepted: false, reason: "1 queued lease request(s)" });
});

test("a heartbeat that comes after the GCS declared its node dead adds nothing to the backlog the autoscaler reads", () => {
  const { g } = gcsHost();
  g.model.start();
  g.message("n1/raylet", { type: "RegisterNode", node: "n1", incarnation: 1, resources: { CPU: 1 } });
  g.model.step({ kind: "drain-node", node: "n1", reason: "idle" });
  g.message("n1/raylet", { type: "DrainReply", node: "n1", accepted: true, reason: "idle" });
  g.message("n1/raylet", { type: "Heartbeat", node: "n1", available: { CPU: 1 }, demands: [], backlog: [{ resources: { CPU: 1 }, count: 2, ageMs: 0 }], idleMs: 0 });
  assert.deepEqual(g.model.autoscalingState().backlog, []);
});
