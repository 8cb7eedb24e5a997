// A worker that registers hears from its raylet of the deaths it knew before (KnownDeaths): a
// node's life that ended, and workers. What it then gets handed that such a process owns fails
// at once with OwnerDiedError, as if it had heard of the death itself. Its own node's earlier
// life is only recorded (what it asks of its raylet went to the current life).
import assert from "node:assert/strict";
import { test } from "node:test";
import { NO_BUGS } from "../../src/core/bugs.ts";
import type { CallResult } from "../../src/core/effects.ts";
import { CoreWorker } from "../../src/core/core-worker.ts";
import type { Msg } from "../../src/core/messages.ts";

function worker() {
  const completed = new Map<number, CallResult>();
  const sent: { to: string; m: Msg }[] = [];
  const w = new CoreWorker("n1/w2-1", { node: "n1", gcs: "head/gcs", maxInlineBytes: 100_000, maxPendingLeases: 10, maxTasksInFlightPerWorker: 1, pipelineMaxTaskMs: 0, bugs: NO_BUGS }, {
    now: () => 0, random: () => 0.5, send: (to, m) => sent.push({ to, m }), setTimer: () => {}, cancelTimer: () => {}, trace: () => {},
    execute: () => {}, complete: (callId, r) => completed.set(callId, r), interrupt: () => {},
  });
  w.start(true);
  return { w, completed, sent };
}

test("deaths known at registration: a ref owned on a dead node's life, or by a dead worker, fails at once", () => {
  const { w, completed } = worker();
  w.step({ kind: "message", from: "n1/raylet", msg: { type: "KnownDeaths", workers: ["n3/w1-4"], nodes: [{ node: "n2", incarnation: 1 }, { node: "n1", incarnation: 1 }] } });
  assert.deepEqual([...w.state.deadNodes], [["n2", 1], ["n1", 1]]);
  w.get([{ id: "n2/w1-1#7", owner: "n2/w1-1" }], undefined, 1);
  w.get([{ id: "n3/w1-4#2", owner: "n3/w1-4" }], undefined, 2);
  for (const id of [1, 2]) {
    const r = completed.get(id);
    assert.equal(r?.kind === "values" && (r.values[0] as { type?: string }).type, "OwnerDiedError", `get ${id} was not failed at once: ${JSON.stringify(r)}`);
  }
  w.get([{ id: "n2/w2-1#7", owner: "n2/w2-1" }], undefined, 3);
  assert.equal(completed.has(3), false, "a later life of n2 is alive");
});

test("a spillback to a node life known dead is asked of the local raylet instead; one to that node's next life is followed", () => {
  const { w, sent } = worker();
  w.step({ kind: "message", from: "n1/raylet", msg: { type: "KnownDeaths", workers: [], nodes: [{ node: "n2", incarnation: 1 }] } });
  w.submitTask("n1/w2-1#t1", { id: "fn", name: "f", kind: "function", source: "() => 0" }, [], { resources: { CPU: 1 }, strategy: "DEFAULT", maxRetries: 0, retryExceptions: false });
  const requests = () => sent.flatMap((s) => (s.m.type === "RequestLease" ? [{ reqId: s.m.reqId, to: s.to, grantOrReject: s.m.req.grantOrReject }] : []));
  const spill = (incarnation: number) => w.step({ kind: "message", from: "n1/raylet", msg: { type: "LeaseSpillback", reqId: requests().at(-1)!.reqId, node: "n2", incarnation } });
  spill(1); // the raylet's view lagged: n2's first life is over
  spill(2);
  assert.deepEqual(requests().map((r) => [r.to, r.grantOrReject]), [["n1/raylet", false], ["n1/raylet", false], ["n2/raylet", true]]);
});

test("a copy reported by a node life known dead (the report came the long way) is not recorded; one of its next life is", () => {
  const { w, sent } = worker();
  const id = "n1/w2-1#p1";
  w.put(id, { size: 200_000, hash: "h", data: null }, 1); // too large to inline: stored by the raylet
  const put = sent.find((s) => s.m.type === "StorePut")!.m as Extract<Msg, { type: "StorePut" }>;
  w.step({ kind: "message", from: "n1/raylet", msg: { type: "StorePutReply", reqId: put.reqId, id } });
  w.step({ kind: "message", from: "head/gcs", msg: { type: "NodeDead", node: "n2", incarnation: 1 } });
  w.step({ kind: "message", from: "n2/raylet", msg: { type: "AddLocation", id, node: "n2", incarnation: 1 } });
  assert.deepEqual(w.state.owned.get(id)?.nodes, ["n1"], "a copy gone with its node was recorded");
  w.step({ kind: "message", from: "n2/raylet", msg: { type: "AddLocation", id, node: "n2", incarnation: 2 } });
  assert.deepEqual(w.state.owned.get(id)?.nodes, ["n1", "n2"]);
});
