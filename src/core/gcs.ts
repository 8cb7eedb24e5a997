// The Global Control Store: node table with health checks, function table, actor table and
// actor scheduling, named actors, failure pub/sub, and the cluster resource view it gathers
// from heartbeats and broadcasts to raylets. Its tables are persisted through the storage
// port and recovered by a restarted GCS; raylets and owners then re-register and resubscribe.

import { InvariantError, assertNever } from "./assert.ts";
import type { Bugs } from "./bugs.ts";
import type { Effects } from "./effects.ts";
import { nextActorState, type ActorState } from "./lifecycle/actor.ts";
import { nextNodeState, type NodeState } from "./lifecycle/node.ts";
import type { GcsMsg, Msg, TaskResult } from "./messages.ts";
import type { ResourceSet } from "./resources.ts";
import { mergeDemands } from "./gcs/demands.ts";
import { PlacementGroups } from "./gcs/placement-groups.ts";
import { place } from "./scheduler.ts";
import {
  diedWithNode, nodeOf, rayletAddr, type ActorId, type ActorInfo, type ActorSpec, type Addr, type ErrorInfo,
  type FunctionDescriptor, type FunctionId, type NodeId, type NodeView, type TaskSpec,
} from "./types.ts";
import type { AutoscalingState, PendingDemand } from "./types.ts";

export interface GcsConfig {
  readonly head: NodeId;
  /** How often the resource view is pushed to raylets, and node health is checked. */
  readonly viewPeriodMs: number;
  /** A node that misses this many consecutive periods of heartbeats is declared dead. */
  readonly heartbeatMissLimit: number;
  /** After a restart, periods to wait for nodes to reconnect before health checks count. */
  readonly recoveryGracePeriods: number;
  readonly bugs: Bugs;
}

/** What the GCS keeps durable, table by table (the storage port's keys). */
export type GcsTable = "nodes" | "actors" | "functions" | "meta";

/** The GCS's one timer: each period it checks node health and pushes the resource view. */
export type GcsTimer = { readonly kind: "period" };
const PERIOD: GcsTimer = { kind: "period" };

/** Everything the GCS can be handed: messages and its timer. */
export type GcsInput =
  | { readonly kind: "message"; readonly from: Addr; readonly msg: GcsMsg }
  | { readonly kind: "timer"; readonly timer: GcsTimer }
  /**
   * The host saw a driver go (its connection closed, or it missed its liveness checks): the
   * driver's own liveness, not its node's, since a driver outlives or dies apart from its raylet.
   */
  | { readonly kind: "driver-gone"; readonly driver: Addr }
  /** The autoscaler wants an idle node removed: the GCS asks its raylet, which accepts only if idle. */
  | { readonly kind: "drain-node"; readonly node: NodeId; readonly reason: string };

export interface GcsEffects extends Effects<GcsTimer> {
  /** Durably write (or, with undefined, delete) a row before acting on it. */
  persist(table: GcsTable, key: string, value: unknown): void;
}

/** The rows a restarted GCS starts from. */
export type GcsTables = Readonly<Record<GcsTable, ReadonlyMap<string, unknown>>>;

interface NodeEntry {
  state: NodeState;
  incarnation: number;
  endpoint?: string;
  total: ResourceSet;
  available: ResourceSet;
  /** Periods since the last heartbeat. */
  missed: number;
}

interface ActorEntry {
  state: ActorState;
  readonly spec: ActorSpec;
  epoch: number;
  restartsLeft: number;
  address?: Addr;
  node?: NodeId;
  leaseId?: string;
  error?: ErrorInfo;
  /** The outstanding lease request while placing the actor, and the node asked (volatile). */
  leaseReq?: number;
  leaseNode?: NodeId;
  readonly subscribers: Set<Addr>;
  /** Since when no live node can host it (volatile): a pending demand. */
  infeasibleSince?: number;
}

type ActorRow = Omit<ActorEntry, "leaseReq" | "subscribers" | "infeasibleSince"> & { subscribers: Addr[] };

