// The soft limit on a node's workers, as Ray's raylet keeps it: while more workers are
// registered (of every job, leased, idle or actors') than the limit (the node's CPUs unless
// set), those idle for idleWorkerKillingMs are asked to exit, longest idle first, and killed
// only if they agree (a worker that owns something refuses). A worker asked is leased to nobody
// until it answers.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { LeaseRequest, Msg } from "../../src/core/messages.ts";
import type { ModelTuning } from "../../src/core/tuning.ts";
import { rayletHost } from "../helpers/raylet-host.ts";

const A = "head/driver-a";

function raylet(cpus: number, tuning: Partial<ModelTuning> = {}) {
  const r = rayletHost({ cpus, tuning });
  /** A lease of job `job` that needs `cpu` CPUs (0: any number of them fit). */
  const lease = (reqId: number, cpu = 0, extra: Partial<LeaseRequest> = {}, from = A) => {
    const req: LeaseRequest = { resources: cpu > 0 ? { CPU: cpu } : {}, strategy: "DEFAULT", deps: [], job: A, grantOrReject: false, taskId: `t${reqId}`, ...extra };
    r.h.message(from, { type: "RequestLease", reqId, req });
  };
  const register = (worker: string) => r.h.message(worker, { type: "RegisterWorker", worker, driver: false });
  const grantee = (reqId: number, holder = A) => r.sent.find((s) => s.to === holder && s.m.type === "LeaseGranted" && s.m.reqId === reqId)?.m as { leaseId: string; worker: string } | undefined;
  const back = (reqId: number, holder = A) => r.h.message(holder, { type: "ReturnLease", leaseId: grantee(reqId, holder)!.leaseId, destroyWorker: false });
  /** The Exit requests sent, to whom. */
  const exits = () => r.sent.flatMap((s) => (s.m.type === "Exit" ? [{ to: s.to, ask: s.m.ask }] : []));
  const reply = (worker: string, ask: number, exiting: boolean) => r.h.message(worker, { type: "ExitReply", ask, exiting } satisfies Msg);
  /** `n` workers of job A, leased one after another and given back in that order (the first idles longest). */
  const idleWorkers = (n: number) => {
    for (let i = 1; i <= n; i++) lease(i);
    for (const w of [...r.started]) register(w);
    for (let i = 1; i <= n; i++) { back(i); r.advance(1); }
    return [...r.started];
  };
  return { ...r, lease, register, grantee, back, exits, reply, idleWorkers };
}

test("above the soft limit (the node's CPUs), the longest idle worker is asked to exit once it idled long enough, and killed when it agrees", () => {
  const r = raylet(1);
  const [w1, w2] = r.idleWorkers(2);
  r.advance(998 - 1); // w1 idled since t=0, w2 since t=1; now t=999
  assert.deepEqual(r.exits(), [], "asked before it idled idleWorkerKillingMs");
  r.advance(1);
  assert.deepEqual(r.exits().map((e) => e.to), [w1], "not the longest idle worker alone: one is over the limit");
  r.reply(w1, r.exits()[0].ask, true);
  assert.deepEqual(r.killed, [w1]);
  assert.ok(r.traced.some((t) => t.kind === "worker.died" && t.worker === w1), "the kill is not traced");
  assert.ok(r.sent.some((s) => s.to === "head/gcs" && s.m.type === "WorkerDied" && s.m.worker === w1), "the GCS is not told");
  assert.deepEqual(r.h.model.state.idle, [w2]);
  r.advance(10_000);
  assert.equal(r.exits().length, 1, "a worker was asked to exit at the limit");
});

test("at or under the soft limit, idle workers stay however long they idle", () => {
  const r = raylet(2);
  r.idleWorkers(2);
  r.advance(60_000);
  assert.deepEqual(r.exits(), []);
  // workersSoftLimit overrides the CPU count.
  const low = raylet(2, { workersSoftLimit: 0 });
  const [w1, w2] = low.idleWorkers(2);
  low.advance(1000);
  assert.deepEqual(low.exits().map((e) => e.to), [w1, w2]);
});

