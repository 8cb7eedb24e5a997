// The one rule of the architecture (docs/architecture.md), enforced: nothing under src/core/ may
// touch the world. Every .ts file there is parsed with the TypeScript compiler and searched for
// forbidden globals, and every import is resolved to the file it loads, as Node would resolve it
// (following `..`, symlinks and package entry points, not matching prefixes of the specifier):
// it may load only another file of src/core/, a package on the allow-list below, or — as types
// only (`import type`, erased before run time) — a file of spec/. Matching
// runs on the syntax tree, after comments and string contents are stripped: comments are
// trivia the parser skips, and a string literal is one token whose text is never matched as
// code (only import specifiers, which are strings, are read — to judge the import). Names are
// resolved with the type checker, so a local that happens to be called `fetch` is not the
// global `fetch`, while the global used anywhere is caught.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, realpathSync } from "node:fs";
import { builtinModules } from "node:module";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const ROOT = realpathSync(fileURLToPath(new URL("../..", import.meta.url)));
const CORE = join(ROOT, "src", "core");
const SPEC = join(ROOT, "spec");

/** Packages a model may load: pure computation, no I/O, no clock, no randomness. */
const PURE_PACKAGES = new Map<string, string>([["xstate", "statecharts of the lifecycles (docs/statecharts.md)"]]);

/** Globals that read clocks, randomness or the process, schedule work, or do I/O. */
const FORBIDDEN_GLOBALS = new Map<string, string>([
  ["Date", "reads the wall clock; take time from fx.now()"],
  ["setTimeout", "schedules real time; ask for fx.setTimer()"],
  ["setInterval", "schedules real time; ask for fx.setTimer(key, ms, true)"],
  ["setImmediate", "schedules outside the host; return an effect instead"],
  ["queueMicrotask", "schedules outside the host; return an effect instead"],
  ["process", "reads the process (env, argv, clock, exit)"],
  ["performance", "reads a clock"],
  ["require", "loads modules at run time"],
  ["fetch", "does network I/O"],
  ["console", "writes to the terminal; emit a trace event instead"],
  ["globalThis", "reaches any global around this check"],
  ["global", "reaches any global around this check"],
  ["eval", "runs code this check cannot see"],
  ["crypto", "reads randomness; take it from fx.random()"],
  ["XMLHttpRequest", "does network I/O"],
  ["WebSocket", "does network I/O"],
  ["Function", "compiles code from strings (and reaches globalThis through it)"],
  ["WeakRef", "observes garbage collection, which differs run to run"],
  ["FinalizationRegistry", "observes garbage collection, which differs run to run"],
  ["MessageChannel", "schedules outside the host; return an effect instead"],
  ["BroadcastChannel", "talks to other threads"],
  ["Worker", "starts a thread"],
]);
const FORBIDDEN_MEMBERS = new Map<string, string>([["Math.random", "unseeded randomness; take it from fx.random()"]]);
const BUILTINS = new Set(builtinModules);

export interface Finding {
  readonly line: number;
  readonly what: string;
  readonly why: string;
}

function isBuiltin(spec: string): boolean {
  return spec.startsWith("node:") || BUILTINS.has(spec) || BUILTINS.has(spec.split("/")[0]);
}

const within = (dir: string, file: string) => file === dir || file.startsWith(dir + sep);

