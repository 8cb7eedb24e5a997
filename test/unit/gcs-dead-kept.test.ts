// The GCS remembers a bounded number of dead nodes and of actors dead for good (Ray's caches of
// them): past the bound the longest dead is forgotten, in memory, in storage and (a node) in the
// views it broadcasts, so nodes that come and go (autoscaling) and actors made in a loop do not
// grow its tables, and every view, without end.
import assert from "node:assert/strict";
import test from "node:test";
import type { Msg } from "../../src/core/messages.ts";
import { gcsHost } from "../helpers/gcs-host.ts";

function cluster(deadNodesKept: number, rows?: ReturnType<typeof gcsHost>["rows"], recover = false) {
  const h = gcsHost({ tuning: { deadNodesKept }, rows, recover });
  h.g.model.start();
  const join = (node: string, incarnation = 1) => h.g.message(`${node}/raylet`, { type: "RegisterNode", node, incarnation, resources: { CPU: 1 } });
  const die = (node: string) => h.g.message(`${node}/raylet`, { type: "DrainReply", node, accepted: true, reason: "idle" });
  const known = () => [...h.g.model.state.nodes].map(([id, n]) => `${id}:${n.state === "DEAD" ? "dead" : "alive"}`);
  const stored = () => [...h.rows.get("nodes")!.keys()].sort();
  const lastView = () => {
    const views = h.sent.filter((s): s is { to: string; m: Extract<Msg, { type: "ClusterView" }> } => s.m.type === "ClusterView");
    return views[views.length - 1].m.nodes.map((v) => `${v.node}:${v.alive ? "alive" : "dead"}`);
  };
  return { ...h, join, die, known, stored, lastView };
}

test("past deadNodesKept the longest-dead node is forgotten: table, storage and view", () => {
  const c = cluster(2);
  for (const n of ["n1", "n2", "n3", "n4"]) c.join(n);
  c.die("n1");
  c.die("n2");
  assert.deepEqual(c.known(), ["n1:dead", "n2:dead", "n3:alive", "n4:alive"]);
  c.die("n3");
  assert.deepEqual(c.known(), ["n2:dead", "n3:dead", "n4:alive"]);
  assert.deepEqual(c.stored(), ["n2", "n3", "n4"]);
  assert.deepEqual(c.lastView(), ["n2:dead", "n3:dead", "n4:alive"]);
});

test("a dead node that comes back in a new life is no longer counted among the dead", () => {
  const c = cluster(2);
  for (const n of ["n1", "n2", "n3"]) c.join(n);
  c.die("n1");
  c.die("n2");
  c.join("n1", 2);
  c.die("n3");
  assert.deepEqual(c.known(), ["n1:alive", "n2:dead", "n3:dead"], "n1's new life stays, and n2 is not forgotten: two nodes are dead");
  c.die("n1");
  assert.deepEqual(c.known(), ["n1:dead", "n3:dead"], "n2 was dead longest");
});

test("a GCS restarted from storage with a lower bound forgets the dead beyond it", () => {
  const first = cluster(10);
  for (const n of ["n1", "n2", "n3", "n4"]) first.join(n);
  for (const n of ["n1", "n2", "n3"]) first.die(n);
  const again = cluster(2, first.rows, true);
  assert.deepEqual(again.known(), ["n2:dead", "n3:dead", "n4:alive"]);
  assert.deepEqual(again.stored(), ["n2", "n3", "n4"]);
  // The view changed though no node did: the next period tells the live raylets.
  again.g.model.step({ kind: "timer", timer: { kind: "period" } });
  assert.deepEqual(again.lastView(), ["n2:dead", "n3:dead", "n4:alive"]);
});

test("deadNodesKept and deadActorsKept below 1 are refused, naming the knob", () => {
  assert.throws(() => gcsHost({ tuning: { deadNodesKept: 0 } }), /deadNodesKept must be an integer of at least 1, not 0/);
  assert.throws(() => gcsHost({ tuning: { deadNodesKept: 2.5 } }), /deadNodesKept/);
  assert.throws(() => gcsHost({ tuning: { deadActorsKept: 0 } }), /deadActorsKept must be an integer of at least 1, not 0/);
});

function actors(deadActorsKept: number, rows?: ReturnType<typeof gcsHost>["rows"], recover = false) {
  const h = gcsHost({ tuning: { deadActorsKept }, rows, recover });
  h.g.message("head/raylet", { type: "RegisterNode", node: "head", incarnation: 1, resources: { CPU: 8 } });
  const create = (actorId: string, detached = false) => h.g.message(DRIVER, {
    type: "CreateActor", spec: { actorId, fn: "C:1", className: "C", args: [], owner: DRIVER, job: detached ? actorId : DRIVER, resources: { CPU: 1 }, strategy: "DEFAULT", maxRestarts: 1, maxTaskRetries: 0, detached },
  });
  const kill = (actorId: string) => h.g.message(DRIVER, { type: "KillActor", actorId });
  const known = () => [...h.g.model.state.actors].map(([id, a]) => `${id}:${a.state === "DEAD" ? "dead" : "live"}`);
  const stored = () => [...h.rows.get("actors")!.keys()];
  return { ...h, create, kill, known, stored };
}
const DRIVER = "head/driver";

test("past deadActorsKept the actor dead longest is forgotten, its row too; live actors never are", () => {
  const c = actors(2);
  for (const a of ["a", "b", "c", "d"]) c.create(a);
  c.kill("b");
  c.kill("a");
  assert.deepEqual(c.known(), ["a:dead", "b:dead", "c:live", "d:live"]);
  c.kill("d");
  assert.deepEqual(c.known(), ["a:dead", "c:live", "d:dead"], "b died first");
  assert.deepEqual(c.stored(), ["a", "c", "d"]);
});

test("a GCS restarted from storage with a lower actor bound forgets the dead beyond it", () => {
  const first = actors(10);
  for (const a of ["a", "b", "c", "d"]) first.create(a);
  for (const a of ["a", "b", "c"]) first.kill(a);
  const again = actors(1, first.rows, true);
  assert.deepEqual(again.known(), ["c:dead", "d:live"]);
  assert.deepEqual(again.stored(), ["c", "d"]);
});

test("a node declared dead hears its own death (to fence itself), and no news after it", () => {
  const c = cluster(4);
  for (const n of ["n1", "n2", "n3"]) c.join(n);
  c.die("n1");
  c.die("n2");
  const deaths = (to: string) => c.sent.flatMap((s) => (s.to === to && s.m.type === "NodeDead" ? [s.m.node] : []));
  assert.deepEqual(deaths("n1/raylet"), ["n1"]);
  assert.deepEqual(deaths("n2/raylet"), ["n1", "n2"]);
  assert.deepEqual(deaths("n3/raylet"), ["n1", "n2"]);
});
