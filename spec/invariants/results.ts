// Invariant 1 (results): every value a program reads is the value the task computes, in
// this run and in a fault-free run of the same program.
import type { TraceEvent } from "../trace.ts";
import { violationAt, type Checker, type Violation } from "./types.ts";

const NAME = "results";

export const checkResults: Checker = (events, ctx) => {
  const out: Violation[] = [];
  const at = (i: number, msg: string) => out.push(violationAt(NAME, events, i, msg));

  const created = new Map<string, string>(); // obj -> hash of its first creation
  // A task's value that holds refs its worker made (`ownsRefs`) names that worker's objects, so a
  // re-execution (a retry, a reconstruction) makes other bytes: its object may hold any of them.
  const returnsOf = new Map<string, string>(); // task -> its return object
  const varying = new Map<string, Set<string>>(); // such an object -> every hash it was created with
  // Reads seen before any creation. Hosts merge per-process logs, so a read may be emitted
  // ahead of the creation it depends on; judge it when the creation shows up, or at the end.
  const early = new Map<string, number[]>();
  const finished = new Map<string, { hash: string; attempt: number; ownsRefs: boolean }>(); // task -> first ok finish
  const stateful = new Set<string>(); // actor calls and creations
  const refHash = ctx.reference ? firstReadHashes(ctx.reference) : undefined;
  const refChecked = new Set<string>(); // report a reference mismatch once per object

  const judgeRead = (i: number, obj: string, hash: string, expected: string) => {
    if (hash !== expected && !varying.get(obj)?.has(hash)) at(i, `object ${obj} read with hash ${hash} but was created with hash ${expected}`);
  };

  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    switch (e.kind) {
      case "object.created": {
        const first = created.get(e.obj);
        if (first === undefined) {
          created.set(e.obj, e.hash);
          const pending = early.get(e.obj);
          if (pending) {
            early.delete(e.obj);
            for (const j of pending) judgeRead(j, e.obj, (events[j] as ReadEvent).hash, e.hash);
          }
        } else if (varying.has(e.obj)) {
          varying.get(e.obj)!.add(e.hash);
        } else if (first !== e.hash) {
          at(i, `object ${e.obj}: re-execution produced different bytes (hash ${e.hash}, first created with ${first})`);
        }
        break;
      }
      case "object.read": {
        const expected = created.get(e.obj);
        if (expected === undefined) {
          const pending = early.get(e.obj);
          if (pending) pending.push(i);
          else early.set(e.obj, [i]);
        } else judgeRead(i, e.obj, e.hash, expected);
        const ref = refHash?.get(e.obj);
        if (ref !== undefined && ref !== e.hash && !refChecked.has(e.obj) && !varying.has(e.obj)) {
          refChecked.add(e.obj);
          at(i, `object ${e.obj} read with hash ${e.hash} but the fault-free run read ${ref}`);
        }
        break;
      }
      case "task.started":
        // An actor's calls depend on its state, which a restart resets: only tasks must be deterministic.
        if (e.actor !== undefined) stateful.add(e.task);
        break;
      case "task.submitted":
        returnsOf.set(e.task, e.returns);
        break;
      case "task.finished": {
        if (e.ok && e.ownsRefs === true) {
          const obj = returnsOf.get(e.task);
          if (obj !== undefined && !varying.has(obj)) varying.set(obj, new Set(created.has(obj) ? [created.get(obj)!] : []));
        }
        if (!e.ok || stateful.has(e.task)) break;
        const first = finished.get(e.task);
        if (first === undefined) finished.set(e.task, { hash: e.hash, attempt: e.attempt, ownsRefs: e.ownsRefs === true });
        // A value holding refs its worker made names that worker: another attempt's differs.
        else if (first.hash !== e.hash && !first.ownsRefs && e.ownsRefs !== true) {
          at(i, `task ${e.task} attempt ${e.attempt} returned hash ${e.hash} but attempt ${first.attempt} returned ${first.hash}`);
        }
        break;
      }
    }
  }
  for (const [obj, reads] of early) {
    for (const j of reads) at(j, `object ${obj} read but never created`);
  }
  return out.sort((a, b) => a.index! - b.index!);
};

type ReadEvent = Extract<TraceEvent, { kind: "object.read" }>;

function firstReadHashes(events: readonly TraceEvent[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of events) if (e.kind === "object.read" && !m.has(e.obj)) m.set(e.obj, e.hash);
  return m;
}
