// Workers are bound to jobs, as in Ray: a raylet grants a job's lease only to an idle worker of
// that job (starting one otherwise), and kills a job's workers when its driver dies, idle or
// leased, except those of a detached actor (a job of its own). A later job's task never runs on
// a worker holding an earlier job's globals or objects.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { LeaseRequest } from "../../src/core/messages.ts";
import { rayletHost } from "../helpers/raylet-host.ts";

const A = "head/driver-a";
const B = "head/driver-b";

function raylet(cpus: number) {
  const r = rayletHost({ cpus });
  const req = (job: string, taskId: string, extra: Partial<LeaseRequest> = {}): LeaseRequest => ({ resources: { CPU: 1 }, strategy: "DEFAULT", deps: [], job, grantOrReject: false, taskId, ...extra });
  const lease = (from: string, reqId: number, job: string, extra: Partial<LeaseRequest> = {}) => r.h.message(from, { type: "RequestLease", reqId, req: req(job, `t${reqId}`, extra) });
  const register = (worker: string) => r.h.message(worker, { type: "RegisterWorker", worker, driver: false });
  /** The worker granted to `holder`'s request `reqId`. */
  const grantee = (holder: string, reqId: number) => r.sent.find((s) => s.to === holder && s.m.type === "LeaseGranted" && s.m.reqId === reqId)?.m as { leaseId: string; worker: string } | undefined;
  const back = (holder: string, leaseId: string) => r.h.message(holder, { type: "ReturnLease", leaseId, destroyWorker: false });
  return { ...r, lease, register, grantee, back };
}

test("a job's lease never takes another job's idle worker: a worker is started for it, and each job reuses its own", () => {
  const r = raylet(2);
  r.lease(A, 1, A);
  r.register(r.started[0]!);
  const a1 = r.grantee(A, 1)!;
  r.back(A, a1.leaseId);
  assert.deepEqual(r.h.model.state.idle, [a1.worker]);
  r.lease(B, 1, B);
  assert.equal(r.grantee(B, 1), undefined, "job B was granted job A's idle worker");
  assert.equal(r.started.length, 2, "no worker was started for job B");
  r.register(r.started[1]!);
  const b1 = r.grantee(B, 1)!;
  assert.equal(b1.worker, r.started[1]);
  r.lease(A, 2, A);
  assert.equal(r.grantee(A, 2)?.worker, a1.worker, "job A's next lease did not reuse its idle worker");
  assert.equal(r.started.length, 2);
  const jobs = new Map<string, Set<string>>();
  for (const t of r.traced) if (t.kind === "lease.granted") jobs.set(t.worker, (jobs.get(t.worker) ?? new Set()).add(t.job));
  assert.deepEqual([...jobs].map(([w, j]) => [w, [...j]]), [[a1.worker, [A]], [b1.worker, [B]]]);
});

test("a worker started for one job waits idle rather than take a lease of another waiting for a worker", () => {
  const r = raylet(2);
  r.lease(A, 1, A);
  r.lease(B, 1, B);
  // The worker started second (for B) registers first: it takes B's lease, not A's.
  r.register(r.started[1]!);
  assert.equal(r.grantee(A, 1), undefined);
  assert.equal(r.grantee(B, 1)?.worker, r.started[1]);
  r.register(r.started[0]!);
  assert.equal(r.grantee(A, 1)?.worker, r.started[0]);
});

test("a driver's death kills its job's workers here, idle or leased (a nested task's, an actor's), and no other job's or detached actor's", () => {
  const r = raylet(7);
  // Job A: an idle worker, a worker leased by the driver, one leased by a worker of A (a nested
  // task), and an actor's worker (leased by the GCS). A detached actor (its own job), and job B.
  r.lease(A, 1, A);
  r.lease(A, 2, A);
  r.lease(A, 3, A);
  r.lease("head/gcs", 4, A, { actorId: "actor-a", grantOrReject: true });
  r.lease("head/gcs", 5, "actor-d", { actorId: "actor-d", grantOrReject: true });
  r.lease(B, 6, B);
  for (const w of [...r.started]) r.register(w);
  const [idle, byDriver, nested, actor] = [r.grantee(A, 1)!, r.grantee(A, 2)!, r.grantee(A, 3)!, r.grantee("head/gcs", 4)!];
  const detached = r.grantee("head/gcs", 5)!;
  const other = r.grantee(B, 6)!;
  // A task of A running on a worker of A submits a child: that worker holds the child's lease.
  r.lease(nested.worker, 7, A);
  r.register(r.started.at(-1)!);
  const child = r.grantee(nested.worker, 7)!;
  assert.ok(child);
  r.back(A, idle.leaseId);
  r.h.message("head/gcs", { type: "WorkerDied", worker: A });
  const gone = [idle.worker, byDriver.worker, nested.worker, actor.worker, child.worker];
  assert.deepEqual([...r.killed].sort(), [...gone].sort());
  const ended = r.traced.filter((t) => t.kind === "job.ended");
  assert.deepEqual(ended, [{ kind: "job.ended", comp: "raylet", job: A, workers: [idle.worker, byDriver.worker, nested.worker, actor.worker, child.worker].sort((x, y) => r.started.indexOf(x) - r.started.indexOf(y)) }]);
  for (const w of gone) assert.ok(r.traced.some((t) => t.kind === "worker.died" && t.worker === w), `${w}'s death is not traced`);
  assert.deepEqual([...r.h.model.state.workers.keys()].sort(), [detached.worker, other.worker].sort());
  assert.deepEqual(r.h.model.state.available, { CPU: 5 }, "the job's leases did not come back");
  // A request of the ended job that arrives late (its sender dies next) starts no worker.
  const before = r.started.length;
  r.h.message("head/gcs", { type: "RequestLease", reqId: 8, req: { resources: { CPU: 1 }, strategy: "DEFAULT", deps: [], job: A, actorId: "actor-a2", grantOrReject: true, taskId: "t8" } });
  assert.equal(r.started.length, before);
});

test("a worker of an ended job goes when it registers or its lease comes back, rather than idle for ever", () => {
  const r = raylet(2);
  r.lease("node-2/w1-1", 1, A);
  r.lease("head/gcs", 2, A, { actorId: "x", grantOrReject: true });
  r.register(r.started[0]!);
  const leased = r.grantee("node-2/w1-1", 1)!;
  r.h.message("head/gcs", { type: "WorkerDied", worker: A });
  assert.ok(r.killed.includes(leased.worker));
  // The GCS's actor request of A was dropped with the job; the worker started for it registers late.
  r.register(r.started[1]!);
  assert.ok(r.killed.includes(r.started[1]!), "a worker of an ended job was parked");
  assert.deepEqual(r.h.model.state.idle, []);
});
