// `npm run soak -- --minutes N [--seed S]`: explores fault scenarios for N minutes, a fresh
// fast-check seed every round, and saves any failure (shrunk) under test/regressions/.
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { explore } from "../sim/explore.ts";
import { hashScenario, replayCommand } from "../sim/scenario.ts";

const { values } = parseArgs({ options: { minutes: { type: "string", default: "5" }, seed: { type: "string" } }, strict: true });
const minutes = Number(values.minutes);
if (!(minutes > 0)) throw new TypeError(`--minutes must be a positive number, got ${values.minutes}`);
let seed = values.seed !== undefined ? Number(values.seed) : Date.now() % 1_000_000_007;
const deadline = Date.now() + minutes * 60_000;
let total = 0;
let failures = 0;
while (Date.now() < deadline) {
  const r = await explore({ runs: 5000, seed, timeLimitMs: Math.max(1000, deadline - Date.now()) });
  total += r.generated;
  if (r.failure) {
    failures++;
    const file = `test/regressions/found-${hashScenario(r.failure.scenario)}.json`;
    writeFileSync(file, JSON.stringify({ about: `found by soak (seed ${seed})`, ...r.failure.scenario }, null, 1) + "\n");
    console.log(`seed ${seed}: FAILED\n  ${r.failure.problems.join("\n  ")}\n  saved ${file}; replay: ${replayCommand(file)}`);
  } else console.log(`seed ${seed}: ${r.generated} scenarios, all invariants held`);
  seed++;
}
console.log(`soak: ${total} scenarios in ${minutes} min, ${failures} failing seed(s)`);
process.exitCode = failures > 0 ? 1 : 0;
