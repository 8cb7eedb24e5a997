// The raylet: one per node. Registers with the GCS and heartbeats; accounts the node's
// resources; grants worker leases from its local queue or spills them back to a better node;
// runs the worker pool; stages task arguments (the dependency manager); and moves objects
// between nodes in chunks (the object manager) around the node's object store.

import { InvariantError, assertNever } from "./assert.ts";
import type { Bugs } from "./bugs.ts";
import type { RayletEffects } from "./effects.ts";
import type { LeaseRequest, RayletMsg, WorkerMsg } from "./messages.ts";
import { ObjectStore } from "./object-store.ts";
import type { RayletInput, RayletTimer } from "./raylet/inputs.ts";
import {
  chunk, fetch, finishPull, freeObjects, locations, lostWithOwner, ownerDied, pullFailed, releaseDeps, restored, retryPuts, servePull, storeGet, storePeek, transfersLost,
  storePut, newObjectManagerState, PUT_RETRY_MS, type ObjectManagerState,
  ownersDied,
} from "./raylet/object-manager.ts";
import { bundleFor, freeFor, giveBack, inGroup, prepareBundles, releaseBundles, releaseOrphanedBundles, setFree, type Bundle } from "./raylet/bundles.ts";
import { WorkerPool } from "./raylet/worker-pool.ts";
import { fits, subtract, type ResourceSet } from "./resources.ts";
import { mergeDemands } from "./gcs/demands.ts";
import { place } from "./scheduler.ts";
import { RecentDeaths } from "./recent-deaths.ts";
import {
  diedWithNode, nodeOf, type Addr, type JobId, type NodeId, type NodeView, type ObjectId, type PendingDemand,
} from "./types.ts";

export type { RayletInput, RayletTimer } from "./raylet/inputs.ts";

export interface RayletConfig {
  readonly node: NodeId;
  /** How many times this node has started: keeps worker and lease ids unique across restarts. */
  readonly incarnation: number;
  /** Where this node's daemon listens (daemon hosts only). */
  readonly endpoint?: string;
  readonly gcs: Addr;
  readonly resources: ResourceSet;
  readonly storeCapacity: number;
  readonly heartbeatMs: number;
  /** Bytes per object-transfer chunk. */
  readonly chunkBytes: number;
  /** How long a put may wait for space before failing with ObjectStoreFullError. */
  readonly storeFullTimeoutMs: number;
  /** Registered workers kept beyond need (absent: the node's CPUs); see ModelTuning.workersSoftLimit. */
  readonly workersSoftLimit?: number;
  /** How long a worker idles before it may be asked to exit for the soft limit. */
  readonly idleWorkerKillingMs: number;
  /** Worker and driver deaths remembered (absent: RecentDeaths' default); see ModelTuning.deadWorkersKept. */
  readonly deadWorkersKept?: number;
  readonly bugs: Bugs;
}

export interface QueuedLease {
  readonly from: Addr;
  readonly reqId: number;
  readonly req: LeaseRequest;
  /** Dependencies still being fetched to this node. */
  missing: number;
  /** Withdrawn (cancelled, spilled elsewhere, or its holder died): arriving arguments are not pinned for it. */
  dropped?: boolean;
}

interface Lease {
  readonly worker: Addr;
  /** Its task is blocked in a get: the resources are lent back to the node meanwhile. */
  blocked?: boolean;
  /** Who asked for it (an owner, or the GCS for an actor): it dies with them. */
  readonly holder: Addr;
  /** The job whose work it runs (its worker's). */
  readonly job: JobId;
  readonly resources: ResourceSet;
  /** The placement-group bundle it runs in (its resources come from the bundle's). */
  readonly bundle?: string;
  readonly deps: readonly ObjectId[];
}

/** The latest life of a node that its view row shows over (0: none, or no row). */
function lifeOver(v: NodeView | undefined): number {
  return v === undefined ? 0 : v.alive ? v.incarnation - 1 : v.incarnation;
}

/**
 * Whether view `next` shows a node life over that `prev` did not. Views come in the GCS's node
 * order, so a row is looked for at its own index first: every raylet compares every view it
 * gets, and a search per row would cost the square of the cluster's size.
 */
function showsNewDeaths(prev: readonly NodeView[], next: readonly NodeView[]): boolean {
  for (let i = 0; i < next.length; i++) {
    const n = next[i];
    const before = prev[i]?.node === n.node ? prev[i] : rowOf(prev, n.node);
    if (lifeOver(n) > lifeOver(before)) return true;
  }
  return false;
}

/** A node's row in a view. A plain loop: a closure over the row would give every turn of the loop above a context to allocate. */
function rowOf(view: readonly NodeView[], node: NodeId): NodeView | undefined {
  for (const v of view) if (v.node === node) return v;
  return undefined;
}

