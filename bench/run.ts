// `npm run bench [-- NAME… [--runs N] [--nodes N] [--tasks N] [--part P]…]`: runs the selected benchmarks
// (sim: the simulator at 100 nodes × 100,000 tasks; embedded: Ray's microbenchmarks on the
// embedded cluster; codec: a put's serialization path)
// — all when none is named — prints a table, and writes each one's figures to
// bench/results/<name>.json: date, Node version, machine, parameters, figures, targets and
// whether each target was met (runs with non-default parameters or only some parts are
// printed, not saved).
// Exits 1 if a target was missed.
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { cpus, platform, arch } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

export type Target = { min: number } | { max: number } | { equals: unknown };
export type FigureValue = number | string | boolean;

export interface Figures {
  readonly params: object;
  readonly figures: Record<string, FigureValue>;
  readonly targets: Record<string, Target>;
  /** Per-run detail, kept in the results file. */
  readonly runs?: readonly object[];
}

export interface Bench {
  readonly name: string;
  readonly description: string;
  /** Numeric options this bench takes from the command line, with their defaults. */
  readonly options: Record<string, number>;
  /** Parts of this bench that `--part` may select (all run by default). */
  readonly parts?: readonly string[];
  run(opts: Record<string, number>, log: (line: string) => void, parts: ReadonlySet<string>): Promise<Figures>;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function meets(value: FigureValue | undefined, t: Target): boolean {
  if ("min" in t) return typeof value === "number" && value >= t.min;
  if ("max" in t) return typeof value === "number" && value <= t.max;
  return value === t.equals;
}

function describeTarget(t: Target): string {
  if ("min" in t) return `≥ ${t.min.toLocaleString("en-US")}`;
  if ("max" in t) return `≤ ${t.max.toLocaleString("en-US")}`;
  return `= ${String(t.equals)}`;
}

function fmt(v: FigureValue): string {
  return typeof v === "number" ? v.toLocaleString("en-US") : String(v);
}

/** Every benchmark by name, loaded only when selected (a bench's imports cannot break another's). */
const registry: Record<string, () => Promise<Bench>> = {
  sim: async () => (await import("./sim.ts")).simBench,
  embedded: async () => (await import("./embedded.ts")).embeddedBench,
  scenarios: async () => (await import("./scenarios.ts")).scenariosBench,
  daemons: async () => (await import("./daemons.ts")).daemonsBench,
  codec: async () => (await import("./codec.ts")).codecBench,
};

export async function main(argv: string[]): Promise<number> {
  const names = Object.keys(registry);
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: {
      runs: { type: "string" }, nodes: { type: "string" }, tasks: { type: "string" }, part: { type: "string", multiple: true },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    const lines: string[] = [];
    for (const n of names) {
      const d = await registry[n]().then((b) => b.description + (b.parts ? ` (parts: ${b.parts.join(", ")})` : ""), (e: Error) => `(cannot load: ${e.message})`);
      lines.push(`  ${n.padEnd(9)} ${d}`);
    }
    console.log(`usage: npm run bench -- [NAME…] [--runs N] [--nodes N] [--tasks N] [--part PART]…\n\n${lines.join("\n")}`);
    return 0;
  }
  const unknown = positionals.filter((n) => !Object.hasOwn(registry, n));
  if (unknown.length > 0) {
    console.error(`bench: unknown benchmark ${unknown.join(", ")}; known: ${names.join(", ")}`);
    return 2;
  }
  const selected: Bench[] = [];
  for (const n of positionals.length > 0 ? names.filter((x) => positionals.includes(x)) : names) selected.push(await registry[n]());
  const wanted = values.part ?? [];
  for (const b of selected) {
    const unknownParts = wanted.filter((p) => !b.parts?.includes(p));
    if (wanted.length > 0 && unknownParts.length > 0) {
      console.error(`bench: ${b.name} has no part ${unknownParts.join(", ")}${b.parts ? `; its parts: ${b.parts.join(", ")}` : " (it is not divided into parts)"}`);
      return 2;
    }
  }
  const overrides: Record<string, number> = {};
  for (const k of ["runs", "nodes", "tasks"] as const) {
    const v = values[k];
    if (v === undefined) continue;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) { console.error(`bench: --${k} must be a positive integer, got ${v}`); return 2; }
    overrides[k] = n;
  }

  const resultsDir = fileURLToPath(new URL("./results/", import.meta.url));
  mkdirSync(resultsDir, { recursive: true });
  let allOk = true;
  const rows: [string, string, string, string, string][] = [["bench", "figure", "value", "target", ""]];
  for (const b of selected) {
    console.log(`${b.name}: ${b.description}`);
    const opts: Record<string, number> = {};
    for (const k of Object.keys(b.options)) opts[k] = overrides[k] ?? b.options[k];
    const t0 = performance.now();
    const parts = new Set(wanted.length > 0 ? wanted : b.parts ?? []);
    const f = await b.run(opts, (line) => console.log(line), parts);
    const totalMs = performance.now() - t0;
    const pass: Record<string, boolean> = {};
    for (const [k, t] of Object.entries(f.targets)) pass[k] = meets(f.figures[k], t);
    const ok = Object.values(pass).every(Boolean);
    allOk &&= ok;
    const record = {
      name: b.name,
      description: b.description,
      date: new Date().toISOString(),
      node: process.version,
      platform: `${platform()}-${arch()}`,
      cpu: cpus()[0]?.model ?? "unknown",
      params: f.params,
      figures: f.figures,
      targets: f.targets,
      pass,
      ok,
      totalMs: Math.round(totalMs),
      runs: f.runs,
    };
    // Only runs at a bench's own parameters are recorded: a quick --tasks 1000 must not
    // overwrite the figures that are judged against the targets.
    const custom = Object.keys(b.options).some((k) => opts[k] !== b.options[k]) || (b.parts !== undefined && parts.size < b.parts.length);
    const file = `${resultsDir}${b.name}.json`;
    if (!custom) {
      writeFileSync(`${file}.tmp`, JSON.stringify(record, null, 2) + "\n");
      renameSync(`${file}.tmp`, file);
    }
    for (const [k, v] of Object.entries(f.figures)) {
      const t = f.targets[k];
      rows.push([b.name, k, fmt(v), t ? describeTarget(t) : "", t ? (pass[k] ? "pass" : "FAIL") : ""]);
    }
    console.log(custom ? "  not saved: non-default parameters or some parts only" : `  wrote ${file}`);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  console.log("");
  for (const [i, r] of rows.entries()) {
    console.log(r.map((c, j) => (j === 2 ? c.padStart(widths[j]) : c.padEnd(widths[j]))).join("  ").trimEnd());
    if (i === 0) console.log(widths.map((w) => "-".repeat(w)).join("  "));
  }
  return allOk ? 0 : 1;
}

if (import.meta.url === (await import("node:url")).pathToFileURL(process.argv[1] ?? "").href) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e) => { console.error(e); process.exitCode = 70; });
}
