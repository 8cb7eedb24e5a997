// End to end on the simulator: a node's worker count falls back to its soft limit (its CPUs)
// once a burst is over, and a detached actor's job ends with it (its idle workers go).

import assert from "node:assert/strict";
import { test } from "node:test";
import type { SimCluster, SimNode } from "../../sim/cluster.ts";
import { simulate } from "../../sim/simulate.ts";
import { actorIdOf } from "../../src/api/handles.ts";
import type { Ray } from "../../src/api/ray.ts";
import { formatViolations } from "../../spec/invariants/index.ts";

/** Registered workers on the node, of `job` if given. */
function workers(sim: SimCluster, node: string, job?: string): number {
  return [...sim.raylet(node)!.state.workers.values()].filter((w) => w.state !== "STARTING" && (job === undefined || w.job === job)).length;
}

/** Runs `program` with the simulated cluster at hand (to count a node's workers). */
function run<T>(nodes: SimNode[], seed: number, program: (driver: Ray, sim: SimCluster) => Promise<T>) {
  let sim!: SimCluster;
  return simulate({ seed, nodes, setup: (s) => { sim = s; }, program: (driver) => program(driver, sim) });
}

test("after a burst of tasks that block in get (each lends its CPU back, so more workers start than there are CPUs), the idle workers above the CPU count go", async () => {
  const program = async (driver: Ray, sim: SimCluster) => {
    const outer = driver.remote(async () => {
      const leaf = ray.remote(async () => { await ray.sleep(20); return 1; });
      return ray.get(leaf.remote());
    });
    const sum = (await driver.get(Array.from({ length: 8 }, () => outer.remote()))).reduce((a, b) => a + b, 0);
    const peak = workers(sim, "head");
    await driver.sleep(900); // idle, but not yet for idleWorkerKillingMs
    const before = workers(sim, "head");
    await driver.sleep(600);
    return { sum, peak, before, after: workers(sim, "head") };
  };
  const r = await run([{ id: "head", resources: { CPU: 2 } }], 5, program);
  assert.equal(r.error, undefined, r.error?.stack);
  assert.deepEqual(r.violations, [], formatViolations(r.violations));
  const { sum, peak, before, after } = r.result!;
  assert.equal(sum, 8);
  assert.ok(peak > 2, `the burst started only ${peak} workers`);
  assert.equal(before, peak, "workers went before they idled long enough");
  assert.equal(after, 2, "the workers above the soft limit did not go");
  const end = r.trace.findIndex((e) => e.kind === "program.end");
  assert.equal(r.trace.slice(0, end).filter((e) => e.kind === "worker.died").length, peak - 2, "the workers that went are not traced so");
});

class Root {
  async run(n: number): Promise<number> {
    const one = ray.remote(() => 1);
    return (await ray.get(Array.from({ length: n }, () => one.remote()))).length;
  }
}
/** The `ray` of the worker the code runs in (remote code is shipped as source, and finds it there). */
declare const ray: Ray;

test("a detached actor killed for good ends its job: the idle workers of what it submitted go, and job.ended is traced; a restart ends nothing", async () => {
  const program = async (driver: Ray, sim: SimCluster) => {
    const cls = driver.remote(Root, { lifetime: "detached", name: "root", namespace: "jobs", maxRestarts: 1 });
    const root = cls.remote();
    const job = actorIdOf(root)!;
    const spawned = await driver.get(root.run.remote(3));
    const idle = workers(sim, "head", job) - 1; // the actor's own worker is of its job too
    driver.kill(root, { noRestart: false });
    await driver.sleep(200);
    const afterRestart = workers(sim, "head", job);
    driver.kill(root);
    await driver.sleep(200);
    return { job, spawned, idle, afterRestart, afterKill: workers(sim, "head", job) };
  };
  const r = await run([{ id: "head", resources: { CPU: 8 } }], 2, program);
  assert.equal(r.error, undefined, r.error?.stack);
  assert.deepEqual(r.violations, [], formatViolations(r.violations));
  const { job, spawned, idle, afterRestart, afterKill } = r.result!;
  assert.equal(spawned, 3);
  assert.ok(idle >= 1, "the actor's tasks left no idle worker of its job");
  // Restarted, the actor runs on one of its job's idle workers or a new one: none went.
  assert.ok(afterRestart >= idle, "a restart of the detached actor ended its job's idle workers");
  assert.equal(afterKill, 0, "the dead actor's job kept workers");
  const ended = r.trace.flatMap((e, i) => (e.kind === "job.ended" && e.job === job ? [i] : []));
  const killedForGood = r.trace.findIndex((e) => e.kind === "actor.killed" && e.actor === job && e.noRestart);
  assert.equal(ended.length, 1, "job.ended is not traced once for the detached actor's job");
  assert.ok(killedForGood >= 0 && ended[0] > killedForGood, "the job ended before the actor was killed for good");
});
