// Long-running clusters: the models' state stays bounded. One simulation runs many waves of a
// workload that touches the whole API under worker churn (a soft limit of one worker per node,
// idle workers killed after 50 ms), and after each wave, once the cluster is quiet, the size of
// every Map, Set and array in every live model is measured. Whatever is kept per dead worker,
// finished task, freed object, ended job or dead actor and never dropped grows with the waves.

import assert from "node:assert/strict";
import { test } from "node:test";
import { simulate } from "../../sim/simulate.ts";
import type { SimCluster } from "../../sim/cluster.ts";
import type { SimHost } from "../../sim/simulate.ts";
import type { ActorClass, ObjectRef, RemoteFunction } from "../../src/api/handles.ts";
import type { ObjectRefGenerator } from "../../src/api/generator.ts";
import type { Ray } from "../../src/api/ray.ts";

/** Adds the size of every Map, Set and array reachable from `root` to `out`, by path (a collection's members share one path). */
function collectionSizes(root: unknown, path: string, out: Map<string, number>, seen = new Set<unknown>()): void {
  if (root === null || typeof root !== "object" || seen.has(root)) return;
  seen.add(root);
  const inner = `${path}[]`;
  const add = (n: number) => out.set(path, (out.get(path) ?? 0) + n);
  if (root instanceof Map) {
    add(root.size);
    for (const v of root.values()) collectionSizes(v, inner, out, seen);
  } else if (root instanceof Set) {
    add(root.size);
    for (const v of root) collectionSizes(v, inner, out, seen);
  } else if (Array.isArray(root)) {
    add(root.length);
    for (const v of root) collectionSizes(v, inner, out, seen);
  } else for (const [k, v] of Object.entries(root)) collectionSizes(v, `${path}.${k}`, out, seen);
}

/**
 * The models' collection sizes, by path. The GCS and raylets are walked whole (their `state`
 * getters leave out some of what they keep); a core worker through its `state`. Workers come and
 * go, so each worker path counts the largest of the live workers'.
 */
function measure(sim: SimCluster): Map<string, number> {
  const out = new Map<string, number>();
  collectionSizes(sim.gcs, "gcs", out);
  for (const n of sim.cfg.nodes) collectionSizes(sim.raylet(n.id), `raylet(${n.id})`, out);
  const workers = sim.liveCoreWorkers();
  out.set("live workers", workers.length);
  for (const { addr, state } of workers) {
    if (addr === sim.driverAddr) { collectionSizes(state, "driver", out); continue; }
    const one = new Map<string, number>();
    collectionSizes(state, "worker", one);
    for (const [p, n] of one) out.set(p, Math.max(out.get(p) ?? 0, n));
  }
  return out;
}

/** Over the inline limit (as doubles): such values are stored in object stores. */
const BIG = 16_384;

// The remote functions and classes: shipped as source, so self-contained (`ray` is in their scope).
declare const ray: Ray;
const add = (a: number, b: number) => a + b;
/** Reads a stored argument; `twice` makes a stored result. */
const total = (xs: Float64Array) => xs[0] + xs.length;
const twice = (xs: Float64Array) => new Float64Array(xs.length).fill(xs[0] * 2);
const nested = async (f: RemoteFunction<typeof add>, x: number) => ray.get(f.remote(x, 1));
/** A borrower: reads the ref its argument holds. */
const readBox = async (box: { r: ObjectRef<number> }) => (await ray.get(box.r)) + 1;
/** Lends the program what its worker owns: a put, and its own child task's result. */
const ownBox = async (v: number) => ({ r: await ray.put(v) });
const lendChild = async (f: RemoteFunction<typeof add>, v: number) => ({ r: f.remote(v, 1) });
const boom = (): number => { throw new RangeError("boom"); };
const pair = (a: number, b: number) => [a + b, a * b];
const slow = async (ms: number) => { await ray.sleep(ms); return ms; };
async function* count(n: number) {
  for (let i = 0; i < n; i++) { await ray.sleep(20); yield i; }
}
/** A task that streams a generator of its own. */
const readCount = async (g: RemoteFunction<typeof count>, n: number) => {
  let s = 0;
  for await (const r of g.remote(n)) s += await ray.get(r);
  return s;
};
class Counter {
  n = 0;
  kept: ObjectRef<number> | undefined;
  add(k: number) { this.n += k; return this.n; }
  /** Borrows what it is handed, until it is handed something else. */
  keep(box: { r: ObjectRef<number> }) { this.kept = box.r; return 0; }
  async readKept() { return this.kept === undefined ? -1 : ray.get(this.kept); }
  async ownBox(v: number) { return { r: await ray.put(v) }; }
  *items(n: number) { for (let i = 0; i < n; i++) yield i; }
  exit(): number { ray.exitActor(); }
}
class AsyncCounter {
  n = 0;
  async add(k: number) { await ray.sleep(10); this.n += k; return this.n; }
  async *items(n: number) { for (let i = 0; i < n; i++) { await ray.sleep(10); yield i; } }
}
/** Creates a named actor it owns, which dies with it when the maker is killed. */
class Maker {
  async make(C: ActorClass<typeof Counter>, name: string, namespace: string) {
    const a = C.options({ name, namespace }).remote();
    return ray.get(a.add.remote(1));
  }
}

