// Values ⇄ bytes for every host: V8's structured serialization (fast, handles Maps, Sets,
// typed arrays, Dates, cycles), rewritten to one canonical form (v8-canonical.ts) so that a
// value's bytes do not depend on how V8 happened to hold it, plus the hash the invariant
// checkers compare.
//
// Two framings bypass V8's serializer so that a reader can map the bytes in place:
//   raw typed array  [RAW, dtype, 0 × 6][element bytes]         (top-level typed arrays, Buffers)
//   Arrow table      [ARROW, 0 × 7][Arrow IPC stream]          (apache-arrow Tables)
// The 8-byte header keeps the body 8-aligned wherever the frame itself is 8-aligned (an arena
// slot), so a Float64Array or an Arrow table decoded from a SharedArrayBuffer is a view, not a
// copy. Frames in ordinary (unshared) memory are decoded into fresh copies, so a reader can
// never alias an owner's inline value. Values read as views are immutable by contract, like
// Ray's read-only numpy arrays: copy (`.slice()`) before writing to them.

import v8 from "node:v8";
import type { Table } from "apache-arrow";
import { arrowLoaded, requireArrow } from "./arrow.ts";
import { copyBytes } from "./copy-bytes.ts";
import { canonicalV8 } from "./v8-canonical.ts";
import type { Payload, RefInfo } from "../core/types.ts";

// Numbers, booleans, null and undefined — most task results — skip V8's serializer: a tag
// byte that V8's format never starts with (it starts with its version tag, 0xFF).
const NUMBER = 1, TRUE = 2, FALSE = 3, NULL = 4, UNDEFINED = 5, RAW = 6, ARROW = 7;
const FRAME_HEADER = 8;
// Scratch space to move a double's bytes without a DataView per value (little-endian, as V8 hosts are).
const F64 = new Float64Array(1);
const F64_BYTES = new Uint8Array(F64.buffer);

type TypedArray =
  | Int8Array | Uint8Array | Uint8ClampedArray | Int16Array | Uint16Array | Int32Array | Uint32Array
  | Float32Array | Float64Array | BigInt64Array | BigUint64Array;
type TypedArrayCtor = { new (buffer: ArrayBufferLike, byteOffset: number, length: number): TypedArray; new (length: number): TypedArray; readonly BYTES_PER_ELEMENT: number };

/** dtype byte → constructor; 12 is a Node Buffer (decoded as a Buffer). */
const DTYPES: (TypedArrayCtor | undefined)[] = [
  undefined, Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array, Uint8Array,
];
const BUFFER_DTYPE = 12;

function dtypeOf(v: ArrayBufferView): number {
  if (Buffer.isBuffer(v)) return BUFFER_DTYPE;
  const i = DTYPES.indexOf((v as TypedArray).constructor as TypedArrayCtor);
  return i > 0 ? i : 0;
}

/** A typed array (not a DataView, not a subclass the codec does not know) that travels raw. */
export function isRawValue(v: unknown): v is TypedArray {
  return ArrayBuffer.isView(v) && !(v instanceof DataView) && dtypeOf(v) > 0;
}

/** Bytes of the raw frame of `v`. */
export function rawFrameSize(v: ArrayBufferView): number {
  return FRAME_HEADER + v.byteLength;
}

