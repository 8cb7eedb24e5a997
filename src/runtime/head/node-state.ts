// What one daemon process knows about the work it hosts, built from its models' trace events
// (spec/trace.ts) as they are emitted: the tasks its workers ran, the objects in its store, its
// leases and transfers, and the last events for the timeline. The node's metrics (metrics.ts)
// and its part of the state API (state-api.ts) read it; nothing here touches the models.

import type { TraceEvent } from "../../../spec/trace.ts";
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

/** Finished tasks and events kept for the state API and the timeline; older ones are dropped. */
const KEEP_TASKS = 10_000;
export const KEEP_EVENTS = 20_000;

export class NodeState {
  readonly tasks = new Map<string, TaskRow>();
  readonly objects = new Map<string, ObjectRow>();
  readonly counters: NodeCounters = { leasesGranted: 0, leasesActive: 0, spilled: 0, restored: 0, transfers: 0, transferBytes: 0, finished: new Map() };
  private readonly names = new Map<string, string>();
  private readonly leases = new Set<string>();
  /**
   * The last KEEP_EVENTS events of the kinds the timeline draws, in a ring (`next` is the oldest
   * once it is full). Only those: every kept event lives long enough to be copied into V8's old
   * generation, and a lease's events (half of a small task's) are not drawn.
   */
  private readonly ring: TraceEvent[] = [];
  private next = 0;
  /** The GCS declared this node dead and it killed its workers: it stays out for good. */
  fenced = false;
  private done: string[] = [];

  observe(e: TraceEvent): void {
    if (TIMELINE_KINDS.has(e.kind)) {
      if (this.ring.length < KEEP_EVENTS) this.ring.push(e);
      else {
        this.ring[this.next] = e;
        this.next = (this.next + 1) % KEEP_EVENTS;
      }
    }
    switch (e.kind) {
      case "task.submitted": this.names.set(e.task, e.fn); break;
      case "node.fenced": this.fenced = true; break;
      case "task.started": {
        this.tasks.set(e.task, {
          task_id: e.task, name: this.names.get(e.task) ?? "", state: "RUNNING", node_id: e.node, worker_id: e.worker,
          attempt_number: e.attempt, ...(e.actor !== undefined ? { actor_id: e.actor } : {}), start_time_ms: e.t,
        });
        break;
      }
      case "task.finished": {
        const row = this.tasks.get(e.task);
        const state: TaskState = e.ok ? "FINISHED" : "FAILED";
        const key = `${state}|${e.attempt > 0 ? 1 : 0}`;
        this.counters.finished.set(key, (this.counters.finished.get(key) ?? 0) + 1);
        if (row) {
          row.state = state;
          row.end_time_ms = e.t;
          if (e.error !== undefined) row.error_message = e.error;
          this.done.push(e.task);
          if (this.done.length > KEEP_TASKS) this.forget(this.done.shift()!);
        }
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

  private forget(task: string): void {
    this.tasks.delete(task);
    this.names.delete(task);
  }

  /** Task rows counted by state and retry (Ray's `ray_tasks` labels), running ones included. */
  taskCounts(): Map<string, number> {
    const out = new Map(this.counters.finished);
    for (const t of this.tasks.values()) {
      if (t.state !== "RUNNING") continue;
      const key = `RUNNING|${t.attempt_number > 0 ? 1 : 0}`;
      out.set(key, (out.get(key) ?? 0) + 1);
    }
    return out;
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
