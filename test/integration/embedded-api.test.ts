// The embedded cluster through the module-level API (`import * as ray from "tsray"`): the seed's
// three programs, refs as arguments, nested tasks, get/put/wait inside tasks, remote functions
// and actor handles passed as arguments, named actors, kill, wait, timeouts, several nodes.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as ray from "../../src/index.ts";

// Python style: remote functions may be defined before init().
const square = ray.remote((x: number) => x * x);
const add = ray.remote((x: number, y: number) => x + y);
const Counter = ray.remote(class Counter {
  count = 0;
  increment(by = 1) { this.count += by; return this.count; }
});

describe("embedded cluster: API before init", () => {
  it("calling a remote function before init() says to call ray.init() first", () => {
    assert.equal(ray.isInitialized(), false);
    assert.throws(() => square.remote(2), /call ray\.init\(\) first/);
    assert.throws(() => ray.put(1), /call ray\.init\(\) first/);
  });
});

describe("embedded cluster: the Ray API", () => {
  before(async () => { await ray.init({ numCpus: 2 }); });
  after(async () => { await ray.shutdown(); });

  it("init twice is an error unless ignoreReinitError", async () => {
    await assert.rejects(ray.init(), /already called/);
    const r = await ray.init({ ignoreReinitError: true });
    assert.equal(r.nodes[0].resources.CPU, 2);
  });

  it("runs the seed's square, counter and add programs", async () => {
    assert.deepEqual(await ray.get([0, 1, 2, 3, 4].map((i) => square.remote(i))), [0, 1, 4, 9, 16]);
    const c = Counter.remote();
    assert.equal(await ray.get(c.increment.remote()), 1);
    assert.equal(await ray.get(c.increment.remote()), 2);
    const a = add.remote(1, 2), b = add.remote(3, 4);
    assert.equal(await ray.get(add.remote(a, b)), 10);
  });

  it("keeps per-caller order for actor calls submitted without waiting", async () => {
    const c = Counter.remote();
    const refs = Array.from({ length: 200 }, () => c.increment.remote(1));
    assert.deepEqual(await ray.get(refs), Array.from({ length: 200 }, (_, i) => i + 1));
  });

  it("put/get round-trips plain values, Maps, Dates and typed arrays", async () => {
    const v = { a: [1, 2, 3], m: new Map([["k", 1]]), d: new Date(0), s: "x".repeat(1000) };
    assert.deepEqual(await ray.get(await ray.put(v)), v);
    const f = new Float64Array([1.5, 2.5, 3.5]);
    assert.deepEqual(await ray.get(await ray.put(f)), f);
    const i = new Int32Array(100_000).fill(7); // large: written straight into the arena
    const back = await ray.get(await ray.put(i));
    assert.ok(back instanceof Int32Array);
    assert.equal(back.length, 100_000);
    assert.equal(back[99_999], 7);
  });

  it("nested tasks, and get/put/wait inside tasks", async () => {
    const inner = ray.remote((x: number) => x + 100);
    const outer = ray.remote(async (f: any, x: number) => {
      const r = f.remote(x);
      const p = await ray.put({ hello: x });
      const [ready] = await ray.wait([r], { numReturns: 1 });
      const [v, o] = await ray.get([r, p]);
      return { v, o, ready: ready.length };
    });
    assert.deepEqual(await ray.get(outer.remote(inner, 5)), { v: 105, o: { hello: 5 }, ready: 1 });
  });

  it("passes actor handles and refs inside values to tasks", async () => {
    const c = Counter.remote();
    const bump = ray.remote(async (h: any, by: number) => ray.get(h.increment.remote(by)));
    assert.equal(await ray.get(bump.remote(c, 10)), 10);
    assert.equal(await ray.get(c.increment.remote(1)), 11);
    const sum = ray.remote(async (box: { refs: any[] }) => ((await ray.get(box.refs)) as number[]).reduce((s, x) => s + x, 0));
    const refs = [1, 2, 3].map((i) => square.remote(i));
    assert.equal(await ray.get(sum.remote({ refs })), 14);
  });

  it("named actors: getActor finds one; kill ends it", async () => {
    const c = Counter.options({ name: "embedded-api-counter" }).remote();
    assert.equal(await ray.get(c.increment.remote(5)), 5);
    const same = await ray.getActor("embedded-api-counter");
    assert.equal(await ray.get(same.increment.remote(1)), 6);
    ray.kill(c);
    await assert.rejects(ray.get(c.increment.remote(1)), (e: Error) => e.name === "ActorDiedError");
  });

  it("wait returns the ready refs first; get honours timeoutMs", async () => {
    const slow = ray.remote(async (ms: number) => { await ray.sleep(ms); return ms; });
    const fast = slow.remote(1), late = slow.remote(2_000);
    const [ready, pending] = await ray.wait([late, fast], { numReturns: 1 });
    assert.deepEqual(ready, [fast]);
    assert.deepEqual(pending, [late]);
    await assert.rejects(ray.get(late, { timeoutMs: 20 }), (e: Error) => e.name === "GetTimeoutError");
    const [none] = await ray.wait([late], { numReturns: 1, timeoutMs: 10 });
    assert.equal(none.length, 0);
  });

  it("a function that captures an outer variable gets an error that names it", async () => {
    const factor = 3;
    const scale = ray.remote((x: number) => x * factor);
    await assert.rejects(ray.get(scale.remote(2)), (e: Error) => e.name === "TaskError" && /"factor"/.test(e.message) && /self-contained/.test(e.message));
  });

  it("release drops the program's reference so the store frees the object", async () => {
    const ref = await ray.put(new Float64Array(50_000));
    const before = ray.cluster()!.storeStats().head.store.count;
    ray.release(ref);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(ray.cluster()!.storeStats().head.store.count, before - 1);
  });

  it("the remote context tells a task where it runs", async () => {
    const where = ray.remote(() => ray.context.workerId);
    const w = await ray.get(where.remote());
    assert.match(w, /^head\/w/);
  });
});

