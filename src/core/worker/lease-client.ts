// The owner's lease client, one queue per scheduling class (tasks with the same function,
// demand and strategy): it asks raylets for worker leases, follows spillbacks, pushes queued
// tasks to the leased workers (several at once while the class's tasks are short), and gives
// each lease back when its class has nothing more to run on it.

import { InvariantError } from "../assert.ts";
import { generatorAttemptLost } from "./generators.ts";
import { rerunOf } from "./generator-lineage.ts";
import { dropOutputWhenDead, settleCancelled } from "./cancellation.ts";
import { Fifo } from "../fifo.ts";
import { nextTaskState } from "../lifecycle/task.ts";
import { localityNode } from "../scheduler.ts";
import { nodeOf, rayletAddr, specWith, type Addr, type ErrorInfo, type NodeId, type ObjectId, type PlacementGroupId, type TaskSpec } from "../types.ts";
import type { Ctx } from "./context.ts";
import { buried } from "./object-recovery.ts";
import { groupRemovedError, inGroup } from "./placement-groups.ts";
import { finishTask, retryUncharged, taskEnded, type OwnedTask } from "./task-manager.ts";

export interface Lease {
  readonly leaseId: string;
  readonly worker: Addr;
  /** The scheduling class it serves. */
  readonly c: SchedClass;
  /** Tasks pushed to it and not answered yet, in the order its worker runs them. */
  readonly running: OwnedTask[];
  /** The task its worker was running when it sent tasks back (it blocked): nothing more is pushed until that one answers. */
  blockedBy: OwnedTask | undefined;
}

export interface LeaseReq {
  readonly c: SchedClass;
  /** The task whose arguments the request asked the raylet to stage: the lease goes to it. */
  readonly task: OwnedTask;
  /** The node whose raylet was asked: if it dies, the request is lost. */
  readonly node: NodeId;
}

export interface SchedClass {
  readonly key: string;
  readonly ready: Fifo<OwnedTask>;
  pendingRequests: number;
  readonly leases: Set<Lease>;
  /** How long its latest task ran on its worker: the class is pipelined only while that is short. */
  taskMs: number;
  /**
   * SPREAD: each task gets a lease of its own (none reused, none pipelined), so the raylets'
   * round-robin spreads short tasks too, as Ray spreads each task of a SPREAD class.
   */
  readonly spread: boolean;
  /** The placement group its tasks run in, if any: the class lasts no longer than the group's work (see enqueue). */
  readonly group: PlacementGroupId | undefined;
}

export interface LeaseClient {
  readonly classes: Map<string, SchedClass>;
  /** Lease requests in flight, by request id. */
  readonly leaseReqs: Map<number, LeaseReq>;
  /** Leases granted to this owner, by id: a duplicated grant must not be returned. */
  readonly granted: Set<string>;
}

export function newLeaseClient(): LeaseClient {
  return { classes: new Map(), leaseReqs: new Map(), granted: new Set() };
}

export function enqueue(w: Ctx, t: OwnedTask): void {
  const s = t.spec.strategy;
  // Its group was removed (here): it would wait for a bundle for ever. So does a retry of a task
  // whose worker went with the group's bundles.
  if (inGroup(s) && w.removedGroups.has(s.placementGroup)) return failGroupRemoved(w, t, s.placementGroup);
  const key = t.classKey;
  let c = w.classes.get(key);
  if (!c) {
    forgetIdleGroupClasses(w);
    c = { key, ready: new Fifo(), pendingRequests: 0, leases: new Set(), taskMs: Infinity, spread: s === "SPREAD", group: inGroup(s) ? s.placementGroup : undefined };
    w.classes.set(key, c);
  }
  // No lease is ever idle (a free one runs the next task or goes back), so queue and ask.
  c.ready.push(t);
  requestLeases(w, c);
}

