// Ray's own fault-tolerance scenarios, replayed against the simulator.

import assert from "node:assert/strict";
import { test } from "node:test";
import { simulate, type SimResult } from "../../sim/index.ts";
import type { FaultPlan } from "../../sim/faults.ts";
import type { Ray } from "../../src/api/ray.ts";

const cluster = [
  { id: "head", resources: { CPU: 0 } },
  { id: "node-1", resources: { CPU: 2 } },
  { id: "node-2", resources: { CPU: 2 } },
];
const onNode1 = { schedulingStrategy: { nodeId: "node-1", soft: true } } as const;
/** Over the inline limit, so the value lives in node-1's store and dies with it. */
const BIG = 20_000;

async function run<T>(program: (ray: Ray) => Promise<T>, faults: FaultPlan, seed = 1): Promise<SimResult<T>> {
  const r = await simulate({ seed, nodes: cluster, program, faults });
  assert.deepEqual(r.violations, [], "invariant violations");
  return r;
}

/** A wait that leaves the value where it was made (by default a wait copies it to the caller's node, as Ray's fetch_local does), so that a node's death loses it. */
const LEAVE_REMOTE = { fetchLocal: false } as const;

const kinds = (r: SimResult<unknown>, kind: string) => r.trace.filter((e) => e.kind === kind);

test("a lost task output is reconstructed from lineage after its node dies", async () => {
  const r = await run(async (ray) => {
    const make = ray.remote((n: number) => new Float64Array(n).fill(7)).options(onNode1);
    const ref = make.remote(BIG);
    await ray.wait([ref], LEAVE_REMOTE);
    await ray.sleep(2000); // node-1 is killed meanwhile, and declared dead
    const v = await ray.get(ref);
    return [v.length, v[0]];
  }, { schedule: [{ at: 300, kind: "kill-node", node: "node-1" }] });
  assert.equal(r.error, undefined);
  assert.deepEqual(r.result, [BIG, 7]);
  assert.equal(kinds(r, "object.lost").length, 1);
  assert.ok(kinds(r, "task.retry").some((e) => "reason" in e && /reconstructing/.test(e.reason)));
});

test("a second loss beyond the retry budget raises ObjectLostError", async () => {
  const r = await run(async (ray) => {
    const make = ray.remote((n: number) => new Float64Array(n).fill(1)).options({ ...onNode1, maxRetries: 1 });
    const ref = make.remote(BIG);
    await ray.wait([ref], LEAVE_REMOTE);
    await ray.sleep(1500);
    await ray.wait([ref], LEAVE_REMOTE); // reconstructed once (a get, or a wait fetching it, would pull a copy to the head, out of harm's way)
    await ray.sleep(2500);
    try { await ray.get(ref); return "no error"; } catch (e) { return (e as Error).name; }
  }, {
    schedule: [
      { at: 200, kind: "kill-node", node: "node-1" },
      { at: 300, kind: "restart-node", node: "node-1" },
      { at: 2000, kind: "kill-node", node: "node-1" },
      { at: 2100, kind: "kill-node", node: "node-2" },
    ],
  });
  assert.equal(r.result, "ObjectLostError");
});

test("maxRetries: 0 disables reconstruction: ObjectLostError", async () => {
  const r = await run(async (ray) => {
    const make = ray.remote((n: number) => new Float64Array(n)).options({ ...onNode1, maxRetries: 0 });
    const ref = make.remote(BIG);
    await ray.wait([ref], LEAVE_REMOTE);
    await ray.sleep(2000);
    try { await ray.get(ref); return "no error"; } catch (e) { return (e as Error).name; }
  }, { schedule: [{ at: 300, kind: "kill-node", node: "node-1" }] });
  assert.equal(r.result, "ObjectLostError");
});

test("a put object survives the loss of its primary copy through a secondary copy", async () => {
  const r = await run(async (ray) => {
    const ref = await ray.put(new Float64Array(BIG).fill(3));
    const sum = ray.remote((a: Float64Array) => a.reduce((x, y) => x + y, 0)).options({ schedulingStrategy: { nodeId: "node-1", soft: false } });
    const first = await ray.get(sum.remote(ref)); // pulls a copy to node-1
    await ray.sleep(2000); // the head's raylet and store crash and come back
    const again = await ray.get(ref);
    return [first, again.length];
  }, {
    schedule: [
      { at: 400, kind: "kill-node", node: "head" },
      { at: 450, kind: "restart-node", node: "head" },
    ],
  });
  assert.equal(r.error, undefined);
  assert.deepEqual(r.result, [3 * BIG, BIG]);
});

