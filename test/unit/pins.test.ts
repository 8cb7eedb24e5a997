// A thread's zero-copy reads of arena slots: pinned while their views live, and given back by a
// collection the thread runs itself once it has read enough in place (pins.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { setImmediate as turn } from "node:timers/promises";
import { fromBytes, toBytes } from "../../src/runtime/codec.ts";
import { COLLECT_AFTER_PINNED_BYTES, collectViewsIfPinnedMuch, installPins } from "../../src/runtime/embedded/pins.ts";

/** A slot of `sab` at its first block (header at 0, data at 8) holding the frame of `v`. */
function slotWith(v: Float64Array): { slot: Uint8Array; readers: () => number } {
  const frame = toBytes(v);
  const sab = new SharedArrayBuffer(8 + frame.byteLength);
  const slot = new Uint8Array(sab, 8, frame.byteLength);
  slot.set(frame);
  const i32 = new Int32Array(sab, 0, 2);
  return { slot, readers: () => Atomics.load(i32, 0) };
}

/** Reads `slot` in place and drops the view at once (in a frame of its own, so nothing keeps it). */
function readAndForget(slot: Uint8Array): number {
  const view = fromBytes(slot) as Float64Array;
  assert.equal(view.buffer, slot.buffer, "decoded in place");
  return view[view.length - 1];
}

test("reading COLLECT_AFTER_PINNED_BYTES in place makes the thread collect, which gives the dead views' slots back", async () => {
  installPins();
  collectViewsIfPinnedMuch(); // whatever earlier code in this thread read does not count
  const small = slotWith(new Float64Array(1024).fill(3));
  assert.equal(readAndForget(small.slot), 3);
  assert.equal(small.readers(), 1, "a live or uncollected view pins its slot");
  assert.equal(collectViewsIfPinnedMuch(), false, "8 KiB read in place is not worth a collection");

  const big = slotWith(new Float64Array(COLLECT_AFTER_PINNED_BYTES / 8).fill(7));
  assert.equal(readAndForget(big.slot), 7);
  assert.equal(big.readers(), 1);
  assert.equal(collectViewsIfPinnedMuch(), true);
  // Finalizers run as tasks after the collection: a few turns of the event loop, no clock.
  for (let i = 0; i < 100 && big.readers() + small.readers() > 0; i++) await turn();
  assert.deepEqual([big.readers(), small.readers()], [0, 0], "both dead views were collected and unpinned their slots");
  assert.equal(collectViewsIfPinnedMuch(), false, "the count starts again after a collection");
});