export const REGISTER_RETRY_MS = 200;
const REGISTER: RayletTimer = { kind: "register" };
const HEARTBEAT: RayletTimer = { kind: "heartbeat" };
const IDLE_WORKERS: RayletTimer = { kind: "idle-workers" };
export class Raylet {
  readonly store: ObjectStore;
  private available: ResourceSet;
  private registered = false;
  /** The cluster as the GCS last described it (the object manager reads which nodes are alive). */
  view: NodeView[] = [];
  private spreadCursor = 0;
  private nextLease = 1;
  /** This node's worker processes (raylet/worker-pool.ts). */
  readonly pool: WorkerPool;
  /** Blocked workers asking for their resources back, served before new leases. */
  private unblocks: Addr[] = [];
  /** Granted leases waiting for a worker process to start. */
  readonly awaitingWorker: { q: QueuedLease; leaseId: string; bundle?: string }[] = [];
  readonly leases = new Map<string, Lease>();
  /** Lease requests placed here, in arrival order. */
  private queue: QueuedLease[] = [];
  /**
   * Requests no live node can meet (Ray's infeasible queue), with when they started waiting:
   * reported to the GCS as pending demands, placed again whenever the cluster view changes.
   */
  private infeasible: { q: QueuedLease; since: number }[] = [];
  /** Placement-group bundles reserved here, by `bundleKey`. */
  readonly bundles = new Map<string, Bundle>();
  /** The object manager's pending work: pulls, restores, puts waiting for space (raylet/object-manager.ts). */
  readonly objects: ObjectManagerState = newObjectManagerState();
  /** Core workers on this node (workers and drivers): they hear failure news through us. */
  private readonly clients = new Set<Addr>();
  /** Recent worker deaths, resent to a restarted GCS (which may have missed them while down). */
  private readonly deaths: Addr[] = [];
  /** Workers and drivers known dead, here or anywhere (published, or told at registration): they are granted nothing. */
  private readonly deadWorkers: RecentDeaths;
  /** Set once this node learns the GCS declared it dead: it fences itself and does nothing more. */
  private fenced = false;
  /** When the node last held work (see `busyWith`): its idle time is measured from here. */
  private busySince = 0;
  /** Set once it accepted a drain: it takes no new work while the GCS removes it. */
  private draining = false;
  /** The soft limit on registered workers (Ray's num_workers_soft_limit: the node's CPUs unless set). */
  private readonly softLimit: number;
  /** When the idle-workers timer is armed for (the longest idle worker's deadline); undefined: not armed. */
  private idleTimerAt: number | undefined;
  /** Exit requests sent (each worker's answer names the one it answers). */
  private exitAsks = 0;

  constructor(readonly addr: Addr, readonly cfg: RayletConfig, readonly fx: RayletEffects) {
    this.store = new ObjectStore(cfg.storeCapacity, fx, cfg.bugs.has("evict-primary"));
    this.available = cfg.resources;
    this.pool = new WorkerPool(cfg.node, cfg.incarnation, (w) => fx.startWorker(w));
    this.deadWorkers = new RecentDeaths(cfg.deadWorkersKept);
    this.softLimit = cfg.workersSoftLimit ?? Math.floor(cfg.resources.CPU ?? 0);
    if (!Number.isInteger(this.softLimit) || this.softLimit < 0) throw new Error(`raylet ${cfg.node}: workersSoftLimit must be an integer of at least 0, not ${cfg.workersSoftLimit}`);
    if (!Number.isFinite(cfg.idleWorkerKillingMs) || cfg.idleWorkerKillingMs < 0) throw new Error(`raylet ${cfg.node}: idleWorkerKillingMs must be a finite number of at least 0, not ${cfg.idleWorkerKillingMs}`);
  }

  get node(): NodeId { return this.cfg.node; }

  /** The state, as plain records (for tests and debugging: do not change it). */
  get state() {
    return {
      registered: this.registered, fenced: this.fenced, available: this.available, view: this.view, workers: this.pool.workers, idle: this.pool.idle,
      startingWorkers: this.pool.starting, awaitingWorker: this.awaitingWorker, unblocks: this.unblocks, queue: this.queue, leases: this.leases, infeasible: this.infeasible, bundles: this.bundles,
      clients: this.clients, deaths: this.deaths, objects: this.objects,
      store: { used: this.store.usedBytes, ids: [...this.store.ids()], spilled: [...this.store.spilledCopies.keys()] },
    } as const;
  }
  get availableResources(): ResourceSet { return this.available; }
  /** Registered and not draining: it may take new work (a lease, a bundle). */
  get accepting(): boolean { return this.registered && !this.draining; }

  /** Registers with the GCS, again and again until it answers (it may be down). */
  start(): void {
    this.busySince = this.fx.now();
    this.register();
  }

  private register(): void {
    this.fx.send(this.cfg.gcs, { type: "RegisterNode", node: this.cfg.node, incarnation: this.cfg.incarnation, resources: this.cfg.resources, endpoint: this.cfg.endpoint });
    this.fx.setTimer(REGISTER, REGISTER_RETRY_MS);
  }

  /** The one door: every input the raylet can be handed. A fenced raylet does nothing more. */
  step(input: RayletInput): void {
    // A restore under way finishes even when fenced: the copy was deleted, and the read is dropped.
    if (input.kind === "restored") return restored(this, input.id, input.payload);
    if (this.fenced) return;
    switch (input.kind) {
      // A process of this node's earlier life died with it: what it sent the old raylet is not
      // for this one (a new raylet process shares no socket with the old one's workers).
      case "message": return diedWithNode(input.from, this.cfg.node, this.cfg.incarnation - 1) ? undefined : this.receive(input.from, input.msg);
      case "timer": return this.fire(input.timer);
      case "worker-exited": return this.workerExited(input.worker);
      case "transfers-lost": return transfersLost(this, input.node);
      default: return assertNever("a raylet", input);
    }
  }