test("a put object with no other copy is lost with its node: ObjectLostError", async () => {
  const r = await run(async (ray) => {
    const ref = await ray.put(new Float64Array(BIG));
    await ray.sleep(2000);
    try { await ray.get(ref); return "no error"; } catch (e) { return (e as Error).name; }
  }, {
    schedule: [
      { at: 100, kind: "kill-node", node: "head" },
      { at: 150, kind: "restart-node", node: "head" },
    ],
  });
  assert.equal(r.result, "ObjectLostError");
});

test("chained reconstruction re-runs a lost intermediate before its dependent", async () => {
  const r = await run(async (ray) => {
    const make = ray.remote((n: number) => new Float64Array(n).fill(2)).options(onNode1);
    const double = ray.remote((a: Float64Array) => a.map((x) => x * 2)).options(onNode1);
    const a = make.remote(BIG);
    const b = double.remote(a);
    await ray.wait([b], LEAVE_REMOTE);
    await ray.sleep(2000);
    const v = await ray.get(b);
    return v[0] + v[BIG - 1];
  }, { schedule: [{ at: 400, kind: "kill-node", node: "node-1" }] });
  assert.equal(r.error, undefined);
  assert.equal(r.result, 8);
  const retried = new Set(kinds(r, "task.retry").map((e) => ("task" in e ? e.task : "")));
  assert.equal(retried.size, 2, "both the intermediate and its dependent were re-run");
});

// Ray remakes a lost item of a task's streaming generator by running the generator again.
test("a lost streaming item is remade by re-running its generator task; the stream is read once, in order", async () => {
  const r = await run(async (ray) => {
    const items = ray.remote(function* items(n: number, len: number) { for (let i = 0; i < n; i++) yield new Float64Array(len).fill(i + 1); }).options(onNode1);
    const refs = [];
    for await (const ref of items.remote(3, BIG)) refs.push(ref);
    await ray.sleep(2000); // node-1, holding every item, is killed meanwhile and declared dead
    const firsts = [];
    for (const ref of refs) firsts.push((await ray.get(ref))[0]);
    return firsts;
  }, { schedule: [{ at: 300, kind: "kill-node", node: "node-1" }] });
  assert.equal(r.error, undefined);
  assert.deepEqual(r.result, [1, 2, 3]);
  assert.equal(kinds(r, "object.lost").length, 3);
  assert.equal(kinds(r, "task.retry").filter((e) => "reason" in e && /reconstructing/.test(e.reason)).length, 1, "one re-run remakes all three");
  assert.equal(kinds(r, "generator.restored").length, 3);
  assert.equal(kinds(r, "generator.item").length, 3, "nothing recorded twice");
});

test("an actor method's lost streaming item is not remade: ObjectLostError", async () => {
  const r = await run(async (ray) => {
    const Gen = ray.remote(class Gen { *items(n: number, len: number) { for (let i = 0; i < n; i++) yield new Float64Array(len).fill(i); } }).options(onNode1);
    const g = Gen.remote();
    const refs = [];
    for await (const ref of g.items.remote(2, BIG)) refs.push(ref);
    await ray.sleep(2000);
    try { await ray.get(refs[0]); return "no error"; } catch (e) { return (e as Error).name; }
  }, { schedule: [{ at: 300, kind: "kill-node", node: "node-1" }] });
  assert.equal(r.result, "ObjectLostError");
});

const Counter = class Counter {
  n = 0;
  inc() { return ++this.n; }
};