/** Writes the raw frame of `v` into `dst` (exactly rawFrameSize(v) bytes): one copy of the elements. */
export function writeRawFrame(v: ArrayBufferView, dst: Uint8Array): void {
  dst[0] = RAW;
  dst[1] = dtypeOf(v);
  for (let i = 2; i < FRAME_HEADER; i++) dst[i] = 0;
  copyBytes(dst, FRAME_HEADER, new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
}


/**
 * Hosts that read frames in place register here: called with the frame's bytes and the objects
 * that now hold views into them (the embedded host pins the arena slot while they live).
 */
export type ZeroCopyHook = (bytes: Uint8Array, holders: readonly object[]) => void;
let zeroCopyHook: ZeroCopyHook | undefined;
export function setZeroCopyHook(hook: ZeroCopyHook | undefined): void { zeroCopyHook = hook; }

function decodeRaw(bytes: Uint8Array): unknown {
  const ctor = DTYPES[bytes[1]];
  if (!ctor) throw new TypeError(`corrupt raw frame: unknown dtype ${bytes[1]}`);
  const byteLength = bytes.length - FRAME_HEADER;
  const start = bytes.byteOffset + FRAME_HEADER;
  const n = byteLength / ctor.BYTES_PER_ELEMENT;
  if (bytes.buffer instanceof SharedArrayBuffer && start % ctor.BYTES_PER_ELEMENT === 0) {
    const view = bytes[1] === BUFFER_DTYPE ? Buffer.from(bytes.buffer, start, byteLength) : new ctor(bytes.buffer, start, n);
    zeroCopyHook?.(bytes, [view]);
    return view;
  }
  const out = bytes[1] === BUFFER_DTYPE ? Buffer.allocUnsafe(byteLength) : new ctor(n);
  new Uint8Array(out.buffer, out.byteOffset, byteLength).set(bytes.subarray(FRAME_HEADER));
  return out;
}

/** An apache-arrow Table? Without loading Arrow when nothing could have made one. */
function isArrowTable(v: object): v is Table {
  const loaded = arrowLoaded();
  if (loaded) return v instanceof loaded.Table;
  // Not loaded here yet: only a table made by user code that imported apache-arrow itself.
  if (v.constructor?.name !== "Table" || !("batches" in v) || !("schema" in v)) return false;
  if (v instanceof requireArrow().Table) return true;
  throw new TypeError("this Arrow Table comes from a different copy of apache-arrow than tsray's, so it cannot be stored as a table; pass tableToIPC(table) bytes instead");
}

function encodeArrow(t: Table): Uint8Array {
  const ipc = requireArrow().tableToIPC(t, "stream");
  const out = new Uint8Array(FRAME_HEADER + ipc.byteLength);
  out[0] = ARROW;
  out.set(ipc, FRAME_HEADER);
  return out;
}

function decodeArrow(bytes: Uint8Array): Table {
  const arrow = requireArrow();
  if (!(bytes.buffer instanceof SharedArrayBuffer)) return arrow.tableFromIPC(bytes.slice(FRAME_HEADER));
  const t = arrow.tableFromIPC(bytes.subarray(FRAME_HEADER));
  if (zeroCopyHook) {
    // Pin for the table and for every buffer a program might keep without it (a column's values).
    const holders: object[] = [t];
    for (const batch of t.batches) collectBuffers(batch.data, holders, bytes.buffer);
    zeroCopyHook(bytes, holders);
  }
  return t;
}

function collectBuffers(d: { values?: unknown; valueOffsets?: unknown; nullBitmap?: unknown; typeIds?: unknown; children?: readonly unknown[]; dictionary?: { data?: readonly unknown[] } }, out: object[], sab: ArrayBufferLike): void {
  for (const b of [d.values, d.valueOffsets, d.nullBitmap, d.typeIds]) {
    if (ArrayBuffer.isView(b) && b.buffer === sab) out.push(b);
  }
  for (const c of d.children ?? []) collectBuffers(c as typeof d, out, sab);
  for (const c of d.dictionary?.data ?? []) collectBuffers(c as typeof d, out, sab);
}

const NUMBER_FRAME_SIZE = 9;

/** A number's frame: its tag and its double, every NaN as the one NaN (a NaN's payload bits are not part of its value). */
function writeNumberFrame(value: number, dst: Uint8Array): void {
  dst[0] = NUMBER;
  F64[0] = value === value ? value : Number.NaN;
  dst.set(F64_BYTES, 1);
}

export function toBytes(value: unknown): Uint8Array {
  switch (typeof value) {
    case "number": {
      const b = new Uint8Array(NUMBER_FRAME_SIZE);
      writeNumberFrame(value, b);
      return b;
    }
    case "boolean": return Uint8Array.of(value ? TRUE : FALSE);
    case "undefined": return Uint8Array.of(UNDEFINED);
    case "object":
      if (value === null) return Uint8Array.of(NULL);
      if (isRawValue(value)) {
        const b = new Uint8Array(rawFrameSize(value));
        writeRawFrame(value, b);
        return b;
      }
      if (isArrowTable(value)) return encodeArrow(value);
  }
  try {
    return canonicalV8(v8.serialize(value));
  } catch (e) {
    throw new TypeError(
      `value cannot be stored in the object store: ${(e as Error).message}. ` +
        "Plain data, typed arrays, Maps, Sets, Dates, ObjectRefs and remote handles can be; functions and class instances' methods cannot (wrap functions with ray.remote).",
    );
  }
}

export function fromBytes(bytes: Uint8Array): unknown {
  switch (bytes[0]) {
    case NUMBER:
      // Byte by byte: a subarray to copy from would be an allocation per value.
      for (let i = 0; i < 8; i++) F64_BYTES[i] = bytes[i + 1];
      return F64[0];
    case TRUE: return true;
    case FALSE: return false;
    case NULL: return null;
    case UNDEFINED: return undefined;
    case RAW: return decodeRaw(bytes);
    case ARROW: return decodeArrow(bytes);
  }
  return v8.deserialize(bytes);
}

/** Bytes hashed in full up to this size; beyond it a fixed sample plus the length. */
const FULL_HASH_BYTES = 1 << 20;
/** Words (four bytes each) sampled from a larger value. */
const SAMPLED_WORDS = 1 << 14;
/** From this size the words are read through an Int32Array: a view costs an allocation, a small value less than that. */
const VIEW_HASH_BYTES = 256;
/** Whether an Int32Array reads bytes as little-endian words, as `wordAt` does. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** Where a value that does not start on a four-byte boundary is copied to be read as words. */
let aligned = new Uint8Array(0);

/** The little-endian word at byte `i` of `b`. */
function wordAt(b: Uint8Array, i: number): number {
  return b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24);
}

