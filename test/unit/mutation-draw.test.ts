// The mutation sample's draw (test/mutation/draw.ts) is seeded, deterministic and stable: an edit
// to one line changes only that line's mutants, however far the edit moves the others.

import { test } from "node:test";
import assert from "node:assert/strict";
import { draw, identities, type Drawable } from "../mutation/draw.ts";

type M = Drawable & { readonly tag: string };
/** One mutant per (line, replacement) of a made-up file, tagged by its line's text. */
function mutantsOf(lines: readonly string[], file = "src/core/x.ts"): M[] {
  return lines.flatMap((text, line) => ["true", "false"].map((replacement) => ({ fileName: file, location: { start: { line, column: 2 } }, mutatorName: "ConditionalExpression", replacement, tag: `${text} ${replacement}` })));
}
const textOf = (lines: readonly string[]) => (_: string, line: number) => lines[line]!;
const source = Array.from({ length: 200 }, (_, i) => `  if (x === ${i}) return;`);
const tags = (ms: readonly M[]) => new Set(ms.map((m) => m.tag));

test("the same seed draws the same mutants; another seed draws others", () => {
  const all = mutantsOf(source);
  const a = draw(all, 50, 1, textOf(source));
  assert.equal(a.length, 50);
  assert.deepEqual(draw(all, 50, 1, textOf(source)), a);
  assert.notDeepEqual(tags(draw(all, 50, 2, textOf(source))), tags(a));
  assert.equal(draw(all, 1000, 1, textOf(source)).length, all.length, "a sample larger than the population takes all of it");
});

test("inserting lines elsewhere moves every mutant but changes no draw", () => {
  const before = draw(mutantsOf(source), 50, 7, textOf(source));
  const edited = ["  const y = 1;", "  const z = 2;", ...source.slice(0, 100), "  y++;", ...source.slice(100)];
  const after = draw(mutantsOf(edited), 50, 7, textOf(edited));
  // The new lines' mutants may win a place, each displacing one; every other place is kept.
  const added = new Set(["  const y = 1;", "  const z = 2;", "  y++;"].flatMap((t) => [`${t} true`, `${t} false`]));
  const kept = [...tags(after)].filter((t) => !added.has(t));
  for (const t of kept) assert.ok(tags(before).has(t), `${t} was drawn only after an unrelated edit`);
  assert.equal(kept.length, 50 - [...tags(after)].filter((t) => added.has(t)).length);
});

test("changing a line redraws only that line's mutants", () => {
  const before = tags(draw(mutantsOf(source), 60, 3, textOf(source)));
  const edited = source.map((l, i) => (i === 42 ? "  if (x !== 42) return;" : l));
  const after = tags(draw(mutantsOf(edited), 60, 3, textOf(edited)));
  const diff = [...before].filter((t) => !after.has(t)).concat([...after].filter((t) => !before.has(t)));
  // The changed line's two mutants may leave or enter the sample, and as many others at its
  // margin with them (the sample stays N); no more than that moves.
  const elsewhere = diff.filter((t) => !/x [!=]== 42\)/.test(t));
  assert.ok(elsewhere.length <= 2, `${elsewhere.join(", ")} changed although their lines did not`);
  assert.ok(diff.length > 0 || ![...before].some((t) => t.includes("x === 42)")), "a drawn line that changed is drawn afresh");
});

test("identical mutants on identical lines are told apart by their ordinal, in source order", () => {
  const lines = ["  return;", "  return;", "  f();"];
  const ids = identities(mutantsOf(lines), textOf(lines));
  assert.equal(new Set(ids).size, ids.length);
  assert.match(ids[0]!, /#0$/);
  assert.match(ids[2]!, /#1$/);
});