test("an actor restarts on another node; calls stay ordered; ActorDiedError once restarts run out", async () => {
  const r = await run(async (ray) => {
    const C = ray.remote(Counter).options({ maxRestarts: 1, numCpus: 1, schedulingStrategy: { nodeId: "node-1", soft: true } });
    const c = C.remote();
    const before = await ray.get([c.inc.remote(), c.inc.remote()]);
    await ray.sleep(1500); // node-1 dies: the actor restarts elsewhere with fresh state
    const after = await ray.get([c.inc.remote(), c.inc.remote(), c.inc.remote()]);
    await ray.sleep(1500); // its new node dies too: no restarts left
    let last = "no error";
    try { await ray.get(c.inc.remote()); } catch (e) { last = (e as Error).name; }
    return { before, after, last };
  }, {
    schedule: [
      { at: 300, kind: "kill-node", node: "node-1" },
      { at: 2000, kind: "kill-node", node: "node-2" },
    ],
  });
  assert.equal(r.error, undefined);
  assert.deepEqual(r.result, { before: [1, 2], after: [1, 2, 3], last: "ActorDiedError" });
  const states = kinds(r, "actor.state").map((e) => ("state" in e ? e.state : ""));
  assert.deepEqual(states, ["PENDING_CREATION", "ALIVE", "RESTARTING", "ALIVE", "DEAD"]);
});

test("maxTaskRetries: -1 gives at-least-once actor calls across a worker kill", async () => {
  const r = await run(async (ray) => {
    const Slow = ray.remote(class Slow {
      calls = 0;
      async work(i: number) { this.calls++; await ray.sleep(100); return i; }
      // maxConcurrency 1: the calls queue, so some are in flight when the worker dies (an async actor would run all six at once).
    }).options({ maxRestarts: -1, maxTaskRetries: -1, maxConcurrency: 1, schedulingStrategy: { nodeId: "node-1", soft: false } });
    const s = Slow.remote();
    const refs = [0, 1, 2, 3, 4, 5].map((i) => s.work.remote(i));
    return await ray.get(refs);
  }, { schedule: [{ at: 250, kind: "kill-worker", node: "node-1" }] });
  assert.equal(r.error, undefined);
  assert.deepEqual(r.result, [0, 1, 2, 3, 4, 5]);
  assert.ok(kinds(r, "task.retry").length > 0, "the in-flight call was resent");
});

test("owner death: a ref owned by a dead worker raises OwnerDiedError", async () => {
  const r = await run(async (ray) => {
    const inner = ray.remote((n: number) => new Float64Array(n));
    // Remote functions travel as arguments; the ref `outer` returns is owned by its worker.
    const outer = ray.remote((f: typeof inner, n: number) => [f.remote(n)]).options({ schedulingStrategy: { nodeId: "node-1", soft: false } });
    const [ref] = await ray.get(outer.remote(inner, BIG));
    await ray.sleep(2000);
    try { await ray.get(ref); return "no error"; } catch (e) { return (e as Error).name; }
  }, { schedule: [{ at: 500, kind: "kill-node", node: "node-1" }] });
  assert.equal(r.result, "OwnerDiedError");
});

test("actors and tasks keep working across a GCS restart", async () => {
  const r = await run(async (ray) => {
    const C = ray.remote(Counter);
    const c = C.remote();
    const sq = ray.remote((x: number) => x * x);
    const first = await ray.get(c.inc.remote());
    await ray.sleep(300); // the GCS is down from 200 to 700
    const during = await ray.get([sq.remote(3), c.inc.remote()]);
    const D = ray.remote(Counter).options({ name: "d" });
    D.remote();
    await ray.sleep(800);
    const d = await ray.getActor("d");
    const after = await ray.get([c.inc.remote(), d.inc.remote(), sq.remote(4)]);
    return { first, during, after };
  }, { schedule: [{ at: 200, kind: "restart-gcs", downMs: 500 }] });
  assert.equal(r.error, undefined);
  assert.deepEqual(r.result, { first: 1, during: [9, 2], after: [3, 1, 16] });
  assert.equal(kinds(r, "gcs.recovered").length, 1);
});

test("a crashed worker is retried; with maxRetries: 0 the get raises WorkerCrashedError", async () => {
  const body = (retries: number) => async (ray: Ray) => {
    const slow = ray.remote(async (x: number) => { await ray.sleep(500); return x; }).options({ maxRetries: retries, schedulingStrategy: { nodeId: "node-1", soft: false } });
    try { return await ray.get(slow.remote(7)); } catch (e) { return (e as Error).name; }
  };
  const faults: FaultPlan = { schedule: [{ at: 200, kind: "kill-worker", node: "node-1" }] };
  assert.equal((await run(body(3), faults)).result, 7);
  assert.equal((await run(body(0), faults)).result, "WorkerCrashedError");
});
