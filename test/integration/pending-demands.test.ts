// Pending demands (issue 13): a task or actor no live node can meet waits, with a warning in the
// trace and a row in the GCS's demand table, and runs when a node that fits joins or returns.

import assert from "node:assert/strict";
import { test } from "node:test";
import { simulate, type SimNode, type SimResult } from "../../sim/index.ts";
import type { SimCluster } from "../../sim/cluster.ts";
import type { FaultPlan } from "../../sim/faults.ts";
import type { Ray } from "../../src/api/ray.ts";

const cluster: SimNode[] = [
  { id: "head", resources: { CPU: 1 } },
  { id: "special", resources: { CPU: 1, special: 1 } },
];
const BIG = 20_000; // stored in a node's store, so it dies with the node

async function run<T>(program: (ray: Ray, sim: SimCluster) => Promise<T>, faults: FaultPlan, seed = 1): Promise<SimResult<T>> {
  let sim!: SimCluster;
  const r = await simulate<T>({ seed, nodes: cluster, program: (ray) => program(ray, sim), faults, setup: (s) => { sim = s; } });
  assert.deepEqual(r.violations, [], "invariant violations");
  return r;
}

const kinds = (r: SimResult<unknown>, kind: string) => r.trace.filter((e) => e.kind === kind);

test("a task needing { special: 1 } submitted while no node has it runs once such a node joins", async () => {
  let seen: unknown;
  const r = await run(async (ray, sim) => {
    await ray.sleep(1500); // the special node is dead by now
    const f = ray.remote(() => "ran on special").options({ resources: { special: 1 } });
    const ref = f.remote();
    await ray.sleep(1000);
    seen = sim.gcs.pendingDemands();
    return ray.get(ref);
  }, { schedule: [{ at: 10, kind: "kill-node", node: "special" }, { at: 4000, kind: "restart-node", node: "special" }] });
  assert.equal(r.error, undefined);
  assert.equal(r.result, "ran on special");
  // A task's demand includes its default CPU, as in Ray.
  assert.deepEqual(seen, [{ resources: { special: 1, CPU: 1 }, count: 1, ageMs: (seen as { ageMs: number }[])[0]?.ageMs }]);
  assert.ok((seen as { ageMs: number }[])[0].ageMs >= 500, "the demand's age grows while it waits");
  const warn = kinds(r, "task.infeasible");
  assert.equal(warn.length, 1, "one warning per waiting task");
  assert.match(JSON.stringify(warn[0]), /"resources":\{"special":1,"CPU":1\}.*no node in the cluster has/);
  const back = r.trace.findIndex((e) => e.kind === "node.registered" && e.t >= 4000);
  const started = r.trace.findIndex((e) => e.kind === "task.started");
  assert.ok(back >= 0 && started > back, "the task started only after the node came back");
});

test("an actor needing { special: 1 } waits as a demand and is created when such a node returns", async () => {
  let seen: unknown;
  const r = await run(async (ray, sim) => {
    await ray.sleep(1500);
    const A = ray.remote(class { ping() { return "pong"; } }).options({ resources: { special: 1 } });
    const a = A.remote();
    const ref = a.ping.remote();
    await ray.sleep(1000);
    seen = sim.gcs.pendingDemands().map((d) => [d.resources, d.count]);
    return ray.get(ref);
  }, { schedule: [{ at: 10, kind: "kill-node", node: "special" }, { at: 4000, kind: "restart-node", node: "special" }] });
  assert.equal(r.error, undefined);
  assert.equal(r.result, "pong");
  assert.deepEqual(seen, [[{ special: 1 }, 1]]);
  assert.equal(kinds(r, "task.infeasible").length, 1);
});

test("lineage reconstruction waits while the only node with the resource is down (dies at 30 s, back at 45 s)", async () => {
  const r = await run(async (ray) => {
    const make = ray.remote((n: number) => new Float64Array(n).fill(3)).options({ resources: { special: 1 } });
    const ref = make.remote(BIG);
    await ray.wait([ref], { fetchLocal: false }); // its only copy stays on the special node
    await ray.sleep(35_000); // the node died at 30 s: the only copy is gone, and nobody can re-make it yet
    const v = await ray.get(ref);
    return [v.length, v[0]];
  }, { schedule: [{ at: 30_000, kind: "kill-node", node: "special" }, { at: 45_000, kind: "restart-node", node: "special" }] });
  assert.equal(r.error, undefined);
  assert.deepEqual(r.result, [BIG, 3]);
  assert.equal(kinds(r, "object.lost").length, 1);
  const reran = r.trace.filter((e) => e.kind === "task.started");
  assert.equal(reran.length, 2);
  assert.ok(reran[1].t >= 45_000, "re-made after the node returned");
});

test("the hang detector names a demand nothing will ever meet", async () => {
  const r = await simulate({
    seed: 3, nodes: cluster,
    program: async (ray) => ray.get(ray.remote(() => 1).options({ resources: { TPU: 2 } }).remote()),
  });
  assert.ok(r.error);
  assert.match(r.error.message, /waits on a demand no node can meet: \{"TPU":2,"CPU":1\} \(1 waiting\)/);
});

test("the same seed gives the same trace with pending demands", async () => {
  const program = async (ray: Ray) => {
    await ray.sleep(1500);
    return ray.get([1, 2, 3].map((i) => ray.remote((x: number) => x * 2).options({ resources: { special: 1 } }).remote(i)));
  };
  const faults: FaultPlan = { schedule: [{ at: 10, kind: "kill-node", node: "special" }, { at: 3000, kind: "restart-node", node: "special" }] };
  const a = await run(program, faults, 7);
  const b = await run(program, faults, 7);
  assert.deepEqual(a.result, [2, 4, 6]);
  assert.equal(a.traceHash, b.traceHash);
});
