// A core worker remembers the latest `deadNodesKept` dead nodes only (node ids come and go with
// autoscaling: each pod's name is a node id), the one that died longest ago forgotten first; a
// node that dies again counts as dying most lately. What it remembers still holds: an address of
// a remembered dead life is dead, a later life of the node is not.

import assert from "node:assert/strict";
import { test } from "node:test";
import { NO_BUGS } from "../../src/core/bugs.ts";
import { CoreWorker } from "../../src/core/core-worker.ts";

function driver(deadNodesKept?: number): CoreWorker {
  const d = new CoreWorker("head/driver", { node: "head", gcs: "head/gcs", maxInlineBytes: 100, maxPendingLeases: 10, maxTasksInFlightPerWorker: 1, pipelineMaxTaskMs: 0, deadNodesKept, bugs: NO_BUGS }, {
    now: () => 0, random: () => 0.5, send: () => {}, setTimer: () => {}, cancelTimer: () => {}, trace: () => {},
    execute: () => {}, complete: () => {}, interrupt: () => {},
  });
  d.start(false);
  return d;
}
const dead = (d: CoreWorker, node: string, incarnation: number) => d.step({ kind: "message", from: "head/gcs", msg: { type: "NodeDead", node, incarnation } });

test("a core worker keeps its latest deadNodesKept dead nodes, the one dead longest forgotten first", () => {
  const d = driver(3);
  for (let i = 1; i <= 3; i++) dead(d, `pod-${i}`, 1);
  dead(d, "pod-1", 2); // died again: now the latest
  dead(d, "pod-4", 1);
  assert.deepEqual([...d.state.deadNodes], [["pod-3", 1], ["pod-1", 2], ["pod-4", 1]]);
  for (let i = 5; i <= 1000; i++) dead(d, `pod-${i}`, 1);
  assert.equal(d.state.deadNodes.size, 3);
  assert.deepEqual([...d.state.deadNodes.keys()], ["pod-998", "pod-999", "pod-1000"]);
});

test("the default is the GCS's deadNodesKept, and a bad one is refused by name", () => {
  const d = driver();
  for (let i = 1; i <= 1500; i++) dead(d, `pod-${i}`, 1);
  assert.equal(d.state.deadNodes.size, 1000);
  assert.throws(() => driver(0), /deadNodesKept must be an integer of at least 1, not 0/);
});
