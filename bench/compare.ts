// Compares this checkout with another one, metric by metric, on Ray's microbenchmarks
// (bench/embedded.ts's metrics, driven through each tree's own API):
//
//   npx tsx bench/compare.ts --base DIR [--host embedded|daemons]… [--rounds N] [--scale X] [--only KEY,…]
//
// DIR is another checkout with its dependencies installed (`npm ci` there, or a node_modules
// link). Both trees' clusters are up at once — embedded: both in this process; daemons: a head
// and a worker node started from each tree's own `tsray start` — and this process drives both.
// Each round runs one burst of a metric on each tree, the order swapped every round; between
// bursts the heap is collected and the frees a burst leaves behind get a pause. The figure
// judged is the median over rounds of main/base in the same round: on a shared machine whose
// speed moves by a quarter from minute to minute, whole runs minutes apart cannot show a 10%
// difference, and two bursts a second apart see the same phase. Writes
// bench/results/compare-<host>.json.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import v8 from "node:v8";
import { runInNewContext } from "node:vm";
import * as ray from "../src/index.ts";
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

interface Tree {
  readonly name: "base" | "main";
  readonly metrics: Map<string, Metric>;
  /** Stops what the tree started for this host. */
  stop: () => Promise<void>;
}

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

// In one process both trees share V8's heap: a burst's garbage would be collected during the
// next burst, the other tree's. Each burst starts from a collected heap instead.
v8.setFlagsFromString("--expose-gc");
const collect = runInNewContext("gc") as () => void;

/** Between bursts: the heap collected, and a pause for the frees and replies a burst leaves behind. */
async function settle(pauseMs: number): Promise<void> {
  collect();
  await sleep(pauseMs);
}

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

async function openTree(name: "base" | "main", dir: string, r: RayModule, host: Host): Promise<Tree> {
  let stopDaemons = () => {};
  if (host === "embedded") await r.init({ storeCapacity: 1.5 * 2 ** 30 });
  else {
    const d = await startDaemons(dir, fs.mkdtempSync(path.join(os.tmpdir(), `tsray-compare-${name}-`)));
    stopDaemons = d.stop;
    try { await r.init({ address: d.address }); } catch (e) { stopDaemons(); throw e; }
  }
  const ms = new Map(metrics(r).filter((m) => KEYS.includes(m.key)).map((m) => [m.key, m]));
  return { name, metrics: ms, stop: async () => { await r.shutdown(); stopDaemons(); } };
}

/** One metric, `rounds` times on each tree; bursts of n operations. */
async function compareMetric(trees: readonly [Tree, Tree], key: string, n: number, rounds: number, warmupMs: number, pauseMs: number): Promise<Row> {
  const [base, main] = trees;
  for (const t of trees) {
    const m = t.metrics.get(key)!;
    const until = performance.now() + warmupMs;
    do await m.run(Math.max(1, Math.round(n / 10))); while (performance.now() < until);
    await settle(pauseMs);
  }
  const rates = { base: [] as number[], main: [] as number[] };
  for (let i = 0; i < rounds; i++) {
    for (const t of i % 2 === 0 ? [base, main] : [main, base]) {
      rates[t.name].push(await t.metrics.get(key)!.run(n));
      await settle(pauseMs);
    }
  }
  const ratios = rates.main.map((v, i) => v / rates.base[i]);
  const ratio = median(ratios);
  return { key, base: median(rates.base), main: median(rates.main), ratios, ratio, pass: ratio >= MIN_RATIO };
}

async function compare(opts: { base: string; host: Host; rounds: number; scale: number; only: readonly string[]; log: (s: string) => void }): Promise<Row[]> {
  const baseRay = (await import(pathToFileURL(path.join(opts.base, "src/index.ts")).href)) as RayModule;
  const base = await openTree("base", opts.base, baseRay, opts.host);
  let main: Tree | undefined;
  try {
    main = await openTree("main", HERE, ray, opts.host);
    const rows: Row[] = [];
    // Daemons and their workers warm up (JIT) over seconds; see bench/daemons.ts.
    const warmupMs = opts.host === "daemons" ? 5000 : 1000;
    for (const key of opts.only) {
      const m = main.metrics.get(key)!;
      const row = await compareMetric([base, main], key, Math.max(1, Math.round(m.n * opts.scale)), opts.rounds, warmupMs, opts.host === "daemons" ? 300 : 100);
      opts.log(`  ${key.padEnd(12)} base ${Math.round(row.base).toLocaleString("en-US").padStart(8)}/s  main ${Math.round(row.main).toLocaleString("en-US").padStart(8)}/s  main/base ${row.ratio.toFixed(2)} ${row.pass ? "" : `(below ${MIN_RATIO})`}  per round: ${row.ratios.map((x) => x.toFixed(2)).join(" ")}`);
      rows.push(row);
    }
    return rows;
  } finally {
    await main?.stop();
    await base.stop();
    delete process.env.TSRAY_TOKEN;
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

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
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
