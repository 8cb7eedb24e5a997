// Benchmark: Ray's microbenchmarks (`ray microbenchmark`) on the embedded cluster, one node
// with this machine's CPUs. Each figure is the median of several runs, next to the figure Ray
// publishes for a 64-vCPU machine, and to this project's target for this 2-core machine.
//
//   npx tsx bench/embedded.ts [--runs N] [--scale X]    (also: npm run bench -- embedded)
//
// Writes bench/results/embedded.json.
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import os from "node:os";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import * as ray from "../src/index.ts";
import { copyBytes } from "../src/runtime/copy-bytes.ts";
import { Arena } from "../src/runtime/embedded/arena.ts";
import { median, type Bench, type Figures } from "./run.ts";

export interface Metric {
  readonly key: string;
  readonly label: string;
  readonly unit: string;
  /** Ray 2.x's published figure (64 vCPUs, release benchmarks). */
  readonly ray: number;
  /** This project's target on a 2-core machine. */
  readonly target: number;
  /** Operations in one run (scaled by --scale). */
  readonly n: number;
  /** How long to warm up first (default 1 s); 0: one small run. */
  readonly warmupMs?: number;
  /** Returns the rate of one run. */
  readonly run: (n: number) => Promise<number>;
}

const LARGE_PUT_BYTES = 256 * 1024 * 1024;

function rate(n: number, ms: number): number { return (n / ms) * 1000; }

async function timed(n: number, body: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await body();
  return rate(n, performance.now() - t0);
}

/** The API the metrics drive: this tree's, or another checkout's (bench/compare.ts). */
export type RayModule = typeof ray;

export function metrics(r: RayModule = ray): Metric[] {
  const noop = r.remote(function noop() { return 0; });
  const Actor = r.remote(class Actor { n = 0; small() { return ++this.n; } });
  let actor: ReturnType<typeof Actor.remote> | undefined;
  const theActor = async () => {
    if (!actor) { actor = Actor.remote(); await r.get(actor.small.remote()); }
    return actor;
  };
  return [
    {
      key: "tasks_sync", label: "single client tasks sync", unit: "/s", ray: 981, target: 5_000, n: 3_000,
      run: (n) => timed(n, async () => { for (let i = 0; i < n; i++) await r.get(noop.remote()); }),
    },
    {
      key: "tasks_async", label: "single client tasks async", unit: "/s", ray: 8_041, target: 25_000, n: 30_000,
      run: (n) => timed(n, async () => {
        const refs = new Array(n);
        for (let i = 0; i < n; i++) refs[i] = noop.remote();
        await r.get(refs);
      }),
    },
    {
      key: "actor_sync", label: "1:1 actor calls sync", unit: "/s", ray: 2_012, target: 0, n: 3_000,
      run: async (n) => {
        const a = await theActor();
        return timed(n, async () => { for (let i = 0; i < n; i++) await r.get(a.small.remote()); });
      },
    },
    {
      key: "actor_async", label: "1:1 actor calls async", unit: "/s", ray: 8_664, target: 25_000, n: 30_000,
      run: async (n) => {
        const a = await theActor();
        return timed(n, async () => {
          const refs = new Array(n);
          for (let i = 0; i < n; i++) refs[i] = a.small.remote();
          await r.get(refs);
        });
      },
    },
    {
      key: "put_small", label: "single client put calls", unit: "/s", ray: 5_173, target: 50_000, n: 30_000,
      run: async (n) => {
        const refs = new Array(n);
        const perSec = await timed(n, async () => { for (let i = 0; i < n; i++) refs[i] = await r.put(i); });
        r.release(refs);
        return perSec;
      },
    },
    {
      key: "get_small", label: "single client get calls", unit: "/s", ray: 10_620, target: 50_000, n: 30_000,
      run: async (n) => {
        const refs = new Array(n);
        for (let i = 0; i < n; i++) refs[i] = await r.put(i);
        const perSec = await timed(n, async () => { for (let i = 0; i < n; i++) await r.get(refs[i]); });
        r.release(refs);
        return perSec;
      },
    },
    {
      // A copy's speed needs no warming, and a second of back-to-back 256 MiB puts leaves frees
      // still in flight that the first measured run would wait on.
      key: "put_gbps", label: "single client put gigabytes", unit: "GB/s", ray: 19.9, target: 8, n: 4, warmupMs: 0,
      run: async (n) => {
        const big = new Float64Array(LARGE_PUT_BYTES / 8);
        for (let i = 0; i < big.length; i += 512) big[i] = i;
        let ms = 0;
        for (let i = 0; i < n; i++) {
          const t0 = performance.now();
          const ref = await r.put(big);
          ms += performance.now() - t0;
          r.release(ref);
        }
        return (n * LARGE_PUT_BYTES) / ms / 1e6;
      },
    },
  ];
}

