import type { TraceEvent } from "../trace.ts";

export interface Violation {
  invariant: string;
  message: string;
  /** Index of the offending event in the trace. */
  index?: number;
  t?: number;
}

export interface CheckContext {
  /** A fault-free run of the same program, to compare results against. */
  reference?: readonly TraceEvent[];
}

/** A checker judges a whole trace in one pass; it never throws on a malformed history, it reports it. */
export type Checker = (events: readonly TraceEvent[], ctx: CheckContext) => Violation[];

/** Builds a violation stamped with the event's index and time. */
export function violationAt(invariant: string, events: readonly TraceEvent[], index: number, message: string): Violation {
  return { invariant, message, index, t: events[index].t };
}
