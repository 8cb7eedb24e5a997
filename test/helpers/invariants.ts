// Shared by the invariant checkers' tests.
import assert from "node:assert/strict";
import { formatViolations, type CheckContext, type Checker } from "../../spec/index.ts";
import type { TraceEvent } from "../../spec/trace.ts";

/** Exactly one violation, of `invariant`, mentioning `text`, at event `index`. */
export function one(check: Checker, events: TraceEvent[], invariant: string, text: string, index: number, ctx: CheckContext = {}) {
  const v = check(events, ctx);
  assert.equal(v.length, 1, formatViolations(v));
  assert.equal(v[0].invariant, invariant);
  assert.ok(v[0].message.includes(text), `"${v[0].message}" should mention "${text}"`);
  assert.equal(v[0].index, index);
  assert.equal(v[0].t, events[index].t);
}
