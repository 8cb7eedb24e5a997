// A zod schema compiled once into a plain predicate: true only for values the schema accepts.
// zod's safeParse builds an output copy of every message and a result object, and its
// generic parse path goes megamorphic with dozens of message shapes: a daemon spent as much on
// it as on the rest of decoding a frame. The predicate allocates nothing. It is a fast path
// only: validate.ts still asks zod whenever the predicate says no, so zod stays the judge of
// what is refused and names the bad field, and the predicate only has to be no laxer than zod
// (test/unit/schema-check.test.ts checks that against mutated messages).
//
// Only what validate.ts uses is understood; any other schema or check throws here, at startup,
// so that a new kind of field cannot be let through unchecked.

import type { z } from "zod/v4";

type Check = (v: unknown) => boolean;

/** The parts of zod's internal definitions read here (zod/v4 core, `schema._zod.def`). */
interface Def {
  readonly type: string;
  readonly checks?: readonly { readonly _zod: { readonly def: CheckDef } }[];
  readonly [k: string]: unknown;
}
interface CheckDef {
  readonly check: string;
  readonly format?: string;
  readonly pattern?: RegExp;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly value?: number;
  readonly inclusive?: boolean;
}

const defOf = (s: unknown): Def => (s as { _zod: { def: Def } })._zod.def;

export function compileCheck(schema: z.ZodType): Check {
  return compile(schema, new Map());
}

function compile(schema: unknown, seen: Map<unknown, Check>): Check {
  const known = seen.get(schema);
  if (known) return known;
  const def = defOf(schema);
  const checks = (def.checks ?? []).map((c) => c._zod.def);
  let out: Check;
  switch (def.type) {
    case "string": out = withChecks((v) => typeof v === "string", checks, "string"); break;
    case "number": out = withChecks((v) => typeof v === "number" && Number.isFinite(v), checks, "number"); break;
    case "boolean": out = (v) => typeof v === "boolean"; break;
    case "unknown": out = () => true; break;
    case "literal": {
      const values = new Set(def.values as readonly unknown[]);
      out = (v) => values.has(v);
      break;
    }
    case "enum": {
      const values = new Set(Object.values(def.entries as Record<string, unknown>));
      out = (v) => values.has(v);
      break;
    }
    case "optional": {
      const inner = compile(def.innerType, seen);
      out = (v) => v === undefined || inner(v);
      break;
    }
    case "readonly": out = compile(def.innerType, seen); break;
    case "lazy": {
      // Recursive (an error's cause): the inner schema is compiled on first use.
      let inner: Check | undefined;
      out = (v) => (inner ??= compile((def.getter as () => unknown)(), seen))(v);
      break;
    }
    case "array": {
      const el = compile(def.element, seen);
      // An index loop, as zod's: every() would skip the holes of a sparse array.
      out = withChecks((v) => {
        if (!Array.isArray(v)) return false;
        for (let i = 0; i < v.length; i++) if (!el(v[i])) return false;
        return true;
      }, checks, "array");
      break;
    }
    case "record": {
      const key = compile(def.keyType, seen);
      const value = compile(def.valueType, seen);
      out = (v) => {
        if (!isPlainObject(v)) return false;
        for (const k in v) if (!key(k) || !value(v[k])) return false;
        return true;
      };
      break;
    }
    case "object": out = objectCheck(def, seen); break;
    case "union": out = unionCheck(def, seen); break;
    default: throw new Error(`schema-check: zod type "${def.type}" is not supported`);
  }
  if (def.type !== "string" && def.type !== "number" && def.type !== "array" && checks.length > 0) {
    throw new Error(`schema-check: checks on a zod ${def.type} are not supported`);
  }
  seen.set(schema, out);
  return out;
}

/** A strict object: its own keys and no others; optional keys may be absent or undefined. */
function objectCheck(def: Def, seen: Map<unknown, Check>): Check {
  if (def.catchall === undefined || defOf(def.catchall).type !== "never") throw new Error("schema-check: only strict objects are supported");
  const shape = def.shape as Record<string, unknown>;
  const keys = Object.keys(shape);
  const fields = keys.map((k) => compile(shape[k], seen));
  const known = new Set(keys);
  return (v) => {
    if (!isPlainObject(v)) return false;
    for (let i = 0; i < keys.length; i++) if (!fields[i](v[keys[i]])) return false;
    for (const k in v) if (!known.has(k)) return false;
    return true;
  };
}

/** A union, and a discriminated one by its discriminator's literal (one lookup, then one option). */
function unionCheck(def: Def, seen: Map<unknown, Check>): Check {
  const options = def.options as readonly unknown[];
  const tag = def.discriminator as string | undefined;
  if (tag === undefined) {
    const each = options.map((o) => compile(o, seen));
    return (v) => each.some((c) => c(v));
  }
  const byTag = new Map<unknown, Check>();
  for (const o of options) {
    const t = defOf((defOf(o).shape as Record<string, unknown>)[tag]);
    if (t.type !== "literal") throw new Error(`schema-check: discriminator "${tag}" must be a literal`);
    const c = compile(o, seen);
    for (const value of t.values as readonly unknown[]) byTag.set(value, c);
  }
  return (v) => {
    if (!isPlainObject(v)) return false;
    const c = byTag.get(v[tag]);
    return c !== undefined && c(v);
  };
}

/** Adds zod's checks on a string, number or array (its length), each to the letter of zod's. */
function withChecks(base: Check, checks: readonly CheckDef[], on: "string" | "number" | "array"): Check {
  if (checks.length === 0) return base;
  const each: ((v: never) => boolean)[] = checks.map((c) => {
    switch (c.check) {
      case "string_format":
        // A global or sticky pattern carries lastIndex from call to call: not supported.
        if (on !== "string" || c.format !== "regex" || !(c.pattern instanceof RegExp) || /[gy]/.test(c.pattern.flags)) break;
        return regexCheck(c.pattern);
      case "max_length": if (on !== "number") return (v: string | unknown[]) => v.length <= c.maximum!; break;
      case "min_length": if (on !== "number") return (v: string | unknown[]) => v.length >= c.minimum!; break;
      case "number_format": if (on === "number" && c.format === "safeint") return (v: number) => Number.isSafeInteger(v); break;
      case "greater_than": if (on === "number") return c.inclusive ? (v: number) => v >= c.value! : (v: number) => v > c.value!; break;
      case "less_than": if (on === "number") return c.inclusive ? (v: number) => v <= c.value! : (v: number) => v < c.value!; break;
    }
    throw new Error(`schema-check: check "${c.check}"${c.format ? ` (${c.format})` : ""} on a ${on} is not supported`);
  });
  return (v) => {
    if (!base(v)) return false;
    for (let i = 0; i < each.length; i++) if (!each[i](v as never)) return false;
    return true;
  };
}

function regexCheck(re: RegExp): (v: string) => boolean {
  return (v) => re.test(v);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object") return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}