  /**
   * Every change to the node's free resources goes through here: they are never negative and
   * never more than the node has (a lease is granted only when it fits; each end or lend-back
   * returns exactly what it took).
   */
  setAvailable(next: Record<string, number>): void {
    const total = this.cfg.resources;
    for (const k in next) {
      const v = next[k];
      if (v < -1e-9 || v > (total[k] ?? 0) + 1e-9) throw new InvariantError(`raylet ${this.cfg.node}: ${k} available would be ${v} of ${total[k] ?? 0}`);
    }
    this.available = next;
  }

  private fire(t: RayletTimer): void {
    switch (t.kind) {
      case "heartbeat":
        this.fx.send(this.cfg.gcs, { type: "Heartbeat", node: this.cfg.node, available: this.available, demands: this.demands(), backlog: this.backlog(), idleMs: this.idleMs() });
        return this.fx.setTimer(HEARTBEAT, this.cfg.heartbeatMs, true);
      case "register":
        if (!this.registered) this.register();
        return;
      case "puts":
        this.objects.putTimer = false;
        for (const p of this.objects.puts) p.waitedMs += PUT_RETRY_MS;
        return retryPuts(this);
      case "pull": {
        const p = this.objects.pulls.get(t.id);
        if (p) this.fx.send(p.owner, { type: "GetLocations", id: t.id });
        return;
      }
      case "idle-workers": {
        const at = this.idleTimerAt!;
        this.idleTimerAt = undefined;
        return this.askIdleToExit(at);
      }
      default: return assertNever("a raylet's timer", t);
    }
  }

  private receive(from: Addr, m: RayletMsg): void {
    switch (m.type) {
      case "NodeRegistered":
        // The answer to an earlier life's registration (its process ended before it came): not
        // this raylet's; taken for its own, it would stop registering a life the GCS never knew.
        if (m.incarnation !== this.cfg.incarnation) return;
        if (m.deadWorkers) {
          // Deaths published before this raylet joined: requests from them (come early, or
          // replayed from this node's previous process) are dropped before anything is granted,
          // and (a restarted GCS's news, some missed while it was down) their jobs' workers go.
          for (const w of m.deadWorkers) this.deadWorkers.add(w);
          for (const w of m.deadWorkers) this.jobEnded(w);
          this.holdersDied((a, job) => this.deadWorkers.has(a) || this.deadWorkers.has(job));
        }
        if (m.bundles) releaseOrphanedBundles(this, m.bundles.keep, m.bundles.before);
        if (!this.registered) {
          this.registered = true;
          this.fx.cancelTimer(REGISTER);
          this.dispatch();
          this.fx.setTimer(HEARTBEAT, this.cfg.heartbeatMs, true);
        }
        return;
      case "ClusterView": return this.updateView(m.nodes);
      case "NodeDead": return this.nodeDead(m.node, m.incarnation);
      case "WorkerDied": return this.workerDied(m.worker);
      case "GcsRestarted":
        // Re-register (idempotent for a node the recovered GCS knows) and tell local owners to resubscribe.
        this.fx.send(this.cfg.gcs, { type: "RegisterNode", node: this.cfg.node, incarnation: this.cfg.incarnation, resources: this.cfg.resources, endpoint: this.cfg.endpoint });
        for (const worker of this.deaths) this.fx.send(this.cfg.gcs, { type: "WorkerDied", worker });
        this.fx.send(this.cfg.gcs, { type: "HeldLeases", leases: [...this.leases].filter(([, l]) => l.holder === this.cfg.gcs).map(([leaseId, l]) => ({ leaseId, worker: l.worker })) });
        return this.forward(m);
      case "RequestLease": return this.requestLease(from, m.reqId, m.req);
      case "ReturnLease": return this.returnLease(m.leaseId, m.destroyWorker);
      case "CancelLease": {
        const i = this.queue.findIndex((q) => q.from === from && q.reqId === m.reqId);
        if (i >= 0) releaseDeps(this, this.queue.splice(i, 1)[0]);
        this.infeasible = this.infeasible.filter((e) => !(e.q.from === from && e.q.reqId === m.reqId));
        return; // already granted: the grant reaches the owner, which returns it
      }
      case "WorkerBlocked": {
        const l = this.leaseOf(m.worker);
        if (!l) return;
        if (l.blocked) {
          // Blocked again (its next task) before the resources it asked back were free: it no
          // longer wants them, and will ask again. Left queued, they would be granted to a
          // worker that ignores the grant while blocked, and its next ask would find it unblocked.
          const i = this.unblocks.indexOf(m.worker);
          if (i >= 0) this.unblocks.splice(i, 1);
          return;
        }
        l.blocked = true;
        giveBack(this, l.bundle, l.resources);
        this.fx.trace({ kind: "lease.returned", comp: "raylet", lease: this.pool.workers.get(m.worker)!.lease!, worker: m.worker, resources: l.resources });
        return this.cfg.bugs.has("no-wakeup-on-block") ? undefined : this.dispatch();
      }
      case "WorkerUnblocked":
        if (this.leaseOf(m.worker)?.blocked) this.unblocks.push(m.worker);
        return this.dispatch();
      case "RegisterWorker":
        this.clients.add(m.worker);
        this.tellKnownDeaths(m.worker);
        return m.driver ? undefined : this.workerRegistered(m.worker);
      case "StorePut":
        // A straggler from a worker that died meanwhile, or an object whose owner died: stored,
        // it would be a primary copy nobody frees (ownersDied dropped the ones here at the death).
        if (this.holderDead(from)) return;
        if (this.holderDead(m.owner)) return this.fx.send(from, { type: "StorePutReply", reqId: m.reqId, id: m.id, error: ownerDied(m.id, m.owner) });
        return storePut(this, { from, reqId: m.reqId, id: m.id, payload: m.payload, owner: m.owner, waitedMs: 0 });
      case "StoreGet": return storeGet(this, from, m.reqId, m.ids, m.local === true);
      case "StorePeek": return storePeek(this, from, m.reqId, m.ids);
      case "Locations": return locations(this, m.id, m.status);
      case "Pull": return servePull(this, from, m.id);
      case "Chunk": return chunk(this, from, m.id, m.total, m.payload);
      case "PullFailed": return pullFailed(this, m.id);
      case "FreeObjects": return freeObjects(this, m.ids, m.orphaned === true);
      case "PrepareBundles": return prepareBundles(this, from, m.pgId, m.attempt, m.bundles);
      case "CommitBundles":
        for (const b of this.bundles.values()) if (b.pg === m.pgId && b.attempt === m.attempt) b.committed = true;
        this.retryInfeasible(); // requests waiting for this group may run here now
        return this.dispatch();
      case "ReleaseBundles": return releaseBundles(this, m.pgId, m.attempt);
      case "DrainNode": return this.drain(from, m.reason);
      case "ExitReply": return this.exitReply(from, m.ask, m.exiting);
      default: return assertNever("a raylet", m);
    }
  }