/** Reads every item of a generator, releasing each ref; then the generator. */
async function drain(ray: Ray, g: ObjectRefGenerator<number>): Promise<number> {
  let s = 0;
  for await (const r of g) { s += await ray.get(r); ray.release(r); }
  ray.release(g);
  return s;
}

/** `get` of each ref (an error is as good as a value here; none holds a ref, whose get would hold it once more), then releases them. */
async function settle(ray: Ray, refs: readonly ObjectRef[]): Promise<void> {
  for (const r of refs) await ray.get(r).catch(() => undefined);
  ray.release(refs);
}

/**
 * One wave of work through the whole API the simulator runs. Everything it makes is released
 * by the end (the simulator releases nothing on collection): a ref held by mistake would be a
 * leak of the test's own.
 */
async function wave(ray: Ray, host: SimHost, k: number): Promise<void> {
  const f = {
    add: ray.remote(add), total: ray.remote(total), twice: ray.remote(twice), nested: ray.remote(nested), readBox: ray.remote(readBox),
    ownBox: ray.remote(ownBox), lendChild: ray.remote(lendChild), slow: ray.remote(slow), count: ray.remote(count), readCount: ray.remote(readCount),
  };
  const refs: ObjectRef[] = [];
  // Tasks, ref arguments (inline and stored), nested tasks, borrowing through boxes.
  const small = await ray.put(k);
  const big = await ray.put(new Float64Array(BIG).fill(k));
  const box = await ray.put({ r: small });
  const sum = f.add.remote(small, k);
  const doubled = f.twice.remote(big);
  refs.push(big, sum, doubled, f.total.remote(big), f.total.remote(doubled), f.nested.remote(f.add, sum), f.readBox.remote(box));
  for (const lent of [f.ownBox.remote(k), f.lendChild.remote(f.add, k)]) {
    const b = await ray.get(lent);
    ray.release(lent); // a box: a get of it would be one more hold on what it holds
    refs.push(b.r, f.add.remote(b.r, 1)); // borrowed from the worker that owns it, and passed on
  }
  // Failures: retried exceptions, then the error; numReturns.
  refs.push(ray.remote(boom, { maxRetries: 2, retryExceptions: true }).remote());
  refs.push(...(ray.remote(pair, { numReturns: 2 }).remote(k, 2) as unknown as ObjectRef[]));
  // Cancel: one task asked to stop, one killed with its worker.
  const [soft, hard] = [f.slow.remote(500), f.slow.remote(600)];
  ray.cancel(soft);
  ray.cancel(hard, { force: true });
  refs.push(soft, hard);
  const [ready, rest] = await ray.wait([f.slow.remote(5), f.slow.remote(50)], { numReturns: 1 });
  refs.push(...ready, ...rest);
  const late = f.slow.remote(100);
  await ray.get(late, { timeoutMs: 5 }).catch(() => undefined);
  refs.push(late);
  // Streaming generators: the program's, with back-pressure, and one a task streams.
  await drain(ray, f.count.options({ generatorBackpressureNumObjects: 1 }).remote(3));
  refs.push(f.readCount.remote(f.count, 3));
  await settle(ray, refs.splice(0));
  ray.release(box);

  // A sync actor that borrows, restarts and goes out of scope; an async one killed for good.
  const c = ray.remote(Counter, { maxRestarts: 1, maxTaskRetries: 1 }).remote();
  refs.push(c.add.remote(k), c.keep.remote({ r: small }), c.readKept.remote());
  const lent = c.ownBox.remote(k);
  refs.push((await ray.get(lent)).r);
  ray.release(lent);
  await drain(ray, c.items.remote(2));
  ray.kill(c, { noRestart: false });
  refs.push(c.add.remote(1));
  const a = ray.remote(AsyncCounter, { maxConcurrency: 4 }).remote();
  refs.push(a.add.remote(1), a.add.remote(2));
  await drain(ray, a.items.remote(3));
  await settle(ray, [...refs.splice(0), small]);
  ray.release(c);
  ray.kill(a);
  ray.release(a);
  // An actor that ends itself.
  const e = ray.remote(Counter).remote();
  await settle(ray, [e.exit.remote()]);
  ray.release(e);
  // A detached named actor, found by name and killed; a named one that dies with its maker.
  const d = ray.remote(Counter, { name: `d${k}`, namespace: "bounded", lifetime: "detached" }).remote();
  await settle(ray, [d.add.remote(k)]);
  const found = await ray.getActor<Counter>(`d${k}`, { namespace: "bounded" });
  await settle(ray, [found.add.remote(1)]);
  ray.kill(found);
  const maker = ray.remote(Maker).remote();
  await settle(ray, [maker.make.remote(ray.remote(Counter) as never, `n${k}`, "bounded")]);
  ray.kill(maker);
  ray.release(maker);
  // Placement groups: a task in one, and a task that captures its children in another.
  const pg = ray.placementGroup({ bundles: [{ CPU: 1 }], strategy: "PACK" });
  const pgReady = pg.ready();
  await settle(ray, [pgReady, f.add.options({ placementGroup: pg, bundleIndex: 0 }).remote(k, 1)]);
  ray.removePlacementGroup(pg);
  const capture = ray.placementGroup({ bundles: [{ CPU: 1 }], strategy: "SPREAD" });
  await settle(ray, [f.nested.options({ placementGroup: capture, captureChildTasks: true }).remote(f.add, k)]);
  ray.removePlacementGroup(capture);
  // A second job, over once its program is.
  await host.runJob((other) => other.get(other.remote(add).remote(k, 1)));
  // A dropped ref, never read.
  ray.release(f.add.remote(k, 2));
}

