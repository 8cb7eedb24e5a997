// Addresses and ids as the models read them: an address is `node/component`, and a node id alone
// is its own node; a worker's address carries its node's life (incarnation), which is what dies
// with a node.
import assert from "node:assert/strict";
import { test } from "node:test";
import { diedWithNode, nodeOf } from "../../src/core/types.ts";

test("nodeOf: the part before the first /, or the whole of a node id", () => {
  assert.equal(nodeOf("n1/raylet"), "n1");
  assert.equal(nodeOf("n1/w2-3"), "n1");
  assert.equal(nodeOf("n1"), "n1");
  assert.equal(nodeOf("pod-abc/driver/x"), "pod-abc");
});

test("diedWithNode: a worker of that node's life or an earlier one; never a driver, the GCS or another node's worker", () => {
  assert.equal(diedWithNode("n1/w2-3", "n1", 2), true);
  assert.equal(diedWithNode("n1/w1-3", "n1", 2), true);
  assert.equal(diedWithNode("n1/w3-1", "n1", 2), false, "a later life");
  assert.equal(diedWithNode("n2/w2-3", "n1", 2), false);
  assert.equal(diedWithNode("n1/driver", "n1", 2), false);
  assert.equal(diedWithNode("n1/gcs", "n1", 2), false);
});
