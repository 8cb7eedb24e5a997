// Placement groups (issue 13) on the simulator: bundles reserved atomically across nodes by the
// GCS's two-phase prepare/commit; STRICT_SPREAD on distinct nodes, STRICT_PACK on one; tasks and
// actors run in a bundle; a bundle on a dead node is placed again; removal frees the resources.

import assert from "node:assert/strict";
import { test } from "node:test";
import { simulate, type SimNode, type SimResult } from "../../sim/index.ts";
import type { FaultPlan } from "../../sim/faults.ts";
import type { Ray } from "../../src/api/ray.ts";
import { captureFamily } from "../helpers/capture-family.ts";

const four: SimNode[] = [
  { id: "head", resources: { CPU: 1 } },
  { id: "n1", resources: { CPU: 2 } },
  { id: "n2", resources: { CPU: 2 } },
  { id: "n3", resources: { CPU: 2 } },
];

async function run<T>(program: (ray: Ray) => Promise<T>, faults?: FaultPlan, seed = 1): Promise<SimResult<T>> {
  const r = await simulate<T>({ seed, nodes: four, program, faults });
  assert.deepEqual(r.violations, [], "invariant violations");
  return r;
}

const created = (r: SimResult<unknown>) => r.trace.filter((e) => e.kind === "pg.state" && e.state === "CREATED") as { nodes?: readonly string[]; t: number }[];

test("STRICT_SPREAD puts each bundle on a distinct node, and tasks in bundle i run on bundle i's node", async () => {
  const r = await run(async (ray) => {
    const pg = ray.placementGroup({ bundles: [{ CPU: 1 }, { CPU: 1 }, { CPU: 1 }], strategy: "STRICT_SPREAD" });
    assert.equal(await ray.get(pg.ready()), true);
    const where = ray.remote(() => ray.context.nodeId);
    return ray.get([0, 1, 2].map((i) => where.options({ placementGroup: pg, bundleIndex: i }).remote()));
  });
  assert.equal(r.error, undefined);
  const nodes = created(r)[0].nodes!;
  assert.equal(new Set(nodes).size, 3, `distinct nodes: ${nodes}`);
  assert.deepEqual(r.result, nodes);
});

test("STRICT_PACK puts every bundle on one node; a group that fits nowhere waits as a demand", async () => {
  const r = await run(async (ray) => {
    const pg = ray.placementGroup({ bundles: [{ CPU: 1 }, { CPU: 1 }], strategy: "STRICT_PACK" });
    await ray.get(pg.ready());
    const where = ray.remote(() => ray.context.nodeId);
    const on = await ray.get([where.options({ placementGroup: pg, bundleIndex: 0 }).remote(), where.options({ placementGroup: pg, bundleIndex: 1 }).remote()]);
    const big = ray.placementGroup({ bundles: [{ CPU: 2 }, { CPU: 2 }], strategy: "STRICT_PACK" }); // no node has 4 CPUs
    const [ready] = await ray.wait([big.ready()], { timeoutMs: 2000 });
    return [on, ready.length];
  });
  assert.equal(r.error, undefined);
  const [on, ready] = r.result as [string[], number];
  assert.equal(new Set(on).size, 1);
  assert.equal(ready, 0, "the unplaceable group is not ready");
  assert.deepEqual(created(r)[0].nodes, on);
});

test("PACK and SPREAD place every bundle; a bundle's tasks never hold more than it reserved", async () => {
  const r = await run(async (ray) => {
    const pack = ray.placementGroup({ bundles: [{ CPU: 1 }, { CPU: 1 }], strategy: "PACK" });
    const spread = ray.placementGroup({ bundles: [{ CPU: 1 }, { CPU: 1 }], strategy: "SPREAD" });
    await ray.get([pack.ready(), spread.ready()]);
    const work = ray.remote(async (x: number) => { await ray.sleep(50); return x + 1; });
    return ray.get(Array.from({ length: 8 }, (_, i) => work.options({ placementGroup: i % 2 ? pack : spread, bundleIndex: -1 }).remote(i)));
  });
  assert.equal(r.error, undefined);
  assert.deepEqual(r.result, [1, 2, 3, 4, 5, 6, 7, 8]);
  const [a, b] = created(r);
  assert.equal(new Set(a.nodes).size, 1, "PACK fits on one node here");
  assert.equal(new Set(b.nodes).size, 2, "SPREAD uses distinct nodes while it can");
});

test("an actor in a bundle runs on that bundle's node", async () => {
  const r = await run(async (ray) => {
    const pg = ray.placementGroup({ bundles: [{ CPU: 1 }, { CPU: 1 }], strategy: "STRICT_SPREAD" });
    await ray.get(pg.ready());
    const A = ray.remote(class { where() { return ray.context.nodeId; } });
    const a = A.options({ placementGroup: pg, bundleIndex: 1 }).remote();
    return ray.get(a.where.remote());
  });
  assert.equal(r.error, undefined);
  assert.equal(r.result, created(r)[0].nodes![1]);
});

