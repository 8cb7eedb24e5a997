// `npm run mutate -- [--sample N] [--seed S] [--scenarios K] [--concurrency C] [--out FILE]`:
// mutation testing of src/core with Stryker. The fast suite test/mutation/quick.test.ts (unit
// tests, kept cases and K generated fault scenarios, one test each) is run in process by the
// test runner test/mutation/runner.ts, which tells Stryker which tests reach which mutant: each
// mutant runs only the tests that reach it, and stops at the first that fails. With --sample, a
// seeded draw of N of all the mutants is tested; without, all of them (the release run, hours).
// The draw (test/mutation/draw.ts) ranks each mutant by a seeded hash of its stable identity —
// file, the mutated line's text, mutator, replacement and ordinal among mutants alike in those —
// and takes the N smallest: an edit to src/core changes only the draw of the lines it touched.
// A mutant that timed out on Stryker's clock (not stopped by its hit count) is tested again, alone
// and with a generous clock, before it counts: a loaded machine does not make a kill. Writes the
// score (as Stryker counts it: timeouts detected, errors left out), the killed, timed-out and
// surviving mutants to bench/results/mutation.json; survivors judged equivalent are listed, with
// the reason, in test/mutation/equivalent.json and counted apart.

import { Instrumenter } from "@stryker-mutator/instrumenter";
import { Stryker } from "@stryker-mutator/core";
import type { MutantResult } from "@stryker-mutator/api/core";
import { PluginKind } from "@stryker-mutator/api/plugin";
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { draw } from "./mutation/draw.ts";
import { mutantKey, strykerPlugins, type Drawn } from "./mutation/stryker-plugins.ts";

