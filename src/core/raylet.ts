// The raylet: one per node. Registers with the GCS and heartbeats; accounts the node's
// resources; grants worker leases from its local queue or spills them back to a better node;
// runs the worker pool; stages task arguments (the dependency manager); and moves objects
// between nodes in chunks (the object manager) around the node's object store.

import type { Bugs } from "./bugs.ts";
import type { RayletEffects } from "./effects.ts";
import { nextWorkerState, type WorkerState } from "./lifecycle/worker.ts";
import type { LeaseRequest, Msg } from "./messages.ts";
import { ObjectStore } from "./object-store.ts";
import { add, fits, subtract, type ResourceSet } from "./resources.ts";
import { place } from "./scheduler.ts";
import {
  diedWithNode, nodeOf, rayletAddr, type Addr, type ErrorInfo, type NodeId, type NodeView, type ObjectId, type Payload,
} from "./types.ts";

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
  readonly bugs: Bugs;
}

interface Worker {
  state: WorkerState;
  lease?: string;
}

interface QueuedLease {
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
  readonly resources: ResourceSet;
  readonly deps: readonly ObjectId[];
}

/** Someone on this node waiting for objects to be local: a queued lease or a worker's get. */
type Waiter =
  | { readonly kind: "lease"; readonly q: QueuedLease }
  | { readonly kind: "get"; readonly get: PendingGet }
  /** Another node pulling a copy that is spilled here. */
  | { readonly kind: "serve"; readonly to: Addr };

interface PendingGet {
  readonly from: Addr;
  readonly reqId: number;
  readonly ids: readonly ObjectId[];
  readonly values: (Payload | ErrorInfo | undefined)[];
  missing: number;
  /** Copies handed to this get while it waits for others: pinned so memory is not reused under it. */
  pinned?: ObjectId[];
}

interface Pull {
  readonly owner: Addr;
  readonly waiters: Waiter[];
  /** Times the pull has asked the owner for locations. */
  tries: number;
  from?: NodeId;
  received: number;
}

interface PendingPut {
  readonly from: Addr;
  readonly reqId: number;
  readonly id: ObjectId;
  readonly payload: Payload;
  readonly owner: Addr;
  /**
   * How long it has waited, counted in retry periods rather than read off the clock: a clock
   * that jumps (skew) must not expire it early.
   */
  waitedMs: number;
}

function ownerDied(id: ObjectId, owner: Addr): ErrorInfo {
  return { type: "OwnerDiedError", message: `the owner of object ${id} (${owner}) died, so the object cannot be fetched or reconstructed` };
}

const REGISTER_RETRY_MS = 200;
const PULL_RETRY_MS = 50;
/** The longest wait between a failed pull and the next question to the owner. */
const PULL_RETRY_MAX_MS = 1000;
/** How often a put that the store refused is tried again while it waits (see storePut). */
const PUT_RETRY_MS = 50;

export class Raylet {
  readonly store: ObjectStore;
  private available: ResourceSet;
  private registered = false;
  private view: NodeView[] = [];
  private spreadCursor = 0;
  private nextLease = 1;
  private nextWorker = 1;
  readonly workers = new Map<Addr, Worker>();
  private readonly idle: Addr[] = [];
  /** Blocked workers asking for their resources back, served before new leases. */
  private unblocks: Addr[] = [];
  /** Granted leases waiting for a worker process to start. */
  private readonly awaitingWorker: { q: QueuedLease; leaseId: string }[] = [];
  private startingWorkers = 0;
  readonly leases = new Map<string, Lease>();
  /** Lease requests placed here, in arrival order. */
  private queue: QueuedLease[] = [];
  private readonly pulls = new Map<ObjectId, Pull>();
  /** Owner of every object this store holds, to tell it about evictions. */
  private readonly owners = new Map<ObjectId, Addr>();
  private readonly restoring = new Map<ObjectId, Waiter[]>();
  private puts: PendingPut[] = [];
  /** Whether the "puts" timer is set (it is set once for all waiting puts, never pushed back). */
  private putTimer = false;
  /** Core workers on this node (workers and drivers): they hear failure news through us. */
  private readonly clients = new Set<Addr>();
  /** Recent worker deaths, resent to a restarted GCS (which may have missed them while down). */
  private readonly deaths: Addr[] = [];
  /** Set once this node learns the GCS declared it dead: it fences itself and does nothing more. */
  private fenced = false;

