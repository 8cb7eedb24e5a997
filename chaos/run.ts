// `npm run chaos -- [--experiments N] [--seed S] [--target local|containers|kubernetes] [--redis] [--bugs A,B]
//                   [--replay FILE.json|FILE.yaml] [--from-sim CASE.json] [--export-yaml OUT.yaml]`
// Generated experiments (a workload and real faults) against a fresh daemon cluster each, judged
// by the invariant checkers and against the simulator's fault-free run. A failure is saved under
// chaos/reports/ with its cluster's traces and logs kept, as the experiment (JSON, and Chaos Mesh
// YAML when its faults have Chaos Mesh actions) and as a simulator scenario of the schedule the
// run really applied (`tsray sim --replay` runs it). `--replay FILE` runs a saved experiment
// again (JSON or YAML; the timing of real processes differs from run to run); `--from-sim CASE`
// runs a simulator scenario (a failure `tsray sim` or the property tests found) on real processes;
// `--export-yaml OUT` writes the one experiment chosen as Chaos Mesh YAML instead of running it.
// `--bugs` switches seeded bugs on in every process: how often chaos catches them measures its reach.
// `--redis` runs the GCS on Redis (containers, kubernetes: KubeRay's GCS fault tolerance), so a
// fault of the head's pod restarts the head on its tables instead of being refused.

import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import fc from "fast-check";
import { parseBugs } from "../src/core/bugs.ts";
import type { Scenario } from "../sim/scenario.ts";
import { experimentFromYaml, experimentToYaml } from "./chaos-mesh.ts";
import { describe, experimentArb, runExperiment, type ChaosExperiment } from "./experiment.ts";
import { chaosToScenario, scenarioToChaos } from "./sim-plan.ts";
import { CHAOS_TARGETS, type ChaosTargetName } from "./target.ts";

const { values } = parseArgs({
  options: {
    experiments: { type: "string", default: "5" }, seed: { type: "string" }, replay: { type: "string" }, bugs: { type: "string" },
    target: { type: "string", default: "local" }, "from-sim": { type: "string" }, "export-yaml": { type: "string" }, redis: { type: "boolean", default: false },
  },
  strict: true,
});
const bugs = [...parseBugs(values.bugs)];
const count = Number(values.experiments);
if (!Number.isInteger(count) || count < 1) throw new TypeError(`--experiments must be a positive integer, got ${values.experiments}`);
const seed = values.seed !== undefined ? Number(values.seed) : Date.now() % 1_000_000_007;
if (!Number.isInteger(seed)) throw new TypeError(`--seed must be an integer, got ${values.seed}`);
const target = values.target as ChaosTargetName;
if (!CHAOS_TARGETS.includes(target)) throw new TypeError(`--target must be one of ${CHAOS_TARGETS.join(", ")}, got ${values.target}`);
if (values.replay && values["from-sim"]) throw new TypeError("--replay and --from-sim: give one");

const read = (file: string) => fs.readFileSync(file, "utf8");
const source = values.replay ?? values["from-sim"];
const experiments: ChaosExperiment[] = (values.replay
  ? [/\.ya?ml$/.test(values.replay) ? experimentFromYaml(read(values.replay)) : JSON.parse(read(values.replay)) as ChaosExperiment]
  : values["from-sim"]
    ? [scenarioToChaos(JSON.parse(read(values["from-sim"])) as Scenario)]
    : fc.sample(experimentArb(), { seed, numRuns: count })).map((e) => (bugs.length > 0 ? { ...e, bugs } : e));

if (values["export-yaml"]) {
  if (experiments.length !== 1) throw new TypeError(`--export-yaml writes one experiment; ${experiments.length} were chosen (--experiments 1, --replay or --from-sim)`);
  let yaml: string;
  try {
    yaml = experimentToYaml(experiments[0]);
  } catch (e) {
    console.error(`chaos: --export-yaml: ${(e as Error).message}`);
    process.exit(2);
  }
  fs.writeFileSync(values["export-yaml"], yaml);
  console.log(`chaos: wrote ${values["export-yaml"]} (${experiments[0].faults.map(describe).join("; ")}); run it: npm run chaos -- --replay ${values["export-yaml"]}`);
  process.exit(0);
}

let failures = 0;
for (const [i, e] of experiments.entries()) {
  console.log(`experiment ${i + 1}/${experiments.length}${source ? ` (${source})` : ` (seed ${seed})`} on ${target}: ${e.nodes.length} nodes, ${e.workload.steps.length} steps, faults: ${e.faults.map(describe).join("; ")}`);
  const r = await runExperiment(e, { target, redis: values.redis, log: console.log });
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
  const sim = file.replace(/\.json$/, ".sim.json");
  fs.writeFileSync(sim, JSON.stringify(chaosToScenario(e, r.applied), null, 1) + "\n");
  let yaml = "";
  try {
    fs.writeFileSync(file.replace(/\.json$/, ".yaml"), experimentToYaml(e));
    yaml = `, ${file.replace(/\.json$/, ".yaml")}`;
  } catch { /* a fault without a Chaos Mesh action: the JSON is the experiment */ }
  console.log(`  FAILED:\n    ${r.problems.slice(0, 20).join("\n    ")}\n  saved ${file}${yaml}; run it again: npm run chaos -- --replay ${file}\n  its schedule in the simulator: npx tsray sim --replay ${sim}`);
}
console.log(`chaos: ${experiments.length} experiment(s), ${failures} failed`);
process.exitCode = failures > 0 ? 1 : 0;
