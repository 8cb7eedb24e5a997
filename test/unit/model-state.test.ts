// "State you can print": every model's state is plain records. Sampled all through a run that
// exercises every kind of pending work (gets and waits, puts, stored results, borrowed refs,
// actor calls, nested tasks, lease requests), no model keeps a function anywhere in its state.

import assert from "node:assert/strict";
import { inspect } from "node:util";
import { test } from "node:test";
import { simulate } from "../../sim/simulate.ts";
import type { SimCluster } from "../../sim/cluster.ts";
import type { Ray } from "../../src/api/ray.ts";

/** Paths in `root` that hold a function (none expected). */
function functionsIn(root: unknown, path: string, seen = new Set<unknown>()): string[] {
  if (typeof root === "function") return [path];
  if (root === null || typeof root !== "object" || seen.has(root)) return [];
  seen.add(root);
  const out: string[] = [];
  if (root instanceof Map) for (const [k, v] of root) out.push(...functionsIn(v, `${path}.get(${String(k)})`, seen));
  else if (root instanceof Set) for (const v of root) out.push(...functionsIn(v, `${path}{}`, seen));
  else for (const [k, v] of Object.entries(root)) out.push(...functionsIn(v, `${path}.${k}`, seen));
  return out;
}

const program = async (ray: Ray) => {
  const big = await ray.put(new Uint8Array(300 * 1024)); // stored, not inline
  const inc = ray.remote((x: number) => x + 1);
  const len = ray.remote((b: Uint8Array) => b.length);
  const make = ray.remote(() => new Uint8Array(200 * 1024)); // a stored result
  const outer = ray.remote(async (f: typeof inc, x: number) => (await ray.get(f.remote(x))) * 2); // nested, blocks
  const slow = ray.remote(async () => { await ray.sleep(30); return 1; });
  const Counter = ray.remote(class Counter { n = 0; add(k: number) { this.n += k; return this.n; } });
  const c = Counter.remote();
  const calls = [1, 2, 3].map((k) => c.add.remote(k));
  const [ready] = await ray.wait([slow.remote()], { numReturns: 1, timeoutMs: 5 });
  const got = await ray.get([inc.remote(1), len.remote(big), len.remote(make.remote()), outer.remote(inc, 4), ...calls]);
  return { ready: ready.length, got };
};

test("no model keeps a closure in its state, at any point of a run", async () => {
  let sampled = 0;
  const found: string[] = [];
  const sample = (sim: SimCluster) => {
    for (const [addr, state] of sim.states()) {
      sampled++;
      found.push(...functionsIn(state, addr));
    }
    if (sim.now < 200) sim.schedule(0.5, () => sample(sim));
  };
  const r = await simulate({ seed: 5, nodes: 3, program, setup: (sim) => { sim.schedule(0, () => sample(sim)); } });
  assert.equal(r.error, undefined);
  assert.deepEqual(r.result, { ready: 0, got: [2, 300 * 1024, 200 * 1024, 10, 1, 3, 6] });
  assert.ok(sampled > 100, `only ${sampled} samples`);
  assert.deepEqual(found.slice(0, 5), []);
});

test("a model's state prints", async () => {
  let printed = "";
  await simulate({ seed: 5, nodes: 2, program, setup: (sim) => { sim.schedule(3, () => { printed = inspect(Object.fromEntries(sim.states()), { depth: 4 }); }); } });
  for (const part of ["head/gcs", "head/raylet", "head/driver", "owned", "classes", "leases", "pulls", "nodes", "actors"]) assert.match(printed, new RegExp(part));
});
