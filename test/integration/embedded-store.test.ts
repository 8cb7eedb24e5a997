// The embedded object store's data plane: the shared arena and its allocator, zero-copy reads
// of typed arrays and Arrow tables by worker threads, spilling to files past the capacity,
// ObjectStoreFullError with back-pressure past spilling, and slots that stay valid while a
// reader still holds a view.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { tableFromArrays, type Table } from "apache-arrow";
import * as ray from "../../src/index.ts";
import { Arena } from "../../src/runtime/embedded/arena.ts";
import { fromBytes, toBytes } from "../../src/runtime/codec.ts";
import { COLLECT_AFTER_PINNED_BYTES } from "../../src/runtime/embedded/pins.ts";

describe("arena allocator", () => {
  it("hands out 8-aligned slots, coalesces freed neighbours and reuses them", () => {
    const a = new Arena(1 << 16);
    const x = a.alloc(10)!, y = a.alloc(100)!, z = a.alloc(1000)!;
    for (const v of [x, y, z]) assert.equal(v.byteOffset % 8, 0);
    assert.equal(x.byteLength, 10);
    a.release(x);
    a.release(y); // coalesces with x's block
    const w = a.alloc(120)!; // fits in the coalesced hole
    assert.equal(w.byteOffset, x.byteOffset);
    a.release(w);
    a.release(z); // everything returns to the wilderness
    assert.deepEqual({ used: a.stats().usedBytes, top: a.stats().top, free: a.stats().freeBlocks }, { used: 0, top: 0, free: 0 });
  });

  it("fails cleanly when full, and succeeds again after a free", () => {
    const a = new Arena(4096);
    const slots = [];
    for (;;) { const s = a.alloc(500); if (!s) break; slots.push(s); }
    assert.equal(slots.length, 8); // 508 → 512-byte blocks
    assert.equal(a.alloc(500), undefined);
    a.release(slots[3]);
    assert.ok(a.alloc(500));
  });

  it("keeps a slot with readers as a zombie until they are gone", () => {
    const a = new Arena(1024);
    const s = a.alloc(64)!;
    const hdr = (s.byteOffset - 8) / 4;
    Atomics.add(a.i32, hdr, 1); // a reader
    a.release(s);
    assert.equal(a.stats().zombies, 1);
    assert.equal(a.sweep(), 0);
    Atomics.sub(a.i32, hdr, 1);
    assert.equal(a.sweep(), 1);
    assert.equal(a.stats().usedBytes, 0);
  });

  it("staged slots are adopted by the store or given back", () => {
    const a = new Arena(1024);
    const s = a.stage(100)!;
    assert.equal(a.adopt(s), true);
    assert.equal(a.adopt(s), false);
    const t = a.stage(100)!;
    a.unstage(t);
    a.release(s);
    assert.equal(a.stats().usedBytes, 0);
  });
});

describe("codec framing", () => {
  it("typed arrays travel raw and come back as the same type (copies outside shared memory)", () => {
    for (const v of [new Float64Array([1, 2.5]), new Int8Array([-1, 2]), new BigInt64Array([1n, -2n]), new Uint8Array([1, 2, 3]), Buffer.from("hi")]) {
      const b = toBytes(v);
      assert.equal(b.byteLength, 8 + v.byteLength);
      const back = fromBytes(b) as ArrayBufferView;
      assert.equal(back.constructor, v.constructor);
      assert.deepEqual(back, v);
      assert.notEqual(back.buffer, b.buffer);
    }
  });

  it("a frame in a SharedArrayBuffer at an 8-aligned offset decodes as a view", () => {
    const b = toBytes(new Float64Array([3, 4, 5]));
    const sab = new SharedArrayBuffer(64);
    const slot = new Uint8Array(sab, 16, b.byteLength);
    slot.set(b);
    const v = fromBytes(slot) as Float64Array;
    assert.equal(v.buffer, sab);
    assert.deepEqual([...v], [3, 4, 5]);
  });
});

