// Stryker test runner "tsray" for `npm run mutate` (test/mutate.ts). It loads the fast suite
// (test/mutation/quick.test.ts and the test files it imports) once per process, with `node:test`
// replaced by test/mutation/node-test-shim.ts, so each test is a function it can call again:
// - the dry run calls every test once and reports which mutants each one reaches (Stryker's
//   "perTest" coverage), so a mutant is then tested only by the tests that reach it, and a
//   mutant no test reaches is reported as such without running anything;
// - a mutant run switches the mutant on (`__stryker__.activeMutant`), calls the tests that
//   cover it, and stops at the first failure;
// - a mutant that loops is stopped by its hit count (Stryker's `hitLimit`, 100× what the dry run
//   counted) — a count, not a clock, so a loaded machine does not turn it into a "timeout";
//   a loop that never passes the mutant itself is left to Stryker's timeout, which test/mutate.ts
//   confirms by a second run before counting it;
// - after a kill, the killing test is run again with no mutant on: if it fails then too, a
//   previous mutant left this process broken, and the run is refused so that Stryker retries it
//   in a fresh process (not for a static mutant, whose values were made while loading).
// A mutant of code that runs while the files load (a "static" mutant) is switched on before
// loading; Stryker starts a fresh process for it, since ES modules cannot be loaded twice.

import { INSTRUMENTER_CONSTANTS, type MutantCoverage } from "@stryker-mutator/api/core";
import { declareClassPlugin, PluginKind } from "@stryker-mutator/api/plugin";
import {
  DryRunStatus, MutantRunStatus, TestStatus,
  type DryRunOptions, type DryRunResult, type MutantRunOptions, type MutantRunResult, type TestResult, type TestRunner, type TestRunnerCapabilities,
} from "@stryker-mutator/api/test-runner";
import { register } from "node:module";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { RegisteredTest, Suite } from "./node-test-shim.ts";

/** The suite's entry file, relative to the sandbox Stryker runs this process in. */
const SUITE = "test/mutation/quick.test.ts";
const SHIM = new URL("./node-test-shim.ts", import.meta.url).href;

interface Namespace {
  activeMutant?: string;
  currentTestId?: string;
  hitCount?: number;
  hitLimit?: number;
  mutantCoverage?: MutantCoverage;
}
const ns = ((globalThis as Record<string, unknown>)[INSTRUMENTER_CONSTANTS.NAMESPACE] ??= {}) as Namespace;

// `node:test` → the shim, for every importer but the shim itself (which borrows node:test's `mock`).
const hooks = `
export async function resolve(specifier, context, next) {
  if (specifier === "node:test" && context.parentURL !== ${JSON.stringify(SHIM)}) return { url: ${JSON.stringify(SHIM)}, shortCircuit: true };
  return next(specifier, context);
}`;

const message = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));
const killedBy = (failed: readonly TestResult[], nrOfTests: number): MutantRunResult => ({
  status: MutantRunStatus.Killed,
  killedBy: failed.map((r) => r.id),
  failureMessage: failed.flatMap((r) => (r.status === TestStatus.Failed ? [r.failureMessage] : []))[0] ?? "",
  nrOfTests,
});

class TsrayTestRunner implements TestRunner {
  #tests: readonly RegisteredTest[] | undefined;
  /** A rejection nobody awaited, charged to the test that was running. */
  #stray: unknown;

  capabilities(): TestRunnerCapabilities {
    return { reloadEnvironment: false };
  }

