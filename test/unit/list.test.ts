// removeAt: the in-place removal that replaces hot splices and emptied Maps (src/core/list.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { removeAt } from "../../src/core/list.ts";

test("removeAt takes out one item, keeps the others in order, and empties a one-item list", () => {
  for (const [i, rest] of [[0, ["b", "c", "d"]], [1, ["a", "c", "d"]], [3, ["a", "b", "c"]]] as const) {
    const list = ["a", "b", "c", "d"];
    removeAt(list, i);
    assert.deepEqual(list, rest);
  }
  const one = ["x"];
  removeAt(one, 0);
  assert.deepEqual(one, []);
});
