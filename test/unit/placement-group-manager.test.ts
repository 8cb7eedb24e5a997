// The GCS's placement-group manager (src/core/gcs/placement-groups.ts) on its own: the two-phase
// reservation when a retry comes while an attempt is in flight, and when a node dies before it
// answered. The test plays the raylets and the GCS around it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { PlacementGroups } from "../../src/core/gcs/placement-groups.ts";
import type { Msg } from "../../src/core/messages.ts";
import type { NodeView } from "../../src/core/types.ts";
import { defaultTuning } from "../../src/core/tuning.ts";

function rig(nodes: NodeView[], removedKept = defaultTuning.removedGroupsKept) {
  const sent: { to: string; m: Msg }[] = [];
  const removed: string[] = [];
  /** The GCS's stored rows of groups, as persisted. */
  const rows = new Map<string, unknown>();
  const persist = (id: string, row: unknown) => { if (row === undefined) rows.delete(id); else rows.set(id, row); };
  const clock = { now: 0 };
  const pgs = new PlacementGroups({
    send: (to, m) => sent.push({ to, m }), trace: () => {}, persist, now: () => clock.now, view: () => nodes, viewChanged: () => {},
    groupRemoved: (pgId) => removed.push(pgId),
  }, 1, removedKept);
  const take = (type: Msg["type"]) => {
    const out = sent.filter((s) => s.m.type === type).map((s) => `${s.m.type} ${s.to}`);
    sent.splice(0, sent.length, ...sent.filter((s) => s.m.type !== type));
    return out;
  };
  return { pgs, sent, take, removed, rows, clock };
}
const node = (id: string, alive = true): NodeView => ({ node: id, incarnation: 1, total: { CPU: 2 }, available: { CPU: 2 }, alive });

test("a retry while a reservation is in flight starts no second one", () => {
  const r = rig([node("n1")]);
  r.pgs.create({ pgId: "pg", bundles: [{ CPU: 1 }], strategy: "PACK", creator: "head/driver" });
  assert.deepEqual(r.take("PrepareBundles"), ["PrepareBundles n1/raylet"]);
  r.pgs.retry();
  assert.deepEqual(r.take("PrepareBundles"), [], "a second prepare while the first is unanswered");
  r.pgs.prepared("pg", 1, "n1", true);
  assert.deepEqual([r.take("CommitBundles"), r.pgs.groups.get("pg")?.state], [["CommitBundles n1/raylet"], "CREATED"]);
});

test("a node that dies before it answered fails the attempt: what the others prepared is released, and the group is tried again", () => {
  const nodes = [node("n1"), node("n2"), node("n3")];
  const r = rig(nodes);
  r.pgs.create({ pgId: "pg", bundles: [{ CPU: 1 }, { CPU: 1 }], strategy: "STRICT_SPREAD", creator: "head/driver" });
  assert.deepEqual(r.take("PrepareBundles"), ["PrepareBundles n1/raylet", "PrepareBundles n2/raylet"]);
  r.pgs.prepared("pg", 1, "n1", true);
  nodes[1] = node("n2", false);
  r.pgs.nodeDied("n2");
  assert.deepEqual(r.take("ReleaseBundles"), ["ReleaseBundles n1/raylet"], "n1's reservation was kept for an attempt that cannot succeed");
  r.pgs.retry();
  assert.deepEqual(r.take("PrepareBundles"), ["PrepareBundles n1/raylet", "PrepareBundles n3/raylet"]);
});

test("a late answer of an attempt given up is not counted for the next attempt to the same node", () => {
  const r = rig([node("n1")]);
  r.pgs.create({ pgId: "pg", bundles: [{ CPU: 1 }], strategy: "PACK", creator: "head/driver" });
  r.take("PrepareBundles");
  r.pgs.prepared("pg", 1, "n1", false); // n1 had no room then
  r.pgs.retry();
  assert.deepEqual(r.take("PrepareBundles"), ["PrepareBundles n1/raylet"], "attempt 2");
  r.pgs.prepared("pg", 1, "n1", false); // attempt 1's answer, duplicated on the way
  r.pgs.prepared("pg", 2, "n1", true);
  assert.deepEqual([r.take("CommitBundles"), r.pgs.groups.get("pg")?.state], [["CommitBundles n1/raylet"], "CREATED"], "attempt 2 failed on attempt 1's answer");
});