  // ---- resources and placement -------------------------------------------------------------

  /** The cluster as this raylet sees it: the GCS's view, with its own row exact. */
  private clusterView(): NodeView[] {
    // Built per lease decision: no arrays at all on a node without placement groups.
    const bundles: string[] = [];
    if (this.bundles.size > 0) for (const [k, b] of this.bundles) if (b.committed) bundles.push(k);
    const self: NodeView = bundles.length > 0
      ? { node: this.cfg.node, incarnation: this.cfg.incarnation, total: this.cfg.resources, available: this.available, alive: true, bundles }
      : { node: this.cfg.node, incarnation: this.cfg.incarnation, total: this.cfg.resources, available: this.available, alive: true };
    if (this.view.length === 0) return [self];
    return this.view.map((v) => (v.node === this.cfg.node ? self : v));
  }

  private updateView(nodes: readonly NodeView[]): void {
    if (nodes.some((n) => n.node === this.cfg.node && n.incarnation === this.cfg.incarnation && !n.alive)) return this.fence();
    // A node life the view shows over that this raylet never heard die (it registered after the
    // death was published: no NodeDead will come): what its workers asked here goes, as on the news.
    const news = showsNewDeaths(this.view, nodes);
    this.view = nodes as NodeView[];
    if (news) this.holdersDied((a) => this.holderDead(a));
    this.retryInfeasible();
    // Requests queued here that cannot start now may run elsewhere now: spill them back.
    if (this.queue.length === 0) return;
    const keep: QueuedLease[] = [];
    const moved: QueuedLease[] = [];
    for (const q of this.queue) {
      const group = inGroup(q.req);
      // A request sent here on spillback (grantOrReject) moves on too: a node that joined since
      // (the autoscaler's) may run it now, while this one is busy.
      if (group ? bundleFor(this, q.req.strategy, q.req.resources, false) !== undefined : q.req.actorId !== undefined || fits(q.req.resources, this.available)) { keep.push(q); continue; }
      if (group) { releaseDeps(this, q); moved.push(q); continue; } // its bundle is gone from here
      const target = this.decide(q.req);
      if (target.kind === "node" && target.node !== this.cfg.node) {
        releaseDeps(this, q);
        this.spill(q, target.node);
      } else keep.push(q);
    }
    this.queue = keep;
    for (const q of moved) this.place(q, undefined);
  }

  private decide(req: LeaseRequest) {
    const p = place({
      resources: req.resources, strategy: req.strategy, local: this.cfg.node, nodes: this.clusterView(),
      random: this.fx.random, spreadCursor: this.spreadCursor,
    });
    this.spreadCursor = p.spreadCursor;
    return p;
  }

  private spill(q: QueuedLease, node: NodeId): void {
    // Count what we just sent there, so the next decisions before a fresh view spread out.
    this.view = this.view.map((v) => (v.node === node ? { ...v, available: subtract(v.available, q.req.resources) } : v));
    this.fx.trace({ kind: "task.spillback", comp: "raylet", task: q.req.taskId, to: node });
    const incarnation = this.view.find((v) => v.node === node)?.incarnation ?? 0;
    this.fx.send(q.from, { type: "LeaseSpillback", reqId: q.reqId, node, incarnation });
  }