// ---- design measurements (no targets): transport drain, dropped puts, allocator ----------------

/**
 * A driver's loop of big puts it drops at once, no gc() called: how many objects the store spilled
 * to disk before the collector released them, and how long the loop took (embedded.md: the host
 * collects everywhere as an arena fills, and yields to the event loop meanwhile).
 */
async function droppedPuts(log: (s: string) => void): Promise<Record<string, number>> {
  const n = 300, doubles = 2 ** 20; // 8 MiB each: 2.3 GiB through a 1.5 GiB store
  await ray.init({ storeCapacity: 1.5 * 2 ** 30 });
  try {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await ray.put(new Float64Array(doubles).fill(i));
    const ms = performance.now() - t0;
    const spilled = ray.cluster()!.spill.spilledCount; // files written, freed since or not
    log(`  a driver's ${n} dropped puts of 8 MiB through a 1.5 GiB store: ${spilled} spilled to disk, ${Math.round(ms)} ms`);
    return { dropped_puts_spilled: spilled, dropped_puts_ms: ms };
  } finally {
    await ray.shutdown();
  }
}

/** Tasks and actor calls async with the transport drained by setImmediate instead of microtasks. */
async function drainComparison(runs: number, log: (s: string) => void): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const drain of ["microtask", "immediate"] as const) {
    await ray.init({ config: { drain } });
    try {
      const noop = ray.remote(function noop() { return 0; });
      const A = ray.remote(class A { n = 0; small() { return ++this.n; } });
      const a = A.remote();
      await ray.get(a.small.remote());
      const tasks: number[] = [], calls: number[] = [];
      for (let r = 0; r < runs; r++) {
        const n = 20_000;
        tasks.push(await timed(n, async () => { await ray.get(Array.from({ length: n }, () => noop.remote())); }));
        calls.push(await timed(n, async () => { await ray.get(Array.from({ length: n }, () => a.small.remote())); }));
      }
      out[`tasks_async_${drain}`] = median(tasks);
      out[`actor_async_${drain}`] = median(calls);
      log(`  drain by ${drain.padEnd(9)}: tasks async ${fmt(median(tasks), "/s")}/s, actor calls async ${fmt(median(calls), "/s")}/s`);
    } finally {
      await ray.shutdown();
    }
  }
  return out;
}

/** A first-fit allocator over one sorted free list, to compare with the arena's segregated lists. */
class FirstFit {
  private free: [number, number][];
  constructor(cap: number) { this.free = [[0, cap]]; }
  alloc(n: number): number {
    const size = Math.max(16, Math.ceil((n + 8) / 8) * 8);
    for (let i = 0; i < this.free.length; i++) {
      const [off, len] = this.free[i];
      if (len < size) continue;
      if (len === size) this.free.splice(i, 1); else this.free[i] = [off + size, len - size];
      return off;
    }
    return -1;
  }
  release(off: number, n: number): void {
    const size = Math.max(16, Math.ceil((n + 8) / 8) * 8);
    let lo = 0, hi = this.free.length;
    while (lo < hi) { const m = (lo + hi) >> 1; if (this.free[m][0] < off) lo = m + 1; else hi = m; }
    this.free.splice(lo, 0, [off, size]);
    const cur = this.free[lo];
    const next = this.free[lo + 1];
    if (next && cur[0] + cur[1] === next[0]) { cur[1] += next[1]; this.free.splice(lo + 1, 1); }
    const prev = this.free[lo - 1];
    if (prev && prev[0] + prev[1] === cur[0]) { prev[1] += cur[1]; this.free.splice(lo, 1); }
  }
}

/** Alloc/free pairs per second on a mixed workload (sizes 16 B – 64 KiB, ~2,000 live objects). */
/**
 * The ceiling under "put gigabytes": one copy of the same 256 MiB from the heap into a
 * SharedArrayBuffer, the way a put makes it (copyBytes: Node's memcpy) and the way V8's
 * TypedArray#set does (relaxed atomic words), and for scale into an ordinary ArrayBuffer.
 * Measured in the same run, so the put figure can be read against them.
 */