describe("embedded cluster: zero-copy reads", () => {
  before(async () => { await ray.init({ numCpus: 2, storeCapacity: 64 << 20 }); });
  after(async () => { await ray.shutdown(); });

  it("a worker reads an Arrow table in place: its column buffers are the arena's memory", async () => {
    const n = 10_000;
    const table = tableFromArrays({ x: Float64Array.from({ length: n }, (_, i) => i), y: Int32Array.from({ length: n }, (_, i) => -i) });
    const ref = await ray.put(table);
    const inspect = ray.remote((t: any) => {
      const x = t.getChild("x").data[0].values as Float64Array;
      const y = t.getChild("y").data[0].values as Int32Array;
      let sum = 0;
      for (let i = 0; i < x.length; i++) sum += x[i];
      return { rows: t.numRows, sum, xShared: x.buffer instanceof SharedArrayBuffer, yShared: y.buffer instanceof SharedArrayBuffer, sameBuffer: x.buffer.byteLength === y.buffer.byteLength };
    });
    const r = await ray.get(inspect.remote(ref));
    assert.deepEqual(r, { rows: n, sum: (n * (n - 1)) / 2, xShared: true, yShared: true, sameBuffer: true });
    // The driver's read is zero-copy too, and the table is intact.
    const back = (await ray.get(ref)) as Table;
    assert.equal(back.numRows, n);
    assert.ok((back.getChild("x")!.data[0].values as Float64Array).buffer instanceof SharedArrayBuffer);
    assert.equal(back.getChild("y")!.get(n - 1), -(n - 1));
  });

  it("a Float64Array argument is a view of the arena in the worker", async () => {
    const ref = await ray.put(new Float64Array(1 << 16).fill(0.5));
    const look = ray.remote((a: Float64Array) => [a.buffer instanceof SharedArrayBuffer, a.byteOffset % 8, a.reduce((s, x) => s + x, 0)]);
    assert.deepEqual(await ray.get(look.remote(ref)), [true, 0, (1 << 16) * 0.5]);
  });

  it("a worker can build a table with its own import of apache-arrow and return it", async () => {
    const make = ray.remote(async (n: number) => {
      const { tableFromArrays: tfa } = await import("apache-arrow");
      return tfa({ k: Int32Array.from({ length: n }, (_, i) => i * 2), s: Array.from({ length: n }, (_, i) => `s${i}`) });
    });
    const t = (await ray.get(make.remote(5))) as Table;
    assert.equal(t.constructor.name, "Table");
    assert.deepEqual([...t.getChild("k")!.toArray()], [0, 2, 4, 6, 8]);
    assert.deepEqual([...t.getChild("s")!.toArray()], ["s0", "s1", "s2", "s3", "s4"]);
  });

  it("a view held by the program keeps its slot: freeing the object does not let new data overwrite it", async () => {
    const ref = await ray.put(new Float64Array(1 << 15).fill(42));
    const view = (await ray.get(ref)) as Float64Array;
    ray.release(ref); // the store frees it; the view is still alive, so the slot is a zombie
    await new Promise((r) => setTimeout(r, 20));
    const others = [];
    for (let i = 0; i < 8; i++) others.push(await ray.put(new Float64Array(1 << 15).fill(i)));
    assert.ok(view.every((x) => x === 42), "the held view was overwritten");
    ray.release(others);
  });
});

describe("embedded cluster: slots read in place come back while memory is plentiful", () => {
  before(async () => { await ray.init({ numCpus: 1, storeCapacity: 512 << 20 }); });
  after(async () => { await ray.shutdown(); });

  it("a worker idle after reading a big array in place lets its slot go, so the next object reuses that memory", async () => {
    const arena = () => ray.cluster()!.storeStats().head.arena;
    const big = (x: number) => new Float64Array(COLLECT_AFTER_PINNED_BYTES / 8).fill(x);
    const ref = await ray.put(big(1));
    const ends = ray.remote((a: Float64Array) => a[0] + a[a.length - 1]);
    assert.equal(await ray.get(ends.remote(ref)), 2);
    const { top } = arena();
    ray.release(ref);
    // The worker's view is dead, but V8 would collect it only when its memory reducer runs, ~8 s
    // after the thread goes idle (measured here); by then the next objects have gone into fresh
    // memory. The worker's own collection once idle gives the slot back within the host's next
    // zombie sweep (every 250 ms). 40 polls of 50 ms leave room for a loaded machine while
    // staying well under the memory reducer's delay.
    for (let i = 0; i < 40 && (arena().zombies > 0 || arena().usedBytes >= COLLECT_AFTER_PINNED_BYTES); i++) await ray.sleep(50);
    assert.deepEqual({ zombies: arena().zombies, released: arena().usedBytes < COLLECT_AFTER_PINNED_BYTES }, { zombies: 0, released: true });
    // The next object of that size goes where the last one was, not into untouched memory.
    const again = await ray.put(big(2));
    assert.equal(arena().top, top);
    ray.release(again);
  });
});

