// The GCS's pending demands (what the autoscaler scales for): an actor that no live node can
// host is one; an actor placed, or being placed, is not. Killing an actor that never got a
// lease returns none.
import assert from "node:assert/strict";
import { test } from "node:test";
import { gcsHost } from "../helpers/gcs-host.ts";
import { mergeDemands } from "../../src/core/gcs/demands.ts";

test("an actor no node can host is a pending demand; one being placed is not", () => {
  const { g } = gcsHost();
  g.message("head/raylet", { type: "RegisterNode", node: "head", incarnation: 1, resources: { CPU: 4 } });
  const create = (actorId: string, resources: Record<string, number>) =>
    g.message("head/driver", { type: "CreateActor", spec: { actorId, fn: "C:1", className: "C", args: [], owner: "head/driver", job: "head/driver", resources, strategy: "DEFAULT", maxRestarts: 0, maxTaskRetries: 0 } });
  create("fits", { CPU: 1 });
  assert.deepEqual(g.model.pendingDemands(), [], "an actor being placed is not a demand");
  create("gpu", { GPU: 1 });
  assert.deepEqual(g.model.pendingDemands().map((d) => [d.resources, d.count]), [[{ GPU: 1 }, 1]]);
});

test("killing an actor that never got a lease returns no lease", () => {
  const { g, sent } = gcsHost();
  g.message("head/raylet", { type: "RegisterNode", node: "head", incarnation: 1, resources: { CPU: 4 } });
  g.message("head/driver", { type: "CreateActor", spec: { actorId: "gpu", fn: "C:1", className: "C", args: [], owner: "head/driver", job: "head/driver", resources: { GPU: 1 }, strategy: "DEFAULT", maxRestarts: 0, maxTaskRetries: 0 } });
  g.message("head/driver", { type: "KillActor", actorId: "gpu" });
  assert.equal(g.model.state.actors.get("gpu")?.state, "DEAD");
  assert.deepEqual(sent.filter((s) => s.m.type === "ReturnLease"), []);
  assert.deepEqual(g.model.pendingDemands(), [], "a dead actor is no demand, though no node could ever host it");
});

test("a placement group no live node has room for is a pending demand, timed by the GCS's clock", () => {
  const { g } = gcsHost();
  g.message("head/raylet", { type: "RegisterNode", node: "head", incarnation: 1, resources: { CPU: 4 } });
  g.message("head/driver", { type: "CreatePlacementGroup", spec: { pgId: "pg", bundles: [{ GPU: 1 }], strategy: "PACK", creator: "head/driver" } });
  assert.deepEqual(g.model.pendingDemands(), [{ resources: { GPU: 1 }, count: 1, ageMs: 0 }]);
});

test("demands of one shape from several nodes add up, and keep the longest wait", () => {
  assert.deepEqual(mergeDemands([
    [{ resources: { CPU: 1 }, count: 2, ageMs: 500 }],
    [{ resources: { CPU: 1 }, count: 3, ageMs: 900 }, { resources: { GPU: 1 }, count: 1, ageMs: 100 }],
    [{ resources: { CPU: 1 }, count: 1, ageMs: 200 }],
  ]), [{ resources: { CPU: 1 }, count: 6, ageMs: 900 }, { resources: { GPU: 1 }, count: 1, ageMs: 100 }]);
});

test("demands that waited as long are ordered by shape, whatever order they were reported in", () => {
  assert.deepEqual(mergeDemands([[{ resources: { GPU: 1 }, count: 1, ageMs: 100 }], [{ resources: { CPU: 1 }, count: 1, ageMs: 100 }]]).map((d) => d.resources),
    [{ CPU: 1 }, { GPU: 1 }]);
});

test("an actor no live node can host is traced infeasible with the totals of the live nodes only", () => {
  const { g, traced } = gcsHost();
  g.message("head/raylet", { type: "RegisterNode", node: "head", incarnation: 1, resources: { CPU: 4 } });
  g.message("n1/raylet", { type: "RegisterNode", node: "n1", incarnation: 1, resources: { CPU: 8 } });
  g.model.step({ kind: "drain-node", node: "n1", reason: "idle" });
  g.message("n1/raylet", { type: "DrainReply", node: "n1", accepted: true, reason: "idle" });
  g.message("head/driver", { type: "CreateActor", spec: { actorId: "big", fn: "C:1", className: "C", args: [], owner: "head/driver", job: "head/driver", resources: { CPU: 8 }, strategy: "DEFAULT", maxRestarts: 0, maxTaskRetries: 0 } });
  const infeasible = traced.filter((t) => t.kind === "task.infeasible");
  assert.deepEqual(infeasible.map((t) => t.kind === "task.infeasible" && t.cluster), [[{ CPU: 4 }]]);
});

test("an infeasible actor killed before any node could host it is not placed when one joins, nor when the cluster's groups change", () => {
  const { g, sent } = gcsHost();
  g.message("head/raylet", { type: "RegisterNode", node: "head", incarnation: 1, resources: { CPU: 4 } });
  g.message("head/driver", { type: "CreateActor", spec: { actorId: "gpu", fn: "C:1", className: "C", args: [], owner: "head/driver", job: "head/driver", resources: { GPU: 1 }, strategy: "DEFAULT", maxRestarts: 0, maxTaskRetries: 0 } });
  g.message("head/driver", { type: "KillActor", actorId: "gpu" });
  g.message("n1/raylet", { type: "RegisterNode", node: "n1", incarnation: 1, resources: { GPU: 1 } });
  g.message("head/driver", { type: "CreatePlacementGroup", spec: { pgId: "pg", bundles: [{ CPU: 1 }], strategy: "PACK", creator: "head/driver" } });
  g.message("head/driver", { type: "RemovePlacementGroup", pgId: "pg" }); // the cluster's view changes
  assert.deepEqual(sent.filter((s) => s.m.type === "RequestLease"), []);
});