describe("embedded cluster: several logical nodes", () => {
  after(async () => { await ray.shutdown(); });

  it("places work by custom resources and moves objects between node arenas", async () => {
    await ray.init({ nodes: [{ id: "head", resources: { CPU: 1 } }, { id: "gpu-node", resources: { CPU: 1, GPU: 1 } }], storeCapacity: 64 << 20 });
    const where = ray.remote(() => ray.context.nodeId);
    assert.equal(await ray.get(where.options({ numGpus: 1 }).remote()), "gpu-node");
    // A large value made on one node and read on the other travels as chunks between arenas.
    const make = ray.remote((n: number) => new Float64Array(n).fill(2));
    const total = ray.remote((a: Float64Array) => a.reduce((s, x) => s + x, 0));
    const big = make.options({ numGpus: 1 }).remote(200_000);
    assert.equal(await ray.get(total.options({ resources: {}, numCpus: 1, schedulingStrategy: { nodeId: "head", soft: false } }).remote(big)), 400_000);
    const stats = ray.cluster()!.storeStats();
    assert.ok(stats["gpu-node"].store.count >= 1);
  });

  it("a demand no node can meet waits (as Ray's pending demands) and shows in the GCS's demand table", async () => {
    const f = ray.remote(() => 1);
    const ref = f.options({ resources: { TPU: 1 } }).remote();
    await assert.rejects(ray.get(ref, { timeoutMs: 1_000 }), (e: Error) => e.name === "GetTimeoutError");
    let demands = ray.cluster()!.pendingDemands();
    for (let i = 0; i < 50 && demands.length === 0; i++) { await new Promise((r) => setTimeout(r, 100)); demands = ray.cluster()!.pendingDemands(); }
    assert.deepEqual(demands.map((d) => [d.resources, d.count]), [[{ TPU: 1, CPU: 1 }, 1]]);
  });
});
