// Compares this checkout with another one, metric by metric, on Ray's microbenchmarks
// (bench/embedded.ts's metrics, driven through each tree's own API):
//
//   npx tsx bench/compare.ts --base DIR [--host embedded|daemons]… [--rounds N] [--scale X] [--only KEY,…]
//
// DIR is another checkout with its dependencies installed (`npm ci` there, or a node_modules
// link). Each tree runs in a driver process of its own (a child of this one), as a program
// using one tsray does: embedded, with its cluster in that process; daemons, against a head and
// a worker node started from the tree's own `tsray start`. Both trees are up at once, and this
// process has them run their bursts in turn: each round runs one burst of a metric on each tree,
// the order swapped every round; after a burst the tree's heap is collected and the frees it
// leaves behind get a pause. The figure judged is the median over rounds of main/base in the
// same round: on a shared machine whose speed moves by a quarter from minute to minute, whole
// runs minutes apart cannot show a 10% difference, and two bursts a second apart see the same
// phase. Writes bench/results/compare-<host>.json.
//
// Both drivers once shared this process. That measured the two trees against each other inside
// one V8 (one heap, one event loop, the bench's own call sites seeing both trees' objects), not
// as anyone runs them (docs/embedded.md, "Comparing two checkouts", has the figures).
import { execFileSync, fork, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { metrics, type Metric, type RayModule } from "./embedded.ts";
import { median } from "./run.ts";
import { freePort } from "../src/runtime/free-port.ts";

const HERE = fileURLToPath(new URL("..", import.meta.url));
const HOSTS = ["embedded", "daemons"] as const;
type Host = (typeof HOSTS)[number];
/** A 256 MiB put's speed is one memcpy in either tree; the comparison is of the per-call paths. */
const KEYS = ["tasks_sync", "tasks_async", "actor_sync", "actor_async", "put_small", "get_small"];
/** A metric passes while it keeps at least this share of the base's speed (a 10% loss at most). */
const MIN_RATIO = 0.9;

/** One tree's driver process, as this process sees it. */
interface Tree {
  readonly name: "base" | "main";
  /** One burst of `n` operations of a metric: its rate. */
  run(key: string, n: number): Promise<number>;
  /** After a burst: the driver's heap collected, and a pause for the frees and replies it leaves behind. */
  settle(pauseMs: number): Promise<void>;
  /** Stops what the tree started and its process. */
  stop(): Promise<void>;
  /** Operations in a full-size burst of each metric. */
  readonly sizes: Readonly<Record<string, number>>;
}

/** This process to a tree's driver process. */
type ToDriver = { readonly kind: "run"; readonly key: string; readonly n: number } | { readonly kind: "settle"; readonly ms: number } | { readonly kind: "stop" };
/** A tree's driver process to this process. */
type FromDriver = { readonly kind: "ready"; readonly sizes: Readonly<Record<string, number>> } | { readonly kind: "rate"; readonly rate: number } | { readonly kind: "settled" } | { readonly kind: "stopped" } | { readonly kind: "error"; readonly message: string };

interface Row {
  readonly key: string;
  readonly base: number;
  readonly main: number;
  /** main/base per round. */
  readonly ratios: readonly number[];
  readonly ratio: number;
  readonly pass: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function commitOf(dir: string): string {
  try {
    return execFileSync("git", ["-C", dir, "rev-parse", "--short", "HEAD"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "unknown (not a git checkout)";
  }
}

/** Starts a head and one worker node (1 CPU each, as bench/daemons.ts) from `dir`'s own CLI; returns the address. */
async function startDaemons(dir: string, home: string): Promise<{ address: string; stop: () => void }> {
  const env: NodeJS.ProcessEnv = { ...process.env, TSRAY_HOME: home };
  delete env.TSRAY_TOKEN;
  const bin = path.join(dir, "bin/tsray.js");
  const cli = (...args: string[]) => execFileSync(process.execPath, [bin, ...args], { env, stdio: ["ignore", "pipe", "inherit"] });
  const port = await freePort();
  const stop = () => {
    try { cli("stop"); } catch { /* already down */ }
    fs.rmSync(home, { recursive: true, force: true });
  };
  try {
    cli("start", "--head", "--port", String(port), "--dashboard-port", String(await freePort()), "--num-cpus", "1");
    // Older checkouts keep one session file per home; later ones one per head port.
    const perPort = path.join(home, "sessions", `${port}.json`);
    const token = JSON.parse(fs.readFileSync(fs.existsSync(perPort) ? perPort : path.join(home, "session.json"), "utf8")).token as string;
    env.TSRAY_TOKEN = token;
    cli("start", "--address", `127.0.0.1:${port}`, "--num-cpus", "1");
    // Each tree's driver reads the token from the environment when it connects.
    process.env.TSRAY_TOKEN = token;
    return { address: `127.0.0.1:${port}`, stop };
  } catch (e) {
    stop();
    throw e;
  }
}

/** Starts `dir`'s driver process for `host` and waits until its cluster is up. */
function openTree(name: "base" | "main", dir: string, host: Host): Promise<Tree> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ["--driver", dir, "--host", host], {
    // tsx's loader (inherited from this process) and a collector the bench can call between bursts.
    execArgv: [...process.execArgv, "--expose-gc"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  let waiting: { resolve: (m: FromDriver) => void; reject: (e: Error) => void } | undefined;
  const fail = (e: Error) => { const w = waiting; waiting = undefined; w?.reject(e); };
  child.on("message", (m: FromDriver) => {
    const w = waiting;
    waiting = undefined;
    if (m.kind === "error") w?.reject(new Error(`bench/compare: ${name}'s driver: ${m.message}`));
    else w?.resolve(m);
  });
  child.once("exit", (code) => fail(new Error(`bench/compare: ${name}'s driver exited (${code})`)));
  child.once("error", fail);
  const next = () => new Promise<FromDriver>((resolve, reject) => { waiting = { resolve, reject }; });
  const ask = (m: ToDriver) => { const reply = next(); child.send(m); return reply; };
  const tree = (sizes: Readonly<Record<string, number>>): Tree => ({
    name, sizes,
    run: async (key, n) => {
      const m = await ask({ kind: "run", key, n });
      if (m.kind !== "rate") throw new Error(`bench/compare: ${name}'s driver answered ${m.kind} to a run`);
      return m.rate;
    },
    settle: async (ms) => { await ask({ kind: "settle", ms }); },
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      await ask({ kind: "stop" }).catch(() => undefined);
      await exited;
    },
  });
  return next().then((m) => tree(m.kind === "ready" ? m.sizes : {}), (e: Error) => { child.kill(); throw e; });
}

/**
 * A tree's driver process (this file run with --driver DIR --host HOST): opens the cluster with
 * DIR's own API and runs the bursts it is asked for, with this checkout's metrics.
 */
async function driver(dir: string, host: Host): Promise<void> {
  const send = (m: FromDriver) => process.send!(m);
  const r = (await import(pathToFileURL(path.join(dir, "src/index.ts")).href)) as RayModule;
  let stopDaemons = () => {};
  try {
    if (host === "embedded") await r.init({ storeCapacity: 1.5 * 2 ** 30 });
    else {
      const d = await startDaemons(dir, fs.mkdtempSync(path.join(os.tmpdir(), "tsray-compare-")));
      stopDaemons = d.stop;
      await r.init({ address: d.address });
    }
  } catch (e) {
    stopDaemons();
    // Exit once the reason is out: the bench reports it rather than a bare exit code.
    process.send!({ kind: "error", message: `could not start: ${(e as Error).message}` } satisfies FromDriver, () => process.exit(1));
    return;
  }
  // The bench went away without a stop (killed, say): the cluster goes with it.
  process.once("disconnect", () => { stopDaemons(); process.exit(0); });
  const ms = new Map<string, Metric>(metrics(r).filter((m) => KEYS.includes(m.key)).map((m) => [m.key, m]));
  // openTree starts this process with --expose-gc.
  const collect = globalThis.gc;
  if (collect === undefined) throw new Error("bench/compare: a driver process needs --expose-gc");
  process.on("message", (m: ToDriver) => {
    const answer = async (): Promise<FromDriver> => {
      switch (m.kind) {
        case "run": return { kind: "rate", rate: await ms.get(m.key)!.run(m.n) };
        case "settle": collect(); await sleep(m.ms); return { kind: "settled" };
        case "stop": await r.shutdown(); stopDaemons(); return { kind: "stopped" };
      }
    };
    answer().then(
      (reply) => { send(reply); if (reply.kind === "stopped") process.disconnect(); },
      (e: unknown) => send({ kind: "error", message: e instanceof Error ? e.stack ?? e.message : String(e) }),
    );
  });
  send({ kind: "ready", sizes: Object.fromEntries([...ms].map(([k, m]) => [k, m.n])) });
}

/** One metric, `rounds` times on each tree; bursts of n operations. */
async function compareMetric(trees: readonly [Tree, Tree], key: string, n: number, rounds: number, warmupMs: number, pauseMs: number): Promise<Row> {
  const [base, main] = trees;
  for (const t of trees) {
    const until = performance.now() + warmupMs;
    do await t.run(key, Math.max(1, Math.round(n / 10))); while (performance.now() < until);
    await t.settle(pauseMs);
  }
  const rates = { base: [] as number[], main: [] as number[] };
  for (let i = 0; i < rounds; i++) {
    for (const t of i % 2 === 0 ? [base, main] : [main, base]) {
      rates[t.name].push(await t.run(key, n));
      await t.settle(pauseMs);
    }
  }
  const ratios = rates.main.map((v, i) => v / rates.base[i]);
  const ratio = median(ratios);
  return { key, base: median(rates.base), main: median(rates.main), ratios, ratio, pass: ratio >= MIN_RATIO };
}

async function compare(opts: { base: string; host: Host; rounds: number; scale: number; only: readonly string[]; log: (s: string) => void }): Promise<Row[]> {
  const [base, main] = await Promise.allSettled([openTree("base", opts.base, opts.host), openTree("main", HERE, opts.host)]);
  try {
    if (base.status === "rejected") throw base.reason;
    if (main.status === "rejected") throw main.reason;
    const rows: Row[] = [];
    // Daemons and their workers warm up (JIT) over seconds; see bench/daemons.ts.
    const warmupMs = opts.host === "daemons" ? 5000 : 1000;
    for (const key of opts.only) {
      const row = await compareMetric([base.value, main.value], key, Math.max(1, Math.round(main.value.sizes[key] * opts.scale)), opts.rounds, warmupMs, opts.host === "daemons" ? 300 : 100);
      opts.log(`  ${key.padEnd(12)} base ${Math.round(row.base).toLocaleString("en-US").padStart(8)}/s  main ${Math.round(row.main).toLocaleString("en-US").padStart(8)}/s  main/base ${row.ratio.toFixed(2)} ${row.pass ? "" : `(below ${MIN_RATIO})`}  per round: ${row.ratios.map((x) => x.toFixed(2)).join(" ")}`);
      rows.push(row);
    }
    return rows;
  } finally {
    await Promise.all([main, base].map((t) => (t.status === "fulfilled" ? t.value.stop() : undefined)));
  }
}

function write(host: Host, base: string, rounds: number, scale: number, rows: readonly Row[]): string {
  const dir = fileURLToPath(new URL("./results/", import.meta.url));
  fs.mkdirSync(dir, { recursive: true });
  const round2 = (x: number) => Math.round(x * 100) / 100;
  const record = {
    name: `compare-${host}`,
    description: `Ray's microbenchmarks on this checkout (main) against another (base), ${host} host, alternating bursts; judged by the median over rounds of main/base (at least ${MIN_RATIO})`,
    date: new Date().toISOString(), node: process.version, platform: `${os.platform()}-${os.arch()}`, cpu: os.cpus()[0]?.model ?? "unknown",
    // Commits only: a directory names a path on one machine.
    base: { commit: commitOf(base) }, main: { commit: commitOf(HERE) }, rounds, scale,
    metrics: rows.map((r) => ({ key: r.key, base: Math.round(r.base), main: Math.round(r.main), ratio: round2(r.ratio), ratios: r.ratios.map(round2), pass: r.pass })),
    ok: rows.every((r) => r.pass),
  };
  const file = path.join(dir, `compare-${host}.json`);
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(record, null, 2) + "\n");
  fs.renameSync(`${file}.tmp`, file);
  return file;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href && process.argv[2] === "--driver") {
  // A tree's driver process, started by openTree.
  const { values } = parseArgs({ options: { driver: { type: "string" }, host: { type: "string" } }, strict: true });
  await driver(values.driver!, values.host as Host);
} else if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const { values } = parseArgs({
    options: { base: { type: "string" }, host: { type: "string", multiple: true }, rounds: { type: "string" }, scale: { type: "string" }, only: { type: "string" } },
    strict: true,
  });
  const fail = (msg: string): never => { console.error(`bench/compare: ${msg}`); process.exit(2); };
  if (values.base === undefined) fail("--base DIR is required: the checkout to compare with");
  const base = path.resolve(values.base!);
  if (!fs.existsSync(path.join(base, "src/index.ts"))) fail(`--base ${base} is not a tsray checkout (no src/index.ts)`);
  if (!fs.existsSync(path.join(base, "node_modules"))) fail(`--base ${base} has no node_modules: run npm ci there (or link this tree's)`);
  const hosts = values.host ?? ["embedded", "daemons"];
  for (const h of hosts) if (!(HOSTS as readonly string[]).includes(h)) fail(`--host ${h} is not one of ${HOSTS.join(", ")}`);
  const rounds = Number(values.rounds ?? 15);
  if (!Number.isInteger(rounds) || rounds < 1) fail(`--rounds must be a positive integer, got ${values.rounds}`);
  const scale = Number(values.scale ?? 0.3);
  if (!(scale > 0)) fail(`--scale must be a positive number, got ${values.scale}`);
  const only = values.only === undefined ? KEYS : values.only.split(",");
  for (const k of only) if (!KEYS.includes(k)) fail(`--only ${k} is not one of ${KEYS.join(", ")}`);
  let ok = true;
  for (const host of hosts as Host[]) {
    console.log(`${host}: this checkout (main, ${commitOf(HERE)}) against ${base} (base, ${commitOf(base)}), ${rounds} rounds`);
    const rows = await compare({ base, host, rounds, scale, only, log: console.log });
    console.log(`wrote ${write(host, base, rounds, scale, rows)}`);
    ok &&= rows.every((r) => r.pass);
  }
  process.exit(ok ? 0 : 1);
}
