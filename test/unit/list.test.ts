// removeAt and lastIndexWith (src/core/list.ts): the short lists that replace hot splices and
// emptied Maps.
import { test } from "node:test";
import assert from "node:assert/strict";
import { lastIndexWith, removeAt } from "../../src/core/list.ts";

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

test("lastIndexWith finds the last item with that key's value, or -1", () => {
  const list = [{ task: "a", n: 0 }, { task: "b", n: 1 }, { task: "a", n: 2 }];
  assert.equal(lastIndexWith(list, "task", "a"), 2);
  assert.equal(lastIndexWith(list, "task", "b"), 1);
  assert.equal(lastIndexWith(list, "task", "c"), -1);
  assert.equal(lastIndexWith(list.slice(0, 0), "task", "a"), -1);
});
