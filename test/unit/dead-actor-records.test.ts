// A core worker keeps the records of actors dead for good whose handles it does not count (made
// detached, found by name, handed in) so that a call through such a handle fails at once; it keeps
// the latest `deadActorRecordsKept` only. A call through the handle of one it forgot fails all
// the same: the new record asks the GCS, which still knows the actor is dead.

import assert from "node:assert/strict";
import { test } from "node:test";
import { simulate } from "../../sim/simulate.ts";
import type { SimCluster } from "../../sim/cluster.ts";
import type { Ray } from "../../src/api/ray.ts";
import { formatViolations } from "../../spec/invariants/index.ts";

class Box { v() { return 1; } }

test("a core worker keeps the latest deadActorRecordsKept records of dead actors; a call through a forgotten one's handle still fails with ActorDiedError", async () => {
  let sim!: SimCluster;
  const recordsAfterKills: number[] = [];
  const program = async (ray: Ray) => {
    const made = [0, 1, 2, 3].map((i) => ray.remote(Box).options({ lifetime: "detached", name: `b${i}` }).remote());
    await ray.get(made.map((h) => h.v.remote()));
    for (const h of made) ray.kill(h);
    await ray.sleep(200);
    recordsAfterKills.push(sim.liveCoreWorkers().find((w) => w.addr === sim.driverAddr)!.state.callerActors.size);
    return Promise.all(made.map((h) => ray.get(h.v.remote()).then(() => "answered", (e: Error) => e.name)));
  };
  const r = await simulate({ seed: 1, nodes: 2, program, setup: (s) => { sim = s; }, config: { deadActorRecordsKept: 2 } });
  assert.equal(r.error, undefined, r.error?.stack);
  assert.deepEqual(r.violations, [], formatViolations(r.violations));
  assert.deepEqual(recordsAfterKills, [2], "records kept after four actors died");
  assert.deepEqual(r.result, ["ActorDiedError", "ActorDiedError", "ActorDiedError", "ActorDiedError"]);
});

test("deadActorRecordsKept below 1 is refused, naming the knob", async () => {
  const r = await simulate({ seed: 1, nodes: 1, program: async () => 0, config: { deadActorRecordsKept: 0 } }).catch((e: Error) => e);
  assert.match(r instanceof Error ? r.message : String(r.error?.message), /deadActorRecordsKept must be an integer of at least 1, not 0/);
});
