// What one daemon process knows about the work it hosts, built from its models' trace events
// (spec/trace.ts) as they are emitted: the tasks its workers ran, the objects in its store, its
// leases and transfers, and the last events for the timeline. The node's metrics (metrics.ts)
// and its part of the state API (state-api.ts) read it; nothing here touches the models.

import type { TraceEvent } from "../../../spec/trace.ts";
import { lastIndexWith, removeAt } from "../../core/list.ts";
import { TIMELINE_KINDS } from "./timeline.ts";

/** Ray's task states, as far as a node that executes tasks sees them. */
export type TaskState = "RUNNING" | "FINISHED" | "FAILED";

export interface TaskRow {
  readonly task_id: string;
  /** The function, when this process saw the task submitted (a nested task); else "". */
  name: string;
  state: TaskState;
  readonly node_id: string;
  worker_id: string;
  attempt_number: number;
  actor_id?: string;
  start_time_ms: number;
  end_time_ms?: number;
  error_message?: string;
}

export interface ObjectRow {
  readonly object_id: string;
  readonly node_id: string;
  readonly object_size: number;
  /** Ray's names: in shared memory, or spilled to disk. */
  location: "MMAP_SHM" | "SPILLED";
  readonly primary: boolean;
}

export interface NodeCounters {
  leasesGranted: number;
  leasesActive: number;
  spilled: number;
  restored: number;
  transfers: number;
  transferBytes: number;
  /** Task attempts by final state (finished attempts stay counted when their row is dropped). */
  readonly finished: Map<string, number>;
}

/** Events kept for the timeline and the state API's task rows; older ones are dropped. */
export const KEEP_EVENTS = 20_000;

/** Ray's `ray_tasks` labels as one key, state and retry (constant strings: no string built per event). */
const COUNT_KEYS: Readonly<Record<TaskState, readonly [string, string]>> = {
  RUNNING: ["RUNNING|0", "RUNNING|1"], FINISHED: ["FINISHED|0", "FINISHED|1"], FAILED: ["FAILED|0", "FAILED|1"],
};
const countKey = (state: TaskState, attempt: number): string => COUNT_KEYS[state][attempt > 0 ? 1 : 0];

type Started = Extract<TraceEvent, { kind: "task.started" }>;

function startedRow(e: Started, name: string | undefined): TaskRow {
  const row: TaskRow = {
    task_id: e.task, name: name ?? "", state: "RUNNING", node_id: e.node, worker_id: e.worker, attempt_number: e.attempt, start_time_ms: e.t,
  };
  if (e.actor !== undefined) row.actor_id = e.actor;
  return row;
}

export class NodeState {
  readonly objects = new Map<string, ObjectRow>();
  readonly counters: NodeCounters = { leasesGranted: 0, leasesActive: 0, spilled: 0, restored: 0, transfers: 0, transferBytes: 0, finished: new Map() };
  private readonly leases = new Set<string>();
  /**
   * The last KEEP_EVENTS events of the kinds the timeline draws, in a ring (`next` is the oldest
   * once it is full). Only those: every kept event lives long enough to be copied into V8's old
   * generation, and a lease's events (half of a small task's) are not drawn.
   */
  private readonly ring: TraceEvent[] = [];
  private next = 0;
  /**
   * Tasks started here and not finished, in start order: their start events. The rows of finished
   * tasks are built from the kept events when asked for (rarely), not kept up to date per event: a
   * row per task in a table of thousands cost a small task more than the rest of its tracing. A
   * list, not a map by task: a node mostly runs a few tasks at a time, and V8 shrinks a Map
   * emptied by a delete, allocating a new table for every task.
   */
  private readonly running: Started[] = [];
  /** The GCS declared this node dead and it killed its workers: it stays out for good. */
  fenced = false;

  observe(e: TraceEvent): void {
    if (TIMELINE_KINDS.has(e.kind)) {
      if (this.ring.length < KEEP_EVENTS) this.ring.push(e);
      else {
        this.ring[this.next] = e;
        this.next = (this.next + 1) % KEEP_EVENTS;
      }
    }
    switch (e.kind) {
      case "node.fenced": this.fenced = true; break;
      case "task.started": {
        const i = lastIndexWith(this.running, "task", e.task);
        if (i >= 0) this.running[i] = e; // an attempt started again here: its latest start
        else this.running.push(e);
        break;
      }
      case "task.finished": {
        const key = countKey(e.ok ? "FINISHED" : "FAILED", e.attempt);
        this.counters.finished.set(key, (this.counters.finished.get(key) ?? 0) + 1);
        const i = lastIndexWith(this.running, "task", e.task);
        if (i >= 0 && this.running[i].attempt === e.attempt) removeAt(this.running, i);
        break;
      }
      case "lease.granted":
        this.counters.leasesGranted++;
        this.leases.add(e.lease);
        this.counters.leasesActive = this.leases.size;
        break;
      case "lease.returned":
        this.leases.delete(e.lease);
        this.counters.leasesActive = this.leases.size;
        break;
      case "object.created":
        if (e.where === "store") this.objects.set(e.obj, { object_id: e.obj, node_id: e.node, object_size: e.size, location: "MMAP_SHM", primary: e.primary === true });
        break;
      case "object.deleted": this.objects.delete(e.obj); break;
      case "object.spilled": {
        this.counters.spilled++;
        const o = this.objects.get(e.obj);
        if (o) o.location = "SPILLED";
        break;
      }
      case "object.restored": {
        this.counters.restored++;
        const o = this.objects.get(e.obj);
        if (o) o.location = "MMAP_SHM";
        break;
      }
      case "object.transferred":
        this.counters.transfers++;
        this.counters.transferBytes += e.size;
        break;
      default: break;
    }
  }

  /** Task attempts counted by state and retry (Ray's `ray_tasks` labels), running ones included. */
  taskCounts(): Map<string, number> {
    const out = new Map(this.counters.finished);
    for (const e of this.running) {
      const key = countKey("RUNNING", e.attempt);
      out.set(key, (out.get(key) ?? 0) + 1);
    }
    return out;
  }

  /**
   * A row per task the kept events show (its latest attempt), in the order they started, after
   * those still running that started before them. A task's function is named when this process
   * saw it submitted (a nested task).
   */
  taskRows(): TaskRow[] {
    const names = new Map<string, string>();
    const rows = new Map<string, TaskRow>();
    for (const e of this.recentEvents()) {
      if (e.kind === "task.submitted") names.set(e.task, e.fn);
      else if (e.kind === "task.started") rows.set(e.task, startedRow(e, names.get(e.task)));
      else if (e.kind === "task.finished") {
        const row = rows.get(e.task);
        if (row === undefined || row.attempt_number !== e.attempt) continue;
        row.state = e.ok ? "FINISHED" : "FAILED";
        row.end_time_ms = e.t;
        if (e.error !== undefined) row.error_message = e.error;
      }
    }
    const older = this.running.filter((e) => !rows.has(e.task)).map((e) => startedRow(e, undefined));
    return [...older, ...rows.values()];
  }

  /** Bytes in the store by location. */
  storeBytes(): { MMAP_SHM: number; SPILLED: number } {
    const out = { MMAP_SHM: 0, SPILLED: 0 };
    for (const o of this.objects.values()) out[o.location] += o.object_size;
    return out;
  }

  /** The events kept for the timeline, oldest first. */
  recentEvents(): readonly TraceEvent[] {
    return [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
  }
}
