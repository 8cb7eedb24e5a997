// `npm run soak -- --minutes N [--seed S] [--threads T] [--swarm]`: explores fault scenarios for N
// minutes on T worker threads (default: one per core), a fresh fast-check seed every round,
// with a progress line and the rate, and saves any failure (shrunk) under test/regressions/;
// --swarm draws the step features and fault kinds of each scenario (sim/arbitraries.ts swarmArb).
// Prints the features × faults it covered at the end.
import { writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { formatCoverage, mergeCoverage, type Coverage } from "../sim/coverage.ts";
import { runJobs, type ExploreJob } from "../sim/explore-pool.ts";
import { FAULT_KINDS } from "../sim/faults.ts";
import { hashScenario, replayCommand } from "../sim/scenario.ts";

const { values } = parseArgs({ options: { minutes: { type: "string", default: "5" }, seed: { type: "string" }, threads: { type: "string" }, swarm: { type: "boolean", default: false } }, strict: true });
const minutes = Number(values.minutes);
if (!(minutes > 0)) throw new TypeError(`--minutes must be a positive number, got ${values.minutes}`);
const threads = values.threads !== undefined ? Number(values.threads) : availableParallelism();
if (!Number.isInteger(threads) || threads < 1) throw new TypeError(`--threads must be a positive integer, got ${values.threads}`);
let seed = values.seed !== undefined ? Number(values.seed) : Date.now() % 1_000_000_007;
if (!Number.isInteger(seed)) throw new TypeError(`--seed must be an integer, got ${values.seed}`);

const t0 = Date.now();
const deadline = t0 + minutes * 60_000;
let total = 0;
let runs = 0;
let failures = 0;
const coverage: Coverage = {};
const tty = process.stdout.isTTY;
let lastLine = 0;
/** The progress line: a bar of the time spent, scenarios run and the rate. */
function progress(force = false): void {
  const now = Date.now();
  if (!force && now - lastLine < (tty ? 250 : 30_000)) return;
  lastLine = now;
  const frac = Math.min(1, (now - t0) / (deadline - t0));
  const bar = "#".repeat(Math.round(frac * 30)).padEnd(30, ".");
  const line = `[${bar}] ${runs} scenario runs, ${Math.round(runs / ((now - t0) / 1000))}/s on ${threads} thread(s)`;
  process.stdout.write(tty ? `\r${line}` : `${line}\n`);
}
const say = (line: string) => process.stdout.write(tty ? `\r${line.padEnd(80)}\n` : `${line}\n`);

await runJobs(
  (): ExploreJob | undefined => {
    const left = deadline - Date.now();
    return left > 1000 ? { runs: 5000, seed: seed++, timeLimitMs: left, ...(values.swarm ? { swarm: true } : {}) } : undefined;
  },
  (job, r) => {
    total += r.generated;
    mergeCoverage(coverage, r.coverage);
    if (r.failure) {
      failures++;
      const file = `test/regressions/found-${hashScenario(r.failure.scenario)}.json`;
      writeFileSync(file, JSON.stringify({ about: `found by soak (seed ${job.seed})`, ...r.failure.scenario }, null, 1) + "\n");
      say(`seed ${job.seed}: FAILED\n  ${r.failure.problems.join("\n  ")}\n  saved ${file}; replay: ${replayCommand(file)}`);
    } else say(`seed ${job.seed}: ${r.generated} scenarios, all invariants held`);
  },
  { threads, onRun: () => { runs++; progress(); } },
);
progress(true);
const secs = (Date.now() - t0) / 1000;
say(`coverage (generated scenarios by workload feature × fault kind${values.swarm ? ", swarm" : ""}):\n${formatCoverage(coverage, [...FAULT_KINDS, "none"])}`);
say(`soak: ${total} scenarios in ${minutes} min on ${threads} thread(s), ${Math.round(total / secs)} scenarios/s, ${failures} failing seed(s)`);
process.exitCode = failures > 0 ? 1 : 0;
