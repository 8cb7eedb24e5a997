// Every failing case ever found, replayed on every run: each must now hold every invariant.

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { runScenario, type Scenario } from "../../sim/scenario.ts";

const dir = import.meta.dirname;
const cases = readdirSync(dir).filter((f) => f.endsWith(".json")).sort();

test("the regression corpus is not empty", () => assert.ok(cases.length >= 10, `only ${cases.length} cases`));

for (const file of cases) {
  const { about, ...scenario } = JSON.parse(readFileSync(join(dir, file), "utf8")) as Scenario & { about?: string };
  test(`${file}: ${about ?? ""}`, async () => {
    const v = await runScenario(scenario);
    assert.deepEqual(v.problems, []);
  });
}