/**
 * Classes of placement groups with nothing queued, asked for or leased go, before a new class is
 * made: each group has classes of its own, and groups come and go, so a long-lived owner would
 * keep every group's for ever (Ray's owner drops any class in that state). Another class is one
 * of the program's functions and options, as few as they are; it keeps how long its latest task
 * ran, for the pipelining (a group's class made again starts unpipelined, until a task answers).
 */
function forgetIdleGroupClasses(w: Ctx): void {
  for (const [key, c] of w.classes) if (c.group !== undefined && c.ready.length === 0 && c.pendingRequests === 0 && c.leases.size === 0) w.classes.delete(key);
}

/**
 * This process removed placement group `pgId`: the tasks queued for it fail, and their lease
 * requests are withdrawn (a raylet would keep them waiting for a bundle for ever, and report
 * them to the autoscaler as demand). Tasks running in it fail when their workers, killed with the
 * group's bundles, are reported dead (enqueue refuses their retries). Ray's raylet cancels a
 * removed group's queued tasks alike.
 */
export function groupRemoved(w: Ctx, pgId: PlacementGroupId): void {
  for (const c of w.classes.values()) {
    if (c.group !== pgId) continue;
    for (const [reqId, r] of w.leaseReqs) {
      if (r.c !== c) continue;
      requestEnded(w, reqId, r);
      requestDone(w, c);
      w.fx.send(rayletAddr(r.node), { type: "CancelLease", reqId });
    }
    for (const t of c.ready.drain()) failGroupRemoved(w, t, pgId);
  }
}

/** Fails a task (queued, or whose attempt just failed) of a group this process removed. */
export function failGroupRemoved(w: Ctx, t: OwnedTask, pgId: PlacementGroupId): void {
  t.state = nextTaskState(t.state, { type: "ERRORED", retryable: false });
  finishTask(w, t, { kind: "error", error: groupRemovedError(t.spec.name, pgId), retryable: false });
}

function requestLeases(w: Ctx, c: SchedClass): void {
  // Tasks that have a request are skipped: there are at most pendingRequests of them.
  for (let i = 0; i < c.ready.length && c.pendingRequests < w.cfg.maxPendingLeases; i++) {
    const t = c.ready.at(i)!;
    if (t.requests > 0) continue;
    c.pendingRequests++;
    sendLeaseRequest(w, c, t, leaseTarget(w, t.spec), false);
  }
}

/** The first queued task of the class that no request asks for. */
function unrequested(c: SchedClass): OwnedTask | undefined {
  for (let i = 0; i < c.ready.length; i++) if (c.ready.at(i)!.requests === 0) return c.ready.at(i);
  return undefined;
}

/** A request is over (answered, withdrawn, or lost with its node). */
function requestEnded(w: Ctx, reqId: number, r: LeaseReq): void {
  w.leaseReqs.delete(reqId);
  r.task.requests--;
  if (r.task.requests < 0) throw new InvariantError(`owner ${w.addr}: task ${r.task.spec.taskId} has ${r.task.requests} lease requests`);
}

/** A request's class has one request fewer in flight. */
function requestDone(w: Ctx, c: SchedClass): void {
  c.pendingRequests--;
  if (c.pendingRequests < 0) throw new InvariantError(`owner ${w.addr}: class ${c.key} has ${c.pendingRequests} lease requests in flight`);
}

/**
 * Locality: ask the raylet of the node holding most argument bytes; else the local one. A
 * pinned task asks the local raylet too, which knows whether the node is alive.
 */
function leaseTarget(w: Ctx, spec: TaskSpec): NodeId {
  if (spec.strategy !== "DEFAULT") return w.cfg.node;
  let bytes: Map<NodeId, number> | undefined;
  for (const a of spec.args) {
    if (!("ref" in a)) continue;
    const o = w.owned.get(a.ref);
    const b = w.borrowed.get(a.ref)?.status;
    const nodes = o ? o.nodes : b?.kind === "stored" ? b.nodes : [];
    const size = o ? o.size : b?.kind === "stored" ? b.size : 0;
    for (const n of nodes) {
      // A borrowed status is the owner's answer as it stood then: a node since known dead would
      // never answer the request (any of its lives is passed over: locality is only a hint).
      if (!o && w.deadNodes.has(n)) continue;
      (bytes ??= new Map()).set(n, (bytes.get(n) ?? 0) + size);
    }
  }
  return (bytes && localityNode(bytes)) ?? w.cfg.node;
}

