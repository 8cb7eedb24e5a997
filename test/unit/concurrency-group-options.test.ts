// An actor class's concurrencyGroups option and a call's concurrencyGroup, as ray.remote and
// .options() check them: every malformed value is refused with an error that names it.

import assert from "node:assert/strict";
import { test } from "node:test";
import { concurrencyGroupsOf, checkOptionNames, methodNamesOf } from "../../src/api/options.ts";

class Service {
  fetch(): number { return 1; }
  async store(): Promise<number> { return 2; }
}
const methods = methodNamesOf(Service);

test("a class's method names, without its constructor", () => assert.deepEqual(methods, ["fetch", "store"]));

test("groups as limits, or as limits with the methods they take; none given, none made", () => {
  assert.deepEqual(concurrencyGroupsOf({ concurrencyGroups: { io: 2, db: { maxConcurrency: 1, methods: ["store"] } } }, "Service", methods), [
    { name: "io", maxConcurrency: 2, methods: [] },
    { name: "db", maxConcurrency: 1, methods: ["store"] },
  ]);
  assert.equal(concurrencyGroupsOf({}, "Service", methods), undefined);
});

test("malformed groups are refused, each naming what is wrong", () => {
  const refused = (groups: unknown, re: RegExp) => assert.throws(() => concurrencyGroupsOf({ concurrencyGroups: groups as never }, "Service", methods), re);
  refused([2], /concurrencyGroups must be an object of group name/);
  refused({ io: "two" }, /concurrency group "io" must be a number or \{ maxConcurrency, methods \}, got "two"/);
  refused({ io: 1.5 }, /concurrency group "io": maxConcurrency must be an integer >= 1, got 1.5/);
  refused({ io: { methods: ["fetch"] } }, /concurrency group "io": maxConcurrency must be an integer >= 1, got undefined/);
  refused({ io: { maxConcurrency: 1, methods: "fetch" } }, /concurrency group "io": methods must be an array of method names/);
  refused({ io: { maxConcurrency: 1, method: ["fetch"] } }, /concurrency group "io": unknown field "method"/);
  refused({ io: { maxConcurrency: 1, methods: ["missing"] } }, /concurrency group "io" lists "missing", which is not a method of the class/);
  refused({ io: { maxConcurrency: 1, methods: ["fetch"] }, db: { maxConcurrency: 1, methods: ["fetch"] } }, /method "fetch" is in two concurrency groups \("io" and "db"\)/);
  refused({ "": 1 }, /a concurrency group needs a non-empty name/);
});

test("a call's concurrencyGroup is a non-empty string, on an actor method only", () => {
  assert.doesNotThrow(() => checkOptionNames({ concurrencyGroup: "io" }, "method", "fetch"));
  assert.throws(() => checkOptionNames({ concurrencyGroup: "" }, "method", "fetch"), /fetch: concurrencyGroup must be a non-empty string, got ""/);
  assert.throws(() => checkOptionNames({ concurrencyGroup: "io" }, "task", "f"), /option "concurrencyGroup" does not apply to a remote function \(only to an actor method\)/);
  assert.throws(() => checkOptionNames({ concurrencyGroups: { io: 1 } }, "task", "f"), /option "concurrencyGroups" does not apply to a remote function \(only to an actor class\)/);
});