/** `b`'s whole words as an Int32Array (over a copy when `b` is not aligned). */
function wordsOf(b: Uint8Array): Int32Array {
  const words = b.length >>> 2;
  if ((b.byteOffset & 3) === 0) return new Int32Array(b.buffer, b.byteOffset, words);
  if (aligned.length < b.length) aligned = new Uint8Array(Math.max(b.length, 2 * aligned.length));
  aligned.set(b);
  return new Int32Array(aligned.buffer, 0, words);
}

/**
 * FNV-1a style (two lanes) over the bytes, four at a time (little-endian words, then the bytes
 * left over and the length): a word per round is a quarter of the multiplications, and hashing
 * a 128 KiB value byte by byte was a twelfth of what a generated scenario cost. Large values are
 * sampled so that hashing does not cap put bandwidth; the checkers use the hash to compare
 * re-executions, and the length and 64 KiB of evenly spread bytes catch any realistic
 * nondeterminism.
 */
export function hashBytes(b: Uint8Array): string {
  let h1 = 0x811c9dc5, h2 = 0x9747b28c;
  const n = b.length;
  if (n <= FULL_HASH_BYTES) {
    const end = n & ~3;
    if (n >= VIEW_HASH_BYTES && LITTLE_ENDIAN) {
      const w = wordsOf(b);
      for (let i = 0; i < w.length; i++) {
        h1 = Math.imul(h1 ^ w[i], 0x01000193);
        h2 = Math.imul(h2 ^ w[i], 0x5bd1e995);
      }
    } else {
      for (let i = 0; i < end; i += 4) {
        const x = wordAt(b, i);
        h1 = Math.imul(h1 ^ x, 0x01000193);
        h2 = Math.imul(h2 ^ x, 0x5bd1e995);
      }
    }
    for (let i = end; i < n; i++) {
      h1 = Math.imul(h1 ^ b[i], 0x01000193);
      h2 = Math.imul(h2 ^ b[i], 0x5bd1e995);
    }
  } else {
    const step = (n - 4) / SAMPLED_WORDS;
    for (let k = 0; k < SAMPLED_WORDS; k++) {
      const x = wordAt(b, Math.floor(k * step));
      h1 = Math.imul(h1 ^ x, 0x01000193);
      h2 = Math.imul(h2 ^ x, 0x5bd1e995);
    }
  }
  // The length ends the input, so a last word and the same bytes left over differ.
  h1 = Math.imul(h1 ^ n, 0x01000193);
  return hex64(h1, h2);
}

