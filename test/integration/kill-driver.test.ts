// A driver that dies mid-run (the kill-driver fault) and a driver whose program ends, on the
// simulator: the GCS declares it dead within the grace period; its leases come back, its actors
// die, its objects are freed, its tasks are cancelled (a borrower outside the job hears
// OwnerDiedError: test/regressions/borrower-of-exited-driver-hears-owner-died.json); and the
// checkers find nothing leaked and raise no alarm for the dead driver's unfinished work.

import assert from "node:assert/strict";
import { test } from "node:test";
import { defaultSimConfig, simulate, type SimResult } from "../../sim/index.ts";
import type { Ray } from "../../src/api/ray.ts";
import type { ObjectRef } from "../../src/api/handles.ts";
import { checkTrace } from "../../spec/invariants/index.ts";
import type { TraceEvent } from "../../spec/trace.ts";

const cluster = [
  { id: "head", resources: { CPU: 1 } },
  { id: "node-1", resources: { CPU: 2 } },
];
const BIG = 20_000;
const KILL_AT = 100;

/** Holds what the driver puts and hands it to a task on node-1 that outlives the driver. */
async function victim(ray: Ray): Promise<number> {
  class Keeper {
    kept: ObjectRef<Float64Array> | undefined;
    keep(box: { r: ObjectRef<Float64Array> }) { this.kept = box.r; return 1; }
  }
  const k = ray.remote(Keeper).remote();
  const ref = await ray.put(new Float64Array(BIG).fill(3));
  await ray.get(k.keep.remote({ r: ref }));
  // A borrower of the driver's object, meant to read it after the driver died (it is the
  // driver's own task, so it dies with the job first).
  const late = ray.remote(async (box: { r: ObjectRef<Float64Array> }) => {
    await ray.sleep(2_000);
    try { return (await ray.get(box.r))[0]; } catch (e) { return (e as Error).name; }
  }, { schedulingStrategy: { nodeId: "node-1", soft: false } });
  const borrowing = late.remote({ r: ref });
  // Long tasks holding the cluster's other CPUs when the driver dies.
  const slow = ray.remote(async () => { await ray.sleep(60_000); return 0; });
  const pending = [slow.remote(), slow.remote()];
  await ray.sleep(KILL_AT * 10); // killed long before this returns
  return (await ray.get([borrowing, ...pending])).length;
}

const kinds = (r: SimResult<unknown>, kind: TraceEvent["kind"]) => r.trace.filter((e) => e.kind === kind);

test("kill-driver: the GCS buries the driver within the grace period; its leases, actors, objects and tasks go", async () => {
  const r = await simulate({ seed: 3, nodes: cluster, program: victim, faults: { schedule: [{ at: KILL_AT, kind: "kill-driver" }] } });
  assert.equal(r.error, undefined);
  assert.deepEqual(r.violations, [], "invariant violations");
  assert.equal(r.result, undefined, "the program never returned");
  const dead = kinds(r, "driver.dead");
  assert.equal(dead.length, 1);
  assert.ok(dead[0].t >= KILL_AT && dead[0].t <= KILL_AT + defaultSimConfig.driverGraceMs + 50, `declared dead at ${dead[0].t}`);
  // Nothing the dead driver did is traced after its death.
  assert.ok(!r.trace.some((e) => e.t > KILL_AT && (e.kind === "task.submitted" || e.kind === "object.read") && ("owner" in e ? e.owner : e.reader) === "head/driver"));
  // Its actor died, and so did the workers running its tasks (cancelled: none ran to its end,
  // and the borrower among them never read the freed object).
  const actors = kinds(r, "actor.state") as Extract<TraceEvent, { kind: "actor.state" }>[];
  assert.equal(actors.at(-1)!.state, "DEAD");
  assert.deepEqual(r.trace.filter((e) => e.kind === "task.finished" && e.t > KILL_AT), []);
  const ran = new Set(r.trace.filter((e) => e.kind === "task.started").map((e) => (e as { worker: string }).worker));
  const died = new Set(kinds(r, "worker.died").filter((e) => e.t >= dead[0].t).map((e) => (e as { worker: string }).worker));
  assert.deepEqual([...ran].filter((w) => !died.has(w)), [], "every worker that ran the driver's work was killed");
  assert.ok(!r.trace.some((e) => e.kind === "object.read" && e.t > KILL_AT));
  assert.ok(r.trace.some((e) => e.kind === "object.deleted" && e.reason === "owner-died" && e.t >= dead[0].t), "the driver's object was freed as its owner died");
  // Every lease came back and every store is empty.
  const granted = new Set(kinds(r, "lease.granted").map((e) => (e as { lease: string }).lease));
  for (const e of kinds(r, "lease.returned")) granted.delete((e as { lease: string }).lease);
  assert.deepEqual([...granted], []);
  let stored = 0;
  for (const e of r.trace) {
    if (e.kind === "object.created" && e.comp === "store") stored++;
    if (e.kind === "object.deleted") stored--;
  }
  assert.equal(stored, 0);
});

test("a driver whose program ends: its job is over, so its actors die and their leases come back (as in Ray)", async () => {
  const r = await simulate({
    seed: 5, nodes: cluster,
    program: async (ray) => {
      class Counter { n = 0; inc() { return ++this.n; } }
      const c = ray.remote(Counter).remote();
      return ray.get(c.inc.remote());
    },
  });
  assert.equal(r.error, undefined);
  assert.deepEqual(r.violations, []);
  assert.equal(r.result, 1);
  const end = r.trace.findIndex((e) => e.kind === "program.end");
  const dead = r.trace.findIndex((e) => e.kind === "driver.dead");
  assert.ok(end >= 0 && dead > end, "the GCS buried the driver after its program ended");
  const states = r.trace.filter((e) => e.kind === "actor.state").map((e) => (e as { state: string }).state);
  assert.equal(states.at(-1), "DEAD");
  assert.equal(r.trace.filter((e) => e.kind === "cluster.quiet").length, 2, "quiet once the program's work settled, and once the job was over");
});

test("the leases checker sees an actor's lease kept after its actor died at the job's end", () => {
  const base = { node: "head" } as const;
  const trace: TraceEvent[] = [
    { t: 1, ...base, kind: "lease.granted", comp: "raylet", job: "head/driver", lease: "L1", worker: "head/w1-1", resources: { CPU: 1 } },
    { t: 2, ...base, kind: "actor.state", comp: "gcs", actor: "a", state: "ALIVE", worker: "head/w1-1", epoch: 0 },
    { t: 3, ...base, kind: "program.end", comp: "host", ok: true },
    { t: 4, ...base, kind: "cluster.quiet", comp: "host" },
    { t: 5, ...base, kind: "driver.dead", comp: "gcs", driver: "head/driver" },
    { t: 6, ...base, kind: "actor.state", comp: "gcs", actor: "a", state: "DEAD", epoch: 0 },
    { t: 7, ...base, kind: "cluster.quiet", comp: "host" },
  ];
  const v = checkTrace(trace, {}).filter((x) => x.invariant === "leases");
  assert.equal(v.length, 1);
  assert.match(v[0].message, /L1.*its actor a is dead/);
  // Returned in time: no alarm.
  const ok = [...trace.slice(0, 6), { t: 6.5, ...base, kind: "lease.returned", comp: "raylet", lease: "L1", worker: "head/w1-1", resources: { CPU: 1 } } as TraceEvent, trace[6]];
  assert.deepEqual(checkTrace(ok, {}).filter((x) => x.invariant === "leases"), []);
});
