// A zod schema compiled once into a plain predicate: true only for values the schema accepts.
// zod's safeParse builds an output copy of every message and a result object, and its
// generic parse path goes megamorphic with dozens of message shapes: a daemon spent as much on
// it as on the rest of decoding a frame. The predicate allocates nothing. It is a fast path
// only: validate.ts still asks zod whenever the predicate says no, so zod stays the judge of
// what is refused and names the bad field, and the predicate only has to be no laxer than zod
// (test/unit/schema-check.test.ts checks that against mutated messages).
//
// The predicate is generated JavaScript, one function per object, array, record and
// discriminated union of the schema, with its field reads and leaf tests written out, so that
// each read site sees one shape. A tree of shared closures (this file's first form) read every
// message type's fields at the same few sites, which go megamorphic in a daemon; written out,
// a PushTask is checked in about a quarter of the time. The source is built from the schema
// alone (keys and literals quoted with JSON.stringify, regular expressions passed by
// reference), never from a message.
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
  const g = new Generator();
  const entry = g.fn(schema);
  const source = `"use strict";\n${g.functions.join("\n")}\nreturn ${entry};`;
  return new Function("P", "R", "S", source)(isPlainObject, g.regexes, g.sets) as Check;
}

/** Builds the predicate's source: `fn` names a generated function, `expr` an inline test of a variable. */
class Generator {
  readonly functions: string[] = [];
  /** Regular expressions the source tests with, as `R[i]`. */
  readonly regexes: RegExp[] = [];
  /** Literal sets the source looks values up in, as `S[i]` (for values `===` would not match as zod does). */
  readonly sets: Set<unknown>[] = [];
  private readonly names = new Map<unknown, string>();

  /** The name of the function that tests `schema` (one per schema object, so shared and recursive parts are written once). */
  fn(schema: unknown): string {
    const known = this.names.get(schema);
    if (known) return known;
    const name = `f${this.names.size}`;
    this.names.set(schema, name);
    this.functions.push(`function ${name}(x) {\n${this.body(schema)}\n}`);
    return name;
  }

  /** A function's statements: they return whether `x` passes. */
  private body(schema: unknown): string {
    const [def, checks] = defAndChecks(schema);
    switch (def.type) {
      case "object": return this.objectBody(def);
      case "array": {
        const lengths = checks.map((c) => lengthTest(c, "x", "array")).join(" && ");
        return [
          "if (!Array.isArray(x)) return false;",
          lengths ? `if (!(${lengths})) return false;` : "",
          // An index loop, as zod's: every() would skip the holes of a sparse array.
          `for (let i = 0; i < x.length; i++) { const e = x[i]; if (!(${this.expr(def.element, "e")})) return false; }`,
          "return true;",
        ].join("\n");
      }
      case "record":
        return [
          "if (!P(x)) return false;",
          `for (const k in x) { const e = x[k]; if (!(${this.expr(def.keyType, "k")}) || !(${this.expr(def.valueType, "e")})) return false; }`,
          "return true;",
        ].join("\n");
      case "union": return this.unionBody(def);
      // Recursive (an error's cause): this function is named before its inner schema is written.
      case "lazy": return `return ${this.expr((def.getter as () => unknown)(), "x")};`;
      default: return `return ${this.expr(schema, "x")};`;
    }
  }

  /** A boolean expression that tests the variable `x` (an identifier) against `schema`. */
  expr(schema: unknown, x: string): string {
    const [def, checks] = defAndChecks(schema);
    switch (def.type) {
      case "string": return [`typeof ${x} === "string"`, ...checks.map((c) => this.stringTest(c, x))].join(" && ");
      case "number": return [`typeof ${x} === "number" && Number.isFinite(${x})`, ...checks.map((c) => numberTest(c, x))].join(" && ");
      case "boolean": return `typeof ${x} === "boolean"`;
      case "unknown": return "true";
      case "literal": return this.oneOf(def.values as readonly unknown[], x);
      case "enum": return this.oneOf(Object.values(def.entries as Record<string, unknown>), x);
      case "optional": return `(${x} === undefined || ${this.expr(def.innerType, x)})`;
      case "readonly": return this.expr(def.innerType, x);
      case "object": case "array": case "record": case "union": case "lazy": return `${this.fn(schema)}(${x})`;
      default: throw new Error(`schema-check: zod type "${def.type}" is not supported`);
    }
  }

  /** A strict object: its own keys and no others; optional keys may be absent or undefined. */
  private objectBody(def: Def): string {
    const shape = objectShape(def);
    const keys = Object.keys(shape);
    const lines = ["if (!P(x)) return false;", "let v;"];
    for (const k of keys) lines.push(`v = x[${JSON.stringify(k)}]; if (!(${this.expr(shape[k], "v")})) return false;`);
    const cases = keys.map((k) => `case ${JSON.stringify(k)}:`).join(" ");
    lines.push(keys.length > 0 ? `for (const k in x) { switch (k) { ${cases} continue; default: return false; } }` : "for (const k in x) return false;");
    lines.push("return true;");
    return lines.join("\n");
  }