function sendLeaseRequest(w: Ctx, c: SchedClass, task: OwnedTask, node: NodeId, grantOrReject: boolean): void {
  const reqId = w.nextReq++;
  const spec = task.spec;
  w.leaseReqs.set(reqId, { c, task, node });
  task.requests++;
  const deps: { id: ObjectId; owner: Addr }[] = [];
  for (const a of spec.args) if ("ref" in a) deps.push({ id: a.ref, owner: a.owner });
  w.fx.send(rayletAddr(node), {
    type: "RequestLease", reqId,
    req: { resources: spec.resources, strategy: spec.strategy, deps, job: spec.job, grantOrReject, taskId: spec.taskId },
  });
}

export function leaseGranted(w: Ctx, reqId: number, leaseId: string, worker: Addr): void {
  if (w.granted.has(leaseId)) return; // a duplicated grant of a lease in use
  const r = w.leaseReqs.get(reqId);
  if (!r) return w.fx.send(rayletAddr(nodeOf(worker)), { type: "ReturnLease", leaseId, destroyWorker: false });
  const c = r.c;
  requestEnded(w, reqId, r);
  w.granted.add(leaseId);
  requestDone(w, c);
  const lease: Lease = { leaseId, worker, c, running: [], blockedBy: undefined };
  c.leases.add(lease);
  // The raylet staged the arguments of the task the request was for: run that one if it still
  // waits. (Only a SCHEDULING task is queued: one that runs already is not looked for through
  // the whole queue, which holds every task not yet pushed.)
  const t = r.task.state === "SCHEDULING" && c.ready.remove(r.task) ? r.task : c.ready.shift();
  if (t) push(w, c, lease, t);
  fill(w, c, lease);
  // Tasks still queued: keep asking (a class grows to as many workers as the cluster gives it).
  requestLeases(w, c);
}

export function leaseSpillback(w: Ctx, reqId: number, node: NodeId, incarnation: number): void {
  const r = w.leaseReqs.get(reqId);
  if (!r) return;
  requestEnded(w, reqId, r);
  const c = r.c;
  // Follow the task it was for, if that still waits; else serve one that nobody asks for.
  const task = r.task.state === "SCHEDULING" ? r.task : unrequested(c);
  if (!task) return requestDone(w, c);
  // Sent to a node we already buried (the raylet's view lagged): ask our own raylet again.
  if (buried(w, node, incarnation)) return sendLeaseRequest(w, c, task, w.cfg.node, false);
  sendLeaseRequest(w, c, task, node, true);
}

/**
 * A raylet refused the request. A node that could not meet it (asked on a stale view) means:
 * ask the local raylet again, which places it, or keeps it pending until a node that fits joins.
 * A permanent refusal (hard affinity to a dead node) fails every task of the class.
 */
export function leaseRejected(w: Ctx, reqId: number, reason: string, infeasible: boolean): void {
  const r = w.leaseReqs.get(reqId);
  if (!r) return;
  const c = r.c;
  requestEnded(w, reqId, r);
  if (!infeasible) {
    const task = r.task.state === "SCHEDULING" ? r.task : unrequested(c);
    if (task) return sendLeaseRequest(w, c, task, w.cfg.node, false);
    return requestDone(w, c);
  }
  requestDone(w, c);
  // Every task of the class has the same demand: none of them can run anywhere.
  const error: ErrorInfo = { type: "InfeasibleTaskError", message: `task cannot be scheduled: ${reason}` };
  for (const t of c.ready.drain()) {
    t.state = nextTaskState(t.state, { type: "ERRORED", retryable: false });
    finishTask(w, t, { kind: "error", error, retryable: false });
  }
}