function copyCeiling(runs: number, log: (s: string) => void): Record<string, number> {
  const src = new Uint8Array(LARGE_PUT_BYTES);
  for (let i = 0; i < src.length; i += 4096) src[i] = i & 255;
  const rate = (dst: Uint8Array, copy: (dst: Uint8Array) => void): number => {
    copy(dst); // first touch: page faults out of the way
    const xs: number[] = [];
    for (let i = 0; i < Math.max(3, runs); i++) {
      const t0 = performance.now();
      copy(dst);
      xs.push(LARGE_PUT_BYTES / (performance.now() - t0) / 1e6);
    }
    return median(xs);
  };
  const shared = new Uint8Array(new SharedArrayBuffer(LARGE_PUT_BYTES));
  const memcpy = rate(shared, (d) => copyBytes(d, 0, src));
  const set = rate(shared, (d) => d.set(src));
  const heap = rate(new Uint8Array(LARGE_PUT_BYTES), (d) => d.set(src));
  log(`  one copy of 256 MiB: heap → SharedArrayBuffer ${fmt(memcpy, "GB/s")} GB/s by copyBytes, ${fmt(set, "GB/s")} GB/s by TypedArray#set; heap → heap ${fmt(heap, "GB/s")} GB/s`);
  return { copy_to_shared_gbps: memcpy, copy_to_shared_by_set_gbps: set, copy_to_heap_gbps: heap };
}

function allocatorComparison(log: (s: string) => void): Record<string, number> {
  const ops = 400_000, cap = 256 << 20;
  let seed = 12345;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const sizes = Array.from({ length: ops }, () => Math.floor(16 * 4096 ** rnd()));
  const run = (alloc: (n: number) => unknown, release: (h: unknown, n: number) => void) => {
    const live: [unknown, number][] = [];
    const t0 = performance.now();
    for (let i = 0; i < ops; i++) {
      if (live.length > 2000 || (live.length > 0 && rnd() < 0.45)) {
        const j = Math.floor(rnd() * live.length);
        const [h, n] = live[j];
        live[j] = live[live.length - 1];
        live.pop();
        release(h, n);
      } else live.push([alloc(sizes[i]), sizes[i]]);
    }
    return ops / (performance.now() - t0) * 1000;
  };
  seed = 1;
  const arena = new Arena(cap);
  const seg = run((n) => arena.alloc(n), (h) => arena.release(h as Uint8Array));
  seed = 1;
  const ff = new FirstFit(cap);
  const first = run((n) => ff.alloc(n), (h, n) => ff.release(h as number, n));
  log(`  allocator: segregated lists ${fmt(seg, "/s")} ops/s, first fit over one list ${fmt(first, "/s")} ops/s`);
  return { alloc_segregated: seg, alloc_first_fit: first };
}


export interface EmbeddedBenchOptions {
  runs?: number; scale?: number; log?: (line: string) => void; only?: string[]; extras?: boolean;
  /** How long each metric warms up unless it sets its own (default 1 s). */
  warmupMs?: number;
  /** How to get a cluster (default: an embedded one); bench/daemons.ts connects to daemons instead. */
  init?: () => Promise<unknown>;
}

/** Runs every metric `runs` times on a fresh embedded cluster; returns the medians by key. */
export async function measure(opts: EmbeddedBenchOptions = {}): Promise<{ medians: Record<string, number>; runs: Record<string, number[]>; metrics: Metric[]; extras: Record<string, number> }> {
  const runs = opts.runs ?? 5;
  const scale = opts.scale ?? 1;
  const log = opts.log ?? (() => {});
  await (opts.init ?? (() => ray.init({ storeCapacity: 1.5 * 2 ** 30 })))();
  const all = metrics().filter((m) => !opts.only || opts.only.includes(m.key));
  const medians: Record<string, number> = {};
  const perRun: Record<string, number[]> = {};
  try {
    for (const m of all) {
      const n = Math.max(1, Math.round(m.n * (m.unit === "GB/s" ? 1 : scale)));
      // Warm up (threads, JIT-compiled code, caches, a fresh daemon's too) for a second or more,
      // as Ray's timeit does before it measures.
      const warm = performance.now() + (m.warmupMs ?? opts.warmupMs ?? 1000);
      do await m.run(Math.max(1, Math.round(n / 10))); while (performance.now() < warm);
      const xs: number[] = [];
      for (let i = 0; i < runs; i++) xs.push(await m.run(n));
      perRun[m.key] = xs;
      medians[m.key] = median(xs);
      log(`  ${m.label.padEnd(30)} ${fmt(medians[m.key], m.unit)} ${m.unit}   (runs: ${xs.map((x) => fmt(x, m.unit)).join(", ")})`);
    }
  } finally {
    await ray.shutdown();
  }
  let extras: Record<string, number> = {};
  if (opts.extras ?? !opts.only) {
    log("design measurements:");
    extras = { ...(await drainComparison(Math.max(1, Math.min(runs, 3)), log)), ...(await droppedPuts(log)), ...allocatorComparison(log), ...copyCeiling(runs, log) };
  }
  return { medians, runs: perRun, metrics: all, extras };
}

