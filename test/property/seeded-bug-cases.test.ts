// The shrunk case kept for each seeded bug (written by mutations.test.ts): with its bug the case
// breaks an invariant, and the same scenario without the bug holds every one — so the case
// pins the bug itself, not some other failure. Every seeded bug must have its case.

import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { SEEDED_BUGS } from "../../src/core/bugs.ts";
import { runScenario, type Scenario } from "../../sim/scenario.ts";

const dir = join(import.meta.dirname, "seeded-bugs");
const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".json")).sort() : [];

test("every seeded bug has its shrunk case, and every case names a seeded bug", () => {
  assert.deepEqual(files.map((f) => f.replace(/\.json$/, "")), Object.keys(SEEDED_BUGS).sort());
});

for (const file of files) {
  const { about, ...scenario } = JSON.parse(readFileSync(join(dir, file), "utf8")) as Scenario & { about?: string };
  test(`${file}: ${about ?? ""}`, async () => {
    assert.deepEqual(scenario.bugs, [file.replace(/\.json$/, "")]);
    const withBug = await runScenario(scenario);
    assert.ok(withBug.problems.length > 0, "the case no longer fails with its bug");
    const { bugs: _, ...clean } = scenario;
    assert.deepEqual((await runScenario(clean)).problems, [], "the case fails without its bug too");
  });
}