/**
 * Keeps a lease busy: queued tasks of its class go to it up to the pipelining window, which is
 * one unless the class's tasks are short (a queued task waits for those ahead of it) and take
 * only values (a worker fetching refs may block, and then sends back what is queued behind).
 * A lease with nothing to run goes back.
 */
function fill(w: Ctx, c: SchedClass, lease: Lease): void {
  const pipelined = !c.spread && lease.blockedBy === undefined && c.taskMs <= w.cfg.pipelineMaxTaskMs;
  const window = pipelined ? w.cfg.maxTasksInFlightPerWorker : 1;
  while (lease.running.length < window) {
    const next = c.ready.at(0);
    if (!next || (lease.running.length > 0 && next.argsByRef)) break;
    push(w, c, lease, c.ready.shift()!);
  }
  if (lease.running.length === 0) returnLease(w, c, lease);
}

function push(w: Ctx, c: SchedClass, lease: Lease, t: OwnedTask): void {
  // A lease runs at most the pipelining window's tasks at once, and a task runs on one lease.
  if (lease.running.length >= w.cfg.maxTasksInFlightPerWorker || t.lease !== undefined) throw new InvariantError(`owner ${w.addr}: task ${t.spec.taskId} pushed to lease ${lease.leaseId} with ${lease.running.length} in flight${t.lease ? `, while on lease ${t.lease.leaseId}` : ""}`);
  lease.running.push(t);
  t.lease = lease;
  t.state = nextTaskState(t.state, { type: "DISPATCHED" });
  w.fx.send(lease.worker, { type: "PushTask", spec: t.spec });
  // A request still staging this task's arguments is moot now; it may even wait on work that
  // needs a lease itself (a lost argument being re-made). Withdraw it and ask for the others.
  // (A request with nothing to stage simply serves whichever task is next when granted.)
  if (!t.argsByRef) return;
  withdrawRequests(w, c, t);
}

/** Withdraws the lease request that stages `t`'s arguments (t runs elsewhere, or not at all), and asks for the others. */
export function withdrawRequests(w: Ctx, c: SchedClass, t: OwnedTask): void {
  for (const [reqId, r] of w.leaseReqs) {
    if (r.task !== t) continue;
    requestEnded(w, reqId, r);
    requestDone(w, c);
    w.fx.send(rayletAddr(r.node), { type: "CancelLease", reqId });
    requestLeases(w, c);
    break;
  }
}

/**
 * ray.cancel with force: the raylet destroys the lease's worker. `t` (the cancelled task) is
 * settled by the caller; any other task pushed onto the lease runs again as a new attempt that
 * its budget does not pay for (the program, not a fault, ended the worker; see retryUncharged).
 */
export function dropLease(w: Ctx, lease: Lease, t: OwnedTask): void {
  const c = lease.c;
  c.leases.delete(lease);
  w.granted.delete(lease.leaseId);
  const node = nodeOf(lease.worker);
  const others: OwnedTask[] = [];
  for (const x of lease.running.splice(0)) {
    x.lease = undefined;
    // It may store a result there that no reply will announce, until it is dead: such a copy is freed then.
    dropOutputWhenDead(w, lease.worker, x.spec.returnId);
    if (x.spec.streaming) generatorAttemptLost(w, x.spec, node);
    if (x !== t) others.push(x);
  }
  if (!w.cfg.bugs.has("cancel-leaks-lease")) w.fx.send(rayletAddr(node), { type: "ReturnLease", leaseId: lease.leaseId, destroyWorker: true });
  for (const x of others) {
    // One cancelled already (not forced, its answer on the way) ends cancelled, as it would
    // have had its worker died.
    if (x.cancelled) settleCancelled(w, x, lease.worker);
    else retryUncharged(w, x, `its worker ${lease.worker} was destroyed to cancel ${t.spec.name}`);
  }
  requestLeases(w, c);
}

