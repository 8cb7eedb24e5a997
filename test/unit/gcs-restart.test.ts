// A restarted GCS counts its incarnation on from the one its storage kept, so the lease
// requests it makes for actors never reuse an id of an earlier incarnation's (a late answer to
// an old request must not be taken for an answer to a new one).
import assert from "node:assert/strict";
import { test } from "node:test";
import { NO_BUGS } from "../../src/core/bugs.ts";
import type { GcsTable, GcsTables } from "../../src/core/gcs.ts";
import type { Msg } from "../../src/core/messages.ts";
import { defaultTuning } from "../../src/core/tuning.ts";
import { hostGcs, type ProcessPorts } from "../../src/runtime/kernel.ts";

const TABLES: readonly GcsTable[] = ["nodes", "actors", "functions", "meta"];

/** Starts a GCS on `rows` (what storage kept; empty on the first start), registers a node and creates one actor. */
function startAndCreate(rows: Map<GcsTable, Map<string, unknown>>, recovered: boolean, actorId: string): number[] {
  const sent: Msg[] = [];
  const ports: ProcessPorts<number> = { now: () => 0, random: () => 0.5, send: (_to, m) => { sent.push(m); }, schedule: () => 0, cancel: () => {}, trace: () => {} };
  const persist = (t: GcsTable, key: string, v: unknown) => { if (v === undefined) rows.get(t)!.delete(key); else rows.get(t)!.set(key, v); };
  const snapshot = recovered ? (Object.fromEntries(TABLES.map((t) => [t, new Map(rows.get(t))])) as unknown as GcsTables) : undefined;
  const g = hostGcs("head", defaultTuning, NO_BUGS, { ...ports, persist }, snapshot);
  g.message("head/raylet", { type: "RegisterNode", node: "head", incarnation: 1, resources: { CPU: 4 } });
  g.message("head/driver", { type: "CreateActor", spec: { actorId, fn: "C:1", className: "C", args: [], owner: "head/driver", resources: { CPU: 1 }, strategy: "DEFAULT", maxRestarts: 0, maxTaskRetries: 0 } });
  return sent.flatMap((m) => (m.type === "RequestLease" ? [m.reqId] : []));
}

test("each GCS restart makes lease requests whose ids no earlier incarnation used", () => {
  const rows = new Map(TABLES.map((t) => [t, new Map<string, unknown>()]));
  const seen: number[] = [];
  for (const [i, recovered] of [false, true, true].entries()) {
    const ids = startAndCreate(rows, recovered, `a${i}`);
    assert.ok(ids.length > 0, `incarnation ${i + 1} asked for a lease`);
    for (const id of ids) assert.ok(!seen.includes(id), `incarnation ${i + 1} reused lease request id ${id}`);
    // A request id is a count on the wire (the daemons' schema refuses any other number).
    for (const id of ids) assert.ok(Number.isSafeInteger(id) && id >= 0, `incarnation ${i + 1} made request id ${id}, not a count`);
    seen.push(...ids);
  }
});