const { values: args } = parseArgs({
  options: {
    sample: { type: "string" },
    seed: { type: "string", default: "1" },
    scenarios: { type: "string", default: "300" },
    concurrency: { type: "string", default: "1" },
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

// Keyed by the mutated line's text, not its number: lines move with every merge, and a judgement
// on a line that changed should lapse, not silently carry over to whatever moved into its place.
// `column` (1-based, as the report gives it; optional) tells apart mutants alike in the other four
// on one line, e.g. two conditions of one `if` each replaced by `true`; without it the judgement
// covers every such mutant of the line. The column moves only when the line's text changes.
interface Equivalent { readonly file: string; readonly code: string; readonly mutator: string; readonly replacement: string; readonly column?: number; readonly reason: string }
const EQUIVALENT = JSON.parse(readFileSync("test/mutation/equivalent.json", "utf8")) as Equivalent[];


// Every mutant Stryker would make over src/core, less those the message-text ignorer drops.
const silent = { isTraceEnabled: () => false, isDebugEnabled: () => false, isInfoEnabled: () => false, isWarnEnabled: () => false, isErrorEnabled: () => false, isFatalEnabled: () => false, trace() {}, debug() {}, info() {}, warn() {}, error() {}, fatal() {} };
const files = sources("src/core");
const messageText = strykerPlugins.flatMap((p) => (p.kind === PluginKind.Ignore && p.name === "message-text" ? [p.value] : []))[0];
const all = (await new Instrumenter(silent).instrument(
  files.map((name) => ({ name, mutate: true, content: readFileSync(name, "utf8") })),
  { plugins: null, excludedMutations: [], ignorers: [messageText], noHeader: true } as never,
)).mutants.filter((m) => m.status !== "Ignored");

type Picked = (typeof all)[number];

/** Runs Stryker over `picked` (or every mutant), `concurrency` runners at a time. */
async function stryker(picked: readonly Picked[] | undefined, opts: { concurrency: number; timeoutMS: number; timeoutFactor: number; tag: string }): Promise<MutantResult[]> {
  let mutate: string[] = ["src/core/**/*.ts"];
  if (picked) {
    // A `mutate` range per drawn mutant (1-based lines, 0-based columns as Stryker reads them);
    // the "sample" ignorer drops what else those ranges hold.
    mutate = picked.map((m) => `${m.fileName}:${m.location.start.line + 1}:${m.location.start.column}-${m.location.end.line + 1}:${m.location.end.column}`);
    // The instrumenter counts lines from 0, Babel from 1.
    const locations: Drawn[] = picked.map((m) => ({ file: m.fileName, key: mutantKey(m), location: { start: { line: m.location.start.line + 1, column: m.location.start.column }, end: { line: m.location.end.line + 1, column: m.location.end.column } } }));
    process.env.TSRAY_MUTATION_SAMPLE = resolve(WORK, `${opts.tag}.json`);
    writeFileSync(process.env.TSRAY_MUTATION_SAMPLE, JSON.stringify(locations));
  }
  return new Stryker({
    mutate,
    testRunner: "tsray",
    coverageAnalysis: "perTest",
    // With a checker Stryker gives half the processes to checkers; the sample checker only looks
    // mutants up, so the test runners still get `concurrency` processes.
    concurrency: picked ? opts.concurrency * 2 : opts.concurrency,
    plugins: ["@stryker-mutator/*", resolve("test/mutation/stryker-plugins.ts")],
    ignorers: picked ? ["message-text", "sample"] : ["message-text"],
    checkers: picked ? ["sample"] : [],
    checkerNodeArgs: ["--import", "tsx"],
    reporters: ["progress", "json"],
    jsonReporter: { fileName: `${WORK}/stryker-${opts.tag}.json` },
    tempDirName: `${WORK}/sandboxes`,
    ignorePatterns: [".scratch", "coverage", "chaos/reports", ".tsray", "bench/results"],
    cleanTempDir: "always",
    timeoutMS: opts.timeoutMS,
    timeoutFactor: opts.timeoutFactor,
  }).runMutationTest();
}

/** A source line's text, trimmed (1-based line, as Stryker reports). */
const sourceLines = new Map<string, readonly string[]>();
const lineOf = (file: string, line: number) => {
  let lines = sourceLines.get(file);
  if (!lines) sourceLines.set(file, lines = readFileSync(file, "utf8").split("\n"));
  return (lines[line - 1] ?? "").trim();
};
// The sample: the N mutants whose stable identities (file, line text, mutator, replacement,
// ordinal) hash smallest under the seed (test/mutation/draw.ts), so edits elsewhere keep it.
const picked: Picked[] | undefined = sampleSize === undefined ? undefined : draw(all, sampleSize, seed, (file, line) => lineOf(file, line + 1));
const drawn = picked && new Set(picked.map(mutantKey));
process.env.TSRAY_MUTATION_SCENARIOS = String(scenarios);
// Stryker's child processes (the sample checker) load this project's TypeScript plugins too.
process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ""} --import tsx`.trim();
console.log(`# ${all.length} mutants over ${files.length} files of src/core; testing ${drawn ? `a sample of ${drawn.size} (seed ${seed})` : "all of them"} with ${scenarios} generated scenarios in the suite, ${concurrency} at a time`);
const started = performance.now();

// Stryker reports 1-based lines and columns; the keys were made from 0-based ones.
const zeroBased = (r: MutantResult) => ({ ...r, location: { start: { line: r.location.start.line - 1, column: r.location.start.column - 1 }, end: { line: r.location.end.line - 1, column: r.location.end.column - 1 } } });
const keyOf = (r: MutantResult) => mutantKey(zeroBased(r));
const first = await stryker(picked, { concurrency, timeoutMS: 30_000, timeoutFactor: 1.5, tag: "sample" });
let tested = first.filter((r) => r.status !== "Ignored" && (!drawn || drawn.has(keyOf(r))));
if (drawn && tested.length !== drawn.size) throw new Error(`Stryker tested ${tested.length} of the ${drawn.size} mutants drawn (a drawn mutant was not recognised in its report)`);

// A timeout on the clock (the runner reports a hit-count stop with its reason) is tested again,
// alone, with four times the room; only a second timeout counts.
const HIT_LIMIT = /^hit limit reached/;
const clockTimeouts = tested.filter((r) => r.status === "Timeout" && !HIT_LIMIT.test(r.statusReason ?? ""));
const retried = new Map<string, MutantResult>();
if (clockTimeouts.length > 0) {
  const again = new Set(clockTimeouts.map(keyOf));
  const subset = (picked ?? all).filter((m) => again.has(mutantKey(m)));
  console.log(`# ${subset.length} mutants timed out on the clock: testing them again, one at a time, with 4× the time`);
  for (const r of await stryker(subset, { concurrency: 1, timeoutMS: 120_000, timeoutFactor: 4, tag: "timeouts" })) if (again.has(keyOf(r))) retried.set(keyOf(r), r);
  tested = tested.map((r) => retried.get(keyOf(r)) ?? r);
}

const equivalentKey = (file: string, code: string, mutator: string, replacement: string, column?: number) => JSON.stringify([file, code, mutator, replacement, column ?? null]);
const equivalent = new Map(EQUIVALENT.map((e) => [equivalentKey(e.file, e.code, e.mutator, e.replacement, e.column), e.reason]));
const describe = (r: MutantResult) => ({
  file: relative(ROOT, resolve(r.fileName)), line: r.location.start.line, column: r.location.start.column,
  mutator: r.mutatorName, replacement: r.replacement, status: r.status,
  ...(r.killedBy?.length ? { killedBy: r.killedBy[0] } : {}),
  ...(r.status === "Timeout" || r.status === "RuntimeError" ? { reason: r.statusReason } : {}),
});
const equivalentReason = (r: MutantResult) => {
  const file = relative(ROOT, resolve(r.fileName));
  const code = lineOf(file, r.location.start.line);
  return equivalent.get(equivalentKey(file, code, r.mutatorName, r.replacement ?? "", r.location.start.column)) ?? equivalent.get(equivalentKey(file, code, r.mutatorName, r.replacement ?? ""));
};
// As Stryker scores: killed and timed out are detected; survived and not covered are not; a
// mutant that broke the run itself (runtime or compile error) is left out.
const killed = tested.filter((r) => r.status === "Killed");
const timedOut = tested.filter((r) => r.status === "Timeout");
const errors = tested.filter((r) => r.status === "RuntimeError" || r.status === "CompileError");
const lived = tested.filter((r) => r.status === "Survived" || r.status === "NoCoverage");
const survivors = lived.filter((r) => equivalentReason(r) === undefined);
const equivalents = lived.filter((r) => equivalentReason(r) !== undefined);
const detected = killed.length + timedOut.length;
const judged = detected + survivors.length;
const report = {
  mode: drawn ? "sample" : "full",
  ...(drawn ? { sample: drawn.size, seed } : {}),
  generatedScenariosInSuite: scenarios,
  concurrency,
  minutes: Math.round((performance.now() - started) / 6000) / 10,
  mutantsInSrcCore: all.length,
  tested: tested.length,
  killed: killed.length,
  // Counted as detected, as Stryker does: stopped by the hit count (a loop), or out of time on
  // the clock twice, the second time alone with 4× the room.
  timedOut: timedOut.length,
  timedOutRetried: retried.size,
  survived: survivors.length,
  noCoverage: survivors.filter((r) => r.status === "NoCoverage").length,
  equivalent: equivalents.length,
  errors: errors.length,
  // Equivalent mutants cannot be killed by any test, so they are not counted against the score.
  score: judged === 0 ? 0 : Math.round((detected / judged) * 1000) / 10,
  scoreWithoutTimeouts: judged === 0 ? 0 : Math.round((killed.length / judged) * 1000) / 10,
  survivors: survivors.map(describe),
  equivalents: equivalents.map((r) => ({ ...describe(r), reason: equivalentReason(r) })),
  timedOutMutants: timedOut.map(describe),
  errorMutants: errors.map(describe),
  killedMutants: killed.map(describe),
};
writeFileSync(args.out!, JSON.stringify(report, null, 1) + "\n");
console.log(`# mutation score ${report.score}% (${killed.length} killed, ${timedOut.length} timed out, ${survivors.length} survived, ${equivalents.length} equivalent, ${errors.length} errors) in ${report.minutes} min → ${args.out}`);
for (const s of report.survivors) console.log(`#   survived: ${s.file}:${s.line}:${s.column} ${s.mutator} → ${s.replacement}${s.status === "NoCoverage" ? " (no test reaches it)" : ""}`);
