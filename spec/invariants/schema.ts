// Invariant "schema": every event is of a kind the trace schema (spec/trace.ts) knows, written
// by a component that may write that kind, with the labels other checkers branch on among the
// values the schema lists. Traces come from files and other processes as well
// as from the simulator, and the other checkers (and `tsray trace`) trust an event's kind and
// component: an event a model mislabelled would otherwise be skipped, or blamed on the wrong
// process, in silence.

import type { TraceBody, TraceEvent, TraceKind } from "../trace.ts";
import { violationAt, type Checker, type Violation } from "./types.ts";

/** For each kind, the components that may write it (checked against spec/trace.ts by the compiler). */
const WRITERS: { readonly [K in TraceKind]: readonly Extract<TraceBody, { kind: K }>["comp"][] } = {
  "node.registered": ["gcs"],
  "node.dead": ["gcs"],
  "node.fenced": ["raylet"],
  "worker.died": ["raylet"],
  "gcs.recovered": ["gcs"],
  "storage.acknowledged": ["host"],
  "driver.dead": ["gcs"],
  "lease.granted": ["raylet"],
  "lease.returned": ["raylet"],
  "job.ended": ["raylet"],
  "bundle.reserved": ["raylet"],
  "bundle.released": ["raylet"],
  "pg.state": ["gcs"],
  "job.state": ["head"],
  "placement.asked": ["owner"],
  "task.submitted": ["owner"],
  "task.spillback": ["raylet"],
  "task.infeasible": ["raylet", "gcs"],
  "task.started": ["worker"],
  "task.finished": ["worker"],
  "task.retry": ["owner"],
  "task.failed": ["owner"],
  "task.cancelled": ["owner"],
  "actor.result": ["owner"],
  "object.created": ["owner", "store"],
  "object.deleted": ["store"],
  "object.spilled": ["store"],
  "object.restored": ["store"],
  "object.transferred": ["raylet"],
  "object.out-of-scope": ["owner"],
  "ref.borrowed": ["owner"],
  "ref.unborrowed": ["owner"],
  "owner.exited": ["owner"],
  "object.lost": ["owner"],
  "object.read": ["owner", "worker"],
  "get.failed": ["owner"],
  "actor.state": ["gcs"],
  "actor.killed": ["owner"],
  "actor.out-of-scope": ["owner"],
  "actor.exited": ["worker"],
  "actor.registered": ["gcs"],
  "actor.lookup": ["owner"],
  fault: ["host"],
  "program.end": ["host"],
  "cluster.quiet": ["host"],
  "node.drain": ["gcs"],
  "autoscaler.launch": ["autoscaler"],
  "autoscaler.started": ["autoscaler"],
  "autoscaler.launch-failed": ["autoscaler"],
  "autoscaler.drain": ["autoscaler"],
  "autoscaler.terminated": ["autoscaler"],
  "generator.item": ["owner"],
  "generator.duplicate": ["owner"],
  "generator.end": ["owner"],
  "generator.reported": ["worker"],
  "generator.paused": ["worker"],
  "generator.restored": ["owner"],
  msg: ["host"],
};

const writers = (kind: string): readonly string[] | undefined => (Object.hasOwn(WRITERS, kind) ? WRITERS[kind as TraceKind] : undefined);

/**
 * Labels the other checkers branch on, each with every value it may take (the compiler holds
 * each list to spec/trace.ts, both ways): an event whose label is none of them would be skipped
 * by the checkers that judge that label's cases, in silence.
 */
type Label<K extends TraceKind, F extends keyof Extract<TraceBody, { kind: K }>> = { readonly [V in Extract<Extract<TraceBody, { kind: K }>[F], string>]: true };
const DELETED_WHY: Label<"object.deleted", "reason"> = { freed: true, evicted: true, orphaned: true, "node-died": true, "owner-died": true };
const CREATED_WHERE: Label<"object.created", "where"> = { inline: true, store: true };

function badLabel(e: TraceEvent): string | undefined {
  const check = (field: string, value: string, allowed: object) =>
    Object.hasOwn(allowed, value) ? undefined : `a ${e.kind} event whose ${field} is ${JSON.stringify(value)}; the schema allows ${Object.keys(allowed).map((v) => `"${v}"`).join(", ")}`;
  if (e.kind === "object.deleted") return check("reason", e.reason, DELETED_WHY);
  if (e.kind === "object.created") return check("where", e.where, CREATED_WHERE);
  return undefined;
}

export const checkSchema: Checker = (events: readonly TraceEvent[]): Violation[] => {
  const out: Violation[] = [];
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    const allowed = writers(e.kind);
    if (!allowed) out.push(violationAt("schema", events, i, `an event of unknown kind "${e.kind}" (spec/trace.ts lists the kinds)`));
    else if (!allowed.includes(e.comp)) out.push(violationAt("schema", events, i, `a ${e.kind} event written by "${e.comp}"; only ${allowed.map((c) => `"${c}"`).join(" or ")} may write it`));
    else {
      const bad = badLabel(e);
      if (bad) out.push(violationAt("schema", events, i, bad));
    }
  }
  return out;
};
