// Stryker plugins for the mutation run over src/core (test/mutate.ts):
// - ignorer "message-text": the text of a thrown error or of a failed invariant is only read by
//   people; changing it changes no behaviour, so its mutants are equivalent by construction.
// - ignorer "sample": a sampled run mutates only the mutants drawn; Stryker's `mutate` ranges
//   also take every mutant nested inside a drawn one's range, so those are ignored here.
// - checker "sample": the mutants sharing a drawn one's node (its other replacements) are
//   turned away before any test runs ("not in the sample"), so a sample costs what it draws.
// - test runner "tsray" (test/mutation/runner.ts): runs the fast suite in process, per test.
// The drawn mutants come from the JSON file named by $TSRAY_MUTATION_SAMPLE.

import { CheckStatus, type CheckResult } from "@stryker-mutator/api/check";
import type { Mutant } from "@stryker-mutator/api/core";
import { declareClassPlugin, declareValuePlugin, PluginKind } from "@stryker-mutator/api/plugin";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { strykerRunnerPlugins } from "./runner.ts";

export interface Loc { readonly start: { readonly line: number; readonly column: number }; readonly end: { readonly line: number; readonly column: number } }
/** A drawn mutant: its file (relative to the project), Babel location (1-based lines) and key. */
export interface Drawn { readonly file: string; readonly location: Loc; readonly key: string }

/** A mutant's name across runs (ids differ per run): file under src/, 0-based location, mutator, replacement. */
export function mutantKey(m: Pick<Mutant, "fileName" | "location" | "mutatorName" | "replacement">): string {
  const file = m.fileName.replaceAll("\\", "/");
  const l = m.location;
  return `${file.slice(file.lastIndexOf("src/"))}:${l.start.line}:${l.start.column}-${l.end.line}:${l.end.column} ${m.mutatorName} ${m.replacement}`;
}

// Babel's NodePath, as far as these ignorers read it.
interface Path {
  readonly node: { readonly type: string; readonly loc?: Loc | null; readonly name?: string; readonly callee?: { readonly type: string; readonly name?: string } };
  readonly parentPath: Path | null;
  readonly listKey?: string;
  readonly key?: string | number | null;
  readonly hub?: { readonly file?: { readonly opts?: { readonly filename?: string } } };
}

/** Constructors and functions whose arguments are human-readable text only. */
const MESSAGE_CALLS = new Set(["invariant", "assertNever", "InvariantError", "IllegalTransition", "UnexpectedInputError", "TypeError", "Error"]);

export function isMessageText(path: Path): boolean {
  const parent = path.parentPath;
  if (!parent || path.listKey !== "arguments") return false;
  const callee = parent.node.callee;
  if (!callee || callee.type !== "Identifier" || !MESSAGE_CALLS.has(callee.name ?? "")) return false;
  // invariant(cond, message): the condition is behaviour, only the message is text.
  return callee.name !== "invariant" || path.key === 1;
}

const before = (a: Loc["start"], b: Loc["start"]) => a.line < b.line || (a.line === b.line && a.column <= b.column);
export const within = (outer: Loc, inner: Loc) => before(outer.start, inner.start) && before(inner.end, outer.end);
const same = (a: Loc, b: Loc) => within(a, b) && within(b, a);

function readSample(): Drawn[] | undefined {
  const file = process.env.TSRAY_MUTATION_SAMPLE;
  return file ? (JSON.parse(readFileSync(file, "utf8")) as Drawn[]) : undefined;
}

function sampleByFile(drawn: readonly Drawn[] | undefined): Map<string, Loc[]> | undefined {
  if (!drawn) return undefined;
  const byFile = new Map<string, Loc[]>();
  for (const d of drawn) {
    const key = resolve(d.file);
    byFile.set(key, [...(byFile.get(key) ?? []), d.location]);
  }
  return byFile;
}

const drawn = readSample();
const sample = sampleByFile(drawn);

class SampleChecker {
  readonly #keys = new Set(drawn?.map((d) => d.key));
  async init(): Promise<void> {}
  async check(mutants: Mutant[]): Promise<Record<string, CheckResult>> {
    return Object.fromEntries(mutants.map((m) => [m.id, !drawn || this.#keys.has(mutantKey(m)) ? { status: CheckStatus.Passed } : { status: CheckStatus.CompileError, reason: "not in the sample" }]));
  }
}

export const strykerPlugins = [
  declareValuePlugin(PluginKind.Ignore, "message-text", {
    shouldIgnore: (path: Path) => (isMessageText(path) ? "message text only (equivalent)" : undefined),
  }),
  declareValuePlugin(PluginKind.Ignore, "sample", {
    shouldIgnore(path: Path) {
      const loc = path.node.loc;
      const name = path.hub?.file?.opts?.filename;
      if (!sample || !loc || !name) return undefined;
      const here = sample.get(resolve(name)) ?? [];
      // A drawn node itself, or one that holds a drawn node further down, must stay mutable.
      if (here.some((d) => same(d, loc) || within(loc, d))) return undefined;
      return here.some((d) => within(d, loc)) ? "not in the sample" : undefined;
    },
  }),
  declareClassPlugin(PluginKind.Checker, "sample", SampleChecker),
  ...strykerRunnerPlugins,
];
