// A remote function's identity is its source (it ships as source): what describe() accepts,
// what it refuses and why, and that a function described again is not parsed again.
import { test } from "node:test";
import assert from "node:assert/strict";
import { describe as describeFn } from "../../src/api/handles.ts";

test("a function's id is its name and a hash of its source, the same for the same text", () => {
  const make = () => (x: number) => x + 1;
  const a = describeFn(make()), b = describeFn(make());
  assert.equal(a.id, b.id, "two closures of one text");
  assert.equal(a.kind, "function");
  assert.notEqual(describeFn((x: number) => x + 2).id, a.id);
  assert.equal(describeFn(class Counter { n = 0 } as never).kind, "class");
  assert.match(describeFn(function inc(x: number) { return x + 1; }).id, /^inc:[0-9a-f]+$/);
});

test("a function described again gets the descriptor made the first time", () => {
  const f = (x: number) => x * 2;
  assert.equal(describeFn(f), describeFn(f));
});

test("what cannot ship as source is refused, saying why, every time", () => {
  const bound = function g(this: unknown) { return this; }.bind(null);
  const method = { m(x: number) { return x; } }.m;
  for (let i = 0; i < 2; i++) {
    assert.throws(() => describeFn(42 as never), /ray.remote expects a function or a class, got number/);
    assert.throws(() => describeFn(bound), /native or bound/);
    assert.throws(() => describeFn(Math.max), /native or bound/);
    assert.throws(() => describeFn(method), /not a standalone function expression/);
  }
});
