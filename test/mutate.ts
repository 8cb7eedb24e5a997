// `npm run mutate -- [--sample N] [--seed S] [--scenarios K] [--out FILE]`: mutation testing of
// src/core with Stryker. Every mutant is tested by the fast check test/mutation/quick.test.ts
// (the models' unit tests and K generated fault scenarios, stopping at the first failure).
// With --sample, a seeded draw of N of all the mutants is tested (minutes); without, all of
// them (the release run, hours). Writes the score, the killed and the surviving mutants to
// bench/results/mutation.json; survivors judged equivalent are listed, with the reason, in
// test/mutation/equivalent.json and counted apart.

import { Instrumenter } from "@stryker-mutator/instrumenter";
import { Stryker } from "@stryker-mutator/core";
import type { MutantResult } from "@stryker-mutator/api/core";
import { PluginKind } from "@stryker-mutator/api/plugin";
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { Prng } from "../sim/prng.ts";
import { mutantKey, strykerPlugins, type Drawn } from "./mutation/stryker-plugins.ts";

const { values: args } = parseArgs({
  options: {
    sample: { type: "string" },
    seed: { type: "string", default: "1" },
    scenarios: { type: "string", default: "120" },
    concurrency: { type: "string", default: "2" },
    out: { type: "string", default: "bench/results/mutation.json" },
  },
  strict: true,
});
const int = (name: string, v: string | undefined): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new TypeError(`--${name} must be a positive integer, got "${v}"`);
  return n;
};
const sampleSize = int("sample", args.sample);
const seed = int("seed", args.seed)!;
const scenarios = int("scenarios", args.scenarios)!;
const concurrency = int("concurrency", args.concurrency)!;

const ROOT = resolve(import.meta.dirname, "..");
process.chdir(ROOT);
const WORK = ".scratch/mutation";
mkdirSync(WORK, { recursive: true });

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith(".ts") ? [p] : [];
  }).sort();
}

interface Equivalent { readonly file: string; readonly line: number; readonly mutator: string; readonly replacement: string; readonly reason: string }
const EQUIVALENT = JSON.parse(readFileSync("test/mutation/equivalent.json", "utf8")) as Equivalent[];


// Every mutant Stryker would make over src/core, less those the message-text ignorer drops.
const silent = { isTraceEnabled: () => false, isDebugEnabled: () => false, isInfoEnabled: () => false, isWarnEnabled: () => false, isErrorEnabled: () => false, isFatalEnabled: () => false, trace() {}, debug() {}, info() {}, warn() {}, error() {}, fatal() {} };
const files = sources("src/core");
const messageText = strykerPlugins.flatMap((p) => (p.kind === PluginKind.Ignore && p.name === "message-text" ? [p.value] : []))[0];
const all = (await new Instrumenter(silent).instrument(
  files.map((name) => ({ name, mutate: true, content: readFileSync(name, "utf8") })),
  { plugins: null, excludedMutations: [], ignorers: [messageText], noHeader: true } as never,
)).mutants.filter((m) => m.status !== "Ignored");

let mutate: string[] = ["src/core/**/*.ts"];
let drawn: Set<string> | undefined;
if (sampleSize !== undefined) {
  const rng = new Prng(seed);
  const pool = [...all];
  const picked: typeof all = [];
  while (picked.length < Math.min(sampleSize, all.length)) picked.push(pool.splice(Math.floor(rng.next() * pool.length), 1)[0]);
  drawn = new Set(picked.map(mutantKey));
  // A `mutate` range per drawn mutant (1-based lines, 0-based columns as Stryker reads them);
  // the "sample" ignorer drops what else those ranges hold.
  mutate = picked.map((m) => `${m.fileName}:${m.location.start.line + 1}:${m.location.start.column}-${m.location.end.line + 1}:${m.location.end.column}`);
  // The instrumenter counts lines from 0, Babel from 1.
  const locations: Drawn[] = picked.map((m) => ({ file: m.fileName, key: mutantKey(m), location: { start: { line: m.location.start.line + 1, column: m.location.start.column }, end: { line: m.location.end.line + 1, column: m.location.end.column } } }));
  process.env.TSRAY_MUTATION_SAMPLE = resolve(WORK, "sample.json");
  writeFileSync(process.env.TSRAY_MUTATION_SAMPLE, JSON.stringify(locations));
}
process.env.TSRAY_MUTATION_SCENARIOS = String(scenarios);
// Stryker's child processes (the sample checker) load this project's TypeScript plugins too.
process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ""} --import tsx`.trim();
console.log(`# ${all.length} mutants over ${files.length} files of src/core; testing ${drawn ? `a sample of ${drawn.size} (seed ${seed})` : "all of them"} with ${scenarios} scenarios each`);