const WAVES = 40;
/** Sizes after this wave are the baseline: every kind of work has run, every bounded collection has had time to fill. */
const BASELINE_WAVE = 5;
/** What a collection may exceed the baseline by: workers and their work come and go between waves. */
const SLACK = 2;
/** The caps the run below sets low, so that the test sees the collections they bound full. */
const KEPT = { deadWorkersKept: 64, deadActorsKept: 16, removedGroupsKept: 8, deadActorRecordsKept: 12 } as const;

/**
 * Collections that grow past the baseline by design, each up to its bound (by path; `*` for a
 * node). Each is a cache of the latest of something, too big to fill in this run.
 */
const BOUNDED: readonly { readonly path: RegExp; readonly max: number; readonly why: string }[] = [
  { path: /^driver\.lentReplies$/, max: 4096, why: "replies with lent refs, against a repeated one: the latest 4,096 (task-manager.ts)" },
  { path: /^gcs\.deadDrivers\.dead$/, max: KEPT.deadWorkersKept, why: "drivers declared gone (one per job), persisted: the latest deadWorkersKept" },
  { path: /^raylet\(.*\)\.deaths$/, max: 256, why: "deaths resent to a restarted GCS: the latest 256 (raylet.ts)" },
  { path: /^worker\.finished(Before)?$/, max: 4096, why: "tasks run lately, against a repeated push: two generations of 4,096 (task-receiver.ts)" },
  {
    path: /^driver\.(callerActors(\[\]\.created\.generators)?|deadRecords)$/, max: KEPT.deadActorRecordsKept,
    why: "records of actors dead for good whose handles the driver does not count (one it made detached, one found by name): the latest deadActorRecordsKept (actor-submitter.ts)",
  },
];

test("the models' state stays bounded over many waves of work and worker churn", async () => {
  let sim!: SimCluster;
  const sizes: Map<string, number>[] = [];
  const program = async (ray: Ray, host: SimHost) => {
    for (let k = 0; k < WAVES; k++) {
      await wave(ray, host, k);
      await ray.sleep(3000); // long enough for idle workers to exit and deaths to be published
      sizes.push(measure(sim));
    }
  };
  const r = await simulate({
    seed: 7, nodes: 3, resources: { CPU: 2 }, program, setup: (s) => { sim = s; },
    config: { workersSoftLimit: 1, idleWorkerKillingMs: 50, ...KEPT, keepTrace: false },
  });
  assert.equal(r.error, undefined, r.error?.stack);
  assert.equal(sizes.length, WAVES);
  const base = sizes[BASELINE_WAVE], last = sizes[WAVES - 1];
  const grown = [...last].filter(([p, n]) => n > (BOUNDED.find((b) => b.path.test(p))?.max ?? (base.get(p) ?? 0) + SLACK));
  const history = (p: string) => `${p}: ${sizes.map((s) => s.get(p) ?? 0).join(" ")}`;
  assert.deepEqual(grown.map(([p]) => p), [], `collections that grew with the waves (sizes after each wave):\n${grown.map(([p]) => history(p)).join("\n")}`);
  // The churn the test is about happened: workers died by the dozen, more than the models remember.
  assert.ok((base.get("gcs.deadWorkers.dead") ?? 0) === KEPT.deadWorkersKept, history("gcs.deadWorkers.dead"));
});
