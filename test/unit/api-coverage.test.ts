// The generated workloads call the whole Ray API. Every property test passed while an actor
// call with a pending argument hung, because no generated step made one: here, the API's own
// methods (read off the object the driver is given, so a new one is not missed) are each called
// by some generated program, or listed below with the reason they are not. A method added to the
// API fails this test until the generator calls it.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { workloadArb } from "../../sim/arbitraries.ts";
import { simulate } from "../../sim/simulate.ts";
import { workloadProgram } from "../../sim/workload.ts";
import type { Ray } from "../../src/api/ray.ts";

/** API members no generated program uses directly, and why. */
const NOT_GENERATED: Readonly<Record<string, string>> = {
  call: "not user API: the handles' way in (Invoker), which every RemoteFunction.remote() takes",
  callMethod: "not user API: the handles' way in (Invoker), which every actor method's .remote() takes",
};

/** The driver's API, with every member the program reads recorded in `used`. */
function recording(ray: Ray, used: Set<string>): Ray {
  return new Proxy(ray, {
    get(target, key, receiver) {
      if (typeof key === "string") used.add(key);
      return Reflect.get(target, key, receiver);
    },
  });
}

test("generated programs use every member of the Ray API (or say why not)", { timeout: 120_000 }, async () => {
  const used = new Set<string>();
  let members: string[] = [];
  for (const w of fc.sample(workloadArb(3, 14), { numRuns: 300, seed: 17 })) {
    const r = await simulate({
      seed: 1, nodes: 3, check: false, config: { keepTrace: false },
      program: (ray: Ray) => {
        members = Object.keys(ray);
        return workloadProgram(w)(recording(ray, used));
      },
    });
    assert.equal(r.error, undefined, `a fault-free generated program failed: ${r.error?.message}`);
  }
  assert.ok(members.length > 10, `the driver's API has ${members.length} members`);
  const missing = members.filter((m) => !used.has(m) && !(m in NOT_GENERATED));
  assert.deepEqual(missing, [], "no generated workload uses these members of the Ray API: add a step feature (sim/arbitraries.ts) or list them in NOT_GENERATED with the reason");
  for (const m of Object.keys(NOT_GENERATED)) {
    assert.ok(members.includes(m), `NOT_GENERATED lists ${m}, which the API no longer has`);
    assert.ok(!used.has(m), `NOT_GENERATED lists ${m}, which a generated workload now uses`);
  }
});