test("a duplicated answer of a committed attempt is ignored, but once the group is removed it gives back what it reserved", () => {
  const r = rig([node("n1")]);
  r.pgs.create({ pgId: "pg", bundles: [{ CPU: 1 }], strategy: "PACK", creator: "head/driver" });
  r.take("PrepareBundles");
  r.pgs.prepared("pg", 1, "n1", true);
  r.take("CommitBundles");
  r.pgs.prepared("pg", 1, "n1", true);
  assert.deepEqual(r.sent, [], "a duplicate of a committed answer did something");
  r.pgs.remove("pg");
  r.take("ReleaseBundles");
  r.pgs.prepared("pg", 1, "n1", true);
  assert.deepEqual(r.take("ReleaseBundles"), ["ReleaseBundles n1/raylet"]);
});

test("an answer about a group the GCS does not know gives back what it reserved", () => {
  const r = rig([node("n1")]);
  r.pgs.prepared("unknown", 1, "n1", true);
  assert.deepEqual(r.take("ReleaseBundles"), ["ReleaseBundles n1/raylet"]);
  r.pgs.prepared("unknown", 1, "n1", false);
  assert.deepEqual(r.sent, [], "a refusal reserved nothing to give back");
});

test("past removedKept the group removed longest is forgotten; a repeated create of one remembered makes nothing", () => {
  const r = rig([node("n1", true)], 2);
  for (const pgId of ["a", "b", "c"]) {
    r.pgs.create({ pgId, bundles: [{ CPU: 1 }], strategy: "PACK", creator: "head/driver" });
    r.pgs.prepared(pgId, 1, "n1", true);
    r.pgs.remove(pgId);
  }
  assert.deepEqual([...r.pgs.groups.keys()], ["b", "c"]);
  assert.deepEqual(r.removed, ["a", "b", "c"], "the GCS heard of each removal once");
  r.pgs.remove("c");
  assert.deepEqual(r.removed, ["a", "b", "c"], "a repeated removal is no new one");
  r.take("PrepareBundles");
  r.pgs.create({ pgId: "c", bundles: [{ CPU: 1 }], strategy: "PACK", creator: "head/driver" });
  assert.deepEqual([r.take("PrepareBundles"), r.pgs.groups.get("c")?.state], [[], "REMOVED"]);
});

test("a removed group's row is deleted from the GCS's storage, not kept as removed", () => {
  const r = rig([node("n1")]);
  r.pgs.create({ pgId: "pg", bundles: [{ CPU: 1 }], strategy: "PACK", creator: "head/driver" });
  r.pgs.prepared("pg", 1, "n1", true);
  assert.deepEqual([...r.rows.keys()], ["pg"]);
  r.pgs.remove("pg");
  assert.deepEqual([...r.rows.keys()], []);
});

test("demands are a group's unplaced bundles, aged from when placing them first failed; a removed group has none", () => {
  const nodes = [node("n1"), node("n2")];
  const r = rig(nodes);
  r.pgs.create({ pgId: "pg", bundles: [{ CPU: 1 }, { CPU: 2 }], strategy: "STRICT_SPREAD", creator: "head/driver" });
  r.clock.now = 3;
  assert.deepEqual(r.pgs.demands(), [], "a group being placed is no demand");
  r.pgs.prepared("pg", 1, "n1", true);
  r.pgs.prepared("pg", 1, "n2", true);
  r.clock.now = 5;
  nodes[1] = node("n2", false);
  r.pgs.nodeDied("n2"); // its bundle is placed again: no other node for it under STRICT_SPREAD
  r.clock.now = 12;
  assert.deepEqual(r.pgs.demands(), [{ resources: { CPU: 2 }, count: 1, ageMs: 7 }], "the placed bundle on n1 is no demand; n2's is");
  r.pgs.remove("pg");
  assert.deepEqual(r.pgs.demands(), []);
});