  /**
   * Whether `addr` is known dead (a straggling request, sent before its sender died): a worker
   * or driver whose death was published, or a worker of a node life that is over, dead or
   * followed by a later one (as Ray's raylet refuses a lease to a caller in its caches of failed
   * workers and nodes).
   */
  holderDead(addr: Addr): boolean {
    if (this.deadWorkers.has(addr)) return true;
    const v = this.view.find((n) => n.node === nodeOf(addr));
    return v !== undefined && diedWithNode(addr, v.node, lifeOver(v));
  }

  private requestLease(from: Addr, reqId: number, req: LeaseRequest): void {
    // It arrived late: its sender died meanwhile, or its job ended (the sender's end is coming).
    if (this.holderDead(from) || this.deadWorkers.has(req.job)) return;
    if (this.draining) {
      // Being removed: the requester asks again where the cluster is known (its local raylet).
      this.fx.send(from, { type: "LeaseRejected", reqId, reason: `node ${this.cfg.node} is draining`, infeasible: false });
      return;
    }
    const q: QueuedLease = { from, reqId, req, missing: 0 };
    const bundleMissing = inGroup(req) && bundleFor(this, req.strategy, req.resources, false) === undefined;
    if ((inGroup(req) ? bundleMissing : !fits(req.resources, this.cfg.resources)) && req.grantOrReject) {
      // Sent here on a stale view: the requester asks again where the cluster is known.
      const reason = `node ${this.cfg.node} does not have ${JSON.stringify(req.resources)}`;
      this.fx.send(from, { type: "LeaseRejected", reqId, reason, infeasible: false });
      return;
    }
    if (!req.grantOrReject) return this.place(q, undefined);
    this.enqueue(q);
  }

  /** Decides where a request goes: here, another node, the infeasible queue (waiting since `since`), or nowhere. */
  private place(q: QueuedLease, since: number | undefined): void {
    const p = this.decide(q.req);
    if (p.kind === "node") return p.node === this.cfg.node ? this.enqueue(q) : this.spill(q, p.node);
    if (!p.waits) return this.fx.send(q.from, { type: "LeaseRejected", reqId: q.reqId, reason: p.reason, infeasible: true });
    if (since === undefined) {
      // The warning Ray prints for a demand the cluster cannot meet: what it needs, what the nodes have.
      const cluster = this.clusterView().filter((n) => n.alive).map((n) => n.total);
      this.fx.trace({ kind: "task.infeasible", comp: "raylet", task: q.req.taskId, resources: q.req.resources, reason: p.reason, cluster });
    }
    this.infeasible.push({ q, since: since ?? this.fx.now() });
  }

  /** The cluster changed: infeasible requests that some node can meet now go there. */
  private retryInfeasible(): void {
    if (this.infeasible.length === 0) return;
    const waiting = this.infeasible;
    this.infeasible = [];
    for (const e of waiting) this.place(e.q, e.since);
  }

  /** The infeasible queue by resource shape: how many wait, since when. */
  private demands(): PendingDemand[] {
    const now = this.fx.now();
    return mergeDemands([this.infeasible.map((e) => ({ resources: e.q.req.resources, count: 1, ageMs: now - e.since }))]);
  }

  /** The queued requests (fit some node, wait for room) by shape: the autoscaler's load. */
  private backlog(): PendingDemand[] {
    return mergeDemands([this.queue.map((q) => ({ resources: q.req.resources, count: 1, ageMs: 0 }))]);
  }

  /**
   * What keeps the node from being removed (undefined: nothing): a lease or a request for one,
   * a placement-group bundle, or a primary copy (in memory or spilled), which would be lost
   * with the node. Ray's raylet judges idleness the same way (resources in use, pinned objects).
   */
  busyWith(): string | undefined {
    if (this.leases.size > 0 || this.awaitingWorker.length > 0) return `${this.leases.size + this.awaitingWorker.length} lease(s)`;
    if (this.queue.length > 0 || this.infeasible.length > 0) return `${this.queue.length + this.infeasible.length} queued lease request(s)`;
    if (this.bundles.size > 0) return `${this.bundles.size} placement-group bundle(s)`;
    if (this.store.spilledCopies.size > 0) return `${this.store.spilledCopies.size} spilled primary copies`;
    for (const id of this.store.ids()) if (this.store.isPrimary(id)) return `the primary copy of ${id}`;
    if (this.objects.pulls.size > 0) return `${this.objects.pulls.size} pull(s) in progress`;
    return undefined;
  }

  /** How long the node has held nothing `busyWith` names (0 while it holds something). */
  private idleMs(): number {
    const now = this.fx.now();
    if (this.busyWith() !== undefined) this.busySince = now;
    return now - this.busySince;
  }

  /** The GCS asks, for the autoscaler, to remove this node: only if it holds nothing. */
  private drain(from: Addr, reason: string): void {
    const busy = this.cfg.bugs.has("drain-busy-node") ? undefined : this.busyWith();
    if (busy === undefined) this.draining = true;
    this.fx.send(from, { type: "DrainReply", node: this.cfg.node, accepted: busy === undefined, reason: busy ?? reason });
  }

