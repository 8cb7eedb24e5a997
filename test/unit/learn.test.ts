// The course (docs/learn/) is generated from simulator runs; determinism makes it reproducible,
// so a stale page (the models changed, the course did not) fails here, as the walkthrough's does.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { learnDir, renderCourse } from "../../docs/learn.ts";

test("docs/learn/ matches what the simulator does now (run `npm run docs`)", { timeout: 300_000 }, async () => {
  const pages = await renderCourse();
  const onDisk = readdirSync(learnDir).filter((f) => f.endsWith(".md")).sort();
  assert.deepEqual(onDisk, [...pages.keys()].sort(), "the pages on disk are not the generated set");
  for (const [name, text] of pages) assert.equal(readFileSync(join(learnDir, name), "utf8"), text, `docs/learn/${name} is stale`);

  const chapters = [...pages.keys()].filter((n) => n !== "README.md");
  assert.ok(chapters.length >= 10, `only ${chapters.length} chapters`);
  for (const name of chapters) {
    const page = pages.get(name)!;
    for (const part of ["## The idea", "## Run it", "## Predict first", "## The trace, told", "```mermaid", "## Break it"]) assert.ok(page.includes(part), `${name} lacks ${part}`);
    // The break-it run's checker output is real: the report names at least one violation.
    const broken = page.slice(page.indexOf("## Break it"));
    assert.match(broken, /invariants\s+\d+ violations?/, `${name}: the seeded bug's run shows no violation`);
    assert.match(broken, /^\[[\w-]+\] t=/m, `${name}: no checker line in the break-it output`);
  }
});
