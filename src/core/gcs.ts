// The Global Control Store: node table with health checks, function table, failure pub/sub, and
// the cluster resource view it gathers from heartbeats and broadcasts to raylets. Actors
// (gcs/actors.ts) and placement groups (gcs/placement-groups.ts) are its managers. Its tables are
// persisted through the storage port and recovered by a restarted GCS; raylets and owners then
// re-register and resubscribe.

import { InvariantError, assertNever } from "./assert.ts";
import type { Bugs } from "./bugs.ts";
import type { Effects } from "./effects.ts";
import { nextNodeState, type NodeState } from "./lifecycle/node.ts";
import type { GcsMsg, Msg } from "./messages.ts";
import type { ResourceSet } from "./resources.ts";
import { ActorManager, type ActorEntry } from "./gcs/actors.ts";
import { mergeDemands } from "./gcs/demands.ts";
import { PlacementGroups } from "./gcs/placement-groups.ts";
import { RecentDeaths } from "./recent-deaths.ts";
import {
  creatorOfId, diedWithNode, nodeOf, rayletAddr, type ActorId, type Addr, type FunctionDescriptor, type FunctionId, type JobId, type Mutable, type NodeId, type NodeView,
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
  /** Dead nodes remembered, at least 1 (see ModelTuning.deadNodesKept). */
  readonly deadNodesKept: number;
  /** Actors dead for good remembered, at least 1 (see ModelTuning.deadActorsKept). */
  readonly deadActorsKept: number;
  /** Worker and driver deaths remembered, at least 1 (see ModelTuning.deadWorkersKept). */
  readonly deadWorkersKept: number;
  /** Removed placement groups remembered, at least 1 (see ModelTuning.removedGroupsKept). */
  readonly removedGroupsKept: number;
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
  /**
   * A driver's connection came (back): one already declared gone is not taken back (its leases,
   * objects and actors are gone) and is told so, so that it ends instead of waiting forever.
   */
  | { readonly kind: "driver-connected"; readonly driver: Addr }
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

export class Gcs {
  readonly nodes = new Map<NodeId, NodeEntry>();
  readonly actorManager: ActorManager;
  private readonly functions = new Map<FunctionId, FunctionDescriptor>();
  private readonly functionWaiters = new Map<FunctionId, Addr[]>();
  readonly placementGroups: PlacementGroups;
  /** Each live node's latest report of the demands it cannot place (volatile: heartbeats renew it). */
  private readonly demands = new Map<NodeId, readonly PendingDemand[]>();
  /** Each live node's latest load report for the autoscaler: queued requests and idle time (volatile). */
  private readonly loads = new Map<NodeId, { readonly backlog: readonly PendingDemand[]; readonly idleMs: number }>();
  private readonly incarnation: number;
  private viewDirty = false;
  private readonly recovered: boolean;
  /** Drivers that asked for failure news directly. */
  private readonly drivers = new Set<Addr>();
  /**
   * Recent worker and driver deaths, for raylets that register after they were published.
   * Workers' deaths are volatile (after a restart, raylets report their workers' deaths
   * again); drivers' are restored from deadDrivers.
   */
  private readonly deadWorkers: RecentDeaths;
  /**
   * Drivers declared gone (the most recent ones), persisted: a driver that comes back after a
   * GCS restart is still told it is dead, as Ray's job table keeps a finished job finished.
   */
  private readonly deadDrivers: RecentDeaths;
  /** The nodes whose latest life is over: past `deadNodesKept`, the one dead longest is forgotten. */
  private readonly deadNodes: RecentDeaths<NodeId>;

  constructor(readonly addr: Addr, private readonly cfg: GcsConfig, private readonly fx: GcsEffects, tables?: GcsTables) {
    for (const knob of ["deadNodesKept", "deadActorsKept", "deadWorkersKept", "removedGroupsKept"] as const) {
      if (!Number.isInteger(cfg[knob]) || cfg[knob] < 1) throw new Error(`GCS: ${knob} must be an integer of at least 1, not ${cfg[knob]}`);
    }
    this.deadNodes = new RecentDeaths(cfg.deadNodesKept);
    this.deadWorkers = new RecentDeaths(cfg.deadWorkersKept);
    this.deadDrivers = new RecentDeaths(cfg.deadWorkersKept);
    this.recovered = tables !== undefined;
    this.incarnation = ((tables?.meta.get("incarnation") as number | undefined) ?? 0) + 1;
    fx.persist("meta", "incarnation", this.incarnation);
    this.placementGroups = new PlacementGroups({
      send: (to, m) => this.fx.send(to, m), trace: (b) => this.fx.trace(b), now: () => this.fx.now(), view: () => this.view(),
      persist: (id, row) => this.fx.persist("meta", `pg:${id}`, row),
      // Bundles placed or lost: actors waiting for a group's bundle may be placed now.
      viewChanged: () => { this.viewDirty = true; this.actorManager.retryInfeasible(); },
      groupRemoved: (pgId) => this.actorManager.groupRemoved(pgId),
    }, this.incarnation * 1_000_000_000, cfg.removedGroupsKept);
    this.actorManager = new ActorManager({
      gcs: addr, head: cfg.head, bugs: cfg.bugs, recovered: this.recovered, firstReqId: this.incarnation * 1_000_000_000, deadKept: cfg.deadActorsKept,
      send: (to, m) => this.fx.send(to, m), trace: (b) => this.fx.trace(b), now: () => this.fx.now(), random: () => this.fx.random(),
      view: () => this.view(), persist: (id, row) => this.fx.persist("actors", id, row),
      jobEnded: (job) => this.jobEnded(job),
    });
    if (tables) this.load(tables);
  }

  /** The actor table (the actor manager's). */
  get actors(): ReadonlyMap<ActorId, ActorEntry> {
    return this.actorManager.actors;
  }

  /** The state, as plain records (for tests and debugging: do not change it). */
  get state() {
    return {
      incarnation: this.incarnation, nodes: this.nodes, actors: this.actors, functions: this.functions, functionWaiters: this.functionWaiters,
      names: this.actorManager.names, leaseRequests: this.actorManager.leaseRequests, drivers: this.drivers, deadDrivers: this.deadDrivers.list(), viewDirty: this.viewDirty,
    } as const;
  }

  private load(t: GcsTables): void {
    for (const [id, row] of t.nodes) {
      const r = row as { state: NodeState; incarnation: number; endpoint?: string; total: ResourceSet };
      // Nodes need time to notice the restart and reconnect: their health checks start late.
      this.nodes.set(id, { state: r.state, incarnation: r.incarnation, endpoint: r.endpoint, total: r.total, available: r.total, missed: -this.cfg.recoveryGracePeriods });
      // Storage keeps no order of deaths: rows come back in the order they were first written.
      if (r.state === "DEAD") this.buried(id);
    }
    for (const [id, row] of t.functions) this.functions.set(id, row as FunctionDescriptor);
    for (const d of (t.meta.get("deadDrivers") as Addr[] | undefined) ?? []) {
      this.deadDrivers.add(d);
      this.deadWorkers.add(d);
    }
    // A driver in both lists died as the old GCS was writing its death down: it is dead.
    for (const d of (t.meta.get("drivers") as Addr[] | undefined) ?? []) if (!this.deadDrivers.has(d)) this.drivers.add(d);
    this.placementGroups.load([...t.meta].filter(([k]) => k.startsWith("pg:")));
    this.actorManager.load(t.actors, (a) => this.knownDead(a));
    // The jobs of detached actors dead for good are over, as for a dead driver: a raylet that registers now hears so too.
    for (const [id, a] of this.actorManager.actors) if (a.state === "DEAD" && a.spec.job === id) this.deadWorkers.add(id);
  }

  start(): void {
    this.fx.setTimer(PERIOD, this.cfg.viewPeriodMs, true);
    if (!this.recovered) return;
    this.fx.trace({ kind: "gcs.recovered", comp: "gcs", nodes: this.nodes.size, actors: this.actors.size, nodeIds: [...this.nodes.keys()].sort(), actorIds: [...this.actors.keys()].sort() });
    // Everyone reconnects: raylets re-register, owners resubscribe and resend what was in flight.
    this.publish({ type: "GcsRestarted" });
    this.actorManager.retryPendingActors();
  }

  /** The one door: every input the GCS can be handed. */
  step(input: GcsInput): void {
    switch (input.kind) {
      case "message": return this.receive(input.from, input.msg);
      case "timer": return this.period();
      case "driver-gone": return this.driverGone(input.driver);
      case "driver-connected": return this.driverConnected(input.driver);
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
        if (this.deadWorkers.has(from)) return; // declared gone: see driverConnected
        if (!this.drivers.has(from)) {
          this.drivers.add(from);
          this.fx.persist("meta", "drivers", [...this.drivers]);
        }
        return;
      case "RegisterFunction": return this.registerFunction(m.fn);
      case "GetFunction": return this.knownDead(from) ? undefined : this.getFunction(from, m.id);
      case "CreateActor": return this.actorManager.createActor(from, m.spec, this.knownDead(m.spec.owner), m.failed);
      // Asks sent before their sender died (come late) would wait or follow for a dead address.
      case "SubscribeActor": return this.knownDead(from) ? undefined : this.actorManager.subscribe(from, m.actorId, this.knownDead(creatorOfId(m.actorId)));
      case "GetNamedActor": return this.knownDead(from) ? undefined : this.actorManager.getNamed(from, m.reqId, m.name, m.namespace);
      case "ListNamedActors": return this.fx.send(from, { type: "NamedActorList", reqId: m.reqId, actors: this.actorManager.listNamed(m.namespace) });
      case "KillActor":
        if (m.exited) return this.actorManager.actorExited(m.actorId, m.epoch ?? 0);
        if (m.noRestart === false) return this.actorManager.restartKilledActor(m.actorId, m.epoch ?? 0);
        return this.actorManager.killActor(m.actorId, "it was killed by ray.kill()");
      case "ActorOutOfScope": return this.actorManager.outOfScope(from, m.actorId);
      case "LeaseGranted": return this.actorManager.actorLeaseGranted(m.reqId, m.leaseId, m.worker);
      case "LeaseSpillback": return this.actorManager.actorLeaseRetry(m.reqId, m.node);
      case "LeaseRejected": return this.actorManager.actorLeaseRejected(m.reqId);
      case "TaskReply": return this.actorManager.actorCreated(m.taskId, m.result);
      case "HeldLeases": return this.actorManager.heldLeases(from, m.leases);
      case "CreatePlacementGroup":
        // Sent just before its creator died: a non-detached group would go with it at once.
        if (m.spec.lifetime !== "detached" && this.knownDead(m.spec.creator)) return;
        return this.placementGroups.create(m.spec);
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
        this.fx.send(from, this.registered(node, incarnation));
        return;
      }
      // The node restarted before we noticed it died: its previous life is over.
      prev.state = nextNodeState(prev.state, { type: "DIED" });
      this.nodeDied(node, "it restarted");
    }
    // A node's lives are numbered in order: a new life always follows the one on record.
    if (prev && prev.incarnation >= incarnation) throw new InvariantError(`GCS: node ${node} registers life ${incarnation} after life ${prev.incarnation}`);
    const state = nextNodeState("REGISTERING", { type: "REGISTERED" });
    this.deadNodes.delete(node);
    this.nodes.set(node, { state, incarnation, endpoint, total: resources, available: resources, missed: 0 });
    this.fx.persist("nodes", node, { state, incarnation, endpoint, total: resources });
    this.fx.trace({ kind: "node.registered", comp: "gcs", id: node, resources });
    this.fx.send(from, this.registered(node, incarnation));
    this.broadcastView();
    this.actorManager.retryPendingActors();
    this.placementGroups.retry();
  }

  /**
   * The answer to a registration: the head, the deaths a new raylet missed, and from a recovered
   * GCS the bundles it knows are committed on the node: a bundle an earlier GCS reserved there
   * and this one does not know of (its answer or its commit was lost with that GCS) would hold
   * the node's resources forever, so the raylet gives it back (Ray's GCS likewise releases the
   * bundles it finds unused after a restart).
   */
  private registered(node: NodeId, incarnation: number): Msg {
    const m: Extract<Msg, { type: "NodeRegistered" }> = this.deadWorkers.size === 0
      ? { type: "NodeRegistered", head: this.cfg.head, incarnation }
      : { type: "NodeRegistered", head: this.cfg.head, incarnation, deadWorkers: this.deadWorkers.list() };
    if (this.recovered) m.bundles = { keep: this.placementGroups.bundlesOn(node), before: this.placementGroups.firstAttempt };
    return m;
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
    this.buried(node);
    this.fx.trace({ kind: "node.dead", comp: "gcs", id: node, reason });
    this.publish({ type: "NodeDead", node, incarnation: n.incarnation }, node);
    this.broadcastView();
    this.peersDied((a) => diedWithNode(a, node, n.incarnation));
    this.actorManager.nodeDied(node, n.incarnation);
  }

  /**
   * `node`'s latest life is over: it joins the dead, and past `deadNodesKept` the longest dead
   * is forgotten. Its death was published and shown in views long since; what the GCS can no
   * longer tell is that a late message from that life is stale (as Ray after evicting a dead
   * node: docs/faults.md).
   */
  private buried(node: NodeId): void {
    const oldest = this.deadNodes.add(node);
    if (oldest === undefined) return;
    this.nodes.delete(oldest);
    this.fx.persist("nodes", oldest, undefined);
    this.viewDirty = true;
  }

  /** Sends news to drivers and every live raylet, and to `alsoTo` though it is dead (the node a NodeDead names). */
  private publish(m: Msg, alsoTo?: NodeId): void {
    for (const d of this.drivers) this.fx.send(d, m);
    for (const [node, n] of this.nodes) {
      if (n.state !== "DEAD" || node === alsoTo) this.fx.send(rayletAddr(node), m);
    }
  }

  /**
   * A driver ended: it is forgotten, and its death is published as a worker's, so raylets return
   * its leases and free the objects it owned, owners and borrowers hear it, and its non-detached
   * actors are killed (workerDied).
   */
  private driverGone(driver: Addr): void {
    // Its death first: a GCS that dies between the two writes leaves it dead, not forgotten.
    if (!this.deadDrivers.has(driver)) {
      this.deadDrivers.add(driver);
      this.fx.persist("meta", "deadDrivers", this.deadDrivers.list());
    }
    if (this.drivers.delete(driver)) this.fx.persist("meta", "drivers", [...this.drivers]);
    this.fx.trace({ kind: "driver.dead", comp: "gcs", driver });
    this.workerDied(driver);
  }

  /**
   * Whether `addr` is known dead: a worker or driver whose death was published, or a worker of a
   * node life that is over (its node's death publishes no worker's). A request it sent before it
   * died may come after the news (held by a partition, say): what it asks for would outlive it.
   */
  private knownDead(addr: Addr): boolean {
    if (this.deadWorkers.has(addr)) return true;
    const node = nodeOf(addr);
    const n = this.nodes.get(node);
    return n !== undefined && diedWithNode(addr, node, n.state === "DEAD" ? n.incarnation : n.incarnation - 1);
  }

  private driverConnected(driver: Addr): void {
    if (this.deadWorkers.has(driver)) this.fx.send(driver, { type: "WorkerDied", worker: driver });
  }

  /**
   * A detached actor died for good: its job (named by its id) is over. Its death is published as
   * a worker's under the job's name, the news a driver's death gives: raylets end the job (its
   * workers go, its requests are dropped), and everyone else finds no process of that name.
   */
  private jobEnded(job: JobId): void {
    this.deadWorkers.add(job);
    this.publish({ type: "WorkerDied", worker: job });
  }

  private workerDied(worker: Addr): void {
    this.deadWorkers.add(worker);
    this.publish({ type: "WorkerDied", worker });
    this.peersDied((a) => a === worker);
    this.actorManager.workerDied(worker);
    this.placementGroups.creatorsDied((a) => a === worker);
  }

  /**
   * What dead processes asked to hear goes (before the news of their actors, which goes to the
   * living only): their actor subscriptions, and their waits for a function that may never be
   * registered.
   */
  private peersDied(dead: (a: Addr) => boolean): void {
    this.actorManager.subscribersDied(dead);
    for (const [id, ws] of this.functionWaiters) {
      const live = ws.filter((w) => !dead(w));
      if (live.length === 0) this.functionWaiters.delete(id);
      else if (live.length < ws.length) this.functionWaiters.set(id, live);
    }
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
    return mergeDemands([...this.demands.values(), this.actorManager.demands(), this.placementGroups.demands()]);
  }

  view(): NodeView[] {
    const out: NodeView[] = [];
    for (const [node, n] of this.nodes) {
      const bundles = n.state === "DEAD" ? [] : this.placementGroups.bundlesOn(node);
      const v: Mutable<NodeView> = { node, incarnation: n.incarnation, endpoint: n.endpoint, total: n.total, available: n.available, alive: n.state !== "DEAD" };
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
}