  /** Queues a request here, fetching its arguments. */
  private enqueue(q: QueuedLease): void {
    const req = q.req;
    this.queue.push(q);
    for (const d of req.deps) {
      if (this.store.has(d.id)) { this.store.pin(d.id); continue; }
      // The task will read the owner's death from the store; nothing to wait for.
      if (lostWithOwner(this, d.id, d.owner)) continue;
      q.missing++;
      fetch(this, d.id, d.owner, { kind: "lease", q });
    }
    this.dispatch();
  }

  private leaseOf(worker: Addr): Lease | undefined {
    const id = this.pool.workers.get(worker)?.lease;
    return id === undefined ? undefined : this.leases.get(id);
  }

  /** Gives blocked workers their resources back first, then grants queued leases that fit. */
  dispatch(): void {
    // Nothing runs here before the GCS knows this node (and has buried its previous life).
    if (!this.registered) return;
    if (this.unblocks.length > 0) {
      const waiting: Addr[] = [];
      for (const w of this.unblocks) {
        const l = this.leaseOf(w);
        if (!l || !l.blocked) continue;
        if (l.bundle !== undefined && !this.bundles.has(l.bundle)) continue; // its bundle was released: the lease ends with its worker
        if (!fits(l.resources, freeFor(this, l.bundle))) { waiting.push(w); continue; }
        l.blocked = false;
        setFree(this, l.bundle, subtract(freeFor(this, l.bundle), l.resources));
        this.fx.trace({ kind: "lease.granted", comp: "raylet", lease: this.pool.workers.get(w)!.lease!, worker: w, resources: l.resources, holder: l.holder, job: l.job, ...(l.bundle !== undefined ? { bundle: l.bundle } : {}) });
        this.fx.send(w, { type: "Unblocked" });
      }
      this.unblocks = waiting;
    }
    if (this.queue.length === 0) return;
    const keep: QueuedLease[] = [];
    for (const q of this.queue) {
      const bundle = bundleFor(this, q.req.strategy, q.req.resources, true);
      if (q.missing > 0 || (inGroup(q.req) ? bundle === undefined : !fits(q.req.resources, this.available))) { keep.push(q); continue; }
      setFree(this, bundle, subtract(freeFor(this, bundle), q.req.resources));
      const leaseId = `${this.cfg.node}:${this.cfg.incarnation}:L${this.nextLease++}`;
      const worker = this.pool.takeIdle(q.req.job, this.cfg.bugs.has("shared-workers"));
      if (worker !== undefined) this.grant(q, leaseId, worker, bundle);
      else {
        this.awaitingWorker.push({ q, leaseId, bundle });
        this.pool.start(q.req.job);
      }
    }
    this.queue = keep;
  }

  private grant(q: QueuedLease, leaseId: string, worker: Addr, bundle: string | undefined): void {
    // A lease id is never reused (and the pool checks that a worker serves one lease at a time).
    if (this.leases.has(leaseId)) throw new InvariantError(`raylet ${this.cfg.node}: lease ${leaseId} granted on ${worker}, and the id is in use`);
    this.pool.lease(worker, leaseId, q.req.actorId !== undefined);
    this.leases.set(leaseId, { worker, holder: q.from, job: q.req.job, resources: q.req.resources, deps: q.req.deps.map((d) => d.id), ...(bundle !== undefined ? { bundle } : {}) });
    this.fx.trace({ kind: "lease.granted", comp: "raylet", lease: leaseId, worker, resources: q.req.resources, holder: q.from, job: q.req.job, ...(bundle !== undefined ? { bundle } : {}), ...(q.req.actorId !== undefined ? { actor: q.req.actorId, task: q.req.taskId } : {}) });
    this.fx.send(q.from, { type: "LeaseGranted", reqId: q.reqId, leaseId, worker });
  }

  /** Frees a lease's resources and argument pins. */
  private endLease(leaseId: string, l: Lease): void {
    this.leases.delete(leaseId);
    for (const d of l.deps) this.store.unpin(d);
    if (l.blocked) return; // its resources were lent back already
    giveBack(this, l.bundle, l.resources);
    this.fx.trace({ kind: "lease.returned", comp: "raylet", lease: leaseId, worker: l.worker, resources: l.resources });
  }

  returnLease(leaseId: string, destroyWorker: boolean): void {
    const l = this.leases.get(leaseId);
    if (!l) return; // returned twice (a duplicated message): the first return counted
    this.endLease(leaseId, l);
    // A worker of a job that ended goes rather than idle for ever (no lease of its job will come).
    const ended = this.pool.leaseEnded(l.worker, destroyWorker || this.deadWorkers.has(l.job), this.fx.now());
    if (ended === "killed") this.killed(l.worker);
    else if (ended === "idle") this.armIdleTimer();
    this.dispatch();
  }

  /**
   * A worker this raylet let go of is killed. Killed here, it never shows up as an exit: trace
   * and announce it, for it may own work elsewhere (a lease granted to it by another raylet
   * later would otherwise never be returned), and its owners drop its borrows on the news, so
   * the trace must say it died (or a borrow it held would look alive when the owner frees the object).
   */
  private killed(worker: Addr): void {
    this.clients.delete(worker); // no news for it any more (a worker that exits leaves the same way)
    this.fx.killWorker(worker);
    this.fx.trace({ kind: "worker.died", comp: "raylet", worker });
    this.reportDeath(worker);
  }

