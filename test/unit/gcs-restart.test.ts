// A restarted GCS counts its incarnation on from the one its storage kept, so the lease
// requests it makes for actors never reuse an id of an earlier incarnation's (a late answer to
// an old request must not be taken for an answer to a new one).
import assert from "node:assert/strict";
import { test } from "node:test";
import type { GcsTable } from "../../src/core/gcs.ts";
import { emptyTables, gcsHost } from "../helpers/gcs-host.ts";

/** Starts a GCS on `rows` (what storage kept; empty on the first start): the GCS and what it sends. */
function startGcs(rows: Map<GcsTable, Map<string, unknown>>, recovered: boolean) {
  const h = gcsHost({ rows, recover: recovered });
  return { g: h.g, sent: () => h.sent.map((s) => s.m) };
}

/** Starts a GCS on `rows`, registers a node and creates one actor: the ids of the lease requests it made. */
function startAndCreate(rows: Map<GcsTable, Map<string, unknown>>, recovered: boolean, actorId: string): number[] {
  const { g, sent } = startGcs(rows, recovered);
  g.message("head/raylet", { type: "RegisterNode", node: "head", incarnation: 1, resources: { CPU: 4 } });
  g.message("head/driver", { type: "CreateActor", spec: { actorId, fn: "C:1", className: "C", args: [], owner: "head/driver", job: "head/driver", resources: { CPU: 1 }, strategy: "DEFAULT", maxRestarts: 0, maxTaskRetries: 0 } });
  return sent().flatMap((m) => (m.type === "RequestLease" ? [m.reqId] : []));
}

test("each GCS restart makes lease requests whose ids no earlier incarnation used", () => {
  const rows = emptyTables();
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

/**
 * Starts a GCS on `rows`, registers node n1 and asks for a one-bundle group: the attempt it
 * prepares with, and the bundle part of its answer to n1's registration.
 */
function startAndPlace(rows: Map<GcsTable, Map<string, unknown>>, recovered: boolean, pgId: string) {
  const { g, sent } = startGcs(rows, recovered);
  g.message("n1/raylet", { type: "RegisterNode", node: "n1", incarnation: 1, resources: { CPU: 4 } });
  g.message("head/driver", { type: "CreatePlacementGroup", spec: { pgId, bundles: [{ CPU: 1 }], strategy: "PACK", creator: "head/driver" } });
  const prepare = sent().find((m) => m.type === "PrepareBundles");
  const registered = sent().find((m) => m.type === "NodeRegistered");
  return { attempt: prepare?.type === "PrepareBundles" ? prepare.attempt : undefined, bundles: registered?.type === "NodeRegistered" ? registered.bundles : undefined, g };
}

test("a restarted GCS numbers its bundle reservations above every earlier GCS's, and tells a re-registering node which bundles it knows there", () => {
  const rows = emptyTables();
  const first = startAndPlace(rows, false, "pg1");
  assert.equal(first.bundles, undefined, "a first GCS has no earlier reservations to disown");
  // pg1's prepare is answered and committed on n1 before the restart.
  first.g.message("n1/raylet", { type: "BundlesPrepared", pgId: "pg1", attempt: first.attempt!, node: "n1", ok: true });
  const second = startAndPlace(rows, true, "pg2");
  assert.ok(second.attempt! > first.attempt!, `the restarted GCS prepared attempt ${second.attempt} after attempt ${first.attempt}`);
  assert.deepEqual(second.bundles, { keep: ["pg1#0"], before: second.attempt }, "n1 must keep the committed bundle, and may drop earlier reservations it holds beyond it");
});

test("an actor row stored before actors carried their job is recovered with its owner's job (a detached actor's: its own)", () => {
  const rows = emptyTables();
  const row = (owner: string, detached: boolean) => ({
    state: "PENDING_CREATION", epoch: 0, restartsLeft: 0, subscribers: [],
    spec: { actorId: "x", fn: "C:1", className: "C", args: [], owner, resources: { CPU: 1 }, strategy: "DEFAULT", maxRestarts: 0, maxTaskRetries: 0, ...(detached ? { detached } : {}) },
  });
  rows.get("actors")!.set("old", row("head/driver", false));
  rows.get("actors")!.set("kept", row("head/driver", true));
  const { g, sent } = startGcs(rows, true);
  g.model.start();
  g.message("head/raylet", { type: "RegisterNode", node: "head", incarnation: 1, resources: { CPU: 4 } });
  const jobs = sent().flatMap((m) => (m.type === "RequestLease" ? [[m.req.actorId, m.req.job]] : []));
  assert.deepEqual(jobs.sort(), [["kept", "kept"], ["old", "head/driver"]]);
});