export class Gcs {
  readonly nodes = new Map<NodeId, NodeEntry>();
  readonly actors = new Map<ActorId, ActorEntry>();
  private readonly functions = new Map<FunctionId, FunctionDescriptor>();
  private readonly functionWaiters = new Map<FunctionId, Addr[]>();
  /** Named actors that are not dead, by nameKey(namespace, name): a name is unique within its namespace. */
  private readonly names = new Map<string, ActorId>();
  readonly placementGroups: PlacementGroups;
  /** Each live node's latest report of the demands it cannot place (volatile: heartbeats renew it). */
  private readonly demands = new Map<NodeId, readonly PendingDemand[]>();
  /** Each live node's latest load report for the autoscaler: queued requests and idle time (volatile). */
  private readonly loads = new Map<NodeId, { readonly backlog: readonly PendingDemand[]; readonly idleMs: number }>();
  /** Lease request id → actor being placed. */
  private readonly leaseRequests = new Map<number, ActorId>();
  /** Request ids carry the incarnation so a reply to a previous GCS can never match. */
  private nextReq: number;
  private readonly incarnation: number;
  private spreadCursor = 0;
  private viewDirty = false;
  private readonly recovered: boolean;
  /** Drivers that asked for failure news directly. */
  private readonly drivers = new Set<Addr>();

  constructor(readonly addr: Addr, private readonly cfg: GcsConfig, private readonly fx: GcsEffects, tables?: GcsTables) {
    this.recovered = tables !== undefined;
    this.incarnation = ((tables?.meta.get("incarnation") as number | undefined) ?? 0) + 1;
    this.nextReq = this.incarnation * 1_000_000_000;
    fx.persist("meta", "incarnation", this.incarnation);
    this.placementGroups = new PlacementGroups({
      send: (to, m) => this.fx.send(to, m), trace: (b) => this.fx.trace(b), now: () => this.fx.now(), view: () => this.view(),
      persist: (id, row) => this.fx.persist("meta", `pg:${id}`, row),
      viewChanged: () => { this.viewDirty = true; },
    });
    if (tables) this.load(tables);
  }

  /** The state, as plain records (for tests and debugging: do not change it). */
  get state() {
    return {
      incarnation: this.incarnation, nodes: this.nodes, actors: this.actors, functions: this.functions, functionWaiters: this.functionWaiters,
      names: this.names, leaseRequests: this.leaseRequests, drivers: this.drivers, viewDirty: this.viewDirty,
    } as const;
  }

  private load(t: GcsTables): void {
    for (const [id, row] of t.nodes) {
      const r = row as { state: NodeState; incarnation: number; endpoint?: string; total: ResourceSet };
      // Nodes need time to notice the restart and reconnect: their health checks start late.
      this.nodes.set(id, { state: r.state, incarnation: r.incarnation, endpoint: r.endpoint, total: r.total, available: r.total, missed: -this.cfg.recoveryGracePeriods });
    }
    for (const [id, row] of t.functions) this.functions.set(id, row as FunctionDescriptor);
    for (const d of (t.meta.get("drivers") as Addr[] | undefined) ?? []) this.drivers.add(d);
    this.placementGroups.load([...t.meta].filter(([k]) => k.startsWith("pg:")));
    for (const [id, row] of t.actors) {
      const r = row as ActorRow;
      this.actors.set(id, { ...r, subscribers: new Set(r.subscribers) });
      if (r.spec.name !== undefined && r.state !== "DEAD") this.names.set(nameKey(r.spec.namespace, r.spec.name), id);
    }
  }

  start(): void {
    this.fx.setTimer(PERIOD, this.cfg.viewPeriodMs, true);
    if (!this.recovered) return;
    this.fx.trace({ kind: "gcs.recovered", comp: "gcs", nodes: this.nodes.size, actors: this.actors.size, nodeIds: [...this.nodes.keys()].sort(), actorIds: [...this.actors.keys()].sort() });
    // Everyone reconnects: raylets re-register, owners resubscribe and resend what was in flight.
    this.publish({ type: "GcsRestarted" });
    this.retryPendingActors();
  }

