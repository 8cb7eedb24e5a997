// Exploration on every core: worker threads that each run `explore` on the jobs they are handed.
// A fixed budget (`exploreParallel`) is cut into a fixed number of shards, each with a seed of
// its own, so the scenarios explored — and the failure reported, the one of the lowest shard —
// depend on the seed alone, never on the number of threads or on which thread ran faster.

import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { SeededBug } from "../src/core/bugs.ts";
import { mergeCoverage, type Coverage } from "./coverage.ts";
import type { Exploration } from "./explore.ts";

/** One call of `explore` in a thread (plain data: it crosses to the thread by structured clone). */
export interface ExploreJob {
  readonly runs: number;
  readonly seed: number;
  readonly bugs?: readonly SeededBug[];
  readonly timeLimitMs?: number;
  readonly swarm?: boolean;
}

export type FromExploreThread = { readonly kind: "ready" } | { readonly kind: "run" } | { readonly kind: "done"; readonly result: Exploration } | { readonly kind: "error"; readonly message: string };

const threadModule = new URL(import.meta.url.endsWith(".ts") ? "./explore-thread.ts" : "./explore-thread.js", import.meta.url);

/** The thread's entry: TypeScript sources need tsx's loader hooks, which threads do not inherit. */
function bootCode(): string {
  const load = `import(${JSON.stringify(threadModule.href)})`;
  if (!threadModule.pathname.endsWith(".ts")) return load;
  return `import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))}).then((m) => { m.register(); return ${load}; })`;
}

class ExploreThread {
  private readonly worker = new Worker(bootCode(), { eval: true });
  private pending?: { resolve: (r: Exploration) => void; reject: (e: Error) => void };
  /** Settles once the thread has loaded the simulator (or failed to). */
  readonly ready: Promise<void>;

  constructor(onRun: () => void) {
    let loaded!: () => void, failed!: (e: Error) => void;
    this.ready = new Promise((resolve, reject) => { loaded = resolve; failed = reject; });
    this.worker.on("message", (m: FromExploreThread) => {
      if (m.kind === "ready") { loaded(); return; }
      if (m.kind === "run") { onRun(); return; }
      const p = this.pending;
      this.pending = undefined;
      if (m.kind === "done") p?.resolve(m.result);
      else p?.reject(new Error(`exploration thread: ${m.message}`));
    });
    this.worker.on("error", (e) => { failed(e); this.pending?.reject(e); this.pending = undefined; });
  }

  run(job: ExploreJob): Promise<Exploration> {
    if (this.pending) throw new Error("an exploration thread runs one job at a time");
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.worker.postMessage(job);
    });
  }

  close(): Promise<number> { return this.worker.terminate(); }
}

export interface PoolOptions {
  /** Threads to start (default: one per core). */
  readonly threads?: number;
  /** Called after every scenario run in any thread (shrinking runs included). */
  readonly onRun?: () => void;
  /** Called once every thread has loaded the simulator (each compiles the sources). */
  readonly onLoaded?: () => void;
  /**
   * Scenarios each thread explores once loaded, before the first job, results discarded unless
   * one fails (default none): V8 goes on optimising the simulator for the first thousand or so
   * scenarios, on a background thread that competes with the other threads for the cores.
   */
  readonly warmUp?: number;
  /**
   * Called after the warm-up, before the first job: a rate timed from here is a long soak's,
   * not its first seconds'.
   */
  readonly onReady?: () => void;
}

/** The seed of a thread's warm-up (any seed: its scenarios are only there to be compiled for). */
const WARM_UP_SEED = 0x5eed;

/**
 * Runs jobs from `next` on `threads` threads until it returns undefined; `done` sees each
 * job's result as it completes (in completion order).
 */
export async function runJobs(next: () => ExploreJob | undefined, done: (job: ExploreJob, r: Exploration) => void, o: PoolOptions = {}): Promise<void> {
  const threads = Array.from({ length: Math.max(1, o.threads ?? availableParallelism()) }, () => new ExploreThread(o.onRun ?? (() => {})));
  try {
    await Promise.all(threads.map((t) => t.ready));
    o.onLoaded?.();
    const warmUp = o.warmUp ?? 0;
    if (warmUp > 0) {
      await Promise.all(threads.map(async (t, i) => {
        const seed = shardSeed(WARM_UP_SEED, i);
        // Discarded only when it passed: a failure is a failure wherever it was found.
        const failure = (await t.run({ runs: warmUp, seed })).failure;
        if (failure) throw new Error(`a warm-up scenario failed (exploration seed ${seed}): ${failure.problems.join("; ")}\n${JSON.stringify(failure.scenario)}`);
      }));
    }
    o.onReady?.();
    await Promise.all(threads.map(async (t) => {
      for (let job = next(); job !== undefined; job = next()) done(job, await t.run(job));
    }));
  } finally {
    await Promise.all(threads.map((t) => t.close()));
  }
}

/** Shard `i`'s seed: spread so that nearby exploration seeds share no shard. */
export function shardSeed(seed: number, i: number): number {
  return (Math.imul(seed, 0x9e3779b1) + Math.imul(i + 1, 0x85ebca6b)) | 0;
}

export interface ParallelExploreOptions extends PoolOptions {
  readonly runs: number;
  readonly seed: number;
  readonly bugs?: readonly SeededBug[];
  /** Shards the budget is cut into (default 8); the result depends on it, not on `threads`. */
  readonly shards?: number;
  readonly swarm?: boolean;
}

/**
 * `runs` scenarios over `shards` shards on every core. Shards are started in order and none
 * after one that failed, so every shard below a failure has run: the failure reported (the
 * lowest shard's) and the count up to it are the same whatever the threads did.
 */
export async function exploreParallel(o: ParallelExploreOptions): Promise<Exploration & { readonly shards: number }> {
  const shards = Math.max(1, Math.min(o.shards ?? 8, o.runs));
  const jobs: ExploreJob[] = Array.from({ length: shards }, (_, i) => ({
    runs: Math.floor(o.runs / shards) + (i < o.runs % shards ? 1 : 0),
    seed: shardSeed(o.seed, i),
    ...(o.bugs ? { bugs: o.bugs } : {}),
    ...(o.swarm ? { swarm: true } : {}),
  }));
  const results = new Map<ExploreJob, Exploration>();
  let firstFailed = Infinity;
  let started = 0;
  await runJobs(
    () => (started < shards && started < firstFailed ? jobs[started++] : undefined),
    (job, r) => {
      results.set(job, r);
      if (r.failure) firstFailed = Math.min(firstFailed, jobs.indexOf(job));
    },
    { threads: Math.min(o.threads ?? availableParallelism(), shards), onRun: o.onRun, onLoaded: o.onLoaded, warmUp: o.warmUp, onReady: o.onReady },
  );
  const upTo = Number.isFinite(firstFailed) ? firstFailed : shards - 1;
  let generated = 0, executed = 0;
  const coverage: Coverage = {};
  for (let i = 0; i <= upTo; i++) {
    const r = results.get(jobs[i])!;
    generated += r.generated;
    executed += r.executed;
    mergeCoverage(coverage, r.coverage);
  }
  const failure = Number.isFinite(firstFailed) ? results.get(jobs[firstFailed])!.failure : undefined;
  return { generated, executed, coverage, shards, ...(failure ? { failure } : {}) };
}
