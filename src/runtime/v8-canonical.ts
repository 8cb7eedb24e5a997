// One value, one byte string: V8's serializer writes what V8 holds, not what the program wrote,
// and what V8 holds depends on the process's history. The number 9 is written as an int32 when
// V8 holds it unboxed and as a double when it holds it in a heap box (a sum of doubles, a field
// once given a fraction by any object of its shape); an array is written dense or as index/value
// pairs by its elements kind, which an array literal inherits from what earlier arrays made at
// that site did; a Latin-1 string cut from a string with wider characters is written two bytes
// per character, after alignment padding. Two attempts of one task could then store different
// bytes for one value, and the checkers, which compare hashes of bytes, would see a difference
// the program never made. `canonicalV8` rewrites those choices one way:
//   a double that is an int32 (not -0)  → int32        any NaN            → one NaN
//   a two-byte string of Latin-1 text    → one-byte     padding            → dropped
//   an index/value array with no hole    → dense array
// Everything else is copied. The result is valid V8 serialization that reads back as the same
// value; every rewrite shortens, so one buffer of the input's size holds the output.
//
// Format facts (V8's value serializer, version 15, as Node 20 writes it; Node writes typed
// arrays and Buffers as host objects: type index, byte length, bytes, each length a varint):
// a tag byte, then the tag's own fields; containers are a begin tag, their entries, an end tag.

/** V8's tag bytes (a const enum: inlined as numbers, so the tag switch compiles to a jump table). */
const enum Tag {
  Padding = 0x00, Version = 0xff, VerifyCount = 0x3f /* ? */,
  Undefined = 0x5f /* _ */, Null = 0x30 /* 0 */, True = 0x54 /* T */, False = 0x46 /* F */, Hole = 0x2d /* - */,
  Int32 = 0x49 /* I */, Uint32 = 0x55 /* U */, Double = 0x4e /* N */, BigInt = 0x5a /* Z */,
  OneByteString = 0x22 /* " */, TwoByteString = 0x63 /* c */, Utf8String = 0x53 /* S */, ObjectRef = 0x5e /* ^ */,
  BeginObject = 0x6f /* o */, EndObject = 0x7b /* { */,
  BeginSparse = 0x61 /* a */, EndSparse = 0x40 /* @ */, BeginDense = 0x41 /* A */, EndDense = 0x24 /* $ */,
  BeginMap = 0x3b /* ; */, EndMap = 0x3a /* : */, BeginSet = 0x27 /* ' */, EndSet = 0x2c /* , */,
  Date = 0x44 /* D */, TrueObject = 0x79 /* y */, FalseObject = 0x78 /* x */, NumberObject = 0x6e /* n */,
  BigIntObject = 0x7a /* z */, StringObject = 0x73 /* s */, RegExp = 0x52 /* R */, Error = 0x72 /* r */,
  ArrayBuffer = 0x42 /* B */, ResizableBuffer = 0x7e /* ~ */, HostObject = 0x5c /* \ */,
}
/** Error subtags: the prototype letters (no fields), message / stack / cause (a value follows), end. */
const ERROR_PROTOTYPES = new Set([0x45, 0x52, 0x46, 0x53, 0x54, 0x55]);
const ERROR_END = 0x2e /* . */;

/** What an open container needs from its entries (kept in parallel arrays by depth). */
const PLAIN = 0, SPARSE = 1, SPARSE_KEPT = 2, ERROR_BODY = 3, REGEXP_BODY = 4, WRAPPER = 5;

/** Open containers, by depth (grown when a value nests deeper): kind, then per kind state. */
let kind = new Int32Array(64);
/** SPARSE: the index a dense array's next element would have; ERROR_BODY: 1 while a subtag is due. */
let next = new Float64Array(64);
/** SPARSE: the array's length. */
let arrayLength = new Float64Array(64);
/** SPARSE: 1 when the next entry is a key. */
let atKey = new Int32Array(64);
/** Where the container's begin tag is in the input and in the output (to write a sparse array again). */
let inStart = new Float64Array(64);
let outStart = new Float64Array(64);

/** The position after the last varint read (a second result, without an allocation per read). */
let after = 0;