function returnLease(w: Ctx, c: SchedClass, lease: Lease): void {
  c.leases.delete(lease);
  w.granted.delete(lease.leaseId);
  if (w.cfg.bugs.has("leak-lease")) return;
  w.fx.send(rayletAddr(nodeOf(lease.worker)), { type: "ReturnLease", leaseId: lease.leaseId, destroyWorker: false });
}

/** A pipelined task its worker sent back unrun: queue it again, and stop pipelining onto that worker for now. */
export function taskBounced(w: Ctx, taskId: string, returnId: ObjectId, attempt: number, bounces: number): void {
  // A generator task done already may be running again, to remake its lost items: that re-run is bounced too.
  const t = w.owned.get(returnId)?.task ?? (w.lineages.size > 0 ? rerunOf(w, taskId) : undefined);
  if (!t || t.spec.taskId !== taskId || t.spec.attempt !== attempt || (t.spec.bounces ?? 0) !== bounces || t.state !== "RUNNING") return;
  const lease = t.lease;
  const i = lease ? lease.running.indexOf(t) : -1;
  if (!lease || i < 0) return;
  lease.running.splice(i, 1);
  // The worker runs its tasks in order: the oldest unanswered one is the one that blocked.
  lease.blockedBy = lease.running[0];
  t.lease = undefined;
  t.spec = specWith(t.spec, "bounces", bounces + 1);
  t.state = nextTaskState(t.state, { type: "BOUNCED" });
  lease.c.ready.push(t);
  requestLeases(w, lease.c);
}

/** A normal task answered: a slot of its lease is free again, filled from the class's queue or the lease goes back. */
export function leaseSlotFreed(w: Ctx, t: OwnedTask, runMs: number | undefined): void {
  const lease = t.lease;
  t.lease = undefined;
  const i = lease ? lease.running.indexOf(t) : -1;
  if (lease && i >= 0) {
    // Answers come in the order the worker runs its tasks: the oldest goes (splice would make an array per task).
    if (i === 0) lease.running.shift();
    else lease.running.splice(i, 1);
    if (runMs !== undefined) lease.c.taskMs = runMs;
    if (lease.blockedBy === t) lease.blockedBy = undefined;
    if (!lease.c.spread) fill(w, lease.c, lease);
    else if (lease.running.length === 0) returnLease(w, lease.c, lease);
  }
}

/** Leases on dead workers: their tasks fail over (retried within budget). */
export function leasesLost(w: Ctx, dead: (worker: Addr) => boolean, why: string): void {
  for (const c of w.classes.values()) {
    for (const l of [...c.leases]) {
      if (!dead(l.worker)) continue;
      c.leases.delete(l);
      w.granted.delete(l.leaseId);
      for (const t of l.running.splice(0)) {
        t.lease = undefined;
        // The attempt may have stored its result there before its worker died, and the reply
        // that would have told us never came: free any such copy, or it outlives every reference.
        const node = nodeOf(l.worker);
        if (!w.owned.get(t.spec.returnId)?.nodes.includes(node)) w.fx.send(rayletAddr(node), { type: "FreeObjects", ids: [t.spec.returnId], orphaned: true });
        if (t.spec.streaming) generatorAttemptLost(w, t.spec, node);
        taskEnded(w, t, { kind: "error", retryable: true, error: { type: "WorkerCrashedError", message: `task ${t.spec.name} failed: ${why}` } });
      }
    }
    requestLeases(w, c);
  }
}

/** Requests queued at a dead node's raylet died with it: ask again elsewhere. */
export function requestsLostWith(w: Ctx, node: NodeId): void {
  const retry = new Set<SchedClass>();
  for (const [reqId, r] of [...w.leaseReqs]) {
    if (r.node !== node) continue;
    requestEnded(w, reqId, r);
    requestDone(w, r.c);
    retry.add(r.c);
  }
  for (const c of retry) requestLeases(w, c);
}