  /** The one door: every input the GCS can be handed. */
  step(input: GcsInput): void {
    switch (input.kind) {
      case "message": return this.receive(input.from, input.msg);
      case "timer": return this.period();
      case "driver-gone": return this.driverGone(input.driver);
      case "drain-node": return this.drainNode(input.node, input.reason);
      default: return assertNever("the GCS", input);
    }
  }

  private period(): void {
    this.checkHealth();
    this.placementGroups.retry();
    if (this.viewDirty) this.broadcastView();
    this.fx.setTimer(PERIOD, this.cfg.viewPeriodMs, true);
  }

  private receive(from: Addr, m: GcsMsg): void {
    switch (m.type) {
      case "RegisterNode": return this.registerNode(from, m.node, m.incarnation, m.resources, m.endpoint);
      case "Heartbeat":
        if (m.demands !== undefined && this.nodes.get(m.node)?.state !== "DEAD") this.demands.set(m.node, m.demands);
        if (m.idleMs !== undefined && this.nodes.get(m.node)?.state !== "DEAD") this.loads.set(m.node, { backlog: m.backlog ?? [], idleMs: m.idleMs });
        return this.heartbeat(from, m.node, m.available);
      case "WorkerDied": return this.workerDied(m.worker);
      case "SubscribeFailures":
        if (!this.drivers.has(from)) {
          this.drivers.add(from);
          this.fx.persist("meta", "drivers", [...this.drivers]);
        }
        return;
      case "RegisterFunction": return this.registerFunction(m.fn);
      case "GetFunction": return this.getFunction(from, m.id);
      case "CreateActor": return this.createActor(from, m.spec);
      case "SubscribeActor": return this.subscribe(from, m.actorId);
      case "GetNamedActor": {
        const key = this.cfg.bugs.has("names-ignore-namespace") ? this.anyNamespace(m.name) : nameKey(m.namespace, m.name);
        const id = key === undefined ? undefined : this.names.get(key);
        const a = id === undefined ? undefined : this.actors.get(id);
        if (a) this.addSubscriber(id!, a, from);
        this.fx.send(from, { type: "NamedActor", reqId: m.reqId, info: a ? this.info(id!, a) : undefined });
        return;
      }
      case "KillActor": return m.noRestart === false ? this.restartKilledActor(m.actorId, m.epoch ?? 0) : this.killActor(m.actorId, "it was killed by ray.kill()");
      case "LeaseGranted": return this.actorLeaseGranted(m.reqId, m.leaseId, m.worker);
      case "LeaseSpillback": return this.actorLeaseRetry(m.reqId, m.node);
      case "LeaseRejected": return this.actorLeaseRejected(m.reqId);
      case "TaskReply": return this.actorCreated(m.taskId, m.result);
      case "HeldLeases": return this.heldLeases(from, m.leases);
      case "CreatePlacementGroup": return this.placementGroups.create(m.spec);
      case "RemovePlacementGroup": return this.placementGroups.remove(m.pgId);
      case "BundlesPrepared": return this.placementGroups.prepared(m.pgId, m.attempt, m.node, m.ok);
      case "GetClusterInfo": return this.fx.send(from, { type: "ClusterInfo", reqId: m.reqId, nodes: this.view() });
      case "DrainReply": return this.drained(m.node, m.accepted, m.reason);
      default: return assertNever("the GCS", m);
    }
  }

  // ---- nodes -------------------------------------------------------------------------------

