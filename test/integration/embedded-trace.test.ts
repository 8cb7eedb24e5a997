// The embedded cluster emits the simulator's trace events, stamped with wall-clock time, so the
// invariant checkers judge a real run too; and the seed examples and the map-reduce return the
// same results embedded as simulated.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { simulate } from "../../sim/simulate.ts";
import { checkTrace, formatViolations } from "../../spec/invariants/index.ts";
import { parseTrace, type TraceEvent } from "../../spec/trace.ts";
import type { Ray } from "../../src/api/ray.ts";
import { EmbeddedCluster } from "../../src/runtime/embedded/cluster.ts";
import { embeddedConfig, type InitOptions } from "../../src/runtime/embedded/index.ts";

type Program = (ray: Ray) => Promise<unknown>;

// Minimal stand-ins, used only if examples/ lacks a file (the examples are another engineer's).
const fallback: Record<string, Program> = {
  square: async (ray) => ray.get([0, 1, 2, 3, 4].map((i) => ray.remote((x: number) => x * x).remote(i))),
  counter: async (ray) => {
    const C = ray.remote(class Counter { count = 0; increment() { return ++this.count; } });
    const c = C.remote();
    return [await ray.get(c.increment.remote()), await ray.get(c.increment.remote())];
  },
  add: async (ray) => {
    const add = ray.remote((x: number, y: number) => x + y);
    return ray.get(add.remote(add.remote(1, 2), add.remote(3, 4)));
  },
  "map-reduce": async (ray) => {
    const count = ray.remote((text: string) => text.split(" ").length);
    const merge = ray.remote((a: number, b: number) => a + b);
    let level = Array.from({ length: 8 }, (_, i) => count.remote("w ".repeat(i + 1).trim()));
    while (level.length > 1) {
      const next = [];
      for (let i = 0; i + 1 < level.length; i += 2) next.push(merge.remote(level[i], level[i + 1]));
      level = next;
    }
    return ray.get(level[0]);
  },
};

async function example(name: string): Promise<Program> {
  const file = fileURLToPath(new URL(`../../examples/${name}.ts`, import.meta.url));
  if (!existsSync(file)) return fallback[name];
  const mod = (await import(pathToFileURL(file).href)) as { default?: Program };
  return typeof mod.default === "function" ? mod.default : fallback[name];
}

async function runEmbedded(program: Program, opts: InitOptions = {}): Promise<{ value: unknown; trace: readonly TraceEvent[]; quiet: boolean }> {
  const c = await EmbeddedCluster.start(embeddedConfig({ keepTrace: true, ...opts }));
  let value: unknown;
  try {
    value = await program(c.ray);
  } finally {
    var { quiet } = await c.shutdown();
  }
  return { value, trace: c.trace, quiet };
}

const tmp = mkdtempSync(path.join(os.tmpdir(), "tsray-trace-test-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe("embedded cluster: same results as the simulator", () => {
  for (const name of ["square", "counter", "add", "map-reduce"]) {
    it(`${name}: embedded and simulated agree, and the embedded trace passes every checker`, async () => {
      const program = await example(name);
      const embedded = await runEmbedded(program);
      const simulated = await simulate({ program, seed: 1, nodes: 4 });
      assert.equal(simulated.error, undefined, simulated.error?.stack);
      assert.deepEqual(embedded.value, simulated.result);
      assert.deepEqual(checkTrace(embedded.trace), [], formatViolations(checkTrace(embedded.trace)));
      assert.equal(embedded.quiet, true);
      const kinds = embedded.trace.map((e) => e.kind);
      assert.ok(kinds.includes("task.finished"));
      assert.ok(kinds.includes("program.end"));
      assert.equal(kinds.at(-1), "cluster.quiet");
    });
  }
});

describe("embedded cluster: traces", () => {
  it("a busy program's trace (stores, spills, actors, nested tasks) satisfies the invariants", async () => {
    const program: Program = async (ray) => {
      const make = ray.remote((n: number, v: number) => new Float64Array(n).fill(v)); // stored results
      const sum = ray.remote((a: Float64Array) => a.reduce((s, x) => s + x, 0));
      const fan = ray.remote(async (k: number) => {
        const inner = ray.remote((x: number) => x * 2);
        return (await ray.get(Array.from({ length: k }, (_, i) => inner.remote(i)))).reduce((s: number, x: number) => s + x, 0);
      });
      const Acc = ray.remote(class Acc { total = 0; add(x: number) { return (this.total += x); } });
      const acc = Acc.remote();
      // 320 KB each, one at a time: together over the 1 MiB store, so earlier ones are spilled
      // and restored when read.
      const bigs = [];
      for (let i = 0; i < 3; i++) bigs.push(await ray.put(new Float64Array(40_000).fill(i)));
      for (let i = 3; i < 6; i++) { const r = make.remote(40_000, i); await ray.wait([r]); bigs.push(r); }
      const sums: number[] = [];
      for (const b of bigs) sums.push((await ray.get(sum.remote(b))) as number);
      const puts = await Promise.all([1, 2, 3].map((i) => ray.put({ i, s: "x".repeat(i * 10) })));
      const fans = (await ray.get([fan.remote(3), fan.remote(4)])) as number[];
      let last = 0;
      for (const s of sums) last = (await ray.get(acc.add.remote(s))) as number;
      return { sums, fans, last, puts: (await ray.get(puts)).length };
    };
    const file = path.join(tmp, "busy.jsonl");
    const r = await runEmbedded(program, { storeCapacity: 1 << 20, traceFile: file });
    assert.deepEqual((r.value as { fans: number[] }).fans, [6, 12]);
    assert.equal((r.value as { last: number }).last, 40_000 * 15);
    const kinds = new Set(r.trace.map((e) => e.kind));
    for (const k of ["object.created", "object.spilled", "actor.state", "lease.granted", "object.out-of-scope"]) assert.ok(kinds.has(k as TraceEvent["kind"]), `no ${k} event`);
    assert.deepEqual(checkTrace(r.trace), [], formatViolations(checkTrace(r.trace)));
    // The JSONL file holds the same events, wall-clock stamped, in order.
    const fromFile = parseTrace(readFileSync(file, "utf8"));
    assert.equal(fromFile.length, r.trace.length);
    assert.deepEqual(fromFile.map((e) => e.kind), r.trace.map((e) => e.kind));
    const now = Date.now();
    for (let i = 0; i < fromFile.length; i++) {
      assert.ok(Math.abs(fromFile[i].t - now) < 600_000, "t is wall-clock ms");
      if (i > 0) assert.ok(fromFile[i].t >= fromFile[i - 1].t, "t never goes back");
      assert.equal(typeof fromFile[i].node, "string");
    }
  });

  it("the checkers catch a broken embedded trace (a read of a freed object)", async () => {
    const r = await runEmbedded(async (ray) => ray.get(ray.remote(() => 1).remote()));
    const read = r.trace.find((e) => e.kind === "object.read")!;
    const broken = [...r.trace, { ...read, t: read.t + 1e6 }]; // read again after program end: after free
    assert.ok(checkTrace(broken).some((v) => v.invariant === "references"));
  });
});
