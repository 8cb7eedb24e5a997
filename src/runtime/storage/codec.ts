// GCS rows ⇄ the JSON that both durable backends store. Rows are plain JSON-able objects,
// with two additions a real host needs: byte arrays (an inline actor-constructor argument's
// payload may be a Uint8Array or a Buffer) and non-finite numbers, which plain JSON would
// silently turn into something else. Anything else JSON cannot represent faithfully (a Map, a
// Set, a BigInt, a function, a class instance without toJSON, a cycle) is refused at write
// time with an error naming the row, rather than stored wrong and found out after a crash.
//
// Encoding: a tagged value is an object whose keys start with one "$" (`{"$bytes": base64,
// "$type": "Uint8Array"}`, `{"$num": "NaN"}`); a key of the row's own that starts with "$" is
// stored with one more "$" in front, so a row can never be mistaken for a tag.
//
// `toStored` returns a fresh tree, so the stored copy never aliases the model's live objects.

export type Stored = null | boolean | number | string | Stored[] | { [k: string]: Stored };

const TYPED: Record<string, { new (b: ArrayBuffer): ArrayBufferView }> = {
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array,
};

function bytesOf(v: ArrayBufferView | ArrayBuffer): Buffer {
  return ArrayBuffer.isView(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : Buffer.from(v);
}

function typeName(v: ArrayBufferView | ArrayBuffer): string | undefined {
  if (Buffer.isBuffer(v)) return "Buffer";
  if (v instanceof ArrayBuffer) return "ArrayBuffer";
  const name = (v as object).constructor?.name;
  return name !== undefined && TYPED[name] !== undefined && v instanceof TYPED[name] ? name : undefined;
}

/** Converts a row to its stored form; `where` names the row in errors (e.g. "actors/a1"). */
export function toStored(value: unknown, where: string): Stored {
  const path: string[] = [];
  const open = new Set<object>();
  const fail = (what: string): never => {
    throw new TypeError(`GCS storage cannot store ${what} at ${where}${path.length ? "." + path.join(".") : ""}: rows must be plain JSON-able values`);
  };
  const walk = (v: unknown): Stored => {
    switch (typeof v) {
      case "string": case "boolean": return v;
      case "number": return Number.isFinite(v) ? v : { $num: String(v) };
      case "undefined": return null; // only reachable inside arrays, as in JSON
      case "bigint": return fail("a BigInt");
      case "function": return fail("a function");
      case "symbol": return fail("a symbol");
    }
    if (v === null) return null;
    const o = v as object;
    if (ArrayBuffer.isView(o) || o instanceof ArrayBuffer) {
      const t = typeName(o);
      if (t === undefined) return fail(`a ${o.constructor?.name ?? "binary view"}`);
      return { $bytes: bytesOf(o).toString("base64"), $type: t };
    }
    if (open.has(o)) return fail("a cycle");
    open.add(o);
    try {
      if (Array.isArray(o)) {
        return o.map((x, i) => { path.push(String(i)); try { return walk(x); } finally { path.pop(); } });
      }
      const proto = Object.getPrototypeOf(o);
      if (proto !== Object.prototype && proto !== null) {
        const toJSON = (o as { toJSON?: unknown }).toJSON;
        if (typeof toJSON === "function") return walk(toJSON.call(o));
        return fail(`a ${o.constructor?.name ?? "non-plain object"}`);
      }
      const out: { [k: string]: Stored } = {};
      for (const [k, x] of Object.entries(o)) {
        if (x === undefined) continue; // absent, as in JSON
        path.push(k);
        try { out[k.startsWith("$") ? "$" + k : k] = walk(x); } finally { path.pop(); }
      }
      return out;
    } finally {
      open.delete(o);
    }
  };
  return walk(value);
}

/** The inverse of `toStored`; returns a fresh tree. Throws on a malformed tag. */
export function fromStored(s: Stored): unknown {
  if (s === null || typeof s !== "object") return s;
  if (Array.isArray(s)) return s.map(fromStored);
  if ("$bytes" in s) {
    const b64 = s.$bytes, t = s.$type;
    if (typeof b64 !== "string" || typeof t !== "string") throw new Error("malformed $bytes tag");
    const buf = Buffer.from(b64, "base64");
    if (t === "Buffer") return buf;
    const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
    if (t === "ArrayBuffer") return ab;
    const C = TYPED[t];
    if (C === undefined) throw new Error(`unknown $bytes type ${t}`);
    return new C(ab);
  }
  if ("$num" in s) {
    const n = Number(s.$num);
    if (typeof s.$num !== "string" || Number.isFinite(n) || (Number.isNaN(n) && s.$num !== "NaN")) throw new Error("malformed $num tag");
    return n;
  }
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(s)) {
    if (k.startsWith("$") && !k.startsWith("$$")) throw new Error(`unknown tag ${k}`);
    out[k.startsWith("$") ? k.slice(1) : k] = fromStored(x);
  }
  return out;
}
