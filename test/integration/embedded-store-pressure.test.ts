// Dropped refs are released when V8 collects them, and V8 collects when the JS heap needs it:
// a driver that puts big objects and drops them allocates little heap, and its loop of awaits,
// all resolved in process, gives the event loop no turn for finalizers to run. The embedded
// cluster collects everywhere as an arena fills, and yields to the event loop meanwhile: the
// dropped objects go before the store must spill (no gc() called here).

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import * as ray from "../../src/index.ts";

const CAPACITY = 64 * 1024 * 1024;
const OBJECT = 1 << 19; // doubles: 4 MiB

before(async () => { await ray.init({ numCpus: 1, storeCapacity: CAPACITY }); });
after(async () => { await ray.shutdown(); });

const store = () => ray.cluster()!.storeStats().head.store;

test("a driver's loop of big puts it drops, three times the store's size, spills nothing", async () => {
  for (let i = 0; i < 48; i++) await ray.put(new Float64Array(OBJECT).fill(i)); // dropped at once
  assert.deepEqual({ spilled: store().spilled }, { spilled: 0 });
  assert.ok(store().used <= CAPACITY, `the store holds ${store().used} bytes`);
});
