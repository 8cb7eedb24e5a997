// `tsray demo` (and `npm start`): the seed's examples, each run twice — on the embedded cluster
// (real threads, real time) and in the simulator (virtual time, from a seed) — with both
// results side by side, whether they agree, and where each run's trace went.

import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { inspect, isDeepStrictEqual, parseArgs } from "node:util";
import { simulate } from "../../sim/simulate.ts";
import { checkTrace } from "../../spec/invariants/index.ts";
import { formatTrace } from "../../spec/trace.ts";
import type { Ray } from "../api/ray.ts";
import { EmbeddedCluster } from "../runtime/embedded/cluster.ts";
import { embeddedConfig } from "../runtime/embedded/index.ts";

/** The seed article's examples, in the order it presents them. */
export const EXAMPLES = ["square", "counter", "add", "map-reduce"] as const;

export const USAGE = `usage: tsray demo [--examples DIR] [--trace-dir DIR] [--seed N] [--nodes K]

Runs the seed's examples (${EXAMPLES.join(", ")}) on the embedded cluster, then the same
programs in the simulator, and prints both results, whether they match, and where the traces are.

Options:
  --examples DIR   where the example modules are (default: the package's examples/)
  --trace-dir DIR  where the traces go (default: ./.tsray/demo)
  --seed N         the simulator's seed (default 1)
  --nodes K        simulated nodes (default 4); the embedded cluster is this machine, one node`;

export interface DemoRow {
  readonly name: string;
  readonly embedded: { readonly ok: boolean; readonly value: unknown; readonly ms: number; readonly trace: string; readonly violations: number };
  readonly simulated: { readonly ok: boolean; readonly value: unknown; readonly virtualMs: number; readonly trace: string; readonly violations: number; readonly hash: string };
  readonly match: boolean;
}

function show(v: unknown): string {
  return inspect(v, { depth: 4, breakLength: Infinity, compact: true, colors: false });
}

async function runEmbedded(program: (ray: Ray) => unknown, trace: string) {
  const cluster = await EmbeddedCluster.start(embeddedConfig({ traceFile: trace, keepTrace: true, config: { logWorkerCrashes: false } }));
  const t0 = performance.now();
  let ok = true;
  let value: unknown;
  try {
    value = await program(cluster.ray);
  } catch (e) {
    ok = false;
    value = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  }
  const ms = performance.now() - t0;
  await cluster.shutdown({ ok });
  return { ok, value, ms, trace, violations: checkTrace(cluster.trace).length };
}

async function runSimulated(program: (ray: Ray) => unknown, trace: string, seed: number, nodes: number) {
  const r = await simulate({ program, seed, nodes });
  writeFileSync(trace, formatTrace(r.trace));
  const ok = r.error === undefined;
  return {
    ok, value: ok ? r.result : `${r.error!.name}: ${r.error!.message}`, virtualMs: r.virtualTimeMs, trace,
    violations: r.violations.length, hash: r.traceHash,
  };
}

/** Runs every example found in `dir`; returns one row per example. */
export async function runDemo(opts: { examples?: string; traceDir?: string; seed?: number; nodes?: number; log?: (s: string) => void } = {}): Promise<DemoRow[]> {
  const dir = opts.examples ?? fileURLToPath(new URL("../../examples/", import.meta.url));
  const traceDir = resolve(opts.traceDir ?? ".tsray/demo");
  const log = opts.log ?? (() => {});
  mkdirSync(traceDir, { recursive: true });
  const rows: DemoRow[] = [];
  for (const name of EXAMPLES) {
    const file = resolve(dir, `${name}.ts`);
    if (!existsSync(file)) { log(`  ${name}: not found at ${file}, skipped`); continue; }
    const mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
    if (typeof mod.default !== "function") { log(`  ${name}: ${file} has no default-exported program, skipped`); continue; }
    const program = mod.default as (ray: Ray) => unknown;
    log(`  ${name} …`);
    const embedded = await runEmbedded(program, resolve(traceDir, `${name}.embedded.jsonl`));
    const simulated = await runSimulated(program, resolve(traceDir, `${name}.sim.jsonl`), opts.seed ?? 1, opts.nodes ?? 4);
    const match = embedded.ok && simulated.ok && isDeepStrictEqual(embedded.value, simulated.value);
    rows.push({ name, embedded, simulated, match });
  }
  return rows;
}

export function formatDemo(rows: readonly DemoRow[]): string {
  const lines: string[] = [];
  const held = (n: number) => (n === 0 ? "invariants hold" : `${n} invariant violations`);
  for (const r of rows) {
    lines.push(r.name);
    lines.push(`  embedded   ${r.embedded.ok ? "" : "FAILED "}${show(r.embedded.value)}   (${r.embedded.ms.toFixed(0)} ms real time)`);
    lines.push(`  simulated  ${r.simulated.ok ? "" : "FAILED "}${show(r.simulated.value)}   (${r.simulated.virtualMs.toFixed(1)} ms virtual time)`);
    lines.push(`  same result: ${r.match ? "yes" : "NO"}`);
    lines.push(`  traces: ${r.embedded.trace}  (${held(r.embedded.violations)})`);
    lines.push(`          ${r.simulated.trace}  (${held(r.simulated.violations)}; trace hash ${r.simulated.hash})`);
    lines.push("");
  }
  lines.push("A trace is one JSON event per line; `tsray check FILE` runs the invariant checkers on one.");
  return lines.join("\n");
}

export async function main(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv, strict: true, allowPositionals: false,
      options: { examples: { type: "string" }, "trace-dir": { type: "string" }, seed: { type: "string" }, nodes: { type: "string" }, help: { type: "boolean", short: "h" } },
    }));
  } catch (e) {
    process.stderr.write(`tsray demo: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) { process.stdout.write(`${USAGE}\n`); return 0; }
  const seed = values.seed === undefined ? 1 : Number(values.seed);
  const nodes = values.nodes === undefined ? 4 : Number(values.nodes);
  if (!Number.isInteger(seed)) { process.stderr.write(`tsray demo: --seed must be an integer, got ${values.seed}\n`); return 2; }
  if (!Number.isInteger(nodes) || nodes < 1) { process.stderr.write(`tsray demo: --nodes must be a positive integer, got ${values.nodes}\n`); return 2; }
  const out = (s: string) => process.stdout.write(`${s}\n`);
  out("tsray demo: the seed's examples on the embedded cluster (this machine, real time),");
  out(`then in the simulator (${nodes} virtual nodes, seed ${seed}).\n`);
  const rows = await runDemo({ examples: values.examples as string | undefined, traceDir: values["trace-dir"] as string | undefined, seed, nodes, log: out });
  if (rows.length === 0) {
    out("no examples found");
    return 1;
  }
  out("");
  out(formatDemo(rows));
  const allMatch = rows.every((r) => r.match);
  out("");
  out(allMatch ? "Every example gives the same result on both hosts." : "Some results differ between the hosts (see above).");
  return allMatch ? 0 : 1;
}
