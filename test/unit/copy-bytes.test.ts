// copyBytes takes Node's memcpy (Buffer#fill) for large copies into shared memory: it must copy
// exactly the source's bytes to the offset asked, nothing around them, like TypedArray#set.
import assert from "node:assert/strict";
import test from "node:test";
import { copyBytes } from "../../src/runtime/copy-bytes.ts";

function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 255;
  return b;
}

for (const [where, make] of [["shared", (n: number) => new Uint8Array(new SharedArrayBuffer(n))], ["unshared", (n: number) => new Uint8Array(n)]] as const) {
  test(`copyBytes into ${where} memory copies exactly the source, small and large`, () => {
    for (const n of [0, 1, 100, 64 * 1024 - 1, 64 * 1024, 1_000_003]) {
      const dst = make(n + 40);
      dst.fill(7);
      const view = dst.subarray(8); // a view that does not start at the buffer's start
      const src = pattern(n, n);
      copyBytes(view, 16, src);
      assert.deepEqual(dst.subarray(24, 24 + n), src, `${n} bytes`);
      assert.ok(dst.subarray(0, 24).every((x) => x === 7), `${n} bytes: nothing written before`);
      assert.ok(dst.subarray(24 + n).every((x) => x === 7), `${n} bytes: nothing written after`);
    }
  });
}

test("copyBytes refuses a large copy that does not fit, as set does", () => {
  const dst = new Uint8Array(new SharedArrayBuffer(100_000));
  assert.throws(() => copyBytes(dst, 50_000, new Uint8Array(70_000)), RangeError);
});