function fmt(v: number, unit: string): string {
  return unit === "GB/s" ? v.toFixed(2) : Math.round(v).toLocaleString("en-US");
}

/** For bench/run.ts and tools: the medians by key. Also writes bench/results/embedded.json. */
export async function run(opts: EmbeddedBenchOptions = {}): Promise<Record<string, number>> {
  const r = await measure({ log: console.log, ...opts });
  write(r, opts.runs ?? 5);
  return r.medians;
}

function write(r: Awaited<ReturnType<typeof measure>>, runs: number): void {
  const dir = fileURLToPath(new URL("./results/", import.meta.url));
  mkdirSync(dir, { recursive: true });
  const rows = r.metrics.map((m) => ({
    key: m.key, label: m.label, unit: m.unit, median: round(r.medians[m.key]), runs: r.runs[m.key].map(round),
    ray: m.ray, target: m.target || undefined, meetsTarget: m.target ? r.medians[m.key] >= m.target : undefined,
    vsRay: round(r.medians[m.key] / m.ray),
  }));
  const record = {
    name: "embedded",
    description: "Ray's microbenchmarks on the embedded cluster (one node, all cores), medians",
    date: new Date().toISOString(), node: process.version, platform: `${os.platform()}-${os.arch()}`,
    cpu: os.cpus()[0]?.model ?? "unknown", cores: os.availableParallelism(), runs,
    rayReference: "Ray 2.x release microbenchmarks, 64 vCPUs (tasks sync 981/s, async 8,041/s, 1:1 actor sync 2,012/s, async 8,664/s, put 5,173/s, get 10,620/s, put 19.9 GB/s)",
    metrics: rows,
    design: Object.fromEntries(Object.entries(r.extras).map(([k, v]) => [k, round(v)])),
  };
  const file = `${dir}embedded.json`;
  writeFileSync(`${file}.tmp`, JSON.stringify(record, null, 2) + "\n");
  renameSync(`${file}.tmp`, file);
  console.log(`wrote ${file}`);
}

function round(x: number): number { return x >= 100 ? Math.round(x) : Math.round(x * 100) / 100; }

/** The same benchmark in bench/run.ts's shape. */
export const embeddedBench: Bench = {
  name: "embedded",
  description: "Ray's microbenchmarks on the embedded cluster (tasks, actor calls, put/get, put GB/s)",
  options: { runs: 5 },
  async run(opts, log): Promise<Figures> {
    const r = await measure({ runs: opts.runs, log });
    const figures: Record<string, number> = {};
    const targets: Record<string, { min: number }> = {};
    for (const m of r.metrics) {
      figures[m.key] = round(r.medians[m.key]);
      if (m.target) targets[m.key] = { min: m.target };
    }
    // The design measurements too (no targets), so that the results file keeps them.
    for (const [k, v] of Object.entries(r.extras)) figures[k] = round(v);
    return { params: { runs: opts.runs, cores: os.availableParallelism() }, figures, targets, runs: r.metrics.map((m) => ({ key: m.key, runs: r.runs[m.key] })) };
  },
};

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const { values } = parseArgs({ options: { runs: { type: "string" }, scale: { type: "string" }, only: { type: "string" } }, strict: true });
  const runs = values.runs === undefined ? undefined : Number(values.runs);
  const scale = values.scale === undefined ? undefined : Number(values.scale);
  console.log(`embedded cluster microbenchmarks (${os.availableParallelism()} cores, Node ${process.version})`);
  const medians = await run({ runs, scale, only: values.only?.split(",") });
  console.log("");
  console.log("metric                          median        Ray (64 vCPU)   target");
  for (const m of metrics().filter((x) => x.key in medians)) {
    const v = medians[m.key];
    console.log(`${m.label.padEnd(30)} ${fmt(v, m.unit).padStart(9)} ${m.unit.padEnd(5)} ${fmt(m.ray, m.unit).padStart(9)} ${m.unit.padEnd(5)} ${m.target ? `${fmt(m.target, m.unit)} ${v >= m.target ? "met" : "NOT met"}` : "-"}`);
  }
}