/** Char codes of the hex digits. */
const HEX = Array.from("0123456789abcdef", (c) => c.charCodeAt(0));

/**
 * `(h1 >>> 0).toString(16).padStart(8, "0") + (h2 >>> 0).toString(16).padStart(8, "0")`, built
 * as one flat string: V8 formats numbers at or above 2^31 (most hashes) in radix 16 through its
 * slow double path, ten times the cost of hashing a small value, and concatenating pieces
 * allocates a string per piece.
 */
export function hex64(h1: number, h2: number): string {
  return String.fromCharCode(
    HEX[h1 >>> 28], HEX[(h1 >>> 24) & 15], HEX[(h1 >>> 20) & 15], HEX[(h1 >>> 16) & 15], HEX[(h1 >>> 12) & 15], HEX[(h1 >>> 8) & 15], HEX[(h1 >>> 4) & 15], HEX[h1 & 15],
    HEX[h2 >>> 28], HEX[(h2 >>> 24) & 15], HEX[(h2 >>> 20) & 15], HEX[(h2 >>> 16) & 15], HEX[(h2 >>> 12) & 15], HEX[(h2 >>> 8) & 15], HEX[(h2 >>> 4) & 15], HEX[h2 & 15],
  );
}

/** The frames of the one-byte primitives, whose payloads can be made once. */
const CONSTANT_PAYLOADS = new Map<unknown, Payload>();
for (const v of [true, false, null, undefined]) {
  const bytes = toBytes(v);
  CONSTANT_PAYLOADS.set(v, { size: bytes.length, hash: hashBytes(bytes), data: v });
}
const NUMBER_FRAME = new Uint8Array(NUMBER_FRAME_SIZE);

/**
 * The payload of a number, boolean, null or undefined for a host whose payloads never leave the
 * process (the simulator): size and hash are those of the value's frame, but `data` is the value
 * itself. Those are most arguments and results, and a Uint8Array with its ArrayBuffer for each
 * would be some 180 bytes for the garbage collector to copy while the task waits.
 * `payloadValue` reads either form.
 */
export function inProcessPayload(value: number | boolean | null | undefined): Payload {
  if (typeof value !== "number") return CONSTANT_PAYLOADS.get(value)!;
  return new NumberPayload(value);
}

/**
 * A number's in-process payload. Its hash (that of its frame) is worked out when first read:
 * an argument's hash is read by nobody, and a hash string per task argument was a tenth of what
 * the garbage collector copied while a submitted task waited.
 */
class NumberPayload implements Payload {
  readonly size = NUMBER_FRAME.length;
  private frameHash: string | undefined = undefined;
  constructor(readonly data: number) {}
  get hash(): string {
    if (this.frameHash === undefined) {
      writeNumberFrame(this.data, NUMBER_FRAME);
      this.frameHash = hashBytes(NUMBER_FRAME);
    }
    return this.frameHash;
  }
}

/** The value of a payload's data: frame bytes, or an in-process primitive (see inProcessPayload). */
export function payloadValue(data: unknown): unknown {
  return typeof data === "object" && data !== null ? fromBytes(data as Uint8Array) : data;
}

export function bytesPayload(bytes: Uint8Array, marked: boolean, refs: readonly RefInfo[]): Payload {
  if (!marked) return { size: bytes.length, hash: hashBytes(bytes), data: bytes };
  return { size: bytes.length, hash: hashBytes(bytes), data: bytes, marked: true, refs: refs.length > 0 ? refs : undefined };
}
