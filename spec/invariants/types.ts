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
  /**
   * The run was meant to finish: judge a missing `program.end` as a hang even without a
   * `cluster.quiet` mark (a host that gave up waiting never writes one).
   */
  expectEnd?: boolean;
  /** How long after the last fault healed the program may still take to end. Default 60 000 ms. */
  livenessBoundMs?: number;
}

/** A checker judges a whole trace in one pass; it never throws on a malformed history, it reports it. */
export type Checker = (events: readonly TraceEvent[], ctx: CheckContext) => Violation[];

/** Builds a violation stamped with the event's index and time. */
export function violationAt(invariant: string, events: readonly TraceEvent[], index: number, message: string): Violation {
  return { invariant, message, index, t: events[index].t };
}

/** Index of the last `cluster.quiet` mark (-1: none): the point the end-of-run checkers judge. */
export function lastQuietIndex(events: readonly TraceEvent[]): number {
  for (let i = events.length - 1; i >= 0; i--) if (events[i].kind === "cluster.quiet") return i;
  return -1;
}