/** The package a bare specifier names (`@scope/name/sub` → `@scope/name`). */
function packageOf(spec: string): string {
  const parts = spec.split("/");
  return spec.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

/**
 * Why importing `spec` from `file` breaks the rule, or undefined if it may. `typeOnly`: the
 * import is erased before run time (`import type`, `export type`, an `import("…")` type).
 */
function judgeSpecifier(spec: string, typeOnly: boolean, resolved: ts.ResolvedModuleFull | undefined): string | undefined {
  if (isBuiltin(spec)) return "a Node built-in module: models do no I/O";
  if (!resolved) return "does not resolve to a file, so this check cannot see what it would load";
  if (resolved.isExternalLibraryImport || resolved.resolvedFileName.split(/[\\/]/).includes("node_modules")) {
    const name = resolved.packageId?.name ?? packageOf(spec);
    return PURE_PACKAGES.has(name) ? undefined : `package ${name} is not on the allow-list of pure packages (${[...PURE_PACKAGES.keys()].join(", ")})`;
  }
  const target = realpathSync(resolved.resolvedFileName);
  if (within(CORE, target)) return undefined;
  if (within(SPEC, target)) return typeOnly ? undefined : `a value import from ${relative(ROOT, target)}: a model may take spec/'s types only (import type)`;
  return `loads ${relative(ROOT, target)}, outside src/core`;
}

/** Is this identifier the *name* of a member (x.fetch, { fetch: … }, fetch() {} in a class)? */
function isMemberName(id: ts.Identifier): boolean {
  const p = id.parent;
  if (!p) return false;
  if ((ts.isPropertyAccessExpression(p) || ts.isQualifiedName(p)) && (ts.isPropertyAccessExpression(p) ? p.name : p.right) === id) return true;
  if (
    (ts.isMethodDeclaration(p) || ts.isPropertyDeclaration(p) || ts.isPropertyAssignment(p) || ts.isPropertySignature(p) ||
      ts.isMethodSignature(p) || ts.isGetAccessorDeclaration(p) || ts.isSetAccessorDeclaration(p) || ts.isEnumMember(p) ||
      ts.isPropertyAccessChain?.(p)) &&
    (p as { name?: ts.Node }).name === id
  ) return true;
  // `{ fetch }` in a destructuring pattern names a property; the binding it creates is local.
  if (ts.isBindingElement(p) && p.propertyName === id) return true;
  if ((ts.isImportSpecifier(p) || ts.isExportSpecifier(p)) && p.propertyName === id) return true;
  return false;
}

const COMPILER_OPTIONS: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  lib: ["lib.es2022.d.ts"],
  types: ["node"],
  typeRoots: [join(ROOT, "node_modules", "@types")],
  allowImportingTsExtensions: true,
  noEmit: true,
  skipLibCheck: true,
  strict: true,
};

/**
 * Every forbidden global, member or import in each of `sources` (file name → text). The files
 * are compiled together as one program, with Node's and ES2022's declarations, so that every
 * name can be resolved: a name bound to a declaration in the sources is local, anything else
 * (declared by a lib or @types/node, or not at all) is a global.
 */
export function findForbiddenIn(sources: ReadonlyMap<string, string>): Map<string, Finding[]> {
  const host = ts.createCompilerHost(COMPILER_OPTIONS, true);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const readFile = host.readFile.bind(host);
  host.getSourceFile = (name, lang, ...rest) => {
    const text = sources.get(name);
    return text !== undefined ? ts.createSourceFile(name, text, lang, true, ts.ScriptKind.TS) : getSourceFile(name, lang, ...rest);
  };
  host.fileExists = (name) => sources.has(name) || fileExists(name);
  host.readFile = (name) => sources.get(name) ?? readFile(name);
  const program = ts.createProgram([...sources.keys()], COMPILER_OPTIONS, host);
  const checker = program.getTypeChecker();

  const isLocal = (id: ts.Identifier): boolean => {
    const sym = checker.getSymbolAtLocation(id);
    return sym?.declarations?.some((d) => sources.has(d.getSourceFile().fileName)) ?? false;
  };

  const result = new Map<string, Finding[]>();
  for (const name of sources.keys()) {
    const sf = program.getSourceFile(name)!;
    const out: Finding[] = [];
    result.set(name, out);
    const at = (n: ts.Node, what: string, why: string) =>
      out.push({ line: sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1, what, why });
    const judgeImport = (spec: ts.Expression | undefined, n: ts.Node, typeOnly: boolean) => {
      if (!spec || !ts.isStringLiteralLike(spec)) return;
      const resolved = ts.resolveModuleName(spec.text, name, COMPILER_OPTIONS, host).resolvedModule;
      const why = judgeSpecifier(spec.text, typeOnly, resolved);
      if (why) at(n, `import of "${spec.text}"`, why);
    };
    const member = (n: ts.Node, obj: ts.Identifier, prop: string) => {
      const why = FORBIDDEN_MEMBERS.get(`${obj.text}.${prop}`);
      if (why && !isLocal(obj)) at(n, `${obj.text}.${prop}`, why);
    };
    const visit = (n: ts.Node): void => {
      // With verbatimModuleSyntax, only a whole `import type` clause is erased: `import { type X }`
      // still loads the module at run time.
      if (ts.isImportDeclaration(n)) judgeImport(n.moduleSpecifier, n, n.importClause?.isTypeOnly === true);
      else if (ts.isExportDeclaration(n)) judgeImport(n.moduleSpecifier, n, n.isTypeOnly);
      else if (ts.isImportEqualsDeclaration(n) && ts.isExternalModuleReference(n.moduleReference)) judgeImport(n.moduleReference.expression, n, n.isTypeOnly);
      else if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword) {
        const spec = n.arguments[0];
        if (spec && ts.isStringLiteralLike(spec)) judgeImport(spec, n, false);
        else at(n, "import(…) of a computed specifier", "loads modules this check cannot see");
      } else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument) && ts.isStringLiteralLike(n.argument.literal)) {
        judgeImport(n.argument.literal, n, true);
      } else if (ts.isMetaProperty(n) && n.keywordToken === ts.SyntaxKind.ImportKeyword) {
        at(n, "import.meta", "reads where the module lives (its URL, file name, directory)");
      } else if (ts.isPropertyAccessExpression(n) && ts.isIdentifier(n.expression)) {
        member(n, n.expression, n.name.text);
      } else if (ts.isElementAccessExpression(n) && ts.isIdentifier(n.expression) && ts.isStringLiteralLike(n.argumentExpression)) {
        member(n, n.expression, n.argumentExpression.text);
      } else if (ts.isIdentifier(n)) {
        const why = FORBIDDEN_GLOBALS.get(n.text);
        if (why && !isMemberName(n) && !isLocal(n)) at(n, n.text, why);
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return result;
}