  /**
   * `job` ended (its driver died; the news of any other death finds no worker of that job): its
   * workers go, as Ray's raylet kills a finished job's workers. The idle ones here; the leased
   * ones, and the job's requests, with the leases of dead holders (see holdersDied), which the
   * caller ends next. A detached actor's workers, and those of what it submits, serve a job of
   * their own and live on.
   */
  private jobEnded(job: JobId): void {
    const workers = this.pool.ofJob(job);
    if (workers.length === 0) return;
    this.fx.trace({ kind: "job.ended", comp: "raylet", job, workers });
    for (const worker of workers) {
      if (this.pool.workers.get(worker)!.lease !== undefined) continue;
      this.pool.exited(worker);
      this.killed(worker);
    }
  }

  // ---- failures ----------------------------------------------------------------------------

  /** The host saw a worker process on this node exit. */
  private workerExited(worker: Addr): void {
    const w = this.pool.exited(worker);
    if (!w) return;
    this.clients.delete(worker);
    // A start that failed: the grants of its job waiting for a worker still need as many starting.
    if (w.state === "STARTING" && this.awaitingWorker.filter((a) => a.q.req.job === w.job).length > this.pool.startingFor(w.job)) this.pool.start(w.job);
    this.fx.trace({ kind: "worker.died", comp: "raylet", worker });
    // Its puts waiting for space have nobody to answer: drop them (a retry makes its own).
    this.objects.puts = this.objects.puts.filter((p) => p.from !== worker);
    if (w.lease !== undefined) {
      const l = this.leases.get(w.lease);
      if (l) {
        this.endLease(w.lease, l);
        // The holder hears it first-hand, as it would from a broken connection to the worker.
        this.fx.send(l.holder, { type: "WorkerDied", worker });
      }
    }
    this.reportDeath(worker);
    this.dispatch();
  }

  /** The GCS publishes a worker's death: an actor restarts, borrowers learn the owner died, raylets return its leases. Kept to tell a restarted GCS. */
  private reportDeath(worker: Addr): void {
    this.deadWorkers.add(worker);
    this.deaths.push(worker);
    if (this.deaths.length > 256) this.deaths.shift();
    this.fx.send(this.cfg.gcs, { type: "WorkerDied", worker });
  }

  private forward(m: RayletMsg & WorkerMsg): void {
    for (const c of this.clients) this.fx.send(c, m);
  }

  /** Another node died: stop pulling from it, and drop work that its owners asked for. */
  private nodeDead(node: NodeId, incarnation: number): void {
    if (node === this.cfg.node) {
      if (incarnation === this.cfg.incarnation) this.fence();
      return; // news of this node's previous life
    }
    this.forward({ type: "NodeDead", node, incarnation });
    this.view = this.view.map((v) => (v.node === node && v.incarnation === incarnation ? { ...v, alive: false } : v));
    this.holdersDied((a) => diedWithNode(a, node, incarnation));
    for (const [id, p] of [...this.objects.pulls]) {
      if (diedWithNode(p.owner, node, incarnation)) finishPull(this, id, ownerDied(id, p.owner));
      else if (p.from === node) pullFailed(this, id);
    }
    ownersDied(this, (a) => diedWithNode(a, node, incarnation));
  }

  private workerDied(worker: Addr): void {
    this.deadWorkers.add(worker);
    // A driver here is no worker of the pool, which drops its workers as they exit: it goes here.
    this.clients.delete(worker);
    this.forward({ type: "WorkerDied", worker });
    this.jobEnded(worker);
    this.holdersDied((a, job) => a === worker || job === worker);
    for (const [id, p] of [...this.objects.pulls]) if (p.owner === worker) finishPull(this, id, ownerDied(id, p.owner));
    ownersDied(this, (a) => a === worker);
  }

  /**
   * Leases and queued requests of dead holders, or of jobs that ended: nobody will return or use
   * them (a job's workers go with it, and the rest of its work with its driver).
   */
  private holdersDied(dead: (holder: Addr, job: JobId) => boolean): void {
    this.infeasible = this.infeasible.filter((e) => !dead(e.q.from, e.q.req.job));
    const keep = this.queue.filter((q) => !dead(q.from, q.req.job));
    for (const q of this.queue) if (dead(q.from, q.req.job)) releaseDeps(this, q);
    this.queue = keep;
    // Granted but still waiting for a worker to start: give the resources back.
    for (let i = this.awaitingWorker.length - 1; i >= 0; i--) {
      const { q, bundle } = this.awaitingWorker[i];
      if (!dead(q.from, q.req.job)) continue;
      this.awaitingWorker.splice(i, 1);
      releaseDeps(this, q);
      giveBack(this, bundle, q.req.resources);
    }
    for (const [leaseId, l] of [...this.leases]) if (dead(l.holder, l.job)) this.returnLease(leaseId, true);
    // What came back may be what a queued request waits for (say, the retry of the dead holder's own task).
    this.dispatch();
  }

