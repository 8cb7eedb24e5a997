// The seeded sample of `npm run mutate -- --sample N --seed S` (test/mutate.ts), drawn so that it
// is stable under unrelated edits. Each mutant gets a stable identity — its file, the text of the
// line it mutates, its mutator and replacement, and its ordinal among mutants with those same four
// (in source order) — and a seeded hash of that identity; the sample is the N smallest hashes.
// Line numbers and positions in the list of all mutants are not part of the identity, so an edit
// elsewhere in src/core moves nothing in or out of the sample: only the mutants of the lines it
// touched (their text changed) are drawn afresh.

import { createHash } from "node:crypto";

/** What the draw reads of a mutant: its file, 0-based start position, mutator and replacement. */
export interface Drawable {
  readonly fileName: string;
  readonly location: { readonly start: { readonly line: number; readonly column: number } };
  readonly mutatorName: string;
  readonly replacement: string;
}

/** The project-relative file (from `src/` on), whatever directory the mutant was made in. */
const fileOf = (m: Drawable) => {
  const f = m.fileName.replaceAll("\\", "/");
  return f.slice(f.lastIndexOf("src/"));
};

/** Each mutant's stable identity, in the order given; `lineText(file, line)` gives a 0-based line's text. */
export function identities(mutants: readonly Drawable[], lineText: (file: string, line: number) => string): string[] {
  const order = mutants.map((_, i) => i).sort((a, b) => {
    const x = mutants[a]!, y = mutants[b]!;
    const fx = fileOf(x), fy = fileOf(y);
    if (fx !== fy) return fx < fy ? -1 : 1;
    return x.location.start.line - y.location.start.line || x.location.start.column - y.location.start.column || a - b;
  });
  const seen = new Map<string, number>();
  const ids: string[] = new Array<string>(mutants.length);
  for (const i of order) {
    const m = mutants[i]!;
    const base = JSON.stringify([fileOf(m), lineText(m.fileName, m.location.start.line).trim(), m.mutatorName, m.replacement]);
    const ordinal = seen.get(base) ?? 0;
    seen.set(base, ordinal + 1);
    ids[i] = `${base}#${ordinal}`;
  }
  return ids;
}

/** The `n` mutants whose identities hash smallest under `seed`, in source order. */
export function draw<M extends Drawable>(mutants: readonly M[], n: number, seed: number, lineText: (file: string, line: number) => string): M[] {
  const ids = identities(mutants, lineText);
  const hashOf = (id: string) => createHash("sha256").update(`${seed}\n${id}`).digest("hex");
  const ranked = mutants.map((_, i) => ({ i, h: hashOf(ids[i]!) })).sort((a, b) => (a.h < b.h ? -1 : a.h > b.h ? 1 : a.i - b.i));
  return ranked.slice(0, Math.min(n, mutants.length)).map((r) => r.i).sort((a, b) => a - b).map((i) => mutants[i]!);
}
