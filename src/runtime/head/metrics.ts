// Prometheus metrics (prom-client), under Ray's names where Ray has the metric
// (https://docs.ray.io/en/latest/ray-observability/reference/system-metrics.html), `tsray_`
// otherwise. A node's registry is served on its metrics port (8080); the GCS's on the dashboard's
// /metrics. Values are read when Prometheus scrapes, from the live state: nothing to keep in step.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { NodeState } from "./node-state.ts";

export interface NodeMetricsSource {
  readonly node: string;
  readonly state: NodeState;
  /** The node's resources as the GCS last published them (undefined before the first view). */
  readonly resources: () => { total: Record<string, number>; available: Record<string, number> } | undefined;
  readonly storeCapacity: number;
}

/**
 * How often the process metrics sample the event loop's delay. prom-client's default, 10 ms,
 * woke an idle daemon about 190 times a second (its histogram timer), three times as often as
 * all its other work did, and an idle cluster used about a seventh more CPU (bench/daemons.ts,
 * part idle). A stall still shows in full in the sample it delays.
 */
const EVENT_LOOP_SAMPLE_MS = 100;

/** Node's process metrics (CPU, memory, heap, GC, event loop lag) in `registry`. */
function processMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
}

function rssMb(): number {
  return process.memoryUsage.rss() / (1024 * 1024);
}

export function nodeMetrics(src: NodeMetricsSource): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ NodeId: src.node });
  processMetrics(registry);
  const { state } = src;
  new Gauge({
    name: "ray_tasks", help: "Tasks executed on this node, by state (RUNNING now; FINISHED and FAILED attempts so far).",
    labelNames: ["State", "IsRetry"], registers: [registry],
    collect() {
      this.reset();
      for (const [key, n] of state.taskCounts()) {
        const [State, IsRetry] = key.split("|");
        this.set({ State, IsRetry }, n);
      }
    },
  });
  new Gauge({
    name: "tsray_leases_active", help: "Worker leases held on this node.", registers: [registry],
    collect() { this.set(state.counters.leasesActive); },
  });
  new Counter({
    name: "tsray_leases_granted_total", help: "Worker leases this node granted.", registers: [registry],
    collect() { this.reset(); this.inc(state.counters.leasesGranted); },
  });
  new Gauge({
    name: "ray_resources", help: "Logical resources of this node, USED or AVAILABLE.", labelNames: ["Name", "State"], registers: [registry],
    collect() {
      this.reset();
      const r = src.resources();
      if (!r) return;
      for (const [name, total] of Object.entries(r.total)) {
        const available = r.available[name] ?? 0;
        this.set({ Name: name, State: "AVAILABLE" }, available);
        this.set({ Name: name, State: "USED" }, total - available);
      }
    },
  });
  new Gauge({
    name: "ray_object_store_memory", help: "Object store bytes by location.", labelNames: ["Location"], registers: [registry],
    collect() {
      const b = state.storeBytes();
      this.set({ Location: "MMAP_SHM" }, b.MMAP_SHM);
      this.set({ Location: "SPILLED" }, b.SPILLED);
    },
  });
  new Gauge({
    name: "ray_object_store_available_memory", help: "Object store bytes free in shared memory.", registers: [registry],
    collect() { this.set(src.storeCapacity - state.storeBytes().MMAP_SHM); },
  });
  new Gauge({
    name: "ray_object_store_num_local_objects", help: "Objects in this node's store (in memory or spilled).", registers: [registry],
    collect() { this.set(state.objects.size); },
  });
  const counter = (name: string, help: string, read: () => number) => new Counter({
    name, help, registers: [registry], collect() { this.reset(); this.inc(read()); },
  });
  counter("tsray_objects_spilled_total", "Objects this node's store spilled to disk.", () => state.counters.spilled);
  counter("tsray_objects_restored_total", "Spilled objects this node's store read back.", () => state.counters.restored);
  counter("tsray_object_transfers_total", "Objects copied to this node from other nodes.", () => state.counters.transfers);
  counter("tsray_object_transfer_bytes_total", "Bytes of the objects copied to this node.", () => state.counters.transferBytes);
  new Gauge({
    name: "ray_component_rss_mb", help: "Resident memory of this node's daemon process, in MiB.", labelNames: ["Component"], registers: [registry],
    collect() { this.set({ Component: "raylet" }, rssMb()); },
  });
  return registry;
}

export interface GcsMetrics {
  readonly registry: Registry;
  /** Records one storage commit (the GCS daemon's flush) that took `ms`. */
  storageLatency(ms: number): void;
}

export function gcsMetrics(src: { head: string; actors: () => Record<string, number>; jobs: () => Record<string, number> }): GcsMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ NodeId: src.head });
  processMetrics(registry);
  new Gauge({
    name: "ray_actors", help: "Actors by state, as the GCS knows them.", labelNames: ["State"], registers: [registry],
    collect() { this.reset(); for (const [State, n] of Object.entries(src.actors())) this.set({ State }, n); },
  });
  new Gauge({
    name: "tsray_jobs", help: "Submitted jobs by status.", labelNames: ["Status"], registers: [registry],
    collect() { this.reset(); for (const [Status, n] of Object.entries(src.jobs())) this.set({ Status }, n); },
  });
  const latency = new Histogram({
    name: "ray_gcs_storage_operation_latency_ms", help: "Time to make one batch of GCS writes durable, in ms.",
    labelNames: ["Operation"], buckets: [0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000], registers: [registry],
  });
  new Gauge({
    name: "ray_component_rss_mb", help: "Resident memory of the GCS process, in MiB.", labelNames: ["Component"], registers: [registry],
    collect() { this.set({ Component: "gcs_server" }, rssMb()); },
  });
  return { registry, storageLatency: (ms) => latency.observe({ Operation: "Flush" }, ms) };
}

/**
 * The head node's exposition with the GCS's appended (Ray exports every component of a node on
 * the node's one metrics port; here the GCS may be another process). A family both have gets the
 * GCS's samples under the node's HELP and TYPE; the GCS's process_* and nodejs_* families, which
 * describe another process under the same names, are left out.
 */
export function mergeExposition(node: string, gcs: string): string {
  const families = (text: string) => {
    const out = new Map<string, { meta: string[]; samples: string[] }>();
    let current: { meta: string[]; samples: string[] } | undefined;
    for (const line of text.split("\n")) {
      if (line.trim() === "") continue;
      const m = /^# (?:HELP|TYPE) (\S+)/.exec(line);
      if (m) {
        current = out.get(m[1]) ?? { meta: [], samples: [] };
        out.set(m[1], current);
        current.meta.push(line);
      } else if (current) current.samples.push(line);
    }
    return out;
  };
  const merged = families(node);
  for (const [name, f] of families(gcs)) {
    if (/^(process_|nodejs_)/.test(name)) continue;
    const mine = merged.get(name);
    if (mine) mine.samples.push(...f.samples);
    else merged.set(name, f);
  }
  return [...merged.values()].map((f) => [...f.meta, ...f.samples].join("\n")).join("\n") + "\n";
}
