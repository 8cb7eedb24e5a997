// What an actor handle knows of its actor travels with it, as Ray's handle carries its class's
// facts: a handle passed to a task or found by name retries calls as the actor's maxTaskRetries
// says, and streams the calls of its generator methods without being told.

import assert from "node:assert/strict";
import { test } from "node:test";
import { simulate } from "../../sim/simulate.ts";
import type { ActorHandle } from "../../src/api/handles.ts";
import type { Ray } from "../../src/api/ray.ts";
import { formatViolations } from "../../spec/invariants/index.ts";

const NODES = [{ id: "head", resources: { CPU: 1 } }, { id: "node-1", resources: { CPU: 2 } }];

class Source {
  n(): number { return 1; }
  *range(k: number) { for (let i = 0; i < k; i++) yield i; }
}

/** Calls `n` through a handle passed to a task and through one that task finds by name; streams `range` through the found one. */
async function program(ray: Ray) {
  ray.remote(Source, { name: "src", namespace: "facts", maxTaskRetries: 2, maxRestarts: 1 }).remote();
  const viaTask = ray.remote(async (a: ActorHandle<Source>) => {
    const found = await ray.getActor<Source>("src", { namespace: "facts" });
    const items: number[] = [];
    for await (const ref of found.range.remote(3) as unknown as AsyncIterable<never>) items.push(await ray.get(ref));
    return [await ray.get(a.n.remote()), await ray.get(found.n.remote()), items];
  });
  const found = await ray.getActor<Source>("src", { namespace: "facts" });
  return ray.get(viaTask.remote(found));
}

test("a handle passed to a task, or found by name, knows the actor's retry budget and its generator methods", async () => {
  const r = await simulate({ seed: 3, nodes: NODES, program });
  assert.equal(r.error, undefined, r.error?.stack);
  assert.deepEqual(r.violations, [], formatViolations(r.violations));
  assert.deepEqual(r.result, [1, 1, [0, 1, 2]]);
  const calls = r.trace.filter((e) => e.kind === "task.submitted" && e.fn === "n");
  assert.equal(calls.length, 2);
  assert.ok(calls.every((e) => e.kind === "task.submitted" && e.owner !== "head/driver"), "the calls come from the task");
  assert.deepEqual(calls.map((e) => e.kind === "task.submitted" && e.maxRetries), [2, 2], "the actor's maxTaskRetries");
});