  /** Declared dead by the GCS (say, after a partition): kill every worker so no stale result escapes. */
  private fence(): void {
    this.fenced = true;
    this.fx.cancelTimer(HEARTBEAT);
    this.fx.trace({ kind: "node.fenced", comp: "raylet", id: this.cfg.node });
    if (this.cfg.bugs.has("no-fencing")) return;
    // Its leases end with the workers that hold them (some may have been granted after the GCS
    // declared the node dead, before this raylet heard): say so, as a crash of the node would.
    for (const [leaseId, l] of [...this.leases]) this.endLease(leaseId, l);
    for (const w of this.pool.clear()) this.fx.killWorker(w);
    // Its bundle reservations end as well: one made after the GCS declared the node dead (a
    // late PrepareBundles) is covered by no death, and nothing will run in it any more.
    for (const [key, b] of this.bundles) this.fx.trace({ kind: "bundle.released", comp: "raylet", bundle: key, resources: b.resources });
    this.bundles.clear();
    // Its store goes too: the cluster has written this node off, and nobody will free these.
    for (const id of [...this.store.ids(), ...this.store.spilledCopies.keys()]) {
      const r = this.store.delete(id);
      if (r.spilled) this.fx.deleteSpilled(id);
      this.fx.trace({ kind: "object.deleted", comp: "store", obj: id, reason: "node-died" });
    }
  }

  // ---- worker pool -------------------------------------------------------------------------

  /** A worker that registers hears of the deaths this raylet knew before (see the KnownDeaths message). */
  private tellKnownDeaths(worker: Addr): void {
    const nodes: { node: NodeId; incarnation: number }[] = [];
    for (const v of this.view) {
      const dead = lifeOver(v);
      if (dead >= 1) nodes.push({ node: v.node, incarnation: dead });
    }
    const workers = this.deadWorkers.list().filter((x) => x !== worker); // one declared dead that registers late learns of itself otherwise
    if (nodes.length > 0 || workers.length > 0) this.fx.send(worker, { type: "KnownDeaths", workers, nodes });
  }

  /** A worker registered: the first grant of its job waiting for a worker gets it, or it waits idle (or goes, if its job ended meanwhile). */
  private workerRegistered(worker: Addr): void {
    if (!this.pool.registered(worker)) return;
    const job = this.pool.workers.get(worker)!.job;
    const i = this.awaitingWorker.findIndex((a) => a.q.req.job === job);
    if (i >= 0) {
      const next = this.awaitingWorker.splice(i, 1)[0];
      this.grant(next.q, next.leaseId, worker, next.bundle);
    } else if (this.deadWorkers.has(job)) {
      this.pool.exited(worker);
      this.killed(worker);
    } else this.pool.park(worker, this.fx.now());
    // One more worker: those idle already may be over the limit now, leased as it may be.
    this.armIdleTimer();
  }

  // ---- the soft limit on workers -------------------------------------------------------------

  /**
   * While more workers are registered than the soft limit, the timer is armed for when the
   * longest idle one will have idled `idleWorkerKillingMs` (Ray checks every 200 ms; one timer
   * at the first deadline asks the same workers, at most that much sooner, with no event while
   * there is nothing to do). Housekeeping: a simulation does not wait for it.
   */
  private armIdleTimer(): void {
    if (this.idleTimerAt !== undefined || this.pool.idle.length === 0 || this.pool.live <= this.softLimit) return;
    this.idleTimerAt = this.idleDue(this.pool.idle[0]);
    this.fx.setTimer(IDLE_WORKERS, Math.max(0, this.idleTimerAt - this.fx.now()), true);
  }

  /** When an idle worker may be asked to exit. */
  private idleDue(worker: Addr): number {
    return this.pool.workers.get(worker)!.idleSince! + this.cfg.idleWorkerKillingMs;
  }

  /**
   * Ray's TryKillingIdleWorkers: above the soft limit (registered workers of every job, leased,
   * idle or actors', less those already asked), the longest idle workers that idled long enough
   * are asked to exit, one per worker over the limit. A worker asked is leased to nobody until it
   * answers; it exits only if it owns nothing (Ray's worker refuses while it owns objects), for
   * what it owns would be lost with it. `at`: the deadline the timer was armed for, which has
   * come, whatever the clock reads now: a time read a rounding short of it (the clock's skew is
   * added to the virtual time, and the delay to both) would arm the timer again for no time at
   * all, and again, without end.
   */
  private askIdleToExit(at: number): void {
    const now = Math.max(this.fx.now(), at);
    while (this.pool.live > this.softLimit && this.pool.idle.length > 0) {
      if (this.idleDue(this.pool.idle[0]) > now) break;
      const ask = ++this.exitAsks;
      this.fx.send(this.pool.askExit(ask), { type: "Exit", ask });
    }
    this.armIdleTimer();
  }

  /** A worker answers an Exit request: killed if it agrees, idle again (from now) if it owns something. */
  private exitReply(worker: Addr, ask: number, exiting: boolean): void {
    // An answer to an earlier request, or the worker went meanwhile (its job ended, it died).
    if (this.pool.workers.get(worker)?.exiting !== ask) return;
    if (exiting) {
      this.pool.exited(worker);
      return this.killed(worker);
    }
    this.pool.exitRefused(worker, this.fx.now());
    this.armIdleTimer();
  }
}
