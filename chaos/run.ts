// `npm run chaos -- [--experiments N] [--seed S] [--replay FILE] [--bugs A,B]`: generated experiments (a
// workload and real faults) against a fresh local daemon cluster each, judged by the invariant
// checkers and against the simulator's fault-free run. A failure is saved under chaos/reports/
// with its cluster's traces and logs kept; `--replay FILE` runs a saved experiment again (the
// same workload and faults; the timing of real processes differs from run to run). `--bugs`
// switches seeded bugs on in every process: how often chaos catches them measures its reach.

import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import fc from "fast-check";
import { parseBugs } from "../src/core/bugs.ts";
import { describe, experimentArb, runExperiment, type ChaosExperiment } from "./experiment.ts";

const { values } = parseArgs({ options: { experiments: { type: "string", default: "5" }, seed: { type: "string" }, replay: { type: "string" }, bugs: { type: "string" } }, strict: true });
const bugs = [...parseBugs(values.bugs)];
const count = Number(values.experiments);
if (!Number.isInteger(count) || count < 1) throw new TypeError(`--experiments must be a positive integer, got ${values.experiments}`);
const seed = values.seed !== undefined ? Number(values.seed) : Date.now() % 1_000_000_007;
if (!Number.isInteger(seed)) throw new TypeError(`--seed must be an integer, got ${values.seed}`);

const experiments: ChaosExperiment[] = (values.replay
  ? [JSON.parse(fs.readFileSync(values.replay, "utf8")) as ChaosExperiment]
  : fc.sample(experimentArb(), { seed, numRuns: count })).map((e) => (bugs.length > 0 ? { ...e, bugs } : e));

let failures = 0;
for (const [i, e] of experiments.entries()) {
  console.log(`experiment ${i + 1}/${experiments.length}${values.replay ? ` (${values.replay})` : ` (seed ${seed})`}: ${e.nodes.length} nodes, ${e.workload.steps.length} steps, faults: ${e.faults.map(describe).join("; ") || "none"}`);
  const r = await runExperiment(e, { log: console.log });
  if (r.ok) {
    const applied = r.applied.filter((a) => !a.error).length;
    console.log(`  ok: ${applied} of ${e.faults.length} fault(s) applied, ${r.rounds} round(s), ${r.traceEvents} trace events; every invariant held, every value as the simulator's (${(r.wallMs / 1000).toFixed(1)} s)`);
    continue;
  }
  failures++;
  const dir = path.join("chaos", "reports");
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `failed-${seed}-${i + 1}.json`);
  fs.writeFileSync(file, JSON.stringify(e, null, 1) + "\n");
  fs.writeFileSync(file.replace(/\.json$/, ".report.json"), JSON.stringify(r, null, 1) + "\n");
  console.log(`  FAILED:\n    ${r.problems.slice(0, 20).join("\n    ")}\n  saved ${file}; run it again: npm run chaos -- --replay ${file}`);
}
console.log(`chaos: ${experiments.length} experiment(s), ${failures} failed`);
process.exitCode = failures > 0 ? 1 : 0;