  /** A union; a discriminated one switches on its discriminator's literal (one comparison chain, then one option). */
  private unionBody(def: Def): string {
    const options = def.options as readonly unknown[];
    const tag = def.discriminator as string | undefined;
    if (tag === undefined) return `return ${options.map((o) => this.expr(o, "x")).join(" || ")};`;
    const cases: string[] = [];
    for (const o of options) {
      const t = defOf((defOf(o).shape as Record<string, unknown>)[tag]);
      if (t.type !== "literal") throw new Error(`schema-check: discriminator "${tag}" must be a literal`);
      const name = this.fn(o);
      for (const value of t.values as readonly unknown[]) cases.push(`case ${literal(value)}: return ${name}(x);`);
    }
    return [`if (!P(x)) return false;`, `switch (x[${JSON.stringify(tag)}]) {`, ...cases, "default: return false;", "}"].join("\n");
  }

  /** `x` is one of `values` (zod compares literals as a Set does). */
  private oneOf(values: readonly unknown[], x: string): string {
    // A string or a boolean is the same under === as under a Set's SameValueZero.
    if (values.every((v) => typeof v === "string" || typeof v === "boolean")) return `(${values.map((v) => `${x} === ${literal(v)}`).join(" || ")})`;
    this.sets.push(new Set(values));
    return `S[${this.sets.length - 1}].has(${x})`;
  }

  private stringTest(c: CheckDef, x: string): string {
    if (c.check === "string_format") {
      // A global or sticky pattern carries lastIndex from call to call: not supported.
      if (c.format !== "regex" || !(c.pattern instanceof RegExp) || /[gy]/.test(c.pattern.flags)) throw unsupported(c, "string");
      let i = this.regexes.indexOf(c.pattern);
      if (i < 0) i = this.regexes.push(c.pattern) - 1;
      return `R[${i}].test(${x})`;
    }
    return lengthTest(c, x, "string");
  }
}

/**
 * A schema's definition and its checks. Checks are understood on strings, numbers and arrays
 * only: on anything else (a refinement is a check in zod 4) they are refused, wherever the
 * schema sits (the root, a field, a union's option).
 */
function defAndChecks(schema: unknown): [Def, CheckDef[]] {
  const def = defOf(schema);
  const checks = (def.checks ?? []).map((c) => c._zod.def);
  if (def.type !== "string" && def.type !== "number" && def.type !== "array" && checks.length > 0) {
    throw new Error(`schema-check: checks on a zod ${def.type} are not supported`);
  }
  return [def, checks];
}

function objectShape(def: Def): Record<string, unknown> {
  if (def.catchall === undefined || defOf(def.catchall).type !== "never") throw new Error("schema-check: only strict objects are supported");
  return def.shape as Record<string, unknown>;
}

/** zod's length checks on a string or an array, to the letter of zod's. */
function lengthTest(c: CheckDef, x: string, on: "string" | "array"): string {
  switch (c.check) {
    case "max_length": return `${x}.length <= ${num(c.maximum)}`;
    case "min_length": return `${x}.length >= ${num(c.minimum)}`;
  }
  throw unsupported(c, on);
}

/** zod's checks on a number, to the letter of zod's. */
function numberTest(c: CheckDef, x: string): string {
  switch (c.check) {
    case "number_format": if (c.format === "safeint") return `Number.isSafeInteger(${x})`; break;
    case "greater_than": return `${x} ${c.inclusive ? ">=" : ">"} ${num(c.value)}`;
    case "less_than": return `${x} ${c.inclusive ? "<=" : "<"} ${num(c.value)}`;
  }
  throw unsupported(c, "number");
}

function unsupported(c: CheckDef, on: string): Error {
  return new Error(`schema-check: check "${c.check}"${c.format ? ` (${c.format})` : ""} on a ${on} is not supported`);
}

/** A number written into the source, exactly. */
function num(v: number | undefined): string {
  if (typeof v !== "number" || Number.isNaN(v)) throw new Error(`schema-check: a check's bound ${String(v)} is not a number`);
  return v === Infinity ? "Infinity" : v === -Infinity ? "-Infinity" : Object.is(v, -0) ? "-0" : String(v);
}

/** A literal written into the source (strings and booleans, numbers, null). */
function literal(v: unknown): string {
  if (typeof v === "string" || typeof v === "boolean" || v === null) return JSON.stringify(v);
  if (typeof v === "number") return num(v);
  throw new Error(`schema-check: a literal ${String(v)} of type ${typeof v} is not supported`);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object") return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}
