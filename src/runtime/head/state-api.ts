// The state API (Ray's `ray list|get|summary`): nodes, jobs, actors, tasks and objects, gathered
// when asked — nodes and actors from the GCS, jobs from the job manager, tasks and objects from
// each live node's status reply (each node keeps its latest rows: node-services.ts), trace events
// for the timeline from each node's agent port. Filters are Ray's `key=value` / `key!=value`.

import type { NodeView } from "../../core/types.ts";
import type { TraceEvent } from "../../../spec/trace.ts";
import { parseEndpoint } from "../daemon/object-channel.ts";
import { getStatus } from "../daemon/transport.ts";
import { HttpError } from "./http.ts";
import type { JobDetails } from "./jobs.ts";
import { toChromeTrace, type ChromeTrace } from "./timeline.ts";

export const RESOURCE_KINDS = ["nodes", "jobs", "actors", "tasks", "objects", "placement-groups"] as const;
export type ResourceKind = (typeof RESOURCE_KINDS)[number];

/** Each kind's id field (for `get`). */
const ID_FIELD: Record<ResourceKind, string> = {
  nodes: "node_id", jobs: "submission_id", actors: "actor_id", tasks: "task_id", objects: "object_id", "placement-groups": "placement_group_id",
};

export interface StateSources {
  readonly token: string;
  readonly status: () => { nodes: NodeView[] };
  readonly actors: () => object[];
  readonly placementGroups: () => object[];
  readonly jobs: () => JobDetails[];
  readonly head: string;
}

/** What a node's status reply carries for the state API (see nodeStatus in node-services.ts). */
export interface NodeReport {
  readonly agentPort?: number;
  readonly store?: { capacity: number; MMAP_SHM: number; SPILLED: number; objects: number };
  readonly memory?: { rss: number; total: number; available: number };
  readonly tasks?: Record<string, unknown>[];
  readonly objects?: Record<string, unknown>[];
}

export interface Filter { readonly key: string; readonly op: "=" | "!="; readonly value: string }

/** `key=value` or `key!=value` (Ray's --filter syntax). */
export function parseFilter(s: string): Filter {
  const m = /^([\w.]+)\s*(!=|=)\s*(.*)$/.exec(s);
  if (!m) throw new HttpError(400, `bad filter ${JSON.stringify(s)}: expected KEY=VALUE or KEY!=VALUE`);
  return { key: m[1], op: m[2] as Filter["op"], value: m[3] };
}

export interface ListResult {
  readonly total: number;
  readonly num_after_truncation: number;
  readonly result: Record<string, unknown>[];
  /** Nodes whose rows could not be gathered, and why. */
  readonly partial_failure_warning?: string;
}

export class StateApi {
  constructor(private readonly src: StateSources) {}

  private async reports(): Promise<{ reports: Map<string, NodeReport>; failures: string[] }> {
    const reports = new Map<string, NodeReport>();
    const failures: string[] = [];
    await Promise.all(this.src.status().nodes.filter((n) => n.alive && n.endpoint).map(async (n) => {
      try {
        reports.set(n.node, (await getStatus(parseEndpoint(n.endpoint!).grpc, this.src.token, 2000)) as NodeReport);
      } catch (e) {
        failures.push(`node ${n.node}: ${(e as Error).message}`);
      }
    }));
    return { reports, failures };
  }

  async rows(kind: ResourceKind): Promise<{ rows: Record<string, unknown>[]; failures: string[] }> {
    switch (kind) {
      case "jobs": return { rows: this.src.jobs() as unknown as Record<string, unknown>[], failures: [] };
      case "actors": return { rows: this.src.actors() as Record<string, unknown>[], failures: [] };
      case "placement-groups": return { rows: this.src.placementGroups() as Record<string, unknown>[], failures: [] };
      default: break;
    }
    const { reports, failures } = await this.reports();
    if (kind === "nodes") {
      const rows = this.src.status().nodes.map((n) => {
        const r = reports.get(n.node);
        return {
          node_id: n.node, state: n.alive ? "ALIVE" : "DEAD", is_head_node: n.node === this.src.head,
          node_ip: n.endpoint ? parseEndpoint(n.endpoint).grpc.replace(/:\d+$/, "") : null,
          resources_total: n.total, resources_available: n.available,
          ...(r?.store ? { object_store_capacity: r.store.capacity, object_store_used: r.store.MMAP_SHM, object_store_spilled: r.store.SPILLED, num_objects: r.store.objects } : {}),
          ...(r?.memory ? { memory_total: r.memory.total, memory_available: r.memory.available, raylet_rss: r.memory.rss } : {}),
        };
      });
      return { rows, failures };
    }
    const rows: Record<string, unknown>[] = [];
    for (const r of reports.values()) rows.push(...((kind === "tasks" ? r.tasks : r.objects) ?? []));
    return { rows, failures };
  }

  async list(kind: ResourceKind, filters: readonly Filter[] = [], limit = 100): Promise<ListResult> {
    const { rows, failures } = await this.rows(kind);
    for (const f of filters) if (rows.length > 0 && !rows.some((r) => f.key in r)) throw new HttpError(400, `no field ${JSON.stringify(f.key)} in ${kind} (fields: ${Object.keys(rows[0]).join(", ")})`);
    const kept = rows.filter((r) => filters.every((f) => (String(r[f.key] ?? "") === f.value) === (f.op === "=")));
    const result = kept.slice(0, limit);
    return { total: kept.length, num_after_truncation: result.length, result, ...(failures.length ? { partial_failure_warning: failures.join("; ") } : {}) };
  }

  async get(kind: ResourceKind, id: string): Promise<Record<string, unknown>> {
    const { rows } = await this.rows(kind);
    const row = rows.find((r) => r[ID_FIELD[kind]] === id);
    if (!row) throw new HttpError(404, `no ${kind.replace(/s$/, "")} with ${ID_FIELD[kind]} ${JSON.stringify(id)}`);
    return row;
  }

  /** Ray's summaries: tasks by function and state, actors by class and state, objects by node and location. */
  async summary(kind: "tasks" | "actors" | "objects"): Promise<Record<string, unknown>> {
    const { rows } = await this.rows(kind);
    const groups: Record<string, Record<string, number>> = {};
    const add = (group: string, key: string, n = 1) => { (groups[group] ??= {})[key] = (groups[group][key] ?? 0) + n; };
    for (const r of rows) {
      if (kind === "tasks") add(String(r.name || "(unknown)"), String(r.state));
      else if (kind === "actors") add(String(r.class_name), String(r.state));
      else { add(String(r.node_id), String(r.location)); add(String(r.node_id), "bytes", Number(r.object_size)); }
    }
    return { kind, total: rows.length, summary: groups };
  }

  /** The timeline of the events each live node still keeps. */
  async timeline(): Promise<ChromeTrace> {
    const { reports } = await this.reports();
    const events: TraceEvent[] = [];
    await Promise.all(this.src.status().nodes.filter((n) => n.alive && n.endpoint).map(async (n) => {
      const port = reports.get(n.node)?.agentPort;
      if (port === undefined) return;
      const host = parseEndpoint(n.endpoint!).grpc.replace(/:\d+$/, "");
      const res = await fetch(`http://${host}:${port}/api/v0/trace_events`, { headers: { authorization: `Bearer ${this.src.token}` }, signal: AbortSignal.timeout(5000) }).catch(() => undefined);
      if (res?.ok) events.push(...((await res.json()) as TraceEvent[]));
    }));
    return toChromeTrace(events);
  }
}