  private registerNode(from: Addr, node: NodeId, incarnation: number, resources: ResourceSet, endpoint?: string): void {
    const prev = this.nodes.get(node);
    if (prev && prev.incarnation > incarnation) return; // a message from a previous life
    if (prev && prev.incarnation === incarnation && prev.state === "DEAD") {
      // Declared dead already: that life is over (it must restart to rejoin).
      this.fx.send(from, { type: "NodeDead", node, incarnation });
      return;
    }
    if (prev && prev.state !== "DEAD") {
      if (prev.incarnation === incarnation) {
        // Re-registration after a GCS restart: the node never went away.
        this.fx.send(from, { type: "NodeRegistered", head: this.cfg.head });
        return;
      }
      // The node restarted before we noticed it died: its previous life is over.
      prev.state = nextNodeState(prev.state, { type: "DIED" });
      this.nodeDied(node, "it restarted");
    }
    // A node's lives are numbered in order: a new life always follows the one on record.
    if (prev && prev.incarnation >= incarnation) throw new InvariantError(`GCS: node ${node} registers life ${incarnation} after life ${prev.incarnation}`);
    const state = nextNodeState("REGISTERING", { type: "REGISTERED" });
    this.nodes.set(node, { state, incarnation, endpoint, total: resources, available: resources, missed: 0 });
    this.fx.persist("nodes", node, { state, incarnation, endpoint, total: resources });
    this.fx.trace({ kind: "node.registered", comp: "gcs", id: node, resources });
    this.fx.send(from, { type: "NodeRegistered", head: this.cfg.head });
    this.broadcastView();
    this.retryPendingActors();
    this.placementGroups.retry();
  }

  private heartbeat(from: Addr, node: NodeId, available: ResourceSet): void {
    const n = this.nodes.get(node);
    if (!n) return;
    if (n.state === "DEAD") {
      // A node we declared dead is still talking (a healed partition): tell it, so it fences itself.
      this.fx.send(from, { type: "NodeDead", node, incarnation: n.incarnation });
      return;
    }
    n.state = nextNodeState(n.state, { type: "HEARTBEAT" });
    n.missed = 0;
    n.available = available;
    this.viewDirty = true;
  }

  private checkHealth(): void {
    for (const [id, n] of this.nodes) {
      if (n.state === "DEAD" || n.state === "REGISTERING") continue;
      n.missed++;
      if (n.missed < 2) continue; // one period of slack: heartbeats and checks share a period
      const limitReached = n.missed >= this.cfg.heartbeatMissLimit;
      n.state = nextNodeState(n.state, { type: "HEARTBEAT_MISSED", limitReached });
      if (n.state === "DEAD") this.nodeDied(id, "missed heartbeats");
    }
  }

  private nodeDied(node: NodeId, reason: string): void {
    const n = this.nodes.get(node)!;
    this.demands.delete(node);
    this.loads.delete(node);
    this.placementGroups.nodeDied(node);
    this.placementGroups.creatorsDied((a) => diedWithNode(a, node, n.incarnation));
    this.fx.persist("nodes", node, { state: n.state, incarnation: n.incarnation, endpoint: n.endpoint, total: n.total });
    this.fx.trace({ kind: "node.dead", comp: "gcs", id: node, reason });
    this.publish({ type: "NodeDead", node, incarnation: n.incarnation }, true);
    this.broadcastView();
    for (const [id, a] of this.actors) {
      if (a.state === "DEAD") continue;
      if (a.node === node) this.actorDied(id, a, `the node ${node} running it died`);
      else if (this.diesWithOwner(a) && diedWithNode(a.spec.owner, node, n.incarnation)) this.killActor(id, `its owner ${a.spec.owner} died with node ${node}`);
      else if (a.leaseReq !== undefined && a.leaseNode === node) {
        // The request died with the node: place the actor again.
        this.leaseRequests.delete(a.leaseReq);
        this.scheduleActor(id, a);
      }
    }
  }

  /** Sends news to drivers and every live raylet (and, for a node's death, to that node too). */
  private publish(m: Msg, includeDead = false): void {
    for (const d of this.drivers) this.fx.send(d, m);
    for (const [node, n] of this.nodes) {
      if (n.state !== "DEAD" || (includeDead && m.type === "NodeDead" && m.node === node)) this.fx.send(rayletAddr(node), m);
    }
  }

  /**
   * A driver ended: it is forgotten, and its death is published as a worker's, so raylets return
   * its leases and free the objects it owned, owners and borrowers hear it, and its non-detached
   * actors are killed (workerDied).
   */
  private driverGone(driver: Addr): void {
    if (this.drivers.delete(driver)) this.fx.persist("meta", "drivers", [...this.drivers]);
    this.fx.trace({ kind: "driver.dead", comp: "gcs", driver });
    this.workerDied(driver);
  }

