// docs/walkthrough.md is generated from simulator traces; determinism makes it reproducible,
// so a stale file (the models changed, the doc did not) fails here.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { renderWalkthrough, walkthroughPath } from "../../docs/walkthrough.ts";

test("docs/walkthrough.md matches what the simulator does now (run `npm run docs`)", async () => {
  assert.equal(readFileSync(walkthroughPath, "utf8"), await renderWalkthrough());
});
