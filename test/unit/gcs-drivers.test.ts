// The GCS's driver table: a driver that goes is forgotten, and its death is published so that
// raylets return its leases and free what it owned.
import assert from "node:assert/strict";
import { test } from "node:test";
import { NO_BUGS } from "../../src/core/bugs.ts";
import type { Msg } from "../../src/core/messages.ts";
import { defaultTuning } from "../../src/core/tuning.ts";
import { hostGcs, type ProcessPorts } from "../../src/runtime/kernel.ts";

test("a driver that goes is forgotten by the GCS and its death reaches every raylet", () => {
  const sent: { to: string; m: Msg }[] = [];
  const persisted: unknown[] = [];
  const ports: ProcessPorts<number> = { now: () => 0, random: () => 0.5, send: (to, m) => { sent.push({ to, m }); }, schedule: () => 0, cancel: () => {}, trace: () => {} };
  const g = hostGcs("head", defaultTuning, NO_BUGS, { ...ports, persist: (_t, key, v) => { if (key === "drivers") persisted.push(v); } });
  g.message("node-1/raylet", { type: "RegisterNode", node: "node-1", incarnation: 1, resources: { CPU: 2 } });
  g.message("head/driver", { type: "SubscribeFailures" });
  g.message("node-1/driver-2", { type: "SubscribeFailures" });
  assert.deepEqual((g.model.state as { drivers: Set<string> }).drivers, new Set(["head/driver", "node-1/driver-2"]));
  sent.length = 0;
  g.model.step({ kind: "driver-gone", driver: "node-1/driver-2" });
  assert.deepEqual((g.model.state as { drivers: Set<string> }).drivers, new Set(["head/driver"]));
  assert.deepEqual(persisted.at(-1), ["head/driver"]);
  const news = sent.filter((s) => s.m.type === "WorkerDied" && s.m.worker === "node-1/driver-2").map((s) => s.to);
  assert.ok(news.includes("node-1/raylet"), `WorkerDied went to ${news.join(", ")}`);
  assert.ok(news.includes("head/driver"));
  assert.ok(!news.includes("node-1/driver-2"), "a gone driver hears nothing more");
});

test("a driver declared gone that comes back is told so, is not taken back, and an actor it registers is dead at once", () => {
  const sent: { to: string; m: Msg }[] = [];
  const traced: { kind: string; actor?: string; state?: string }[] = [];
  const ports: ProcessPorts<number> = { now: () => 0, random: () => 0.5, send: (to, m) => { sent.push({ to, m }); }, schedule: () => 0, cancel: () => {}, trace: (b) => { traced.push(b as (typeof traced)[number]); } };
  const g = hostGcs("head", defaultTuning, NO_BUGS, { ...ports, persist: () => {} });
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
  assert.deepEqual(traced.filter((t) => t.actor === "a" && t.kind === "actor.state").map((t) => t.state), ["DEAD"]);
  assert.ok(!(sent as { m: Msg }[]).some((s) => s.m.type === "RequestLease"), "no lease was asked for an orphan");
  g.message(d, { type: "CreateActor", spec: spec("b", true) });
  assert.ok(!traced.some((t) => t.actor === "b" && t.state === "DEAD"), "a detached actor outlives its owner");
});

test("a driver declared gone is still gone for the next GCS: its death is persisted and restored", () => {
  const sent: { to: string; m: Msg }[] = [];
  const tables = { nodes: new Map<string, unknown>(), actors: new Map<string, unknown>(), functions: new Map<string, unknown>(), meta: new Map<string, unknown>() };
  const ports: ProcessPorts<number> = { now: () => 0, random: () => 0.5, send: (to, m) => { sent.push({ to, m }); }, schedule: () => 0, cancel: () => {}, trace: () => {} };
  const gcsPorts = { ...ports, persist: (t: keyof typeof tables, key: string, v: unknown) => { tables[t].set(key, v); } };
  const first = hostGcs("head", defaultTuning, NO_BUGS, gcsPorts);
  first.message("node-1/raylet", { type: "RegisterNode", node: "node-1", incarnation: 1, resources: { CPU: 2 } });
  const gone = "node-1/driver-7";
  first.message(gone, { type: "SubscribeFailures" });
  first.message("head/driver", { type: "SubscribeFailures" });
  first.model.step({ kind: "driver-gone", driver: gone });
  assert.deepEqual(tables.meta.get("deadDrivers"), [gone]);
  // The GCS restarts from what storage holds.
  const next = hostGcs("head", defaultTuning, NO_BUGS, gcsPorts, tables);
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
  const reg = sent.find((s) => s.to === "node-2/raylet" && s.m.type === "NodeRegistered")?.m as Extract<Msg, { type: "NodeRegistered" }> | undefined;
  assert.deepEqual(reg?.deadWorkers, [gone]);
});

test("a driver listed both live and dead in storage (the GCS died between the two writes) is restored dead", () => {
  const tables = { nodes: new Map<string, unknown>(), actors: new Map<string, unknown>(), functions: new Map<string, unknown>(), meta: new Map<string, unknown>([["drivers", ["head/driver", "node-1/driver-7"]], ["deadDrivers", ["node-1/driver-7"]]]) };
  const ports: ProcessPorts<number> = { now: () => 0, random: () => 0.5, send: () => {}, schedule: () => 0, cancel: () => {}, trace: () => {} };
  const g = hostGcs("head", defaultTuning, NO_BUGS, { ...ports, persist: () => {} }, tables);
  assert.deepEqual(g.model.state.drivers, new Set(["head/driver"]));
});
