// The raylet's worker pool on its own: addresses unique per node life, the count of processes
// still starting, one lease per worker, and an actor's worker never returned to the pool.
import assert from "node:assert/strict";
import { test } from "node:test";
import { InvariantError } from "../../src/core/assert.ts";
import { WorkerPool } from "../../src/core/raylet/worker-pool.ts";

const JOB = "head/driver";

function pool(incarnation = 3) {
  const started: string[] = [];
  return { p: new WorkerPool("n1", incarnation, (w) => started.push(w)), started };
}

test("workers are named by node, life and number, and count as starting until they register", () => {
  const { p, started } = pool();
  p.start(JOB);
  p.start(JOB);
  assert.deepEqual(started, ["n1/w3-1", "n1/w3-2"]);
  assert.equal(p.starting, 2);
  assert.equal(p.registered("n1/w3-1"), true);
  assert.equal(p.registered("n1/w3-1"), false, "a repeated registration counts once");
  assert.equal(p.registered("n1/w9-1"), false, "a stranger is not the pool's");
  assert.equal(p.starting, 1);
  assert.equal(p.workers.get("n1/w3-1")!.state, "IDLE");
  assert.equal(p.exited("n1/w3-2")!.state, "STARTING");
  assert.equal(p.starting, 0, "a worker that died starting is no longer counted");
  assert.equal(p.exited("n1/w3-2"), undefined);
});

test("a leased worker serves one lease; returned, it is idle again; destroyed, it leaves the pool", () => {
  const { p, started } = pool();
  p.start(JOB);
  const w = started[0]!;
  p.registered(w);
  p.lease(w, "L1", false);
  assert.throws(() => p.lease(w, "L2", false), InvariantError);
  assert.equal(p.leaseEnded(w, false, 0), "idle");
  assert.deepEqual(p.idle, [w]);
  assert.equal(p.takeIdle(JOB, false), w);
  p.lease(w, "L2", false);
  assert.equal(p.leaseEnded(w, true, 0), "killed");
  assert.equal(p.workers.has(w), false);
  assert.equal(p.leaseEnded(w, false, 0), undefined, "a worker gone from the pool is not returned to it");
});

test("an actor's worker is killed when its lease ends, even if the caller does not ask", () => {
  const { p, started } = pool();
  p.start(JOB);
  const w = started[0]!;
  p.registered(w);
  p.lease(w, "L1", true);
  assert.equal(p.workers.get(w)!.state, "ACTOR");
  assert.equal(p.leaseEnded(w, false, 0), "killed");
  assert.deepEqual(p.idle, []);
});

test("an idle worker that exits leaves the idle list; clearing the pool names every worker to kill", () => {
  const { p, started } = pool();
  for (let i = 0; i < 3; i++) p.start(JOB);
  p.registered(started[0]!);
  p.park(started[0]!, 0);
  p.registered(started[1]!);
  p.park(started[1]!, 0);
  p.exited(started[0]!);
  assert.deepEqual(p.idle, [started[1]]);
  assert.deepEqual(p.clear().sort(), [started[1], started[2]].sort());
  assert.equal(p.workers.size, 0);
  assert.equal(p.starting, 0);
  assert.deepEqual(p.idle, []);
});

test("the workers starting for a job are counted by job (a failed start is replaced for its own job)", () => {
  const { p } = pool();
  p.start(JOB);
  p.start("head/driver-2");
  p.start("head/driver-2");
  assert.equal(p.startingFor(JOB), 1);
  assert.equal(p.startingFor("head/driver-2"), 2);
  p.registered("n1/w3-2");
  assert.equal(p.startingFor("head/driver-2"), 1, "a registered worker is starting no more");
  assert.equal(p.startingFor("head/driver-3"), 0);
});

test("the soft limit's count: registered workers, leased, idle or actors', less those asked to exit; the longest idle is asked first, and one that refuses idles again last", () => {
  const { p, started } = pool();
  for (let i = 0; i < 4; i++) p.start(JOB);
  const [a, b, c, d] = started as [string, string, string, string];
  assert.equal(p.live, 0, "a starting worker counted");
  for (const w of [a, b, c]) p.registered(w);
  p.park(a, 1);
  p.park(b, 2);
  p.lease(c, "L1", true);
  assert.equal(p.live, 3);
  assert.equal(p.askExit(7), a, "not the longest idle was asked");
  assert.deepEqual([p.live, p.idle, p.workers.get(a)!.exiting], [2, [b], 7]);
  p.exitRefused(a, 5);
  assert.deepEqual([p.live, p.idle, p.workers.get(a)!.idleSince], [3, [b, a], 5]);
  assert.equal(p.askExit(8), b);
  p.exited(b);
  assert.equal(p.live, 2, "a worker asked to exit was uncounted twice when it went");
  assert.equal(p.leaseEnded(c, false, 9), "killed");
  assert.equal(p.live, 1, "an actor's worker that went is still counted");
  p.exited(d);
  assert.equal(p.live, 1, "a worker that died starting was uncounted");
});
