// The state API from code, as Ray's `ray.util.state` (list_*, get_*, summarize_*): the same calls
// `tsray list|get|summary` make to the head's dashboard. `address` is the dashboard
// (http://HOST:8265); by default $TSRAY_DASHBOARD_ADDRESS, else the dashboard of the cluster at
// $TSRAY_ADDRESS (or this machine's). The token comes from $TSRAY_TOKEN or the session file.

import { dashboardClient } from "../runtime/head/client.ts";
import type { Filter, ListResult, ResourceKind } from "../runtime/head/state-api.ts";
import type { ChromeTrace } from "../runtime/head/timeline.ts";

export type { ListResult, ResourceKind, ChromeTrace };

export interface StateOptions {
  readonly address?: string;
}

export interface ListOptions extends StateOptions {
  /** Ray's filters: `["state=FINISHED", "node_id!=head"]`, or parsed ones. */
  readonly filters?: readonly (string | Filter)[];
  /** At most this many rows (default 100). */
  readonly limit?: number;
}

/** Rows of one resource kind, filtered and truncated. */
export async function list(resource: ResourceKind, opts: ListOptions = {}): Promise<ListResult> {
  const q = new URLSearchParams();
  for (const f of opts.filters ?? []) q.append("filter", typeof f === "string" ? f : `${f.key}${f.op}${f.value}`);
  if (opts.limit !== undefined) q.set("limit", String(opts.limit));
  return (await dashboardClient(opts.address)).request<ListResult>("GET", `/api/v0/${resource}?${q}`);
}

/** One row by its id (node_id, submission_id, actor_id, task_id or object_id); throws if there is none. */
export async function get(resource: ResourceKind, id: string, opts: StateOptions = {}): Promise<Record<string, unknown>> {
  return (await dashboardClient(opts.address)).request("GET", `/api/v0/${resource}/${encodeURIComponent(id)}`);
}

/** Counts by function (tasks), class (actors) or node (objects), and by state. */
export async function summarize(resource: "tasks" | "actors" | "objects", opts: StateOptions = {}): Promise<{ kind: string; total: number; summary: Record<string, Record<string, number>> }> {
  return (await dashboardClient(opts.address)).request("GET", `/api/v0/${resource}/summarize`);
}

/** The cluster's timeline as a Chrome trace (what `tsray timeline` writes). */
export async function timeline(opts: StateOptions = {}): Promise<ChromeTrace> {
  return (await dashboardClient(opts.address)).request("GET", "/api/v0/timeline");
}
