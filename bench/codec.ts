// Benchmark: what a put pays to turn a value into stored bytes on every host. For a few value
// shapes (records, numbers, strings), the median time of V8's serializer, of the canonical
// rewrite of its output (src/runtime/v8-canonical.ts), of the hash the checkers compare, and of
// a memcpy of the same bytes (the machine's limit for touching them once). The targets: where
// V8's bytes are already canonical (the common case: the rewrite only reads the tags), it costs
// less than the serializer and the hash it follows; where every number must be rewritten (an
// array of 10,000 boxed integral doubles, the worst case), at most 1.5 times as much.
import v8 from "node:v8";
import { hashBytes } from "../src/runtime/codec.ts";
import { canonicalV8 } from "../src/runtime/v8-canonical.ts";
import { median, type Bench, type Figures } from "./run.ts";

/** A double that V8 holds boxed, as a value decoded from a Float64Array or a sum of fractions is. */
function boxed(x: number): number {
  const f = new Float64Array(1);
  f[0] = x;
  return f[0];
}

/** The value shapes, each about 30–100 kB serialized. */
const SHAPES: Record<string, () => unknown> = {
  records: () => Array.from({ length: 1000 }, (_, i) => ({ id: i, name: `item-${i}`, weight: i / 7 + 0.1 })),
  recordsWithIntegralDoubles: () => Array.from({ length: 1000 }, (_, i) => ({ id: boxed(i), name: `item-${i}`, weight: boxed(i * 3) })),
  fractions: () => Array.from({ length: 10_000 }, (_, i) => i + 0.5),
  integralDoubles: () => Array.from({ length: 10_000 }, (_, i) => boxed(i)),
  strings: () => Array.from({ length: 1000 }, (_, i) => `a string of some length, number ${i}`),
};

/** Median ns per call of `f`, over `runs` timed batches after one untimed batch. */
function nsPerCall(f: () => unknown, batch: number, runs: number): number {
  for (let k = 0; k < batch; k++) f();
  const t: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < batch; k++) f();
    t.push(Number(process.hrtime.bigint() - t0) / batch);
  }
  return median(t);
}

export const codecBench: Bench = {
  name: "codec",
  description: "a put's serialization path for records, numbers and strings: V8's serializer, the canonical rewrite, the hash, against a memcpy of the same bytes (median of 11 batches)",
  options: { runs: 11 },
  async run(opts, log): Promise<Figures> {
    const runs = opts.runs;
    const figures: Record<string, number | boolean> = {};
    const targets: Figures["targets"] = {};
    const detail: object[] = [];
    for (const [shape, make] of Object.entries(SHAPES)) {
      const value = make();
      const bytes = v8.serialize(value);
      const canonical = canonicalV8(bytes);
      const batch = Math.max(20, Math.floor(4_000_000 / bytes.length));
      const copy = new Uint8Array(bytes.length);
      const serializeNs = nsPerCall(() => v8.serialize(value), batch, runs);
      const canonicalNs = nsPerCall(() => canonicalV8(bytes), batch, runs);
      const hashNs = nsPerCall(() => hashBytes(canonical), batch, runs);
      const memcpyNs = nsPerCall(() => copy.set(bytes), batch, runs);
      const overhead = canonicalNs / (serializeNs + hashNs);
      log(`  ${shape}: ${bytes.length} bytes${canonical === bytes ? "" : ` → ${canonical.length} canonical`}; serialize ${(serializeNs / 1000).toFixed(1)} µs, canonical ${(canonicalNs / 1000).toFixed(1)} µs, hash ${(hashNs / 1000).toFixed(1)} µs, memcpy ${(memcpyNs / 1000).toFixed(2)} µs; canonical / (serialize + hash) = ${overhead.toFixed(2)}`);
      figures[`${shape}_canonicalUs`] = Math.round(canonicalNs) / 1000;
      figures[`${shape}_canonicalOverSerializeAndHash`] = Math.round(overhead * 100) / 100;
      figures[`${shape}_canonicalOverMemcpy`] = Math.round((canonicalNs / memcpyNs) * 10) / 10;
      figures[`${shape}_rewritten`] = canonical !== bytes;
      targets[`${shape}_canonicalOverSerializeAndHash`] = { max: canonical === bytes ? 1 : 1.5 };
      detail.push({ shape, bytes: bytes.length, canonicalBytes: canonical.length, serializeNs, canonicalNs, hashNs, memcpyNs });
    }
    return { params: { runs }, figures, targets, runs: detail };
  },
};
