// Trace events (spec/trace.ts, from any host: simulator, embedded cluster, daemons) as a Chrome
// trace (the JSON Object Format that chrome://tracing and Perfetto load), as `ray timeline`
// writes one: a process per node, a thread per worker, a slice per task attempt, and instant
// events for transfers, spills, deaths and injected faults.

import type { TraceEvent } from "../../../spec/trace.ts";
import { assertNever } from "../../core/assert.ts";

export interface ChromeEvent {
  readonly name: string;
  readonly ph: "X" | "i" | "M";
  readonly pid: number;
  readonly tid: number;
  readonly ts?: number;
  readonly dur?: number;
  readonly cat?: string;
  /** Scope of an instant event: thread, process or global. */
  readonly s?: "t" | "p" | "g";
  readonly args?: Record<string, unknown>;
}

export interface ChromeTrace {
  readonly traceEvents: ChromeEvent[];
  readonly displayTimeUnit: "ms";
}

/**
 * The kinds of event the timeline draws, or names a task's slice by: a node keeps only these
 * for it (node-state.ts), and the timeline reads no others. The record makes the list complete
 * and the switch below exhaustive over it.
 */
const DRAWN = {
  "task.submitted": true, "task.started": true, "task.finished": true, "object.transferred": true, "object.spilled": true,
  "object.restored": true, "worker.died": true, "node.dead": true, "node.fenced": true, "fault": true,
} satisfies { readonly [K in TraceEvent["kind"]]?: true };
type Drawn = Extract<TraceEvent, { kind: keyof typeof DRAWN }>;
export const TIMELINE_KINDS: ReadonlySet<string> = new Set(Object.keys(DRAWN));
const isDrawn = (e: TraceEvent): e is Drawn => TIMELINE_KINDS.has(e.kind);

/** The raylet's own thread in each node's process (workers get 1, 2, …). */
const NODE_TID = 0;

export function toChromeTrace(events: readonly TraceEvent[]): ChromeTrace {
  const sorted = events.filter(isDrawn).sort((a, b) => a.t - b.t);
  const out: ChromeEvent[] = [];
  const pids = new Map<string, number>();
  const tids = new Map<string, { pid: number; tid: number }>();
  const names = new Map<string, string>();
  const open = new Map<string, { e: Extract<TraceEvent, { kind: "task.started" }>; tid: number; pid: number }>();
  const us = (t: number) => Math.round(t * 1000);
  const end = sorted.length > 0 ? sorted[sorted.length - 1].t : 0;

  const pid = (node: string) => {
    let p = pids.get(node);
    if (p === undefined) {
      pids.set(node, (p = pids.size + 1));
      out.push({ name: "process_name", ph: "M", pid: p, tid: NODE_TID, args: { name: `node ${node}` } });
      out.push({ name: "thread_name", ph: "M", pid: p, tid: NODE_TID, args: { name: "raylet" } });
    }
    return p;
  };
  const thread = (node: string, worker: string) => {
    let t = tids.get(worker);
    if (t === undefined) {
      const p = pid(node);
      const tid = [...tids.values()].filter((x) => x.pid === p).length + 1;
      tids.set(worker, (t = { pid: p, tid }));
      out.push({ name: "thread_name", ph: "M", pid: p, tid, args: { name: worker } });
    }
    return t;
  };
  const instant = (e: TraceEvent, name: string, cat: string, args: Record<string, unknown>, scope: "p" | "g" = "p") =>
    out.push({ name, ph: "i", s: scope, pid: pid(e.node), tid: NODE_TID, ts: us(e.t), cat, args });
  const slice = (o: { e: Extract<TraceEvent, { kind: "task.started" }>; tid: number; pid: number }, t: number, args: Record<string, unknown>) =>
    out.push({
      name: names.get(o.e.task) ?? o.e.task, ph: "X", cat: o.e.actor ? "actor_task" : "task", pid: o.pid, tid: o.tid,
      ts: us(o.e.t), dur: Math.max(0, us(t) - us(o.e.t)), args: { task_id: o.e.task, attempt: o.e.attempt, worker: o.e.worker, ...(o.e.actor ? { actor_id: o.e.actor } : {}), ...args },
    });

  for (const e of sorted) {
    switch (e.kind) {
      case "task.submitted": names.set(e.task, e.fn); break;
      case "task.started": {
        const t = thread(e.node, e.worker);
        open.set(`${e.task}|${e.attempt}|${e.worker}`, { e, ...t });
        break;
      }
      case "task.finished": {
        const key = `${e.task}|${e.attempt}|${e.worker}`;
        const o = open.get(key);
        if (!o) break;
        open.delete(key);
        slice(o, e.t, { ok: e.ok, ...(e.error !== undefined ? { error: e.error } : {}) });
        break;
      }
      case "object.transferred": instant(e, `transfer ${e.obj}`, "transfer", { object_id: e.obj, from: e.from, size: e.size }); break;
      case "object.spilled": instant(e, `spill ${e.obj}`, "spill", { object_id: e.obj }); break;
      case "object.restored": instant(e, `restore ${e.obj}`, "spill", { object_id: e.obj }); break;
      case "worker.died": instant(e, `worker died ${e.worker}`, "fault", { worker: e.worker }); break;
      case "node.dead": instant(e, `node ${e.id} dead`, "fault", { node: e.id, reason: e.reason }, "g"); break;
      case "node.fenced": instant(e, `node ${e.id} fenced`, "fault", { node: e.id }); break;
      case "fault": instant(e, `fault ${e.fault}`, "fault", { fault: e.fault, ...(e.detail !== undefined ? { detail: e.detail } : {}), ...(e.until !== undefined ? { until: e.until } : {}) }, "g"); break;
      default: assertNever("timeline", e);
    }
  }
  // Attempts the trace never saw end (still running, or cut off by a crash) last to its last
  // drawn event.
  for (const o of open.values()) slice(o, end, { unfinished: true });
  return { traceEvents: out, displayTimeUnit: "ms" };
}