/** The unsigned varint at `i`, or -1 when it runs past the end or past 2^35. */
function varint(b: Uint8Array, i: number): number {
  let v = 0, scale = 1;
  while (i < b.length) {
    const x = b[i++];
    v += (x & 0x7f) * scale;
    if (x < 0x80) {
      after = i;
      return v;
    }
    scale *= 128;
    if (scale > 2 ** 35) break;
  }
  return -1;
}

/** The position past the varint at `i` (of at most 5 bytes, a uint32's), or -1 when it runs past the end. */
function pastVarint(b: Uint8Array, i: number): number {
  const end = Math.min(b.length, i + 5);
  while (i < end) if (b[i++] < 0x80) return i;
  return -1;
}

/** `v` below 2^32, as V8's lengths and zigzag int32s are. */
function writeVarint(out: Uint8Array, o: number, v: number): number {
  while (v >= 0x80) {
    out[o++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  out[o++] = v;
  return o;
}

function grow(depth: number): void {
  if (depth < kind.length) return;
  const n = kind.length * 2;
  const more = <T extends Int32Array | Float64Array>(a: T): T => {
    const b = new (a.constructor as new (n: number) => T)(n);
    b.set(a);
    return b;
  };
  kind = more(kind);
  next = more(next);
  arrayLength = more(arrayLength);
  atKey = more(atKey);
  inStart = more(inStart);
  outStart = more(outStart);
}

/**
 * `b` (V8 serialization) with the representation choices above made canonical; `b` itself when
 * they already are, or when it holds something this walk does not know (then it is left exactly
 * as V8 wrote it). One pass over the tags, skipping the bodies of strings and buffers.
 */
export function canonicalV8(b: Uint8Array): Uint8Array {
  const n = b.length;
  if (n < 2 || b[0] !== Tag.Version || varint(b, 1) < 0) return b;
  const dv = new DataView(b.buffer, b.byteOffset, n);
  let i = after;
  // The output is made at the first rewrite; until then it is the input's prefix (o === i).
  let out: Uint8Array | null = null;
  let o = i;
  let depth = 0;
  let keepSparse: Set<number> | undefined;

  while (i < n) {
    const top = depth - 1;
    const start = i;
    const inside = top >= 0 ? kind[top] : PLAIN;
    if (inside === ERROR_BODY && next[top] === 1) {
      // An error's subtag: a prototype letter, the end, or a field whose value follows.
      const sub = b[i++];
      if (sub === ERROR_END) depth--;
      else if (!ERROR_PROTOTYPES.has(sub)) next[top] = 0;
      if (out !== null) out[o++] = sub;
      else o = i;
      if (sub !== ERROR_END) continue;
    } else if (inside === SPARSE && atKey[top] === 1 && next[top] < arrayLength[top]) {
      // The key of a sparse array's next entry must be its next index, which a dense array leaves out.
      if (b[i] === Tag.Int32 && varint(b, i + 1) === 2 * next[top]) {
        i = after;
        next[top]++;
        atKey[top] = 0;
        continue;
      }
      // A hole: write the array again from its start, as V8 wrote it.
      (keepSparse ??= new Set()).add(inStart[top]);
      i = inStart[top];
      o = outStart[top];
      depth = top;
      continue;
    } else {
      const tag = b[i++];
      let copy = true;
      switch (tag) {
        case Tag.Padding:
          if (out === null) ({ out, o } = dirty(b, start));
          continue;
        case Tag.Int32:
        case Tag.Uint32:
        case Tag.ObjectRef:
          i = pastVarint(b, i);
          if (i < 0) return b;
          break;
        case Tag.VerifyCount:
          i = pastVarint(b, i);
          if (i < 0) return b;
          if (out !== null) o = copyRange(b, start, i, out, o);
          else o = i;
          continue;
        case Tag.Double: {
          // A run of doubles (an array of them) in a container with no bookkeeping is read in one loop.
          const run = inside === PLAIN && top >= 0;
          let at = start;
          if (out === null) {
            at = cleanDoubles(b, dv, at, run);
            if (at < 0) return b;
            o = at;
            if (at > start && (!run || b[at] !== Tag.Double)) {
              i = at;
              copy = false;
              break;
            }
            ({ out, o } = dirty(b, at));
          }
          o = doubles(b, dv, at, run, out, o);
          if (o < 0) return b;
          i = after;
          copy = false;
          break;
        }
        case Tag.Date:
        case Tag.NumberObject:
          i += 8;
          break;
        case Tag.OneByteString:
        case Tag.Utf8String:
        case Tag.ArrayBuffer: {
          const len = varint(b, i);
          if (len < 0) return b;
          i = after + len;
          break;
        }
        case Tag.TwoByteString: {
          const len = varint(b, i);
          if (len < 0) return b;
          const from = after;
          i = from + len;
          if (i > n) return b;
          let latin1 = len % 2 === 0;
          for (let k = from + 1; latin1 && k < i; k += 2) latin1 = b[k] === 0;
          if (latin1) {
            if (out === null) ({ out, o } = dirty(b, start));
            out[o++] = Tag.OneByteString;
            o = writeVarint(out, o, len / 2);
            for (let k = from; k < i; k += 2) out[o++] = b[k];
            copy = false;
          }
          break;
        }
        case Tag.BigInt:
        case Tag.BigIntObject: {
          const bitfield = varint(b, i);
          if (bitfield < 0) return b;
          i = after + Math.floor(bitfield / 2);
          break;
        }
        case Tag.ResizableBuffer: {
          const len = varint(b, i);
          if (len < 0 || varint(b, after) < 0) return b;
          i = after + len;
          break;
        }
        case Tag.HostObject: {
          if (varint(b, i) < 0) return b;
          const len = varint(b, after);
          if (len < 0) return b;
          i = after + len;
          break;
        }
        case Tag.BeginDense:
        case Tag.BeginObject:
        case Tag.BeginMap:
        case Tag.BeginSet:
        case Tag.StringObject:
        case Tag.RegExp:
        case Tag.Error:
          if (tag === Tag.BeginDense) {
            if (varint(b, i) < 0) return b;
            i = after;
          }
          grow(depth);
          kind[depth] = tag === Tag.StringObject ? WRAPPER : tag === Tag.RegExp ? REGEXP_BODY : tag === Tag.Error ? ERROR_BODY : PLAIN;
          next[depth] = tag === Tag.Error ? 1 : 0;
          depth++;
          if (out !== null) o = copyRange(b, start, i, out, o);
          else o = i;
          continue;
        case Tag.BeginSparse: {
          const len = varint(b, i);
          if (len < 0) return b;
          i = after;
          grow(depth);
          inStart[depth] = start;
          if (keepSparse?.has(start)) {
            kind[depth++] = SPARSE_KEPT;
            if (out !== null) o = copyRange(b, start, i, out, o);
            else o = i;
            continue;
          }
          // Written as the dense array it will be, unless a hole turns up.
          if (out === null) ({ out, o } = dirty(b, start));
          kind[depth] = SPARSE;
          next[depth] = 0;
          arrayLength[depth] = len;
          atKey[depth] = 1;
          outStart[depth] = o;
          depth++;
          out[o++] = Tag.BeginDense;
          o = writeVarint(out, o, len);
          continue;
        }
        case Tag.EndObject:
        case Tag.EndMap:
        case Tag.EndSet:
        case Tag.EndDense:
          if (varint(b, i) < 0 || (tag === Tag.EndDense && varint(b, after) < 0)) return b;
          i = after;
          if (depth === 0 || kind[top] !== PLAIN) return b;
          depth--;
          break;
        case Tag.EndSparse: {
          const props = varint(b, i);
          if (props < 0 || varint(b, after) < 0) return b;
          i = after;
          if (depth === 0 || (kind[top] !== SPARSE && kind[top] !== SPARSE_KEPT)) return b;
          if (kind[top] === SPARSE) {
            if (next[top] < arrayLength[top]) {
              // A trailing hole: write the array again from its start, as V8 wrote it.
              (keepSparse ??= new Set()).add(inStart[top]);
              i = inStart[top];
              o = outStart[top];
              depth = top;
              continue;
            }
            out![o++] = Tag.EndDense;
            o = writeVarint(out!, o, props - next[top]);
            o = writeVarint(out!, o, arrayLength[top]);
            copy = false;
          }
          depth--;
          break;
        }
        case Tag.Undefined:
        case Tag.Null:
        case Tag.True:
        case Tag.False:
        case Tag.Hole:
        case Tag.TrueObject:
        case Tag.FalseObject:
          break;
        default:
          // Transferred or shared buffers, WebAssembly, views outside host objects: not from v8.serialize.
          return b;
      }
      if (i > n) return b;
      if (copy) {
        if (out !== null) o = copyRange(b, start, i, out, o);
        else o = i;
      }
    }
    // A whole value has been read: tell the containers it completes.
    while (depth > 0 && kind[depth - 1] !== PLAIN) {
      const k = kind[depth - 1];
      if (k === SPARSE) atKey[depth - 1] ^= 1;
      else if (k === ERROR_BODY) next[depth - 1] = 1;
      else if (k === WRAPPER || k === REGEXP_BODY) {
        depth--;
        if (k === WRAPPER) continue;
        const flagsAt = i;
        if (varint(b, i) < 0) return b;
        i = after;
        if (out !== null) o = copyRange(b, flagsAt, i, out, o);
        else o = i;
        continue;
      }
      break;
    }
  }
  if (depth !== 0) return b;
  if (out === null) return b;
  // Only arrays found to have holes were rewritten, and they went back as they were.
  if (o === n && sameBytes(out, b)) return b;
  return out.subarray(0, o);
}

const NAN_LOW = 0, NAN_HIGH = 0x7ff80000;

/** An int32 that is not -0: written as one. */
function isInt32(d: number): boolean {
  return (d | 0) === d && (d !== 0 || 1 / d > 0);
}

/** A NaN other than the one NaN. */
function isOtherNaN(dv: DataView, at: number): boolean {
  return dv.getUint32(at, true) !== NAN_LOW || dv.getUint32(at + 4, true) !== NAN_HIGH;
}

/**
 * Past the doubles from `at` (one, or a run of them when `run`) that need no rewrite: the
 * position of the first that does, or of what follows them; -1 when the bytes end early.
 */
function cleanDoubles(b: Uint8Array, dv: DataView, at: number, run: boolean): number {
  const n = b.length;
  for (;;) {
    if (at + 9 > n) return -1;
    const d = dv.getFloat64(at + 1, true);
    if (isInt32(d) || (d !== d && isOtherNaN(dv, at + 1))) return at;
    at += 9;
    if (!run || b[at] !== Tag.Double) return at;
  }
}

/**
 * The doubles from `at` (one, or a run of them when `run`) written canonically to `out` at `o`:
 * the output position after them (the input position is left in `after`), or -1 when the bytes end early.
 */
function doubles(b: Uint8Array, dv: DataView, at: number, run: boolean, out: Uint8Array, o: number): number {
  const n = b.length;
  for (;;) {
    if (at + 9 > n) return -1;
    const d = dv.getFloat64(at + 1, true);
    const int = d | 0;
    if (int === d && (d !== 0 || 1 / d > 0)) {
      out[o++] = Tag.Int32;
      let zigzag = ((int << 1) ^ (int >> 31)) >>> 0;
      while (zigzag >= 0x80) {
        out[o++] = (zigzag & 0x7f) | 0x80;
        zigzag >>>= 7;
      }
      out[o++] = zigzag;
    } else if (d !== d && isOtherNaN(dv, at + 1)) {
      out[o++] = Tag.Double;
      writeNaN(out, o);
      o += 8;
    } else {
      for (let k = 0; k < 9; k++) out[o++] = b[at + k];
    }
    at += 9;
    if (!run || b[at] !== Tag.Double) break;
  }
  after = at;
  return o;
}

/** The one NaN, written at `o`. */
function writeNaN(out: Uint8Array, o: number): void {
  for (let k = 0; k < 8; k++) out[o + k] = NAN_BYTES[k];
}
const NAN_BYTES = new Uint8Array(new Float64Array([Number.NaN]).buffer);

/** A rewrite of the token at `start` is due: the output becomes its own buffer, the input's prefix so far. */
function dirty(b: Uint8Array, start: number): { out: Uint8Array; o: number } {
  // Not zeroed: only the written prefix is returned.
  const out = Buffer.allocUnsafeSlow(b.length);
  out.set(b.subarray(0, start));
  return { out, o: start };
}

function copyRange(b: Uint8Array, from: number, to: number, out: Uint8Array, o: number): number {
  if (to - from > 64) {
    out.set(b.subarray(from, to), o);
    return o + to - from;
  }
  for (let k = from; k < to; k++) out[o++] = b[k];
  return o;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  for (let k = 0; k < b.length; k++) if (a[k] !== b[k]) return false;
  return true;
}
