// hashBytes reads a value's bytes in three ways (words assembled byte by byte for small values,
// an Int32Array for larger aligned ones, a copy for larger unaligned ones, a sample for the
// largest): the hash must be a function of the bytes alone, whichever way they were read.
import { test } from "node:test";
import assert from "node:assert/strict";
import { hashBytes, hex64 } from "../../src/runtime/codec.ts";

/** `bytes` placed at byte offset `at` of a larger buffer. */
function at(bytes: Uint8Array, offset: number): Uint8Array {
  const buf = new Uint8Array(bytes.length + offset + 3);
  buf.set(bytes, offset);
  return buf.subarray(offset, offset + bytes.length);
}

const pattern = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 131 + 7) & 0xff);

test("the same bytes hash the same at every alignment and size class", () => {
  for (const n of [0, 1, 3, 4, 5, 9, 255, 256, 257, 1023, 128 * 1024 + 3, (1 << 20) + 5]) {
    const want = hashBytes(pattern(n));
    for (const offset of [1, 2, 3, 4]) assert.equal(hashBytes(at(pattern(n), offset)), want, `${n} bytes at offset ${offset}`);
  }
});

/** The documented function, written plainly: little-endian words, the bytes left over, the length. */
function reference(b: Uint8Array): string {
  let h1 = 0x811c9dc5, h2 = 0x9747b28c;
  const mix = (x: number) => {
    h1 = Math.imul(h1 ^ x, 0x01000193);
    h2 = Math.imul(h2 ^ x, 0x5bd1e995);
  };
  let i = 0;
  for (; i + 4 <= b.length; i += 4) mix(new DataView(b.buffer, b.byteOffset + i, 4).getInt32(0, true));
  for (; i < b.length; i++) mix(b[i]);
  h1 = Math.imul(h1 ^ b.length, 0x01000193);
  return hex64(h1, h2);
}

test("every way of reading computes the documented function", () => {
  for (const n of [0, 3, 4, 9, 255, 256, 4099, 128 * 1024 + 1]) {
    for (const offset of [0, 1, 4]) assert.equal(hashBytes(at(pattern(n), offset)), reference(pattern(n)), `${n} bytes at offset ${offset}`);
  }
});

test("a change of any byte or of the length changes the hash", () => {
  for (const n of [8, 300, 64 * 1024]) {
    const base = pattern(n);
    const h = hashBytes(base);
    for (const i of [0, 1, n >> 1, n - 1]) {
      const b = base.slice();
      b[i] ^= 1;
      assert.notEqual(hashBytes(b), h, `byte ${i} of ${n}`);
    }
  }
  // A last word equal to the bytes left over (01 00 00 00 against 01) differ by their length.
  assert.notEqual(hashBytes(Uint8Array.of(1, 0, 0, 0)), hashBytes(Uint8Array.of(1)));
  assert.notEqual(hashBytes(new Uint8Array(4)), hashBytes(new Uint8Array(8)));
});

test("a value beyond the fully hashed size is sampled: its length and spread bytes count", () => {
  const n = (1 << 20) + 4096;
  const base = pattern(n);
  const h = hashBytes(base);
  assert.notEqual(hashBytes(pattern(n + 1)), h);
  const b = base.slice();
  b[0] ^= 1;
  assert.notEqual(hashBytes(b), h, "the first word is sampled");
});