  constructor(readonly addr: Addr, private readonly cfg: RayletConfig, private readonly fx: RayletEffects) {
    this.store = new ObjectStore(cfg.storeCapacity, fx, (id, payload) => {
      this.fx.trace({ kind: "object.spilled", comp: "store", obj: id });
      this.fx.spill(id, payload);
    }, cfg.bugs.has("evict-primary"));
    this.available = cfg.resources;
  }

  get node(): NodeId { return this.cfg.node; }
  get availableResources(): ResourceSet { return this.available; }

  /** Registers with the GCS, again and again until it answers (it may be down). */
  start(): void {
    this.register();
  }

  private register(): void {
    this.fx.send(this.cfg.gcs, { type: "RegisterNode", node: this.cfg.node, incarnation: this.cfg.incarnation, resources: this.cfg.resources, endpoint: this.cfg.endpoint });
    this.fx.setTimer("register", REGISTER_RETRY_MS);
  }

  fire(key: string): void {
    if (this.fenced) return;
    if (key === "heartbeat") {
      this.fx.send(this.cfg.gcs, { type: "Heartbeat", node: this.cfg.node, available: this.available });
      this.fx.setTimer("heartbeat", this.cfg.heartbeatMs, true);
    } else if (key === "register") {
      if (!this.registered) this.register();
    } else if (key === "puts") {
      this.putTimer = false;
      for (const p of this.puts) p.waitedMs += PUT_RETRY_MS;
      this.retryPuts();
    } else if (key.startsWith("pull:")) {
      const id = key.slice(5);
      const p = this.pulls.get(id);
      if (p) this.fx.send(p.owner, { type: "GetLocations", id });
    }
  }

  receive(from: Addr, m: Msg): void {
    if (this.fenced) return;
    switch (m.type) {
      case "NodeRegistered":
        if (!this.registered) {
          this.registered = true;
          this.fx.cancelTimer("register");
          this.dispatch();
          this.fx.setTimer("heartbeat", this.cfg.heartbeatMs, true);
        }
        return;
      case "ClusterView": return this.updateView(m.nodes);
      case "NodeDead": return this.nodeDead(m.node, m.incarnation);
      case "WorkerDied": return this.workerDied(m.worker);
      case "GcsRestarted":
        // Re-register (idempotent for a node the recovered GCS knows) and tell local owners to resubscribe.
        this.fx.send(this.cfg.gcs, { type: "RegisterNode", node: this.cfg.node, incarnation: this.cfg.incarnation, resources: this.cfg.resources, endpoint: this.cfg.endpoint });
        for (const worker of this.deaths) this.fx.send(this.cfg.gcs, { type: "WorkerDied", worker });
        return this.forward(m);
      case "RequestLease": return this.requestLease(from, m.reqId, m.req);
      case "ReturnLease": return this.returnLease(m.leaseId, m.destroyWorker);
      case "CancelLease": {
        const i = this.queue.findIndex((q) => q.from === from && q.reqId === m.reqId);
        if (i >= 0) this.releaseDeps(this.queue.splice(i, 1)[0]);
        return; // already granted: the grant reaches the owner, which returns it
      }
      case "WorkerBlocked": {
        const l = this.leaseOf(m.worker);
        if (!l || l.blocked) return;
        l.blocked = true;
        this.available = add(this.available, l.resources);
        this.fx.trace({ kind: "lease.returned", comp: "raylet", lease: this.workers.get(m.worker)!.lease!, worker: m.worker, resources: l.resources });
        return this.dispatch();
      }
      case "WorkerUnblocked":
        if (this.leaseOf(m.worker)?.blocked) this.unblocks.push(m.worker);
        return this.dispatch();
      case "RegisterWorker":
        this.clients.add(m.worker);
        return m.driver ? undefined : this.workerRegistered(m.worker);
      case "StorePut": return this.storePut({ from, reqId: m.reqId, id: m.id, payload: m.payload, owner: m.owner, waitedMs: 0 });
      case "StoreGet": return this.storeGet(from, m.reqId, m.ids);
      case "Locations": return this.locations(m.id, m.status);
      case "Pull": return this.servePull(from, m.id);
      case "Chunk": return this.chunk(from, m.id, m.total, m.payload);
      case "PullFailed": return this.pullFailed(m.id);
      case "FreeObjects": return this.freeObjects(m.ids, m.orphaned === true);
      default:
        return;
    }
  }

