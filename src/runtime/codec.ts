// Values ⇄ bytes for every host: V8's structured serialization (fast, handles Maps, Sets,
// typed arrays, Dates, cycles), plus the hash the invariant checkers compare.

import v8 from "node:v8";
import type { Payload, RefInfo } from "../core/types.ts";

// Numbers, booleans, null and undefined — most task results — skip V8's serializer: a tag
// byte that V8's format never starts with (it starts with its version tag, 0xFF).
const NUMBER = 1, TRUE = 2, FALSE = 3, NULL = 4, UNDEFINED = 5;

export function toBytes(value: unknown): Uint8Array {
  switch (typeof value) {
    case "number": {
      const b = new Uint8Array(9);
      b[0] = NUMBER;
      new DataView(b.buffer).setFloat64(1, value, true);
      return b;
    }
    case "boolean": return Uint8Array.of(value ? TRUE : FALSE);
    case "undefined": return Uint8Array.of(UNDEFINED);
    default: if (value === null) return Uint8Array.of(NULL);
  }
  try {
    return v8.serialize(value);
  } catch (e) {
    throw new TypeError(
      `value cannot be stored in the object store: ${(e as Error).message}. ` +
        "Plain data, typed arrays, Maps, Sets, Dates, ObjectRefs and remote handles can be; functions and class instances' methods cannot (wrap functions with ray.remote).",
    );
  }
}

export function fromBytes(bytes: Uint8Array): unknown {
  switch (bytes[0]) {
    case NUMBER: return new DataView(bytes.buffer, bytes.byteOffset, 9).getFloat64(1, true);
    case TRUE: return true;
    case FALSE: return false;
    case NULL: return null;
    case UNDEFINED: return undefined;
  }
  return v8.deserialize(bytes);
}

/** Bytes hashed in full up to this size; beyond it a fixed sample plus the length. */
const FULL_HASH_BYTES = 1 << 20;
const SAMPLES = 1 << 16;

/**
 * FNV-1a (two lanes) over the bytes. Large values are sampled so that hashing does not cap
 * put bandwidth; the checkers use the hash to compare re-executions, and the length and
 * 64 KiB of evenly spread bytes catch any realistic nondeterminism.
 */
export function hashBytes(b: Uint8Array): string {
  let h1 = 0x811c9dc5, h2 = 0x9747b28c;
  const n = b.length;
  if (n <= FULL_HASH_BYTES) {
    for (let i = 0; i < n; i++) {
      h1 = Math.imul(h1 ^ b[i], 0x01000193);
      h2 = Math.imul(h2 ^ b[i], 0x5bd1e995);
    }
  } else {
    const step = n / SAMPLES;
    for (let k = 0; k < SAMPLES; k++) {
      const x = b[Math.floor(k * step)];
      h1 = Math.imul(h1 ^ x, 0x01000193);
      h2 = Math.imul(h2 ^ x, 0x5bd1e995);
    }
    h1 = Math.imul(h1 ^ (n >>> 0), 0x01000193);
  }
  return (h1 >>> 0).toString(16).padStart(8, "0") + (h2 >>> 0).toString(16).padStart(8, "0");
}

export function bytesPayload(bytes: Uint8Array, marked: boolean, refs: readonly RefInfo[]): Payload {
  if (!marked) return { size: bytes.length, hash: hashBytes(bytes), data: bytes };
  return { size: bytes.length, hash: hashBytes(bytes), data: bytes, marked: true, refs: refs.length > 0 ? refs : undefined };
}