describe("embedded cluster: spilling and a full store", () => {
  const capacity = 4 << 20;
  let spillDir = "";
  before(async () => {
    await ray.init({ numCpus: 2, storeCapacity: capacity, config: { storeFullTimeoutMs: 300 } });
    spillDir = ray.cluster()!.spill.dir;
  });
  after(async () => {
    await ray.shutdown();
    assert.equal(existsSync(spillDir), false, "the spill directory is removed at shutdown");
  });

  it("an object larger than the store round-trips intact through a spill file", async () => {
    const big = new Float64Array((3 * capacity) / 8); // 12 MiB into a 4 MiB store
    for (let i = 0; i < big.length; i++) big[i] = i * 0.5;
    const ref = await ray.put(big);
    assert.ok(ray.cluster()!.spill.spilledCount >= 1);
    const back = (await ray.get(ref)) as Float64Array;
    assert.equal(back.length, big.length);
    assert.equal(back[big.length - 1], (big.length - 1) * 0.5);
    assert.deepEqual(back.subarray(0, 1000), big.subarray(0, 1000));
    // A worker reads it too (restored from the file).
    const last = ray.remote((a: Float64Array) => a[a.length - 1]);
    assert.equal(await ray.get(last.remote(ref)), (big.length - 1) * 0.5);
    ray.release(ref);
  });

  it("many objects that together exceed the store all come back right", async () => {
    const refs = [];
    for (let i = 0; i < 12; i++) refs.push(await ray.put(new Float64Array((1 << 20) / 8).fill(i))); // 12 × 1 MiB
    assert.ok(ray.cluster()!.storeStats().head.store.spilled > 0);
    let values: Float64Array[] | undefined = (await ray.get(refs)) as Float64Array[];
    assert.deepEqual(values.map((v) => [v[0], v[v.length - 1]]), Array.from({ length: 12 }, (_, i) => [i, i]));
    // Views read in place keep their slots (as a mapped plasma buffer does); drop them.
    values = undefined;
    // Task results that do not fit are spilled and restored as well.
    const make = ray.remote((i: number) => new Float64Array((1 << 20) / 8).fill(i + 100));
    const made = Array.from({ length: 8 }, (_, i) => make.remote(i));
    const got = (await ray.get(made)) as Float64Array[];
    assert.deepEqual(got.map((v) => v[12345]), Array.from({ length: 8 }, (_, i) => i + 100));
    ray.release([...refs, ...made]);
  });

  it("past spilling: ObjectStoreFullError after back-pressure, never a lost object", async () => {
    // Pinned copies cannot be spilled: a worker holds three 1 MiB arguments while the driver puts.
    const hold = ray.remote(async (a: Float64Array, b: Float64Array, c: Float64Array, ms: number) => { await ray.sleep(ms); return a[0] + b[0] + c[0]; });
    const args = [];
    for (let i = 1; i <= 3; i++) args.push(await ray.put(new Float64Array((1 << 20) / 8).fill(i)));
    const running = hold.remote(args[0], args[1], args[2], 1_500);
    await ray.sleep(100);
    const t0 = performance.now();
    await assert.rejects(ray.put(new Float64Array((2 << 20) / 8)), (e: Error) => e instanceof ray.ObjectStoreFullError);
    assert.ok(performance.now() - t0 >= 250, "the put waited for space before failing");
    assert.equal(await ray.get(running), 6);
    // Once the task is done its arguments can be spilled again, and the same put succeeds.
    const ok = await ray.put(new Float64Array((2 << 20) / 8).fill(9));
    assert.equal(((await ray.get(ok)) as Float64Array)[7], 9);
    ray.release([...args, ok]);
  });
});
