// What a long-lived process keeps per peer goes once the peer's death is known there (a worker's
// death published, or its node's life over), and a message the peer sent before it died, come
// late, does not bring it back. The GCS's actor subscribers and function waiters, driven by hand
// (the test plays the raylets, the workers and the driver).
import assert from "node:assert/strict";
import { test } from "node:test";
import { emptyTables, gcsHost } from "../helpers/gcs-host.ts";

const DRIVER = "head/driver";

/** A GCS with nodes head and node-1 (life 1 each) and a detached actor "a" owned by the driver; `rows`: what storage keeps. */
function gcs(rows = emptyTables(), recovered = false) {
  const { g, sent } = gcsHost({ rows, recover: recovered });
  if (!recovered) {
    g.message("head/raylet", { type: "RegisterNode", node: "head", incarnation: 1, resources: { CPU: 4 } });
    g.message("node-1/raylet", { type: "RegisterNode", node: "node-1", incarnation: 1, resources: { CPU: 4 } });
    g.message(DRIVER, { type: "CreateActor", spec: { actorId: "a", fn: "C:1", className: "C", args: [], owner: DRIVER, job: "head/driver", resources: { CPU: 1 }, strategy: "DEFAULT", maxRestarts: 0, maxTaskRetries: 0, detached: true } });
  }
  const subscribers = () => [...g.model.state.actors.get("a")!.subscribers].sort();
  const stored = () => (rows.get("actors")!.get("a") as { subscribers: string[] }).subscribers.slice().sort();
  /** Who got an ActorUpdate since the last call. */
  const updated = () => sent.splice(0).flatMap((s) => (s.m.type === "ActorUpdate" ? [s.to] : []));
  return { g, rows, subscribers, stored, updated, sent: () => sent.splice(0) };
}

test("the GCS drops an actor's subscriber once the worker's death is published, and a late subscribe does not bring it back", () => {
  const r = gcs();
  r.g.message("head/w1-1", { type: "SubscribeActor", actorId: "a" });
  r.g.message("node-1/w1-1", { type: "SubscribeActor", actorId: "a" });
  assert.deepEqual(r.subscribers(), [DRIVER, "head/w1-1", "node-1/w1-1"]);
  r.g.message("head/raylet", { type: "WorkerDied", worker: "head/w1-1" });
  assert.deepEqual(r.subscribers(), [DRIVER, "node-1/w1-1"]);
  assert.deepEqual(r.stored(), [DRIVER, "node-1/w1-1"], "the persisted row still lists the dead worker");
  r.g.message("head/w1-1", { type: "SubscribeActor", actorId: "a" }); // sent before it died
  r.g.message("head/w1-1", { type: "GetNamedActor", reqId: 1, name: "x", namespace: undefined });
  assert.deepEqual(r.subscribers(), [DRIVER, "node-1/w1-1"], "a late subscribe made the dead worker a subscriber again");
  r.updated();
  r.g.message(DRIVER, { type: "KillActor", actorId: "a" });
  assert.deepEqual(r.updated().sort(), [DRIVER, "node-1/w1-1"]);
});

test("the GCS drops the subscribers of a node life that died, not those of the node's next life, and a driver declared gone", () => {
  const r = gcs();
  r.g.message("node-1/w1-1", { type: "SubscribeActor", actorId: "a" });
  r.g.message("head/w1-1", { type: "SubscribeActor", actorId: "a" });
  r.g.message("node-1/raylet", { type: "DrainReply", node: "node-1", accepted: true, reason: "idle" }); // life 1 is over
  assert.deepEqual(r.subscribers(), [DRIVER, "head/w1-1"]);
  r.g.message("node-1/raylet", { type: "RegisterNode", node: "node-1", incarnation: 2, resources: { CPU: 4 } });
  r.g.message("node-1/w2-1", { type: "SubscribeActor", actorId: "a" });
  r.g.message("node-1/w1-2", { type: "SubscribeActor", actorId: "a" }); // a worker of the dead life, late
  assert.deepEqual(r.subscribers(), [DRIVER, "head/w1-1", "node-1/w2-1"]);
  r.g.model.step({ kind: "driver-gone", driver: DRIVER });
  assert.deepEqual(r.subscribers(), ["head/w1-1", "node-1/w2-1"], "the detached actor's gone owner still follows it");
  assert.deepEqual(r.stored(), ["head/w1-1", "node-1/w2-1"]);
  // A detached actor it registered just before it went: its gone owner does not follow it.
  r.g.message(DRIVER, { type: "CreateActor", spec: { actorId: "b", fn: "C:1", className: "C", args: [], owner: DRIVER, job: "head/driver", resources: { CPU: 1 }, strategy: "DEFAULT", maxRestarts: 0, maxTaskRetries: 0, detached: true } });
  assert.deepEqual([...r.g.model.state.actors.get("b")!.subscribers], []);
});

test("a restarted GCS does not follow on with a subscriber whose node died before the row was written again", () => {
  const r = gcs();
  r.g.message("node-1/w1-1", { type: "SubscribeActor", actorId: "a" });
  // The old GCS wrote node-1's death down, then died before writing the actor's row.
  r.rows.get("nodes")!.set("node-1", { ...(r.rows.get("nodes")!.get("node-1") as object), state: "DEAD" });
  assert.deepEqual(r.stored(), [DRIVER, "node-1/w1-1"]);
  const again = gcs(r.rows, true);
  assert.deepEqual(again.subscribers(), [DRIVER]);
});

test("the GCS forgets a dead worker's wait for a function not registered yet, and a late ask does not park it again", () => {
  const r = gcs();
  const ask = (worker: string, id: string) => r.g.message(worker, { type: "GetFunction", id });
  const waiters = () => Object.fromEntries([...r.g.model.state.functionWaiters].map(([id, ws]) => [id, [...ws].sort()]));
  ask("head/w1-1", "f");
  ask("node-1/w1-1", "f");
  ask("head/w1-2", "g");
  assert.deepEqual(waiters(), { f: ["head/w1-1", "node-1/w1-1"], g: ["head/w1-2"] });
  r.g.message("head/raylet", { type: "WorkerDied", worker: "head/w1-2" });
  assert.deepEqual(waiters(), { f: ["head/w1-1", "node-1/w1-1"] }, "a function nobody alive waits for is still waited for");
  r.g.message("node-1/raylet", { type: "DrainReply", node: "node-1", accepted: true, reason: "idle" });
  ask("head/w1-2", "g"); // sent before it died
  ask("node-1/w1-3", "f"); // from the node life that is over
  assert.deepEqual(waiters(), { f: ["head/w1-1"] });
  r.updated();
  r.g.message(DRIVER, { type: "RegisterFunction", fn: { id: "f", name: "f", kind: "function", source: "() => 1" } });
  assert.deepEqual(r.sent().flatMap((s) => (s.m.type === "Function" ? [s.to] : [])), ["head/w1-1"]);
});