/** The findings in one piece of source (compiled as a file of src/core). */
export function findForbidden(source: string): Finding[] {
  const name = join(CORE, "__sample__.ts");
  return findForbiddenIn(new Map([[name, source]])).get(name)!;
}

function coreFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...coreFiles(p));
    else if (e.name.endsWith(".ts")) out.push(p);
  }
  return out.sort();
}

describe("the matcher (self-check)", () => {
  const planted = [
    'import { readFileSync } from "node:fs";',
    'import net from "net";',
    'export { cpus } from "os";',
    'import { Worker } from "node:worker_threads";',
    'import type { Hash } from "crypto";',
    'const cp = await import("child_process");',
    "const t = Date.now();",
    "const d = new Date(0);",
    "const r = Math.random();",
    'const r2 = Math["random"]();',
    "setTimeout(() => {}, 1);",
    "setInterval(tick, 10);",
    "setImmediate(go);",
    "queueMicrotask(go);",
    "const env = process.env.HOME;",
    "const p = performance.now();",
    'const m = require("x");',
    'fetch("http://x");',
    'console.log("hi");',
    "const g = globalThis;",
    "const u = crypto.randomUUID();",
    "function f(now = Date) { return now; }",
    // A local of the same name elsewhere does not hide the global here.
    "function g() { const fetch = [1]; return fetch; } function h(u: string) { return fetch(u); }",
    // Imports are judged by the file they resolve to, not by how the specifier starts.
    'import { freePort } from "../runtime/free-port.ts";',
    'import { freePort as fp } from "./../../src/runtime/free-port.ts";',
    'import { isAlive } from "./lifecycle/../../runtime/process.ts";',
    'export * from "../runtime/codec.ts";',
    'import type { Arena } from "../runtime/embedded/arena.ts";',
    'const later = await import("../runtime/free-port.ts");',
    'import { TraceHasher } from "../../spec/trace.ts";',
    'import { type TraceBody } from "../../spec/trace.ts";',
    'export { TraceHasher as TH } from "../../spec/trace.ts";',
    'import fc from "fast-check";',
    'import type { Message } from "@bufbuild/protobuf";',
    'import "./no-such-module.ts";',
    // Reaching the world without an import.
    "const timer = globalThis.setTimeout(go, 1);",
    "const here = import.meta.url;",
    'const top = new Function("return this")();',
    "const weak = new WeakRef(top);",
  ];

  test("catches each planted forbidden use, on its own line", () => {
    const findings = findForbidden(planted.join("\n"));
    const lines = new Set(findings.map((f) => f.line));
    for (let i = 0; i < planted.length; i++) assert.ok(lines.has(i + 1), `missed line ${i + 1}: ${planted[i]}`);
  });

  test("names what it found and why", () => {
    const [f] = findForbidden("\n\nconst r = Math.random();");
    assert.deepEqual({ line: f.line, what: f.what }, { line: 3, what: "Math.random" });
    assert.match(f.why, /fx\.random/);
    assert.equal(findForbidden('import { x } from "node:timers/promises";')[0].what, 'import of "node:timers/promises"');
  });

  test("says why each kind of import is refused", () => {
    const why = (line: string) => findForbidden(line).map((f) => f.why).join("; ");
    assert.match(why('import net from "net";'), /Node built-in/);
    assert.match(why('import { freePort } from "./lifecycle/../../runtime/free-port.ts";'), /loads src\/runtime\/free-port\.ts, outside src\/core/);
    assert.match(why('import { TraceHasher } from "../../spec/trace.ts";'), /value import from spec\/trace\.ts/);
    assert.match(why('import { type TraceBody } from "../../spec/trace.ts";'), /value import from spec\/trace\.ts/);
    assert.match(why('import fc from "fast-check";'), /package fast-check is not on the allow-list/);
    assert.match(why('import "./no-such-module.ts";'), /does not resolve/);
  });

  test("ignores comments, strings, member names and non-builtin imports", () => {
    const clean = [
      "// Date.now() and setTimeout(f) and Math.random() are mentioned in a comment",
      "/* process.exit(1); require('fs'); fetch(url) */",
      'const s = "Date.now() setTimeout process.env fetch(url) console.log";',
      "const t = `Math.random() inside a template`;",
      "const u = `${n} then setTimeout(x)`;",
      "class Raylet { private fetch(id: string) { return this.fetch(id); } process = 1; }",
      "const o = { fetch: 1, Date: 2, performance() { return 3; } };",
      "o.fetch; o.Date; x.process.now; a?.setTimeout;",
      "const { fetch: myFetch } = o;",
      "type T = { fetch(): void; console: number };",
      'import { Fifo } from "./fifo.ts";',
      'import { nextTaskState } from "./lifecycle/index.ts";',
      'import type { TraceBody } from "../../spec/trace.ts";',
      'export type { TraceEvent } from "../../spec/trace.ts";',
      'type Hasher = import("../../spec/trace.ts").TraceHasher;',
      'import { createMachine } from "xstate";',
      'import { setup, type AnyStateMachine } from "xstate";',
      "const Dates = 1, processed = 2, fetched = 3, randomish = Math.max(1, 2);",
      // Locals that shadow a global's name are not the global.
      "function k(process: number) { const fetch: number[] = []; fetch.push(process); return fetch; }",
      "function m() { const Math = { random: () => 4 }; return Math.random(); }",
    ].join("\n");
    assert.deepEqual(findForbidden(clean), []);
  });
});

describe("src/core is sans-IO", () => {
  const files = coreFiles(CORE);

  test("finds the core's sources (including subdirectories)", () => {
    const names = files.map((f) => relative(CORE, f));
    assert.ok(names.length >= 10, `only ${names.length} files under src/core`);
    for (const must of ["raylet.ts", "gcs.ts", "core-worker.ts", "object-store.ts", "scheduler.ts"]) assert.ok(names.includes(must), `missing ${must}`);
    assert.ok(names.some((n) => n.includes("/")), "no file in a subdirectory of src/core was scanned");
  });

  const findings = findForbiddenIn(new Map(files.map((f) => [f, readFileSync(f, "utf8")])));
  for (const file of files) {
    test(relative(ROOT, file), () => {
      const found = findings.get(file)!;
      assert.deepEqual(
        found.map((f) => `${relative(ROOT, file)}:${f.line}: ${f.what} — ${f.why}`),
        [],
        "models in src/core must do no I/O (docs/architecture.md, the one rule)",
      );
    });
  }
});
