// A GCS model hosted by hand for unit tests: what it sends and traces is recorded, time stands still at 0,
// and its storage is a map of tables the test can read, keep and hand to a restarted GCS.
import { NO_BUGS, type Bugs } from "../../src/core/bugs.ts";
import type { GcsTable, GcsTables } from "../../src/core/gcs.ts";
import type { Msg } from "../../src/core/messages.ts";
import { defaultTuning, type ModelTuning } from "../../src/core/tuning.ts";
import { hostGcs, type ProcessPorts } from "../../src/runtime/kernel.ts";
import type { TraceBody } from "../../spec/trace.ts";

export const GCS_TABLES: readonly GcsTable[] = ["nodes", "actors", "functions", "meta"];

/** Tables with no rows. */
export const emptyTables = (): Map<GcsTable, Map<string, unknown>> => new Map(GCS_TABLES.map((t) => [t, new Map<string, unknown>()]));

export interface GcsHostOptions {
  readonly bugs?: Bugs;
  /** Its storage (default: empty); persisted rows land here. */
  readonly rows?: Map<GcsTable, Map<string, unknown>>;
  /** Start as a GCS recovering these rows (a snapshot of them), as after a restart. */
  readonly recover?: boolean;
  /** Knobs that differ from the defaults. */
  readonly tuning?: Partial<ModelTuning>;
}

export function gcsHost(o: GcsHostOptions = {}) {
  const sent: { to: string; m: Msg }[] = [];
  const traced: TraceBody[] = [];
  const rows = o.rows ?? emptyTables();
  const ports: ProcessPorts<number> = { now: () => 0, random: () => 0.5, send: (to, m) => { sent.push({ to, m }); }, schedule: () => 0, cancel: () => {}, trace: (b) => { traced.push(b); } };
  const persist = (t: GcsTable, key: string, v: unknown) => { if (v === undefined) rows.get(t)!.delete(key); else rows.get(t)!.set(key, v); };
  const snapshot = o.recover ? (Object.fromEntries(GCS_TABLES.map((t) => [t, new Map(rows.get(t))])) as unknown as GcsTables) : undefined;
  const g = hostGcs("head", { ...defaultTuning, ...o.tuning }, o.bugs ?? NO_BUGS, { ...ports, persist }, snapshot);
  return { g, sent, traced, rows };
}
