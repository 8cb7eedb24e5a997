// The mutation suite (test/mutation/quick.test.ts) judges every mutant of src/core, so a unit
// test of the models that it does not import kills nothing there: nine such files had been
// left out of it, and a fresh sample showed their mutants surviving. Every unit test that
// reaches src/core (directly, or through the hand-hosted raylet and GCS) is in the suite, or
// listed here with the reason it is not.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { test } from "node:test";

const LEFT_OUT: Record<string, string> = {
  "api-coverage.test.ts": "checks the workload generator's reach over the API, not the models' behaviour",
  "api-doc.test.ts": "checks docs/api.md against the API",
  "cli.test.ts": "runs the CLI (processes, files)",
  "core-no-io.test.ts": "reads src/core's imports, not its behaviour",
  "docs-references.test.ts": "checks the docs' references",
  "executor.test.ts": "the host's executor (src/runtime), on real timers",
  "explain.test.ts": "the trace explainer's text",
  "mutation-draw.test.ts": "the mutation sample's draw itself",
  "mutation-suite.test.ts": "this file",
  "net-faults.test.ts": "the daemons' network faults (src/runtime)",
  "release-on-collect.test.ts": "garbage collection of refs on a real heap (--expose-gc)",
  "schema-check.test.ts": "the daemons' wire schema (src/runtime)",
  "sim-network.test.ts": "the simulator's network, which is not src/core",
  "simulate-limits.test.ts": "the simulator's limits, which are not src/core",
};

test("every unit test of the models is in the mutation suite, or listed as left out with why", () => {
  const suite = readFileSync("test/mutation/quick.test.ts", "utf8");
  const missing: string[] = [];
  for (const f of readdirSync("test/unit").filter((n) => n.endsWith(".test.ts")).sort()) {
    const text = readFileSync(`test/unit/${f}`, "utf8");
    const reachesCore = /src\/core\/|helpers\/(raylet|gcs)-host/.test(text);
    if (reachesCore && !suite.includes(`"../unit/${f}"`) && !Object.hasOwn(LEFT_OUT, f)) missing.push(f);
  }
  assert.deepEqual(missing, [], "add them to test/mutation/quick.test.ts (or to LEFT_OUT here, with the reason)");
  for (const f of Object.keys(LEFT_OUT)) assert.equal(suite.includes(`"../unit/${f}"`), false, `${f} is listed as left out but is in the suite`);
});