test("workers that idled equally long are asked only down to the soft limit, not one more", () => {
  const r = raylet(1);
  r.lease(1);
  r.lease(2);
  for (const w of [...r.started]) r.register(w);
  r.back(1);
  r.back(2); // both idle since t=0, so both fall due together
  r.advance(1000);
  assert.deepEqual(r.exits().map((e) => e.to), [r.started[0]], "the node was taken under its soft limit");
});

test("a worker that owns something refuses: it idles again, from its answer, and a late answer to an earlier ask is not taken for the next", () => {
  const r = raylet(1, { idleWorkerKillingMs: 500 });
  const [w1, w2] = r.idleWorkers(2);
  r.advance(500);
  const first = r.exits()[0];
  assert.equal(first.to, w1);
  r.reply(w1, first.ask, false);
  assert.deepEqual(r.killed, []);
  assert.deepEqual(r.h.model.state.idle, [w2, w1], "the refusing worker is not idle again, behind the others");
  // w2 idled long enough now: it is asked next.
  r.advance(1);
  assert.deepEqual(r.exits().map((e) => e.to), [w1, w2]);
  r.reply(w2, r.exits()[1].ask, false);
  r.advance(500);
  const again = r.exits().filter((e) => e.to === w1);
  assert.equal(again.length, 2, "the refusing worker was not asked again once it idled long enough since");
  r.reply(w1, first.ask, true); // the network repeated the first answer, changed by nothing since
  assert.deepEqual(r.killed, [], "an answer to an earlier ask killed the worker");
  r.reply(w1, again[1].ask, true);
  assert.deepEqual(r.killed, [w1]);
});

test("a worker idle under the limit is asked once workers that start leased take the node over it", () => {
  const r = raylet(2);
  const [idle] = r.idleWorkers(1);
  r.advance(5000);
  const B = "head/driver-b"; // another job's: they cannot take the idle worker
  r.lease(10, 1, { job: B }, B);
  r.lease(11, 1, { job: B }, B);
  for (const w of r.started.slice(1)) r.register(w);
  assert.ok(r.grantee(10, B) && r.grantee(11, B));
  r.advance(0);
  assert.deepEqual(r.exits().map((e) => e.to), [idle], "the worker idle longest was not asked when the node went over its limit");
});

test("a worker asked to exit is leased to nobody until it answers", () => {
  const r = raylet(1);
  const [w1, w2] = r.idleWorkers(2);
  r.advance(1000);
  assert.deepEqual(r.exits().map((e) => e.to), [w1]);
  r.lease(10);
  assert.equal(r.grantee(10)?.worker, w2);
  r.lease(11);
  assert.equal(r.grantee(11), undefined, "the worker asked to exit was leased");
  assert.equal(r.started.length, 3, "no worker was started for the lease");
});

test("workers leased or hosting an actor count toward the limit but are never asked; one of an ended job goes with it, and its answer changes nothing", () => {
  const r = raylet(1);
  r.lease(1);
  r.lease(2, 0, { actorId: "actor-x", grantOrReject: true }, "head/gcs");
  r.lease(3);
  for (const w of [...r.started]) r.register(w);
  const [leased, actor, idle] = [r.grantee(1)!.worker, r.grantee(2, "head/gcs")!.worker, r.grantee(3)!.worker];
  r.back(3);
  r.advance(5000);
  assert.deepEqual(r.exits().map((e) => e.to), [idle], "only the idle worker goes, though three are over a limit of one");
  r.h.message("head/gcs", { type: "WorkerDied", worker: A });
  assert.ok(r.killed.includes(idle) && r.killed.includes(leased) && r.killed.includes(actor));
  const kills = r.killed.length;
  r.reply(idle, r.exits()[0].ask, true);
  assert.equal(r.killed.length, kills, "a worker gone with its job was killed again on its answer");
});

test("workersSoftLimit and idleWorkerKillingMs are checked, naming the knob", () => {
  assert.throws(() => raylet(1, { workersSoftLimit: -1 }), /workersSoftLimit must be an integer of at least 0, not -1/);
  assert.throws(() => raylet(1, { workersSoftLimit: 1.5 }), /workersSoftLimit/);
  assert.throws(() => raylet(1, { idleWorkerKillingMs: -1 }), /idleWorkerKillingMs must be a finite number of at least 0, not -1/);
  assert.throws(() => raylet(1, { idleWorkerKillingMs: Number.NaN }), /idleWorkerKillingMs/);
});