  async init(): Promise<void> {
    register(`data:text/javascript,${encodeURIComponent(hooks)}`);
    process.on("unhandledRejection", (e) => { this.#stray ??= e ?? new Error("unhandled rejection"); });
  }

  async #load(): Promise<readonly RegisteredTest[]> {
    if (this.#tests) return this.#tests;
    const shim = (await import(SHIM)) as typeof import("./node-test-shim.ts");
    shim.loading(SUITE);
    await import(pathToFileURL(resolve(SUITE)).href);
    this.#tests = [...shim.registered];
    if (this.#tests.length === 0) throw new Error(`${SUITE} registered no tests`);
    return this.#tests;
  }

  /** Runs `tests` in order, entering and leaving their describe blocks' hooks; stops at the first failure unless `all`. */
  async #run(tests: readonly RegisteredTest[], all: boolean, shim: typeof import("./node-test-shim.ts")): Promise<TestResult[]> {
    const results: TestResult[] = [];
    const open: Suite[] = [];
    let last: string | undefined;
    // A block's `after` hooks are charged to its last test, so what they reach is not "static".
    const leave = async (keep: number) => {
      ns.currentTestId = last;
      try {
        while (open.length > keep) for (const h of open.pop()!.after) await h();
      } finally {
        ns.currentTestId = undefined;
      }
    };
    try {
      for (const t of tests) {
        const chain = shim.suitesOf(t.suite);
        let common = 0;
        while (common < open.length && common < chain.length && open[common] === chain[common]) common++;
        await leave(common);
        const start = performance.now();
        this.#stray = undefined;
        ns.currentTestId = last = t.id;
        let failure: unknown;
        try {
          for (const s of chain.slice(open.length)) {
            open.push(s);
            for (const h of s.before) await h();
          }
          for (const s of chain) for (const h of s.beforeEach) await h();
          await t.body({ name: t.name, diagnostic() {} });
          for (const s of [...chain].reverse()) for (const h of s.afterEach) await h();
          // A rejection left behind by the test surfaces on a later turn.
          await new Promise((r) => setImmediate(r));
          if (this.#stray !== undefined) failure = this.#stray;
        } catch (e) {
          failure = e;
        } finally {
          ns.currentTestId = undefined;
        }
        const base = { id: t.id, name: t.id, fileName: t.file, timeSpentMs: performance.now() - start };
        results.push(failure === undefined ? { ...base, status: TestStatus.Success } : { ...base, status: TestStatus.Failed, failureMessage: message(failure) });
        if (failure !== undefined && !all) break;
      }
    } finally {
      await leave(0);
    }
    return results;
  }

  async dryRun(options: DryRunOptions): Promise<DryRunResult> {
    try {
      const tests = await this.#load();
      const shim = (await import(SHIM)) as typeof import("./node-test-shim.ts");
      // Stryker refuses to test mutants when a test fails here, naming it.
      const results = await this.#run(tests, true, shim);
      return { status: DryRunStatus.Complete, tests: results, ...(options.coverageAnalysis === "off" ? {} : { mutantCoverage: ns.mutantCoverage }) };
    } catch (e) {
      return { status: DryRunStatus.Error, errorMessage: message(e) };
    }
  }

  async mutantRun(options: MutantRunOptions): Promise<MutantRunResult> {
    const id = options.activeMutant.id;
    ns.hitLimit = options.hitLimit;
    ns.hitCount = options.hitLimit === undefined ? undefined : 0;
    // A static mutant must be on while the files load; a runtime one only while the tests run.
    if (options.mutantActivation === "static") ns.activeMutant = id;
    let results: TestResult[];
    try {
      let tests: readonly RegisteredTest[];
      try {
        tests = await this.#load();
      } catch (e) {
        // Only a static mutant is on while the files load: the suite cannot even start with it.
        if (options.mutantActivation !== "static") throw e;
        return { status: MutantRunStatus.Killed, killedBy: [], failureMessage: `the suite fails to load: ${message(e)}`, nrOfTests: 0 };
      }
      const shim = (await import(SHIM)) as typeof import("./node-test-shim.ts");
      const wanted = options.testFilter ? new Set(options.testFilter) : undefined;
      ns.activeMutant = id;
      results = await this.#run(wanted ? tests.filter((t) => wanted.has(t.id)) : tests, options.disableBail, shim);
      ns.activeMutant = undefined;
      const looped = ns.hitLimit !== undefined && (ns.hitCount ?? 0) > ns.hitLimit;
      if (looped) return { status: MutantRunStatus.Timeout, reason: `hit limit reached (${ns.hitCount}/${ns.hitLimit})` };
      const failed = results.filter((r) => r.status === TestStatus.Failed);
      if (failed.length === 0) return { status: MutantRunStatus.Survived, nrOfTests: results.length };
      // The same test with no mutant on must pass, or this process is no longer clean. (A static
      // mutant's values were made while loading, so they stay: Stryker reloads after it anyway.)
      ns.hitCount = ns.hitLimit = undefined;
      if (options.mutantActivation === "static") return killedBy(failed, results.length);
      const again = await this.#run(tests.filter((t) => t.id === failed[0]!.id), false, shim);
      if (again[0]?.status !== TestStatus.Success) throw new Error(`"${failed[0]!.id}" fails with no mutant on: this process was left broken by an earlier mutant`);
      return killedBy(failed, results.length);
    } finally {
      ns.activeMutant = undefined;
      ns.hitCount = ns.hitLimit = undefined;
    }
  }
}

export const strykerRunnerPlugins = [declareClassPlugin(PluginKind.TestRunner, "tsray", TsrayTestRunner)];
