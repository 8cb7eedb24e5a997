// Invariant 2, second half (liveness): never a hang. The program ends, and once the last
// injected fault has healed it ends within a bound.
import { violationAt, type Checker, type Violation } from "./types.ts";

const NAME = "liveness";
export const DEFAULT_LIVENESS_BOUND_MS = 60_000;

export const checkLiveness: Checker = (events, ctx) => {
  const out: Violation[] = [];
  const bound = ctx.livenessBoundMs ?? DEFAULT_LIVENESS_BOUND_MS;

  let end = -1;
  let quiet = false;
  // When the last fault healed: a fault heals at its `until` if the host recorded one (a
  // window such as a partition), else at once (a kill happens at its own `t`).
  let healed = -Infinity;
  let healedBy = -1;

  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    switch (e.kind) {
      case "program.end":
        if (end < 0) end = i;
        break;
      case "cluster.quiet":
        quiet = true;
        break;
      case "fault": {
        const until = (e as { until?: unknown }).until;
        const h = typeof until === "number" && Number.isFinite(until) ? Math.max(until, e.t) : e.t;
        if (h > healed) { healed = h; healedBy = i; }
        break;
      }
    }
  }

  if (end < 0) {
    // Without a quiet mark or the host's word that the run was meant to end, the trace may
    // simply have been cut short: nothing to judge.
    if ((quiet || ctx.expectEnd) && events.length > 0) {
      out.push(violationAt(NAME, events, events.length - 1, "the program never finished (hang)"));
    } else if (quiet || ctx.expectEnd) {
      out.push({ invariant: NAME, message: "the program never finished (hang): the trace is empty" });
    }
    return out;
  }
  if (healedBy >= 0) {
    const took = events[end].t - healed;
    if (took > bound) {
      out.push(violationAt(NAME, events, end,
        `the program took ${took} ms to finish after the last fault healed (fault ${(events[healedBy] as { fault: string }).fault} at t=${events[healedBy].t}; bound ${bound} ms)`));
    }
  }
  return out;
};
