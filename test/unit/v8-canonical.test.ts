// One value, one byte string: the bytes V8 writes for a value depend on how V8 holds it, and
// canonicalV8 must take every such choice one way, or two attempts of a task that return the
// same value would store bytes with different hashes (a false violation of the results checker).
import assert from "node:assert/strict";
import test from "node:test";
import v8 from "node:v8";
import fc from "fast-check";
import { canonicalV8 } from "../../src/runtime/v8-canonical.ts";
import { hashBytes, toBytes } from "../../src/runtime/codec.ts";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const bytes = (h: string): Uint8Array => new Uint8Array(Buffer.from(h.replace(/ /g, ""), "hex"));

/** Hand-written V8 bytes (version 15) for one value in its two forms: V8 writes either, by its history. */
const forms: { what: string; other: string; canonical: string }[] = [
  { what: "[9] with 9 as a double", other: "ff0f 4101 4e 0000000000002240 240001", canonical: "ff0f 4101 4912 240001" },
  { what: "[-3] with -3 as a double", other: "ff0f 4101 4e 00000000000008c0 240001", canonical: "ff0f 4101 4905 240001" },
  { what: "{x: 2147483647} as a double", other: "ff0f 6f 220178 4e 0000c0ffffffdf41 7b01", canonical: "ff0f 6f 220178 49feffffff0f 7b01" },
  { what: "[NaN] with payload bits", other: "ff0f 4101 4e 010000000000f87f 240001", canonical: "ff0f 4101 4e 000000000000f87f 240001" },
  { what: '"ab" in two bytes after padding', other: "ff0f 4102 4900 00 6304 61006200 240002", canonical: "ff0f 4102 4900 220261 62 240002" },
  { what: "[1, 2] as index/value pairs", other: "ff0f 6102 4900 4902 4902 4904 400202", canonical: "ff0f 4102 4902 4904 240002" },
  { what: "[1] with a named property k as pairs", other: "ff0f 6101 4900 4902 22016b 4906 400201", canonical: "ff0f 4101 4902 22016b 4906 240101" },
  { what: "a Map key 1 as a double", other: "ff0f 3b 4e 000000000000f03f 4902 3a02", canonical: "ff0f 3b 4902 4902 3a02" },
  { what: "an Error whose cause is [1.0]", other: "ff0f 72 6d 220178 63 4101 4e 000000000000f03f 240001 2e", canonical: "ff0f 72 6d 220178 63 4101 4902 240001 2e" },
  { what: "a RegExp /é/ in two bytes", other: "ff0f 52 6302 e900 01", canonical: "ff0f 52 2201 e9 01" },
];

for (const f of forms) {
  test(`canonical form of ${f.what}`, () => {
    const other = bytes(f.other), canonical = bytes(f.canonical);
    assert.equal(hex(canonicalV8(other)), hex(canonical));
    assert.deepStrictEqual(v8.deserialize(canonical), v8.deserialize(other), "the rewrite reads back as the same value");
    assert.equal(canonicalV8(canonical), canonical, "canonical bytes are returned as they are");
  });
}

test("what is not an int32 stays a double: -0, fractions, 2^31, Infinity", () => {
  for (const d of [-0, 0.5, 2 ** 31, -(2 ** 31) - 1, Infinity, 1e300]) {
    const b = v8.serialize([d, { d }]);
    assert.equal(canonicalV8(b), b, String(d));
  }
});

test("an array with holes keeps its index/value form, and values inside it are still made canonical", () => {
  // [1, <hole>, 9.0] — 9 written as a double; the hole means no dense form exists.
  const other = bytes("ff0f 6103 4900 4902 4904 4e 0000000000002240 400203");
  const out = canonicalV8(other);
  assert.equal(hex(out), hex(bytes("ff0f 6103 4900 4902 4904 4912 400203")));
  const back = v8.deserialize(out) as unknown[];
  assert.equal(back.length, 3);
  assert.ok(!(1 in back), "the hole is still a hole");
  const trailing = v8.serialize(Object.assign(new Array(3), { 0: "a" }));
  assert.equal(canonicalV8(trailing), trailing, "a trailing hole: returned as written");
});

test("bytes the walker does not know are returned as they are", () => {
  for (const h of ["ff0f 56", "ff0f 4101", "ff0f 22 05 61", "0102", "ff0f 40 0000"]) {
    const b = bytes(h);
    assert.equal(canonicalV8(b), b, h);
  }
});

/** The same value held as V8 holds it after another history: doubles, holey arrays, two-byte strings. */
function otherForm(v: unknown): unknown {
  if (typeof v === "number") {
    const f = new Float64Array(1);
    f[0] = v;
    return f[0];
  }
  if (typeof v === "string") return v.length > 0 ? ("€" + v).slice(1) : v;
  if (Array.isArray(v)) {
    const a = new Array(v.length);
    for (let i = 0; i < v.length; i++) a[i] = otherForm(v[i]);
    return a;
  }
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, otherForm(x)]));
  }
  return v;
}

test("a value and its other form give one byte string, which reads back as the value", () => {
  let differed = 0;
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => {
      const w = otherForm(v);
      const a = v8.serialize(v), b = v8.serialize(w);
      if (hex(a) !== hex(b)) differed++;
      const ca = canonicalV8(a), cb = canonicalV8(b);
      assert.equal(hex(cb), hex(ca));
      assert.deepStrictEqual(v8.deserialize(ca), v);
      assert.equal(hex(canonicalV8(ca)), hex(ca), "canonical bytes are a fixed point");
    }),
    { seed: 7, numRuns: 400 },
  );
  assert.ok(differed > 100, `the other forms were written differently by V8 in only ${differed} of 400 runs`);
});

test("toBytes writes the canonical form, so the hash of a value does not depend on how V8 held it", () => {
  const long = "abcdefghijklmnopqrstuvwxyz";
  const holey = new Array(2);
  holey[0] = long;
  holey[1] = ("€" + long).slice(1);
  assert.notEqual(hex(v8.serialize(holey)), hex(v8.serialize([long, long])), "V8 writes the two differently");
  assert.equal(hashBytes(toBytes(holey)), hashBytes(toBytes([long, long])));
});
