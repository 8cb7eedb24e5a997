// Stands in for `node:test` inside the mutation runner (test/mutation/runner.ts): the test files
// register their tests here instead of running them, so that one process can load them once and
// run any subset, many times, each with another mutant switched on. Only the part of node:test
// the suite uses is offered; anything else is refused by name rather than ignored.

import { mock as nodeMock } from "node:test";

type Hook = () => unknown;
type Body = (t: TestContext) => unknown;

export interface Suite {
  readonly name: string;
  readonly parent: Suite | undefined;
  readonly before: Hook[];
  readonly after: Hook[];
  readonly beforeEach: Hook[];
  readonly afterEach: Hook[];
}

export interface RegisteredTest {
  /** Unique across the suite: the file, the describe blocks and the test's name. */
  readonly id: string;
  readonly name: string;
  readonly file: string;
  readonly suite: Suite;
  readonly body: Body;
}

export interface TestContext { readonly name: string; diagnostic(message: string): void }

/** Everything registered so far, in registration order (the process holds one suite). */
export const registered: RegisteredTest[] = [];
const ids = new Set<string>();
const fileSuites = new Map<string, Suite>();
let current: Suite | undefined;
/** The file whose top level is being loaded (set by the runner around each import). */
let loadingFile = "";

export function loading(file: string): void {
  loadingFile = file;
  current = undefined;
}

function newSuite(name: string, parent: Suite | undefined): Suite {
  return { name, parent, before: [], after: [], beforeEach: [], afterEach: [] };
}

function scope(): Suite {
  if (current) return current;
  let root = fileSuites.get(loadingFile);
  if (!root) fileSuites.set(loadingFile, (root = newSuite(loadingFile, undefined)));
  return root;
}

interface Options { readonly skip?: boolean | string; readonly todo?: boolean | string; readonly timeout?: number; readonly concurrency?: number | boolean }
const KNOWN_OPTIONS = new Set(["skip", "todo", "timeout", "concurrency"]);

function parse<F>(args: unknown[], what: string): { name: string; options: Options; fn: F | undefined } {
  const name = typeof args[0] === "string" ? (args.shift() as string) : "<anonymous>";
  const options = typeof args[0] === "object" && args[0] !== null ? (args.shift() as Options) : {};
  for (const k of Object.keys(options)) if (!KNOWN_OPTIONS.has(k)) throw new TypeError(`mutation runner: ${what}("${name}") option "${k}" is not supported by test/mutation/node-test-shim.ts`);
  // A timeout is the test file's own guard against hangs; the runner's is Stryker's timeout.
  // Concurrency within a file is not offered: tests run one after another, as in node:test's default.
  if (options.concurrency !== undefined && options.concurrency !== false && options.concurrency !== 1) throw new TypeError(`mutation runner: ${what}("${name}") asks for concurrency ${String(options.concurrency)}; the runner runs tests one at a time`);
  return { name, options, fn: args[0] as F | undefined };
}

function chain(s: Suite): string[] {
  return s.parent ? [...chain(s.parent), s.name] : [s.name];
}

export function test(...args: unknown[]): void {
  const { name, options, fn } = parse<Body>(args, "test");
  if (options.skip || options.todo || !fn) return;
  if (fn.length > 1) throw new TypeError(`mutation runner: test("${name}") takes a done callback, which is not supported`);
  const suite = scope();
  let id = [...chain(suite), name].join(" › ");
  for (let n = 2; ids.has(id); n++) id = `${[...chain(suite), name].join(" › ")} (${n})`;
  ids.add(id);
  registered.push({ id, name, file: loadingFile, suite, body: fn });
}
test.skip = (..._args: unknown[]): void => {};
test.todo = (..._args: unknown[]): void => {};
export const it = test;

export function describe(...args: unknown[]): void {
  const { name, options, fn } = parse<() => unknown>(args, "describe");
  if (options.skip || options.todo || !fn) return;
  const outer = current;
  current = newSuite(name, scope());
  try {
    const r = fn();
    if (r instanceof Promise) throw new TypeError(`mutation runner: describe("${name}") is async; register tests synchronously`);
  } finally {
    current = outer;
  }
}
describe.skip = (..._args: unknown[]): void => {};
export const suite = describe;

export const before = (fn: Hook): void => void scope().before.push(fn);
export const after = (fn: Hook): void => void scope().after.push(fn);
export const beforeEach = (fn: Hook): void => void scope().beforeEach.push(fn);
export const afterEach = (fn: Hook): void => void scope().afterEach.push(fn);
export const mock = nodeMock;

/** The suites from the outermost (the file) to `s`. */
export function suitesOf(s: Suite): Suite[] {
  return s.parent ? [...suitesOf(s.parent), s] : [s];
}

export default test;
