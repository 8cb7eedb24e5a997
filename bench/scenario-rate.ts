// One exploration's rate, for bench/scenarios.ts: in this process on any number of threads, or
// in a child process (held to one core, or with V8's compiler kept on the exploring threads);
// run as a script, it prints the rate of `threads` threads.
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { exploreParallel } from "../sim/explore-pool.ts";

/**
 * The budget is cut into this many shards, pulled by the threads one at a time. With few large
 * shards (the explorer's default of 8) the two-thread run waits at the end for a thread still
 * on its last shard, which can be up to an eighth of the work (scenario costs vary widely).
 * Smaller shards bound that wait; both sides run the same shards, so the same scenarios.
 */
export const SHARDS = 40;

export interface Rate {
  /** Scenarios per second once every thread is warmed up: a soak's rate. */
  readonly perSec: number;
  readonly wallMs: number;
  /** Scenarios per second of the warm-up, all threads together: a short exploration's rate (`npm test`'s). */
  readonly coldPerSec: number;
  readonly warmUpMs: number;
  readonly bootMs: number;
  /** Cores the timed part got. */
  readonly coresUsed: number;
}

/**
 * One exploration's steady rate and the cores it got: the process's CPU time (all its threads,
 * V8's own background threads included) over the wall time. Each thread first loads the
 * simulator (`bootMs`) and explores `warmUp` scenarios of its own (`coldPerSec`): V8 goes on
 * optimising the simulator for about a thousand scenarios, on a background thread that
 * competes with the other exploration threads for the cores, and a soak runs for minutes
 * after that. Then `scenarios` are timed. On a shared machine a second thread helps only as
 * far as a second core is free, and `coresUsed` says how far it was.
 */
export async function rate(threads: number, scenarios: number, seed: number, warmUp: number): Promise<Rate> {
  const t0 = performance.now();
  let loaded = t0, ready = t0;
  let c0 = process.cpuUsage();
  const r = await exploreParallel({
    runs: scenarios, seed, threads, shards: SHARDS, warmUp,
    onLoaded: () => { loaded = performance.now(); },
    onReady: () => { ready = performance.now(); c0 = process.cpuUsage(); },
  });
  const c1 = process.cpuUsage(c0);
  const wallMs = performance.now() - ready;
  if (r.failure) throw new Error(`bench/scenarios: a scenario failed: ${r.failure.problems[0]}`);
  const warmUpMs = ready - loaded;
  return { perSec: (r.generated / wallMs) * 1000, wallMs, coldPerSec: ((threads * warmUp) / warmUpMs) * 1000, warmUpMs, bootMs: loaded - t0, coresUsed: (c1.user + c1.system) / 1000 / wallMs };
}

const SELF = fileURLToPath(import.meta.url);
const ROOT = fileURLToPath(new URL("..", import.meta.url));

/**
 * One thread's rate with the whole process (V8's background threads included) held to one core
 * by `taskset`: what one core does, against which the threads on every core are a scaling.
 * Where taskset is missing (it is Linux's util-linux), the reason instead.
 */
export async function oneCoreRate(scenarios: number, seed: number, warmUp: number): Promise<Rate | { readonly missing: string }> {
  if (spawnSync("taskset", ["--version"]).error) return { missing: "taskset (util-linux) is not installed" };
  return childRate(["taskset", "-c", "0", process.execPath], 1, scenarios, seed, warmUp);
}

/**
 * The rate on `threads` threads in a child process whose V8 optimises code on the thread that
 * needs it (`--no-concurrent-recompilation`) rather than on its helper threads: how the pool
 * scales when the compiler does not take a share of the other cores. A measurement, not a
 * setting: one thread goes slower so, compiling in its own time.
 */
export function compilingOnThreadRate(threads: number, scenarios: number, seed: number, warmUp: number): Promise<Rate> {
  return childRate([process.execPath, "--no-concurrent-recompilation"], threads, scenarios, seed, warmUp);
}

async function childRate(command: readonly string[], threads: number, scenarios: number, seed: number, warmUp: number): Promise<Rate> {
  const [file, ...pre] = command;
  const child = spawn(file, [...pre, "--import", "tsx", SELF, String(scenarios), String(seed), String(warmUp), String(threads)], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => { out += d.toString(); });
  const code = await new Promise<number | null>((resolve, reject) => { child.once("error", reject); child.once("exit", resolve); });
  if (code !== 0) throw new Error(`bench/scenarios: the run in a child process (${command.join(" ")}) exited with ${code}`);
  return JSON.parse(out) as Rate;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [scenarios, seed, warmUp, threads] = process.argv.slice(2).map(Number);
  process.stdout.write(JSON.stringify(await rate(threads, scenarios, seed, warmUp)));
  process.exit(0);
}