  private workerDied(worker: Addr): void {
    this.publish({ type: "WorkerDied", worker });
    for (const [id, a] of this.actors) {
      if (a.state === "DEAD" && !this.cfg.bugs.has("restart-killed-actor")) continue;
      if (a.address === worker) this.actorDied(id, a, `its worker process ${worker} died`);
      // An actor lives no longer than its owner, unless it is detached (as in Ray).
      else if (a.spec.owner === worker && this.diesWithOwner(a)) this.killActor(id, `its owner ${worker} died`);
    }
    this.placementGroups.creatorsDied((a) => a === worker);
  }

  // ---- the autoscaler's view and its scale-down (Ray's GetClusterResourceState and DrainNode) ----

  private drainNode(node: NodeId, reason: string): void {
    const n = this.nodes.get(node);
    if (!n || n.state === "DEAD") return;
    this.fx.send(rayletAddr(node), { type: "DrainNode", node, reason });
  }

  /** The node's answer: accepted, it is declared dead now (it holds nothing to lose); refused, it stays. */
  private drained(node: NodeId, accepted: boolean, reason: string): void {
    const n = this.nodes.get(node);
    if (!n || n.state === "DEAD") return;
    this.fx.trace({ kind: "node.drain", comp: "gcs", id: node, accepted, reason });
    if (!accepted) return;
    n.state = nextNodeState(n.state, { type: "DIED" });
    this.nodeDied(node, `drained: ${reason}`);
  }

  /** What the autoscaler reads: every node's resources and idle time, and the demands waiting for room. */
  autoscalingState(): AutoscalingState {
    const nodes = [...this.nodes].map(([node, n]) => ({
      node, alive: n.state !== "DEAD", total: n.total, available: n.available,
      idleMs: n.state === "DEAD" ? 0 : this.loads.get(node)?.idleMs ?? 0,
    }));
    return { nodes, demands: this.pendingDemands(), backlog: mergeDemands([...this.loads.values()].map((l) => l.backlog)) };
  }

  /** Demands no live node can meet, by shape: the raylets' infeasible queues and the actors nobody can host. */
  pendingDemands(): PendingDemand[] {
    const actors: PendingDemand[] = [];
    for (const a of this.actors.values()) {
      if (a.infeasibleSince !== undefined && a.leaseReq === undefined && a.address === undefined && a.state !== "DEAD") actors.push({ resources: a.spec.resources, count: 1, ageMs: this.fx.now() - a.infeasibleSince });
    }
    return mergeDemands([...this.demands.values(), actors, this.placementGroups.demands()]);
  }

  view(): NodeView[] {
    const out: NodeView[] = [];
    for (const [node, n] of this.nodes) {
      const bundles = n.state === "DEAD" ? [] : this.placementGroups.bundlesOn(node);
      const v: { -readonly [K in keyof NodeView]: NodeView[K] } = { node, incarnation: n.incarnation, endpoint: n.endpoint, total: n.total, available: n.available, alive: n.state !== "DEAD" };
      // Set after the literal, not spread into it: V8 copies a spread that follows other fields
      // on its slow path, and a view is built for every node at every registration.
      if (bundles.length > 0) v.bundles = bundles;
      out.push(v);
    }
    return out;
  }

  private broadcastView(): void {
    this.viewDirty = false;
    const nodes = this.view();
    for (const v of nodes) if (v.alive) this.fx.send(rayletAddr(v.node), { type: "ClusterView", nodes });
  }

  // ---- functions ---------------------------------------------------------------------------

  private registerFunction(fn: FunctionDescriptor): void {
    if (this.functions.has(fn.id)) return;
    this.functions.set(fn.id, fn);
    this.fx.persist("functions", fn.id, fn);
    const waiters = this.functionWaiters.get(fn.id);
    if (!waiters) return;
    this.functionWaiters.delete(fn.id);
    for (const w of waiters) this.fx.send(w, { type: "Function", fn });
  }

  /** A worker may ask before the owner's registration arrives: park it until then. */
  private getFunction(from: Addr, id: FunctionId): void {
    const fn = this.functions.get(id);
    if (fn) return this.fx.send(from, { type: "Function", fn });
    const w = this.functionWaiters.get(id);
    if (w) { if (!w.includes(from)) w.push(from); } else this.functionWaiters.set(id, [from]);
  }

