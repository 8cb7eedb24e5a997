// The GCS's pending demands (what the autoscaler scales for): an actor that no live node can
// host is one; an actor placed, or being placed, is not. Killing an actor that never got a
// lease returns none.
import assert from "node:assert/strict";
import { test } from "node:test";
import { NO_BUGS } from "../../src/core/bugs.ts";
import type { GcsTable } from "../../src/core/gcs.ts";
import type { Msg } from "../../src/core/messages.ts";
import { defaultTuning } from "../../src/core/tuning.ts";
import { hostGcs, type ProcessPorts } from "../../src/runtime/kernel.ts";

test("an actor no node can host is a pending demand; one being placed is not", () => {
  const rows = new Map<GcsTable, Map<string, unknown>>([["nodes", new Map()], ["actors", new Map()], ["functions", new Map()], ["meta", new Map()]]);
  const ports: ProcessPorts<number> = { now: () => 0, random: () => 0.5, send: () => {}, schedule: () => 0, cancel: () => {}, trace: () => {} };
  const persist = (t: GcsTable, key: string, v: unknown) => { if (v === undefined) rows.get(t)!.delete(key); else rows.get(t)!.set(key, v); };
  const g = hostGcs("head", defaultTuning, NO_BUGS, { ...ports, persist });
  g.message("head/raylet", { type: "RegisterNode", node: "head", incarnation: 1, resources: { CPU: 4 } });
  const create = (actorId: string, resources: Record<string, number>) =>
    g.message("head/driver", { type: "CreateActor", spec: { actorId, fn: "C:1", className: "C", args: [], owner: "head/driver", job: "head/driver", resources, strategy: "DEFAULT", maxRestarts: 0, maxTaskRetries: 0 } });
  create("fits", { CPU: 1 });
  assert.deepEqual(g.model.pendingDemands(), [], "an actor being placed is not a demand");
  create("gpu", { GPU: 1 });
  assert.deepEqual(g.model.pendingDemands().map((d) => [d.resources, d.count]), [[{ GPU: 1 }, 1]]);
});

test("killing an actor that never got a lease returns no lease", () => {
  const sent: { to: string; m: Msg }[] = [];
  const rows = new Map<GcsTable, Map<string, unknown>>([["nodes", new Map()], ["actors", new Map()], ["functions", new Map()], ["meta", new Map()]]);
  const ports: ProcessPorts<number> = { now: () => 0, random: () => 0.5, send: (to, m) => { sent.push({ to, m }); }, schedule: () => 0, cancel: () => {}, trace: () => {} };
  const persist = (t: GcsTable, key: string, v: unknown) => { if (v === undefined) rows.get(t)!.delete(key); else rows.get(t)!.set(key, v); };
  const g = hostGcs("head", defaultTuning, NO_BUGS, { ...ports, persist });
  g.message("head/raylet", { type: "RegisterNode", node: "head", incarnation: 1, resources: { CPU: 4 } });
  g.message("head/driver", { type: "CreateActor", spec: { actorId: "gpu", fn: "C:1", className: "C", args: [], owner: "head/driver", job: "head/driver", resources: { GPU: 1 }, strategy: "DEFAULT", maxRestarts: 0, maxTaskRetries: 0 } });
  g.message("head/driver", { type: "KillActor", actorId: "gpu" });
  assert.equal(g.model.state.actors.get("gpu")?.state, "DEAD");
  assert.deepEqual(sent.filter((s) => s.m.type === "ReturnLease"), []);
});
