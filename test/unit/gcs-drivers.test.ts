// The GCS's driver table: a driver that goes is forgotten, and its death is published so that
// raylets return its leases and free what it owned.
import assert from "node:assert/strict";
import { test } from "node:test";
import { gcsHost } from "../helpers/gcs-host.ts";
import type { Msg } from "../../src/core/messages.ts";

test("a driver that goes is forgotten by the GCS and its death reaches every raylet", () => {
  const { g, sent, rows } = gcsHost();
  g.message("node-1/raylet", { type: "RegisterNode", node: "node-1", incarnation: 1, resources: { CPU: 2 } });
  g.message("head/driver", { type: "SubscribeFailures" });
  g.message("node-1/driver-2", { type: "SubscribeFailures" });
  assert.deepEqual((g.model.state as { drivers: Set<string> }).drivers, new Set(["head/driver", "node-1/driver-2"]));
  sent.length = 0;
  g.model.step({ kind: "driver-gone", driver: "node-1/driver-2" });
  assert.deepEqual((g.model.state as { drivers: Set<string> }).drivers, new Set(["head/driver"]));
  assert.deepEqual(rows.get("meta")!.get("drivers"), ["head/driver"]);
  const news = sent.filter((s) => s.m.type === "WorkerDied" && s.m.worker === "node-1/driver-2").map((s) => s.to);
  assert.ok(news.includes("node-1/raylet"), `WorkerDied went to ${news.join(", ")}`);
  assert.ok(news.includes("head/driver"));
  assert.ok(!news.includes("node-1/driver-2"), "a gone driver hears nothing more");
});

test("a driver declared gone that comes back is told so, is not taken back, and an actor it registers is dead at once", () => {
  const { g, sent, traced } = gcsHost();
  g.message("node-1/raylet", { type: "RegisterNode", node: "node-1", incarnation: 1, resources: { CPU: 2 } });
  const d = "node-1/driver-7";
  g.message(d, { type: "SubscribeFailures" });
  // A live driver's (re)connection changes nothing.
  sent.length = 0;
  g.model.step({ kind: "driver-connected", driver: d });
  assert.deepEqual(sent, []);
  g.model.step({ kind: "driver-gone", driver: d });
  sent.length = 0;
  g.model.step({ kind: "driver-connected", driver: d });
  assert.deepEqual(sent, [{ to: d, m: { type: "WorkerDied", worker: d } }], "the driver hears its own death");
  g.message(d, { type: "SubscribeFailures" });
  assert.deepEqual((g.model.state as { drivers: Set<string> }).drivers, new Set(), "not taken back");
  // Its registration was on its way: the actor is dead at once, asked of no raylet; a detached one lives.
  const spec = (actorId: string, detached: boolean) => ({ actorId, fn: "C:1", className: "C", args: [], owner: d, job: "head/driver", resources: { CPU: 1 }, strategy: "DEFAULT" as const, maxRestarts: 0, maxTaskRetries: 0, detached });
  sent.length = 0;
  g.message(d, { type: "CreateActor", spec: spec("a", false) });
  const states = (actor: string) => traced.flatMap((t) => (t.kind === "actor.state" && t.actor === actor ? [t.state] : []));
  assert.deepEqual(states("a"), ["DEAD"]);
  assert.ok(!(sent as { m: Msg }[]).some((s) => s.m.type === "RequestLease"), "no lease was asked for an orphan"); // deepEqual above narrowed it
  g.message(d, { type: "CreateActor", spec: spec("b", true) });
  assert.ok(!states("b").includes("DEAD"), "a detached actor outlives its owner");
});

test("a driver declared gone is still gone for the next GCS: its death is persisted and restored", () => {
  const { g: first, rows } = gcsHost();
  first.message("node-1/raylet", { type: "RegisterNode", node: "node-1", incarnation: 1, resources: { CPU: 2 } });
  const gone = "node-1/driver-7";
  first.message(gone, { type: "SubscribeFailures" });
  first.message("head/driver", { type: "SubscribeFailures" });
  first.model.step({ kind: "driver-gone", driver: gone });
  assert.deepEqual(rows.get("meta")!.get("deadDrivers"), [gone]);
  // The GCS restarts from what storage holds.
  const { g: next, sent } = gcsHost({ rows, recover: true });
  assert.deepEqual(next.model.state.drivers, new Set(["head/driver"]));
  assert.deepEqual(next.model.state.deadDrivers, [gone]);
  sent.length = 0;
  next.model.step({ kind: "driver-connected", driver: gone });
  next.model.step({ kind: "driver-connected", driver: "head/driver" });
  assert.deepEqual(sent, [{ to: gone, m: { type: "WorkerDied", worker: gone } }], "only the dead driver hears of its death");
  next.message(gone, { type: "SubscribeFailures" });
  assert.deepEqual(next.model.state.drivers, new Set(["head/driver"]), "not taken back");
  // A raylet that registers with the new GCS learns the death too, and grants it nothing.
  sent.length = 0;
  next.message("node-2/raylet", { type: "RegisterNode", node: "node-2", incarnation: 1, resources: { CPU: 2 } });
  const reg = (sent as { to: string; m: Msg }[]).find((s) => s.to === "node-2/raylet" && s.m.type === "NodeRegistered")?.m as Extract<Msg, { type: "NodeRegistered" }> | undefined;
  assert.deepEqual(reg?.deadWorkers, [gone]);
});