const results = await new Stryker({
  mutate,
  testRunner: "command",
  commandRunner: { command: "node --import tsx test/mutation/quick.test.ts" },
  coverageAnalysis: "off",
  // With a checker Stryker gives half the processes to checkers; the sample checker only looks
  // mutants up, so the test runners still get `concurrency` processes.
  concurrency: drawn ? concurrency * 2 : concurrency,
  plugins: ["@stryker-mutator/*", resolve("test/mutation/stryker-plugins.ts")],
  ignorers: drawn ? ["message-text", "sample"] : ["message-text"],
  checkers: drawn ? ["sample"] : [],
  checkerNodeArgs: ["--import", "tsx"],
  reporters: ["progress", "json"],
  jsonReporter: { fileName: `${WORK}/stryker.json` },
  tempDirName: `${WORK}/sandboxes`,
  ignorePatterns: [".scratch", "coverage", "chaos/reports", ".tsray", "bench/results"],
  cleanTempDir: "always",
  timeoutMS: 30_000,
}).runMutationTest();

const equivalent = new Map(EQUIVALENT.map((e) => [`${e.file}:${e.line} ${e.mutator} ${e.replacement}`, e.reason]));
// Stryker reports 1-based lines and columns; the keys were made from 0-based ones.
const zeroBased = (r: MutantResult) => ({ ...r, location: { start: { line: r.location.start.line - 1, column: r.location.start.column - 1 }, end: { line: r.location.end.line - 1, column: r.location.end.column - 1 } } });
const tested = results.filter((r) => r.status !== "Ignored" && (!drawn || drawn.has(mutantKey(zeroBased(r)))));
if (drawn && tested.length !== drawn.size) throw new Error(`Stryker tested ${tested.length} of the ${drawn.size} mutants drawn (a drawn mutant was not recognised in its report)`);
const describe = (r: MutantResult) => ({
  file: relative(ROOT, resolve(r.fileName)), line: r.location.start.line, column: r.location.start.column,
  mutator: r.mutatorName, replacement: r.replacement, status: r.status,
});
const killed = tested.filter((r) => r.status === "Killed" || r.status === "Timeout" || r.status === "RuntimeError");
const lived = tested.filter((r) => !killed.includes(r));
const isEquivalent = (r: MutantResult) => equivalent.has(`${relative(ROOT, resolve(r.fileName))}:${r.location.start.line} ${r.mutatorName} ${r.replacement}`);
const survivors = lived.filter((r) => !isEquivalent(r));
const equivalents = lived.filter(isEquivalent);
const judged = killed.length + survivors.length;
const report = {
  mode: drawn ? "sample" : "full",
  ...(drawn ? { sample: drawn.size, seed } : {}),
  scenariosPerMutant: scenarios,
  mutantsInSrcCore: all.length,
  tested: tested.length,
  killed: killed.length,
  // Counted as killed, as Stryker does (a mutant that loops forever), but on a loaded machine a
  // slow survivor can time out too: these are the ones to look at first.
  timedOut: killed.filter((r) => r.status === "Timeout").length,
  survived: survivors.length,
  equivalent: equivalents.length,
  // Equivalent mutants cannot be killed by any test, so they are not counted against the score.
  score: judged === 0 ? 0 : Math.round((killed.length / judged) * 1000) / 10,
  survivors: survivors.map(describe),
  equivalents: equivalents.map((r) => ({ ...describe(r), reason: equivalent.get(`${relative(ROOT, resolve(r.fileName))}:${r.location.start.line} ${r.mutatorName} ${r.replacement}`) })),
  killedMutants: killed.map(describe),
};
writeFileSync(args.out!, JSON.stringify(report, null, 1) + "\n");
console.log(`# mutation score ${report.score}% (${killed.length} killed, ${survivors.length} survived, ${equivalents.length} equivalent) → ${args.out}`);
for (const s of report.survivors) console.log(`#   survived: ${s.file}:${s.line}:${s.column} ${s.mutator} → ${s.replacement}`);