  // ---- actors ------------------------------------------------------------------------------

  private info(id: ActorId, a: ActorEntry): ActorInfo {
    return {
      actorId: id, state: a.state, address: a.address, epoch: a.epoch, name: a.spec.name, owner: a.spec.owner, error: a.error,
      ...(a.spec.namespace !== undefined ? { namespace: a.spec.namespace } : {}),
    };
  }

  /** A detached actor outlives its owner; any other dies with it. */
  private diesWithOwner(a: ActorEntry): boolean {
    return a.spec.detached !== true || this.cfg.bugs.has("detached-dies-with-owner");
  }

  /** The seeded bug names-ignore-namespace: a lookup that finds the name in whichever namespace holds it. */
  private anyNamespace(name: string): string | undefined {
    for (const k of this.names.keys()) if (k.slice(k.indexOf("\u0000") + 1) === name) return k;
    return undefined;
  }

  /** Forgets a dead actor's name, so that a new actor may take it (as Ray frees the name of a dead actor). */
  private releaseName(id: ActorId, a: ActorEntry): void {
    if (a.spec.name === undefined) return;
    const key = nameKey(a.spec.namespace, a.spec.name);
    if (this.names.get(key) === id) this.names.delete(key);
  }

  private save(id: ActorId, a: ActorEntry): void {
    if (this.cfg.bugs.has("gcs-forgets-actors")) return;
    const row: ActorRow = {
      state: a.state, spec: a.spec, epoch: a.epoch, restartsLeft: a.restartsLeft, address: a.address, node: a.node,
      leaseId: a.leaseId, error: a.error, subscribers: [...a.subscribers],
    };
    this.fx.persist("actors", id, row);
  }

  /** Persists the actor's new state, then tells everyone who follows it. */
  private changed(id: ActorId, a: ActorEntry): void {
    this.save(id, a);
    this.fx.trace({ kind: "actor.state", comp: "gcs", actor: id, state: a.state, worker: a.address, at: a.node, epoch: a.epoch });
    const info = this.info(id, a);
    for (const s of a.subscribers) this.fx.send(s, { type: "ActorUpdate", info });
  }

  private addSubscriber(id: ActorId, a: ActorEntry, s: Addr): void {
    if (a.subscribers.has(s)) return;
    a.subscribers.add(s);
    this.save(id, a);
  }

  private createActor(from: Addr, spec: ActorSpec): void {
    const known = this.actors.get(spec.actorId);
    if (known) {
      // A resent registration (after a GCS restart, or a duplicate): answer with what we know.
      this.fx.send(from, { type: "ActorUpdate", info: this.info(spec.actorId, known) });
      return;
    }
    const a: ActorEntry = {
      state: "DEPENDENCIES_UNREADY", spec, epoch: 0, restartsLeft: spec.maxRestarts, subscribers: new Set([spec.owner]),
    };
    this.actors.set(spec.actorId, a);
    this.fx.trace({
      kind: "actor.registered", comp: "gcs", actor: spec.actorId, owner: spec.owner, detached: spec.detached === true,
      ...(spec.name !== undefined ? { name: spec.name, namespace: spec.namespace ?? "" } : {}),
    });
    if (spec.name !== undefined) {
      const key = nameKey(spec.namespace, spec.name);
      if (this.names.has(key)) {
        // Refused at registration (Ray raises ValueError at creation): the name stays with the first.
        a.state = nextActorState(a.state, { type: "KILL" });
        a.error = { type: "ActorDiedError", name: "ValueError", message: `an actor named "${spec.name}" already exists in the namespace "${spec.namespace ?? ""}"` };
        return this.changed(spec.actorId, a);
      }
      this.names.set(key, spec.actorId);
    }
    // The owner resolved the constructor's arguments before registering.
    a.state = nextActorState(a.state, { type: "DEPS_RESOLVED" });
    this.changed(spec.actorId, a);
    this.scheduleActor(spec.actorId, a);
  }