  // ---- resources and placement -------------------------------------------------------------

  /** The cluster as this raylet sees it: the GCS's view, with its own row exact. */
  private clusterView(): NodeView[] {
    const self: NodeView = { node: this.cfg.node, incarnation: this.cfg.incarnation, total: this.cfg.resources, available: this.available, alive: true };
    if (this.view.length === 0) return [self];
    return this.view.map((v) => (v.node === this.cfg.node ? self : v));
  }

  private updateView(nodes: readonly NodeView[]): void {
    if (nodes.some((n) => n.node === this.cfg.node && n.incarnation === this.cfg.incarnation && !n.alive)) return this.fence();
    this.view = nodes as NodeView[];
    // Requests queued here that cannot start now may run elsewhere now: spill them back.
    if (this.queue.length === 0) return;
    const keep: QueuedLease[] = [];
    for (const q of this.queue) {
      if (q.req.grantOrReject || q.req.actorId !== undefined || fits(q.req.resources, this.available)) { keep.push(q); continue; }
      const target = this.decide(q.req);
      if (target.kind === "node" && target.node !== this.cfg.node) {
        this.releaseDeps(q);
        this.spill(q, target.node);
      } else keep.push(q);
    }
    this.queue = keep;
  }

  private decide(req: LeaseRequest) {
    const p = place({
      resources: req.resources, strategy: req.strategy, local: this.cfg.node, nodes: this.clusterView(),
      random: () => this.fx.random(), spreadCursor: this.spreadCursor,
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

  /** Whether `addr` is a worker on a node this raylet knows to be dead (a straggling request). */
  private holderDead(addr: Addr): boolean {
    const v = this.view.find((n) => n.node === nodeOf(addr));
    return v !== undefined && !v.alive && diedWithNode(addr, v.node, v.incarnation);
  }

  private requestLease(from: Addr, reqId: number, req: LeaseRequest): void {
    if (this.holderDead(from)) return; // it arrived late: its sender died meanwhile
    const q: QueuedLease = { from, reqId, req, missing: 0 };
    if (!fits(req.resources, this.cfg.resources) && req.grantOrReject) {
      const reason = `node ${this.cfg.node} does not have ${JSON.stringify(req.resources)}`;
      this.fx.send(from, { type: "LeaseRejected", reqId, reason, infeasible: true });
      return;
    }
    if (!req.grantOrReject) {
      const p = this.decide(req);
      if (p.kind === "infeasible") {
        this.fx.send(from, { type: "LeaseRejected", reqId, reason: p.reason, infeasible: true });
        return;
      }
      if (p.node !== this.cfg.node) return this.spill(q, p.node);
    }
    this.queue.push(q);
    for (const d of req.deps) {
      if (this.store.has(d.id)) { this.store.pin(d.id); continue; }
      q.missing++;
      this.fetch(d.id, d.owner, { kind: "lease", q });
    }
    this.dispatch();
  }

  private leaseOf(worker: Addr): Lease | undefined {
    const id = this.workers.get(worker)?.lease;
    return id === undefined ? undefined : this.leases.get(id);
  }

  /** Gives blocked workers their resources back first, then grants queued leases that fit. */
  private dispatch(): void {
    // Nothing runs here before the GCS knows this node (and has buried its previous life).
    if (!this.registered) return;
    if (this.unblocks.length > 0) {
      const waiting: Addr[] = [];
      for (const w of this.unblocks) {
        const l = this.leaseOf(w);
        if (!l || !l.blocked) continue;
        if (!fits(l.resources, this.available)) { waiting.push(w); continue; }
        l.blocked = false;
        this.available = subtract(this.available, l.resources);
        this.fx.trace({ kind: "lease.granted", comp: "raylet", lease: this.workers.get(w)!.lease!, worker: w, resources: l.resources });
        this.fx.send(w, { type: "Unblocked" });
      }
      this.unblocks = waiting;
    }
    if (this.queue.length === 0) return;
    const keep: QueuedLease[] = [];
    for (const q of this.queue) {
      if (q.missing > 0 || !fits(q.req.resources, this.available)) { keep.push(q); continue; }
      this.available = subtract(this.available, q.req.resources);
      const leaseId = `${this.cfg.node}:${this.cfg.incarnation}:L${this.nextLease++}`;
      const worker = this.idle.pop();
      if (worker !== undefined) this.grant(q, leaseId, worker);
      else {
        this.awaitingWorker.push({ q, leaseId });
        this.startWorker();
      }
    }
    this.queue = keep;
  }

  private grant(q: QueuedLease, leaseId: string, worker: Addr): void {
    const w = this.workers.get(worker)!;
    w.state = nextWorkerState(w.state, { type: "LEASED" });
    if (q.req.actorId !== undefined) w.state = nextWorkerState(w.state, { type: "BECAME_ACTOR" });
    w.lease = leaseId;
    this.leases.set(leaseId, { worker, holder: q.from, resources: q.req.resources, deps: q.req.deps.map((d) => d.id) });
    this.fx.trace({ kind: "lease.granted", comp: "raylet", lease: leaseId, worker, resources: q.req.resources });
    this.fx.send(q.from, { type: "LeaseGranted", reqId: q.reqId, leaseId, worker });
  }

  /** Frees a lease's resources and argument pins. */
  private endLease(leaseId: string, l: Lease): void {
    this.leases.delete(leaseId);
    for (const d of l.deps) this.store.unpin(d);
    if (l.blocked) return; // its resources were lent back already
    this.available = add(this.available, l.resources);
    this.fx.trace({ kind: "lease.returned", comp: "raylet", lease: leaseId, worker: l.worker, resources: l.resources });
  }

  private returnLease(leaseId: string, destroyWorker: boolean): void {
    const l = this.leases.get(leaseId);
    if (!l) return; // returned twice (a duplicated message): the first return counted
    this.endLease(leaseId, l);
    const w = this.workers.get(l.worker);
    if (w) {
      w.lease = undefined;
      if (destroyWorker || w.state === "ACTOR") {
        w.state = nextWorkerState(w.state, { type: "EXITED" });
        this.workers.delete(l.worker);
        this.fx.killWorker(l.worker);
      } else {
        w.state = nextWorkerState(w.state, { type: "RETURNED" });
        this.idle.push(l.worker);
      }
    }
    this.dispatch();
  }

  // ---- failures ----------------------------------------------------------------------------

  /** The host saw a worker process on this node exit. */
  workerExited(worker: Addr): void {
    if (this.fenced) return;
    const w = this.workers.get(worker);
    if (!w) return;
    this.workers.delete(worker);
    this.clients.delete(worker);
    const i = this.idle.indexOf(worker);
    if (i >= 0) this.idle.splice(i, 1);
    if (w.state === "STARTING") {
      this.startingWorkers--;
      if (this.awaitingWorker.length > this.startingWorkers) this.startWorker();
    }
    this.fx.trace({ kind: "worker.died", comp: "raylet", worker });
    // Its puts waiting for space have nobody to answer: drop them (a retry makes its own).
    this.puts = this.puts.filter((p) => p.from !== worker);
    if (w.lease !== undefined) {
      const l = this.leases.get(w.lease);
      if (l) {
        this.endLease(w.lease, l);
        // The holder hears it first-hand, as it would from a broken connection to the worker.
        this.fx.send(l.holder, { type: "WorkerDied", worker });
      }
    }
    // The GCS publishes it: an actor restarts, borrowers learn the owner died. Kept to tell a restarted GCS.
    this.deaths.push(worker);
    if (this.deaths.length > 256) this.deaths.shift();
    this.fx.send(this.cfg.gcs, { type: "WorkerDied", worker });
    this.dispatch();
  }

  private forward(m: Msg): void {
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
    for (const [id, p] of [...this.pulls]) {
      if (diedWithNode(p.owner, node, incarnation)) this.finishPull(id, ownerDied(id, p.owner));
      else if (p.from === node) this.pullFailed(id);
    }
  }

  private workerDied(worker: Addr): void {
    this.forward({ type: "WorkerDied", worker });
    this.holdersDied((a) => a === worker);
    for (const [id, p] of [...this.pulls]) if (p.owner === worker) this.finishPull(id, ownerDied(id, p.owner));
  }

  /** Leases and queued requests of dead holders: nobody will return or use them. */
  private holdersDied(dead: (a: Addr) => boolean): void {
    const keep = this.queue.filter((q) => !dead(q.from));
    for (const q of this.queue) if (dead(q.from)) this.releaseDeps(q);
    this.queue = keep;
    // Granted but still waiting for a worker to start: give the resources back.
    for (let i = this.awaitingWorker.length - 1; i >= 0; i--) {
      const { q } = this.awaitingWorker[i];
      if (!dead(q.from)) continue;
      this.awaitingWorker.splice(i, 1);
      this.releaseDeps(q);
      this.available = add(this.available, q.req.resources);
    }
    for (const [leaseId, l] of [...this.leases]) if (dead(l.holder)) this.returnLease(leaseId, true);
    // What came back may be what a queued request waits for (say, the retry of the dead holder's own task).
    this.dispatch();
  }

  /** Declared dead by the GCS (say, after a partition): kill every worker so no stale result escapes. */
  private fence(): void {
    this.fenced = true;
    this.fx.cancelTimer("heartbeat");
    this.fx.trace({ kind: "node.fenced", comp: "raylet", id: this.cfg.node });
    if (this.cfg.bugs.has("no-fencing")) return;
    // Its leases end with the workers that hold them (some may have been granted after the GCS
    // declared the node dead, before this raylet heard): say so, as a crash of the node would.
    for (const [leaseId, l] of [...this.leases]) this.endLease(leaseId, l);
    for (const w of this.workers.keys()) this.fx.killWorker(w);
    this.workers.clear();
    // Its store goes too: the cluster has written this node off, and nobody will free these.
    for (const id of [...this.store.ids(), ...this.store.spilledCopies.keys()]) {
      const r = this.store.delete(id);
      if (r.spilled) this.fx.deleteSpilled(id);
      this.fx.trace({ kind: "object.deleted", comp: "store", obj: id, reason: "node-died" });
    }
  }

  // ---- worker pool -------------------------------------------------------------------------

  private startWorker(): void {
    const worker = `${this.cfg.node}/w${this.cfg.incarnation}-${this.nextWorker++}`;
    this.workers.set(worker, { state: "STARTING" });
    this.startingWorkers++;
    this.fx.startWorker(worker);
  }

  private workerRegistered(worker: Addr): void {
    const w = this.workers.get(worker);
    if (!w || w.state !== "STARTING") return;
    this.startingWorkers--;
    w.state = nextWorkerState(w.state, { type: "REGISTERED" });
    const next = this.awaitingWorker.shift();
    if (next) this.grant(next.q, next.leaseId, worker);
    else this.idle.push(worker);
  }

  // ---- the object store and its clients ------------------------------------------------------

  private storePut(p: PendingPut): void {
    if (this.tryPut(p)) return;
    // Back-pressure: hold the put until frees make room, or until it has waited
    // storeFullTimeoutMs. It is also tried again every PUT_RETRY_MS: a store may refuse for a
    // moment for reasons no free here will announce (the host's memory busy, slots waiting for
    // their last reader to go).
    this.puts.push(p);
    this.armPutTimer();
  }

  private armPutTimer(): void {
    if (this.putTimer || this.puts.length === 0) return;
    this.putTimer = true;
    this.fx.setTimer("puts", PUT_RETRY_MS);
  }

  private tryPut(p: PendingPut): boolean {
    const r = this.store.put(p.id, p.payload, true);
    this.evicted(r.evicted);
    if (!r.ok) return false;
    this.owners.set(p.id, p.owner);
    this.fx.trace({ kind: "object.created", comp: "store", obj: p.id, size: p.payload.size, hash: p.payload.hash, where: "store", primary: true });
    this.fx.send(p.from, { type: "StorePutReply", reqId: p.reqId, id: p.id });
    // Someone here was already fetching it (say, a lost object just re-made on this node).
    if (this.pulls.has(p.id)) this.finishPull(p.id, p.payload);
    return true;
  }

  private retryPuts(): void {
    const waiting = this.puts;
    this.puts = [];
    for (const p of waiting) {
      if (this.tryPut(p)) continue;
      if (p.waitedMs >= this.cfg.storeFullTimeoutMs) {
        const error: ErrorInfo = { type: "ObjectStoreFullError", message: `object store on ${this.cfg.node} is full: ${this.store.usedBytes} of ${this.store.capacity} bytes are in use and cannot be evicted or spilled; cannot fit ${p.payload.size} bytes` };
        this.fx.send(p.from, { type: "StorePutReply", reqId: p.reqId, id: p.id, error });
      } else this.puts.push(p);
    }
    this.armPutTimer();
  }

  /** Tells owners about secondary copies that made room for others (spills were traced as they happened). */
  private evicted(evicted: readonly ObjectId[]): void {
    for (const id of evicted) {
      this.fx.trace({ kind: "object.deleted", comp: "store", obj: id, reason: "evicted" });
      const owner = this.owners.get(id);
      this.owners.delete(id);
      if (owner) this.fx.send(owner, { type: "RemoveLocation", id, node: this.cfg.node });
    }
  }

  private storeGet(from: Addr, reqId: number, ids: readonly { id: ObjectId; owner: Addr }[]): void {
    const get: PendingGet = { from, reqId, ids: ids.map((x) => x.id), values: new Array(ids.length), missing: 0 };
    for (let i = 0; i < ids.length; i++) {
      const v = this.store.read(ids[i].id);
      if (v) { get.values[i] = v; continue; }
      get.missing++;
      this.fetch(ids[i].id, ids[i].owner, { kind: "get", get });
    }
    if (get.missing === 0) return this.fx.send(from, { type: "StoreGetReply", reqId, values: get.values as (Payload | ErrorInfo)[] });
    for (let i = 0; i < ids.length; i++) if (get.values[i] !== undefined) this.pinForGet(get, ids[i].id);
  }

  private pinForGet(g: PendingGet, id: ObjectId): void {
    if (!this.store.has(id)) return;
    this.store.pin(id);
    (g.pinned ??= []).push(id);
  }

  /** Makes `id` local: restore it if spilled here, else pull it from a node that has it. */
  private fetch(id: ObjectId, owner: Addr, w: Waiter): void {
    if (this.store.isSpilled(id)) {
      const r = this.restoring.get(id);
      if (r) r.push(w);
      else {
        this.restoring.set(id, [w]);
        this.fx.trace({ kind: "object.restored", comp: "store", obj: id });
        this.fx.restore(id);
      }
      return;
    }
    const p = this.pulls.get(id);
    if (p) { p.waiters.push(w); return; }
    this.pulls.set(id, { owner, waiters: [w], tries: 1, received: 0 });
    this.fx.send(owner, { type: "GetLocations", id });
  }

  /** The host read a spilled copy back. */
  restored(id: ObjectId, payload: Payload): void {
    const waiters = this.restoring.get(id) ?? [];
    this.restoring.delete(id);
    if (!this.store.isSpilled(id)) return; // freed meanwhile
    // Bring it back into memory if it fits; a copy larger than memory is served from storage.
    const spilledEntry = this.store.spilledCopies.get(id)!;
    this.store.spilledCopies.delete(id);
    const r = this.store.put(id, payload, true);
    this.evicted(r.evicted);
    if (r.ok && this.store.has(id)) this.fx.deleteSpilled(id);
    else if (!this.store.isSpilled(id)) this.store.spilledCopies.set(id, spilledEntry);
    this.satisfy(id, payload, waiters);
  }

  private satisfy(id: ObjectId, v: Payload | ErrorInfo, waiters: readonly Waiter[]): void {
    for (const w of waiters) {
      if (w.kind === "serve") {
        if ("hash" in v) this.sendChunks(w.to, id, v);
        else this.fx.send(w.to, { type: "PullFailed", id });
      } else if (w.kind === "lease") {
        if (w.q.dropped) continue;
        if ("hash" in v) this.store.pin(id);
        if (--w.q.missing === 0) this.dispatch();
      } else {
        const g = w.get;
        const i = g.ids.indexOf(id);
        for (let j = i; j < g.ids.length; j++) {
          if (g.ids[j] === id && g.values[j] === undefined) { g.values[j] = v; g.missing--; }
        }
        if (g.missing > 0) { if ("hash" in v) this.pinForGet(g, id); continue; }
        for (const p of g.pinned ?? []) this.store.unpin(p);
        this.fx.send(g.from, { type: "StoreGetReply", reqId: g.reqId, values: g.values as (Payload | ErrorInfo)[] });
      }
    }
  }

  private locations(id: ObjectId, status: import("./messages.ts").ObjectStatus | { kind: "unknown" }): void {
    const p = this.pulls.get(id);
    if (!p) return;
    if (status.kind === "inline") return this.finishPull(id, status.payload);
    if (status.kind === "error") return this.finishPull(id, status.error);
    if (status.kind === "unknown") return this.finishPull(id, { type: "ObjectLostError", message: `object ${id} was already freed by its owner ${p.owner}` });
    if (status.kind === "stored") {
      // Not from a node this raylet already knows is dead: the owner may not have heard yet, and a
      // Pull sent there would never be answered.
      const others = status.nodes.filter((n) => n !== this.cfg.node && this.view.find((v) => v.node === n)?.alive !== false);
      if (others.length > 0) {
        p.from = others[Math.floor(this.fx.random() * others.length)];
        p.received = 0;
        this.fx.send(rayletAddr(p.from), { type: "Pull", id });
        return;
      }
    }
    this.pullFailed(id);
  }

  /**
   * No copy could be had this time: ask the owner again, backing off. Only the owner may say
   * the object is gone (it answers with an error, or does not know it); until then a copy it
   * lists may be on a node whose death it has not heard of yet (the GCS down, say), and the
   * object it re-makes then is worth waiting for.
   */
  private pullFailed(id: ObjectId): void {
    const p = this.pulls.get(id);
    if (!p) return;
    p.from = undefined;
    this.fx.setTimer(`pull:${id}`, Math.min(PULL_RETRY_MS * 2 ** (p.tries - 1), PULL_RETRY_MAX_MS));
    p.tries++;
  }

  private servePull(from: Addr, id: ObjectId): void {
    const payload = this.store.read(id);
    if (!payload) {
      if (this.store.isSpilled(id)) return this.fetch(id, this.owners.get(id) ?? from, { kind: "serve", to: from });
      return this.fx.send(from, { type: "PullFailed", id });
    }
    this.sendChunks(from, id, payload);
  }

  private sendChunks(from: Addr, id: ObjectId, payload: Payload): void {
    const total = Math.max(1, Math.ceil(payload.size / this.cfg.chunkBytes));
    for (let i = 0; i < total; i++) {
      const size = i < total - 1 ? this.cfg.chunkBytes : payload.size - this.cfg.chunkBytes * (total - 1);
      this.fx.send(from, { type: "Chunk", id, index: i, total, size, payload: i === total - 1 ? payload : undefined });
    }
  }

  /** Chunks arrive in order on a FIFO link; the last one carries the sealed payload. */
  private chunk(from: Addr, id: ObjectId, total: number, payload: Payload | undefined): void {
    const p = this.pulls.get(id);
    if (!p || p.from !== nodeOf(from)) return; // stale chunks of an abandoned transfer
    p.received++;
    if (p.received < total || !payload) return;
    const r = this.store.put(id, payload, false);
    this.evicted(r.evicted);
    if (r.ok) {
      this.owners.set(id, p.owner);
      this.fx.trace({ kind: "object.created", comp: "store", obj: id, size: payload.size, hash: payload.hash, where: "store", primary: false });
      this.fx.trace({ kind: "object.transferred", comp: "raylet", obj: id, from: p.from!, size: payload.size });
      this.fx.send(p.owner, { type: "AddLocation", id, node: this.cfg.node, incarnation: this.cfg.incarnation });
    }
    this.finishPull(id, payload);
  }

  private finishPull(id: ObjectId, v: Payload | ErrorInfo): void {
    const p = this.pulls.get(id);
    if (!p) return;
    this.pulls.delete(id);
    this.fx.cancelTimer(`pull:${id}`);
    this.satisfy(id, v, p.waiters);
  }

  /** Unpins what a request pinned (the deps that were local, or arrived while it waited). */
  private releaseDeps(q: QueuedLease): void {
    q.dropped = true;
    for (const d of q.req.deps) this.store.unpin(d.id);
  }

  private freeObjects(ids: readonly ObjectId[], orphaned = false): void {
    const gone = new Set(ids);
    this.puts = this.puts.filter((p) => !gone.has(p.id));
    let freed = false;
    for (const id of ids) {
      this.owners.delete(id);
      const r = this.store.delete(id);
      if (r.spilled) this.fx.deleteSpilled(id);
      if (r.inMemory || r.spilled) {
        freed = true;
        this.fx.trace({ kind: "object.deleted", comp: "store", obj: id, reason: orphaned ? "orphaned" : "freed" });
      }
    }
    if (freed && this.puts.length > 0) this.retryPuts();
  }
}
