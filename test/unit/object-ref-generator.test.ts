// The caller's ObjectRefGenerator on its own, with a stand-in for the core worker's next():
// which index each next() asks for, and what a call that rejected gives back.

import assert from "node:assert/strict";
import { test } from "node:test";
import { ObjectRefGenerator } from "../../src/api/generator.ts";
import { ObjectRef } from "../../src/api/handles.ts";

const OWNER = "head/driver";

test("a next() that rejects (a cancelled task's withdrawn wait) gives its index back: the following next() asks for the same item", async () => {
  const asked: number[] = [];
  let failNext = true;
  const gen = new ObjectRefGenerator<number>(new ObjectRef(`${OWNER}#t1.r`, OWNER), async (i) => {
    asked.push(i);
    if (failNext) { failNext = false; throw new Error("withdrawn"); }
    return i < 2 ? new ObjectRef(`${OWNER}#t1.y${i}`, OWNER) : undefined;
  });
  await assert.rejects(gen.next(), /withdrawn/);
  assert.equal((await gen.next()).value?.id, `${OWNER}#t1.y0`);
  assert.equal((await gen.next()).value?.id, `${OWNER}#t1.y1`);
  assert.equal((await gen.next()).done, true);
  assert.deepEqual(asked, [0, 0, 1, 2]);
});

test("overlapping next() calls each take the next index; one that rejects after a later call began keeps its index taken", async () => {
  const asked: number[] = [];
  let rejectFirst!: (e: Error) => void;
  const gen = new ObjectRefGenerator<number>(new ObjectRef(`${OWNER}#t1.r`, OWNER), (i) => {
    asked.push(i);
    if (i === 0) return new Promise((_, reject) => { rejectFirst = reject; });
    return Promise.resolve(new ObjectRef(`${OWNER}#t1.y${i}`, OWNER));
  });
  const first = gen.next();
  const second = gen.next();
  rejectFirst(new Error("withdrawn"));
  await assert.rejects(first, /withdrawn/);
  assert.equal((await second).value?.id, `${OWNER}#t1.y1`);
  await gen.next();
  assert.deepEqual(asked, [0, 1, 2], "the index a later call passed is not asked again");
});