  private subscribe(from: Addr, id: ActorId): void {
    const a = this.actors.get(id);
    if (!a) return;
    this.addSubscriber(id, a, from);
    this.fx.send(from, { type: "ActorUpdate", info: this.info(id, a) });
  }

  private scheduleActor(id: ActorId, a: ActorEntry, node?: NodeId): void {
    if (node === undefined) {
      const p = place({
        resources: a.spec.resources, strategy: a.spec.strategy, local: this.cfg.head, nodes: this.view(),
        random: () => this.fx.random(), spreadCursor: this.spreadCursor,
      });
      this.spreadCursor = p.spreadCursor;
      if (p.kind === "infeasible") {
        // Wait for the cluster to change (a node joining) rather than fail, as Ray does.
        a.leaseReq = undefined;
        if (a.infeasibleSince === undefined) {
          a.infeasibleSince = this.fx.now();
          const cluster = this.view().filter((v) => v.alive).map((v) => v.total);
          this.fx.trace({ kind: "task.infeasible", comp: "gcs", task: `${id}:create:${a.epoch}`, resources: a.spec.resources, reason: p.reason, cluster });
        }
        return;
      }
      a.infeasibleSince = undefined;
      node = p.node;
    }
    const reqId = this.nextReq++;
    a.leaseReq = reqId;
    a.leaseNode = node;
    this.leaseRequests.set(reqId, id);
    this.fx.send(rayletAddr(node), {
      type: "RequestLease", reqId,
      req: { resources: a.spec.resources, strategy: a.spec.strategy, deps: [], actorId: id, grantOrReject: true, taskId: `${id}:create:${a.epoch}` },
    });
  }

  private retryPendingActors(): void {
    for (const [id, a] of this.actors) {
      if ((a.state === "PENDING_CREATION" || a.state === "RESTARTING") && a.leaseReq === undefined) {
        // Placed but not known to be constructed: the reply may have been lost with the old GCS.
        if (a.address !== undefined) { if (this.recovered) this.pushCreation(id, a); } else this.scheduleActor(id, a);
      }
    }
  }

  /** A raylet's actor leases after a restart: one that no actor holds was granted while we were down. */
  private heldLeases(from: Addr, leases: readonly { readonly leaseId: string; readonly worker: Addr }[]): void {
    for (const l of leases) {
      let ours = false;
      for (const a of this.actors.values()) if (a.leaseId === l.leaseId) { ours = true; break; }
      if (!ours) this.fx.send(from, { type: "ReturnLease", leaseId: l.leaseId, destroyWorker: true });
    }
  }

  private actorLeaseGranted(reqId: number, leaseId: string, worker: Addr): void {
    for (const a of this.actors.values()) if (a.leaseId === leaseId) return; // a duplicated grant
    const id = this.leaseRequests.get(reqId);
    this.leaseRequests.delete(reqId);
    const a = id === undefined ? undefined : this.actors.get(id);
    if (!a || a.leaseReq !== reqId || a.state === "DEAD") {
      // Late, duplicated, or for a dead actor: give the worker back.
      this.fx.send(rayletAddr(nodeOf(worker)), { type: "ReturnLease", leaseId, destroyWorker: true });
      return;
    }
    a.leaseReq = undefined;
    a.leaseId = leaseId;
    a.node = nodeOf(worker);
    a.address = worker;
    this.save(id!, a);
    this.pushCreation(id!, a);
  }

  /** Asks the actor's worker to construct it (again, after a GCS restart: the worker answers once more). */
  private pushCreation(id: ActorId, a: ActorEntry): void {
    const spec: TaskSpec = {
      taskId: `${id}:create:${a.epoch}`, kind: "actor-create", fn: a.spec.fn, name: a.spec.className, args: a.spec.args,
      returnId: `${id}:created`, owner: this.addr, resources: a.spec.resources, strategy: a.spec.strategy,
      maxRetries: 0, retryExceptions: false, attempt: a.epoch, actorId: id,
      ...(a.spec.maxConcurrency !== undefined ? { maxConcurrency: a.spec.maxConcurrency } : {}),
      ...(a.spec.namespace !== undefined ? { namespace: a.spec.namespace } : {}),
    };
    this.fx.send(a.address!, { type: "PushTask", spec });
  }