test("a bundle on a dead node is placed again, and its tasks run there", async () => {
  const r = await run(async (ray) => {
    const pg = ray.placementGroup({ bundles: [{ CPU: 1 }, { CPU: 1 }], strategy: "STRICT_SPREAD" });
    await ray.get(pg.ready());
    await ray.sleep(2000); // n1 (holding a bundle) dies meanwhile
    const where = ray.remote(() => ray.context.nodeId);
    return ray.get([0, 1].map((i) => where.options({ placementGroup: pg, bundleIndex: i }).remote()));
  }, { schedule: [{ at: 300, kind: "kill-node", node: "n1" }] });
  assert.equal(r.error, undefined);
  const states = r.trace.filter((e) => e.kind === "pg.state").map((e) => (e as { state: string }).state);
  // REMOVED last: the job ends with the program, and a group that is not detached goes with its creator (as in Ray).
  assert.deepEqual(states, ["CREATED", "RESCHEDULING", "CREATED", "REMOVED"]);
  const after = created(r)[1].nodes!;
  assert.ok(!after.includes("n1") && new Set(after).size === 2, `placed again on live distinct nodes: ${after}`);
  assert.deepEqual(r.result, after);
});

test("removePlacementGroup gives the bundles back: a task needing the whole node runs afterwards", async () => {
  const r = await run(async (ray) => {
    const pg = ray.placementGroup({ bundles: [{ CPU: 2 }, { CPU: 2 }, { CPU: 2 }], strategy: "STRICT_SPREAD" });
    await ray.get(pg.ready());
    ray.removePlacementGroup(pg);
    return ray.get(ray.remote(() => "whole").options({ numCpus: 2 }).remote());
  });
  assert.equal(r.error, undefined);
  assert.equal(r.result, "whole");
  assert.equal(r.trace.filter((e) => e.kind === "bundle.released").length, 3);
});

test("bad placement group options are refused, naming what is wrong", async () => {
  const r = await run(async (ray) => {
    const errs: string[] = [];
    for (const bad of [{ bundles: [] }, { bundles: [{ CPU: 1 }], strategy: "NEAR" }, { bundles: [{ CPU: -1 }] }, { bundles: [{ CPU: 1 }], colour: "red" }]) {
      try { ray.placementGroup(bad as never); } catch (e) { errs.push((e as Error).message); }
    }
    const pg = ray.placementGroup({ bundles: [{ CPU: 1 }] });
    try { ray.remote(() => 1).options({ placementGroup: pg, bundleIndex: 3 }).remote(); } catch (e) { errs.push((e as Error).message); }
    try { ray.remote(() => 1).options({ placementGroup: pg, captureChildTasks: "yes" as never }).remote(); } catch (e) { errs.push((e as Error).message); }
    try { ray.remote(() => 1).options({ captureChildTasks: true }).remote(); } catch (e) { errs.push((e as Error).message); }
    try { ray.remote(() => 1).options({ placementGroup: null, bundleIndex: 0 }).remote(); } catch (e) { errs.push((e as Error).message); }
    return errs;
  });
  const errs = r.result as string[];
  assert.equal(errs.length, 8, errs.join("\n"));
  assert.match(errs[0], /bundles must be a non-empty array/);
  assert.match(errs[1], /strategy must be one of PACK, SPREAD, STRICT_PACK, STRICT_SPREAD/);
  assert.match(errs[3], /unknown option "colour"/);
  assert.match(errs[4], /bundleIndex must be -1 \(any\) or 0..0, got 3/);
  assert.match(errs[5], /captureChildTasks must be true or false, got "yes"/);
  assert.match(errs[6], /captureChildTasks needs placementGroup/);
  assert.match(errs[7], /bundleIndex needs placementGroup/);
});

test("captureChildTasks: children, grandchildren and actors naming no strategy run in the parent's group; DEFAULT and placementGroup null opt out", async () => {
  const r = await run((ray) => captureFamily(ray, true, 2));
  assert.equal(r.error, undefined);
  const o = r.result!;
  const group = created(r)[0].nodes![0];
  assert.equal(o.parent, group);
  assert.deepEqual([o.child, o.grandchild, o.actor], [group, group, group], "captured into the group's node");
  assert.notEqual(o.named, group, "DEFAULT runs outside the group (its node's CPUs are all reserved)");
  assert.notEqual(o.none, group, "placementGroup: null runs outside the group");
  // The actor's lease was charged to the group's bundle (an actor needs no CPU, so its node alone would prove nothing).
  assert.equal(actorBundle(r)?.startsWith(`${groupId(r)}#`), true, `the actor's lease is in the group's bundle: ${actorBundle(r)}`);
});

const groupId = (r: SimResult<unknown>) => r.trace.find((e) => e.kind === "pg.state")?.pg;
/** The bundle of the latest lease of the worker that constructed the (one) actor. */
function actorBundle(r: SimResult<unknown>): string | undefined {
  const started = r.trace.find((e) => e.kind === "task.started" && e.actor !== undefined && e.task.includes(":create:"));
  assert.ok(started && started.kind === "task.started");
  const lease = r.trace.filter((e) => e.kind === "lease.granted" && e.worker === started.worker).pop();
  assert.ok(lease && lease.kind === "lease.granted");
  return lease.bundle;
}

test("without captureChildTasks the children of a task in a group run outside it", async () => {
  const r = await run((ray) => captureFamily(ray, false, 2));
  assert.equal(r.error, undefined);
  const o = r.result!;
  const group = created(r)[0].nodes![0];
  assert.equal(o.parent, group);
  assert.ok(o.child !== group && o.grandchild !== group, `children outside the group's node: ${JSON.stringify(o)}`);
  assert.equal(actorBundle(r), undefined, "the actor's lease is in no bundle");
});
