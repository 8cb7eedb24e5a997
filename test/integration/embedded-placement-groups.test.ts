// captureChildTasks on the embedded host: the same family of tasks as on the simulator
// (test/helpers/capture-family.ts), run by real worker threads; the trace it writes passes the
// invariant checkers, whose resources checker judges that every captured member ran in a bundle.

import assert from "node:assert/strict";
import { test } from "node:test";
import { checkTrace, formatViolations } from "../../spec/invariants/index.ts";
import { EmbeddedCluster } from "../../src/runtime/embedded/cluster.ts";
import { embeddedConfig } from "../../src/runtime/embedded/index.ts";
import { captureFamily, type Family } from "../helpers/capture-family.ts";

async function run(capture: boolean): Promise<{ family: Family; c: EmbeddedCluster }> {
  const c = await EmbeddedCluster.start(embeddedConfig({ keepTrace: true, nodes: [{ id: "head", resources: { CPU: 1 } }, { id: "n1", resources: { CPU: 2 } }] }));
  let family: Family;
  try {
    family = await captureFamily(c.ray, capture, 2);
  } finally {
    await c.shutdown();
  }
  const v = checkTrace(c.trace, { expectEnd: true });
  assert.deepEqual(v, [], formatViolations(v));
  return { family, c };
}

test("embedded: captured children, grandchildren and actors run in the group's node; DEFAULT and placementGroup null opt out", async () => {
  const { family: f, c } = await run(true);
  assert.deepEqual([f.parent, f.child, f.grandchild, f.actor], ["n1", "n1", "n1", "n1"]);
  assert.deepEqual([f.named, f.none], ["head", "head"], "n1's CPUs are all in the bundle: the opt-outs run on head");
  // Child, grandchild's parent task, grandchild and actor inherited; the opt-outs asked nothing of the group.
  assert.equal(c.trace.filter((e) => e.kind === "placement.asked" && e.parent !== undefined).length, 4);
});

test("embedded: without captureChildTasks the children run outside the group", async () => {
  const { family: f } = await run(false);
  assert.equal(f.parent, "n1");
  assert.deepEqual([f.child, f.grandchild], ["head", "head"]);
});