  private actorLeaseRetry(reqId: number, node: NodeId): void {
    const id = this.leaseRequests.get(reqId);
    this.leaseRequests.delete(reqId);
    const a = id === undefined ? undefined : this.actors.get(id);
    if (a && a.leaseReq === reqId) this.scheduleActor(id!, a, node);
  }

  /** The chosen node cannot host it: wait for the next registration to try again. */
  private actorLeaseRejected(reqId: number): void {
    const id = this.leaseRequests.get(reqId);
    this.leaseRequests.delete(reqId);
    const a = id === undefined ? undefined : this.actors.get(id);
    if (a && a.leaseReq === reqId) a.leaseReq = undefined;
  }

  private actorCreated(taskId: string, result: TaskResult): void {
    const cut = taskId.lastIndexOf(":create:");
    if (cut < 0) return;
    const id = taskId.slice(0, cut);
    const a = this.actors.get(id);
    if (!a || taskId !== `${id}:create:${a.epoch}` || (a.state !== "PENDING_CREATION" && a.state !== "RESTARTING")) return;
    if (result.kind === "error") {
      if (result.retryable) return; // its worker died mid-construction: the death notice restarts it
      a.error = { type: "ActorDiedError", message: `the actor's constructor failed: ${result.error.message}`, stack: result.error.stack };
      a.state = nextActorState(a.state, { type: "DIED", restartable: false });
      this.releaseName(id, a);
      this.releaseActorLease(a);
      return this.changed(id, a);
    }
    a.state = nextActorState(a.state, { type: "CREATED" });
    this.changed(id, a);
  }

  private killActor(id: ActorId, why: string): void {
    const a = this.actors.get(id);
    if (!a || a.state === "DEAD") return;
    a.state = nextActorState(a.state, { type: "KILL" });
    a.error = { type: "ActorDiedError", message: `the actor ${a.spec.className} is dead: ${why}` };
    this.releaseName(id, a);
    const worker = a.address;
    this.releaseActorLease(a);
    if (this.cfg.bugs.has("restart-killed-actor")) a.address = worker;
    this.changed(id, a);
  }

  /**
   * `ray.kill(actor, { noRestart: false })`: the live actor's worker is destroyed and the actor
   * restarts as after a crash, within its budget. An actor not alive (being created or
   * restarted) is left to that: there is no incarnation to kill yet.
   */
  private restartKilledActor(id: ActorId, epoch: number): void {
    const a = this.actors.get(id);
    if (!a || a.state !== "ALIVE" || a.epoch !== epoch) return;
    this.releaseActorLease(a);
    this.actorDied(id, a, "it was killed by ray.kill() with noRestart: false");
  }

  private actorDied(id: ActorId, a: ActorEntry, why: string): void {
    const restartable = a.restartsLeft !== 0;
    if (restartable && a.restartsLeft > 0) a.restartsLeft--;
    a.state = this.cfg.bugs.has("restart-killed-actor") ? (restartable ? "RESTARTING" : "DEAD") : nextActorState(a.state, { type: "DIED", restartable });
    a.address = undefined;
    a.node = undefined;
    a.leaseId = undefined;
    a.leaseReq = undefined;
    if (!restartable) {
      a.error = { type: "ActorDiedError", message: `the actor ${a.spec.className} died: ${why}` };
      this.releaseName(id, a);
    } else if (!this.cfg.bugs.has("no-actor-epoch")) a.epoch++;
    this.changed(id, a);
    if (restartable) this.scheduleActor(id, a);
  }

  private releaseActorLease(a: ActorEntry): void {
    if (a.leaseId !== undefined && a.node !== undefined) {
      this.fx.send(rayletAddr(a.node), { type: "ReturnLease", leaseId: a.leaseId, destroyWorker: true });
    }
    a.leaseId = undefined;
    a.address = undefined;
    a.node = undefined;
  }
}

/** The names table's key: a name is unique within its namespace (absent: the default namespace, ""). */
export function nameKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ""}\u0000${name}`;
}
