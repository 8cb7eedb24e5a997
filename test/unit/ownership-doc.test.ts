// docs/ownership.md's trace is generated from a simulator run; a stale file fails here.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { ownershipPath, renderOwnership } from "../../docs/ownership.ts";

test("docs/ownership.md's trace matches what the simulator does now (run `npm run docs`)", async () => {
  const text = readFileSync(ownershipPath, "utf8");
  assert.equal(text, await renderOwnership(text));
  assert.match(text, /AddBorrower/);
  assert.match(text, /RemoveBorrower/);
});
