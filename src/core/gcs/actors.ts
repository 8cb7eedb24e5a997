// Actors in the GCS, as Ray's GcsActorManager and GcsActorScheduler: the actor table (persisted,
// recovered by a restarted GCS), named actors unique within a namespace, placing an actor on a node
// through a lease, pushing its constructor, and restarting it within its budget when its worker,
// its node or (unless detached) its owner dies.

import type { TraceBody } from "../../../spec/trace.ts";
import type { Bugs } from "../bugs.ts";
import { nextActorState, type ActorState } from "../lifecycle/actor.ts";
import type { Msg, NamedActorEntry, TaskResult } from "../messages.ts";
import { RecentDeaths } from "../recent-deaths.ts";
import { place } from "../scheduler.ts";
import {
  creatorOfId, diedWithNode, nodeOf, rayletAddr, type ActorId, type ActorInfo, type ActorSpec, type Addr, type ErrorInfo,
  type JobId, type NodeId, type NodeView, type PendingDemand, type PlacementGroupId, type TaskSpec,
} from "../types.ts";

export interface ActorEntry {
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

/** What the actor manager needs of the GCS. */
export interface ActorPorts {
  /** The GCS's own address: it owns every actor's creation task. */
  readonly gcs: Addr;
  readonly head: NodeId;
  readonly bugs: Bugs;
  /** This GCS recovered its tables: a placed actor's constructor may have to be pushed again. */
  readonly recovered: boolean;
  /** The first lease request id: ids carry the GCS's incarnation so a reply to a previous GCS never matches. */
  readonly firstReqId: number;
  /** Actors dead for good to remember: past it the longest dead is forgotten. */
  readonly deadKept: number;
  send(to: Addr, m: Msg): void;
  trace(body: TraceBody): void;
  /** Persists an actor's row. */
  persist(id: ActorId, row: unknown): void;
  now(): number;
  random(): number;
  view(): NodeView[];
  /** A detached actor died for good: the job it roots (its id) is over. */
  jobEnded(job: JobId): void;
}

export class ActorManager {
  readonly actors = new Map<ActorId, ActorEntry>();
  /** Named actors that are not dead, by nameKey(namespace, name): a name is unique within its namespace. */
  readonly names = new Map<string, ActorId>();
  /** Lease request id → actor being placed. */
  readonly leaseRequests = new Map<number, ActorId>();
  /** The actors dead for good: past `deadKept`, the one dead longest is forgotten. */
  private readonly dead: RecentDeaths<ActorId>;
  /**
   * Followers of actors not registered yet (volatile). An owner registers its actor once the
   * constructor's arguments are ready, and may pass a handle on before that: whoever calls through
   * it follows the actor from then on, as Ray's GCS takes a subscription to any actor id.
   */
  private readonly early = new Map<ActorId, Set<Addr>>();
  private nextReq: number;
  private spreadCursor = 0;

  constructor(private readonly io: ActorPorts) {
    this.nextReq = io.firstReqId;
    this.dead = new RecentDeaths(io.deadKept);
  }

  /**
   * The actor table of a recovered GCS. `dead`: whether an address is known dead; a subscriber
   * the old GCS buried without writing its rows again (it died in between) is not followed on.
   */
  load(rows: ReadonlyMap<string, unknown>, dead: (a: Addr) => boolean): void {
    for (const [id, row] of rows) {
      const r = row as ActorRow;
      // A row stored before actors carried their job: a detached actor is its own job, any other
      // its owner's (exact for a driver; for a task's worker, a job that ends with that worker,
      // and the actor with it anyway).
      const spec = r.spec.job !== undefined ? r.spec : { ...r.spec, job: r.spec.detached === true ? id : r.spec.owner };
      this.actors.set(id, { ...r, spec, subscribers: new Set(r.subscribers.filter((s) => !dead(s))) });
      if (r.spec.name !== undefined && r.state !== "DEAD") this.names.set(nameKey(r.spec.namespace, r.spec.name), id);
      // Storage keeps no order of deaths: rows come back in the order they were first written.
      if (r.state === "DEAD") this.buried(id);
    }
  }

  /** `ray.getActor(name)`: the asker follows the actor from now on. */
  getNamed(from: Addr, reqId: number, name: string, namespace: string | undefined): void {
    const key = this.io.bugs.has("names-ignore-namespace") ? this.anyNamespace(name) : nameKey(namespace, name);
    const id = key === undefined ? undefined : this.names.get(key);
    const a = id === undefined ? undefined : this.actors.get(id);
    if (a) this.addSubscriber(id!, a, from);
    this.io.send(from, { type: "NamedActor", reqId, info: a ? this.info(id!, a) : undefined });
  }

  /** The live named actors of `namespace` (all of them when absent), by namespace and name. */
  listNamed(namespace: string | undefined): NamedActorEntry[] {
    // The separator sorts below every character: the keys' order is by namespace, then name.
    const all = [...this.names.keys()].sort().map(nameKeyParts);
    return namespace === undefined ? all : all.filter((e) => e.namespace === namespace);
  }

  /** A node died: its actors restart (or die), actors whose owner died with it are killed, placements on it are retried. */
  nodeDied(node: NodeId, incarnation: number): void {
    for (const [id, a] of this.actors) {
      if (a.state === "DEAD") continue;
      if (a.node === node) this.actorDied(id, a, `the node ${node} running it died`);
      else if (this.diesWithOwner(a) && diedWithNode(a.spec.owner, node, incarnation)) this.killActor(id, `its owner ${a.spec.owner} died with node ${node}`);
      else if (a.leaseReq !== undefined && a.leaseNode === node) {
        // The request died with the node: place the actor again.
        this.leaseRequests.delete(a.leaseReq);
        this.scheduleActor(id, a);
      }
    }
  }

  /** A worker (or driver) died: the actor it ran restarts (or dies); the actors it owned die with it. */
  workerDied(worker: Addr): void {
    for (const [id, a] of this.actors) {
      if (a.state === "DEAD" && !this.io.bugs.has("restart-killed-actor")) continue;
      if (a.address === worker) this.actorDied(id, a, `its worker process ${worker} died`);
      // An actor lives no longer than its owner, unless it is detached (as in Ray).
      else if (a.spec.owner === worker && this.diesWithOwner(a)) this.killActor(id, `its owner ${worker} died`);
    }
  }

  /**
   * Processes known dead no longer follow any actor, as Ray's GCS drops the subscriptions of a
   * dead worker: every later update would go to an address nobody answers at.
   */
  subscribersDied(dead: (a: Addr) => boolean): void {
    for (const [id, a] of this.actors) {
      let gone = false;
      for (const s of a.subscribers) if (dead(s)) { a.subscribers.delete(s); gone = true; }
      if (gone) this.save(id, a);
    }
    for (const [id, followers] of this.early) {
      for (const s of followers) if (dead(s)) followers.delete(s);
      // Its creator died before registering it: no registration will come.
      if (dead(creatorOfId(id))) for (const s of followers) this.io.send(s, { type: "ActorUpdate", info: neverRegistered(id) });
      if (followers.size === 0 || dead(creatorOfId(id))) this.early.delete(id);
    }
  }

  /** Actors no live node can host, as pending demands. */
  demands(): PendingDemand[] {
    const out: PendingDemand[] = [];
    for (const a of this.actors.values()) {
      if (a.infeasibleSince !== undefined && a.leaseReq === undefined && a.address === undefined && a.state !== "DEAD") out.push({ resources: a.spec.resources, count: 1, ageMs: this.io.now() - a.infeasibleSince });
    }
    return out;
  }

  private info(id: ActorId, a: ActorEntry): ActorInfo {
    return {
      actorId: id, state: a.state, address: a.address, epoch: a.epoch, name: a.spec.name, owner: a.spec.owner, error: a.error,
      ...(a.spec.namespace !== undefined ? { namespace: a.spec.namespace } : {}),
      maxTaskRetries: a.spec.maxTaskRetries, ...(a.spec.generators !== undefined ? { generators: a.spec.generators } : {}),
      ...(a.spec.maxPendingCalls !== undefined ? { maxPendingCalls: a.spec.maxPendingCalls } : {}),
    };
  }

  /** A detached actor outlives its owner; any other dies with it. */
  private diesWithOwner(a: ActorEntry): boolean {
    return a.spec.detached !== true || this.io.bugs.has("detached-dies-with-owner");
  }

  /** The seeded bug names-ignore-namespace: a lookup that finds the name in whichever namespace holds it. */
  private anyNamespace(name: string): string | undefined {
    for (const k of this.names.keys()) if (nameKeyParts(k).name === name) return k;
    return undefined;
  }

  /** Forgets a dead actor's name, so that a new actor may take it (as Ray frees the name of a dead actor). */
  private releaseName(id: ActorId, a: ActorEntry): void {
    if (a.spec.name === undefined) return;
    const key = nameKey(a.spec.namespace, a.spec.name);
    if (this.names.get(key) === id) this.names.delete(key);
  }

  private save(id: ActorId, a: ActorEntry): void {
    if (this.io.bugs.has("gcs-forgets-actors")) return;
    const row: ActorRow = {
      state: a.state, spec: a.spec, epoch: a.epoch, restartsLeft: a.restartsLeft, address: a.address, node: a.node,
      leaseId: a.leaseId, error: a.error, subscribers: [...a.subscribers],
    };
    this.io.persist(id, row);
  }

  /** Persists the actor's new state, then tells everyone who follows it. */
  private changed(id: ActorId, a: ActorEntry): void {
    this.save(id, a);
    this.io.trace({ kind: "actor.state", comp: "gcs", actor: id, state: a.state, worker: a.address, at: a.node, epoch: a.epoch });
    const info = this.info(id, a);
    for (const s of a.subscribers) this.io.send(s, { type: "ActorUpdate", info });
    if (a.state === "DEAD") {
      this.buried(id);
      // A detached actor roots a job named by its id (worker/job.ts); no other actor ends a job.
      if (a.spec.job === id) this.io.jobEnded(id);
    } else this.dead.delete(id); // only the seeded bug restart-killed-actor brings one back
  }

  /**
   * `id` is dead for good: it joins the dead, and past `deadKept` the longest dead is forgotten
   * (its row too). Everyone who followed it was told; what is lost is the answer to one who asks
   * only now, which is Ray's trade as well (docs/faults.md).
   */
  private buried(id: ActorId): void {
    const oldest = this.dead.add(id);
    if (oldest === undefined) return;
    this.actors.delete(oldest);
    this.io.persist(oldest, undefined);
  }

  private addSubscriber(id: ActorId, a: ActorEntry, s: Addr): void {
    if (a.subscribers.has(s)) return;
    a.subscribers.add(s);
    this.save(id, a);
  }

  /**
   * `ownerDead`: the GCS already buried the owner (a registration that was on its way then).
   * `failed`: the owner could not resolve the constructor's arguments: registered dead, with that error.
   */
  createActor(from: Addr, spec: ActorSpec, ownerDead: boolean, failed?: ErrorInfo): void {
    const known = this.actors.get(spec.actorId);
    if (known) {
      // A resent registration (after a GCS restart, or a duplicate): answer with what we know.
      this.io.send(from, { type: "ActorUpdate", info: this.info(spec.actorId, known) });
      return;
    }
    const a: ActorEntry = {
      // An owner already buried follows nothing (a detached actor outlives it).
      state: "DEPENDENCIES_UNREADY", spec, epoch: 0, restartsLeft: spec.maxRestarts, subscribers: new Set(ownerDead ? [] : [spec.owner]),
    };
    for (const s of this.early.get(spec.actorId) ?? []) a.subscribers.add(s);
    this.early.delete(spec.actorId);
    this.actors.set(spec.actorId, a);
    const args = spec.args.flatMap((x) => ("ref" in x ? [x.ref] : x.v.refs?.map((r) => r.id) ?? []));
    this.io.trace({
      kind: "actor.registered", comp: "gcs", actor: spec.actorId, owner: spec.owner, detached: spec.detached === true,
      ...(spec.name !== undefined ? { name: spec.name, namespace: spec.namespace ?? "" } : {}),
      ...(args.length > 0 ? { args } : {}),
    });
    if (failed !== undefined) {
      a.state = nextActorState(a.state, { type: "KILL" });
      a.error = failed;
      return this.changed(spec.actorId, a);
    }
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
    // An actor lives no longer than its owner: registered after the owner's death, it is dead at once.
    if (ownerDead && this.diesWithOwner(a)) return this.killActor(spec.actorId, `its owner ${spec.owner} died`);
    // The owner resolved the constructor's arguments before registering.
    a.state = nextActorState(a.state, { type: "DEPS_RESOLVED" });
    this.changed(spec.actorId, a);
    this.scheduleActor(spec.actorId, a);
  }

  /** `creatorDead`: the GCS buried the process that made the id (if the actor is unknown, it never will be). */
  subscribe(from: Addr, id: ActorId, creatorDead: boolean): void {
    const a = this.actors.get(id);
    if (!a) {
      // Not registered yet (or dead so long ago that it was forgotten: then nobody answers, as in Ray).
      if (creatorDead) return this.io.send(from, { type: "ActorUpdate", info: neverRegistered(id) });
      let followers = this.early.get(id);
      if (!followers) this.early.set(id, (followers = new Set()));
      followers.add(from);
      return;
    }
    this.addSubscriber(id, a, from);
    this.io.send(from, { type: "ActorUpdate", info: this.info(id, a) });
  }

  private scheduleActor(id: ActorId, a: ActorEntry, node?: NodeId): void {
    if (node === undefined) {
      const p = place({
        resources: a.spec.resources, strategy: a.spec.strategy, local: this.io.head, nodes: this.io.view(),
        random: () => this.io.random(), spreadCursor: this.spreadCursor,
      });
      this.spreadCursor = p.spreadCursor;
      if (p.kind === "infeasible") {
        // Wait for the cluster to change (a node joining) rather than fail, as Ray does.
        a.leaseReq = undefined;
        if (a.infeasibleSince === undefined) {
          a.infeasibleSince = this.io.now();
          const cluster = this.io.view().filter((v) => v.alive).map((v) => v.total);
          this.io.trace({ kind: "task.infeasible", comp: "gcs", task: `${id}:create:${a.epoch}`, resources: a.spec.resources, reason: p.reason, cluster });
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
    this.io.send(rayletAddr(node), {
      type: "RequestLease", reqId,
      req: { resources: a.spec.resources, strategy: a.spec.strategy, deps: [], job: a.spec.job, actorId: id, grantOrReject: true, taskId: `${id}:create:${a.epoch}` },
    });
  }

  /** The cluster changed: actors that no node could host (in a group not placed yet, say) are placed again. */
  retryInfeasible(): void {
    for (const [id, a] of this.actors) if (a.infeasibleSince !== undefined && a.state !== "DEAD" && a.leaseReq === undefined && a.address === undefined) this.scheduleActor(id, a);
  }

  /**
   * Placement group `pgId` was removed: its actors end for good (their workers are killed with the
   * bundles; a restart would wait for the group for ever), as Ray's GCS ends an actor whose group
   * is gone (ActorPlacementGroupRemoved).
   */
  groupRemoved(pgId: PlacementGroupId): void {
    for (const [id, a] of this.actors) {
      const s = a.spec.strategy;
      if (typeof s === "object" && "placementGroup" in s && s.placementGroup === pgId) this.killActor(id, `its placement group ${pgId} was removed`);
    }
  }

  retryPendingActors(): void {
    for (const [id, a] of this.actors) {
      if ((a.state === "PENDING_CREATION" || a.state === "RESTARTING") && a.leaseReq === undefined) {
        // Placed but not known to be constructed: the reply may have been lost with the old GCS.
        if (a.address !== undefined) { if (this.io.recovered) this.pushCreation(id, a); } else this.scheduleActor(id, a);
      }
    }
  }

  /** A raylet's actor leases after a restart: one that no actor holds was granted while we were down. */
  heldLeases(from: Addr, leases: readonly { readonly leaseId: string; readonly worker: Addr }[]): void {
    for (const l of leases) {
      let ours = false;
      for (const a of this.actors.values()) if (a.leaseId === l.leaseId) { ours = true; break; }
      if (!ours) this.io.send(from, { type: "ReturnLease", leaseId: l.leaseId, destroyWorker: true });
    }
  }

  actorLeaseGranted(reqId: number, leaseId: string, worker: Addr): void {
    for (const a of this.actors.values()) if (a.leaseId === leaseId) return; // a duplicated grant
    const id = this.leaseRequests.get(reqId);
    this.leaseRequests.delete(reqId);
    const a = id === undefined ? undefined : this.actors.get(id);
    if (!a || a.leaseReq !== reqId || a.state === "DEAD") {
      // Late, duplicated, or for a dead actor: give the worker back.
      this.io.send(rayletAddr(nodeOf(worker)), { type: "ReturnLease", leaseId, destroyWorker: true });
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
      returnId: `${id}:created`, owner: this.io.gcs, job: a.spec.job, resources: a.spec.resources, strategy: a.spec.strategy,
      maxRetries: 0, retryExceptions: false, attempt: a.epoch, actorId: id,
      ...(a.spec.maxConcurrency !== undefined ? { maxConcurrency: a.spec.maxConcurrency } : {}),
      ...(a.spec.concurrencyGroups !== undefined ? { concurrencyGroups: a.spec.concurrencyGroups } : {}),
      ...(a.spec.namespace !== undefined ? { namespace: a.spec.namespace } : {}),
    };
    this.io.send(a.address!, { type: "PushTask", spec });
  }

  actorLeaseRetry(reqId: number, node: NodeId): void {
    const id = this.leaseRequests.get(reqId);
    this.leaseRequests.delete(reqId);
    const a = id === undefined ? undefined : this.actors.get(id);
    // A kill leaves the request in flight (its grant is given back): a dead actor is placed nowhere.
    if (!a || a.leaseReq !== reqId || a.state === "DEAD") return;
    // A node already declared dead (the raylet's view lagged) would never answer: place it afresh.
    const dead = this.io.view().find((v) => v.node === node)?.alive === false;
    this.scheduleActor(id!, a, dead ? undefined : node);
  }

  /** The chosen node cannot host it: wait for the next registration to try again. */
  actorLeaseRejected(reqId: number): void {
    const id = this.leaseRequests.get(reqId);
    this.leaseRequests.delete(reqId);
    const a = id === undefined ? undefined : this.actors.get(id);
    if (a && a.leaseReq === reqId) a.leaseReq = undefined;
  }

  actorCreated(taskId: string, result: TaskResult): void {
    const cut = taskId.lastIndexOf(":create:");
    if (cut < 0) return;
    const id = taskId.slice(0, cut);
    const a = this.actors.get(id);
    if (!a || taskId !== `${id}:create:${a.epoch}` || (a.state !== "PENDING_CREATION" && a.state !== "RESTARTING")) return;
    if (result.kind === "error") {
      // Retryable: its worker could not read an argument (lost for good, or its owner died), as
      // Ray's creation task fails raising the argument's error: no restart would read it either.
      const what = result.retryable ? `the actor's constructor could not read an argument: ${result.error.type}` : "the actor's constructor failed";
      a.error = { type: "ActorDiedError", message: `${what}: ${result.error.message}`, stack: result.error.stack };
      a.state = nextActorState(a.state, { type: "DIED", restartable: false });
      this.releaseName(id, a);
      this.releaseActorLease(a);
      return this.changed(id, a);
    }
    a.state = nextActorState(a.state, { type: "CREATED" });
    this.changed(id, a);
  }

  killActor(id: ActorId, why: string): void {
    const a = this.actors.get(id);
    if (!a || a.state === "DEAD") return;
    a.state = nextActorState(a.state, { type: "KILL" });
    a.error = { type: "ActorDiedError", message: `the actor ${a.spec.className} is dead: ${why}` };
    this.releaseName(id, a);
    const worker = a.address;
    this.releaseActorLease(a);
    if (this.io.bugs.has("restart-killed-actor")) a.address = worker;
    this.changed(id, a);
  }

  /**
   * The actor's owner says every handle to it went out of scope: it ends for good, whatever its
   * restart budget (one still being created is killed: its placement is dropped, a worker leased
   * for it destroyed). Only the owner counts the handles; a detached actor is never ended so,
   * and one already dead stays as it died (the message is resent after a GCS restart).
   */
  outOfScope(from: Addr, id: ActorId): void {
    const a = this.actors.get(id);
    if (!a || a.state === "DEAD" || a.spec.detached === true || a.spec.owner !== from) return;
    this.killActor(id, "all handles to it went out of scope");
  }

  /**
   * Incarnation `epoch` of the actor called ray.exitActor(): it ends for good, whatever its
   * restart budget, as Ray ends an actor that exits intentionally. The news of an incarnation
   * already gone (its node died first, and it restarts) changes nothing.
   */
  actorExited(id: ActorId, epoch: number): void {
    const a = this.actors.get(id);
    if (!a || a.epoch !== epoch || a.state !== "ALIVE") return;
    this.killActor(id, "it exited by ray.exitActor()");
  }

  /**
   * `ray.kill(actor, { noRestart: false })`: incarnation `epoch` ends and the actor restarts as
   * after a crash, within its budget. One being created or restarted is killed as well, as Ray's
   * GCS does: its placement is cancelled (a worker already leased for it is destroyed, a grant
   * still to come is returned) and it starts over, or dies if no restart is left.
   */
  restartKilledActor(id: ActorId, epoch: number): void {
    const a = this.actors.get(id);
    if (!a || a.epoch !== epoch || (a.state !== "ALIVE" && a.state !== "PENDING_CREATION" && a.state !== "RESTARTING")) return;
    this.releaseActorLease(a);
    this.actorDied(id, a, "it was killed by ray.kill() with noRestart: false");
  }

  private actorDied(id: ActorId, a: ActorEntry, why: string): void {
    const restartable = a.restartsLeft !== 0;
    if (restartable && a.restartsLeft > 0) a.restartsLeft--;
    a.state = this.io.bugs.has("restart-killed-actor") ? (restartable ? "RESTARTING" : "DEAD") : nextActorState(a.state, { type: "DIED", restartable });
    a.address = undefined;
    a.node = undefined;
    a.leaseId = undefined;
    a.leaseReq = undefined;
    if (!restartable) {
      a.error = { type: "ActorDiedError", message: `the actor ${a.spec.className} died: ${why}` };
      this.releaseName(id, a);
    } else if (!this.io.bugs.has("no-actor-epoch")) a.epoch++;
    this.changed(id, a);
    if (restartable) this.scheduleActor(id, a);
  }

  private releaseActorLease(a: ActorEntry): void {
    if (a.leaseId !== undefined && a.node !== undefined) {
      this.io.send(rayletAddr(a.node), { type: "ReturnLease", leaseId: a.leaseId, destroyWorker: true });
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

/** The namespace and the name of a names table's key. */
function nameKeyParts(key: string): NamedActorEntry {
  const cut = key.indexOf("\u0000");
  return { name: key.slice(cut + 1), namespace: key.slice(0, cut) };
}

/** What a follower hears of an actor whose creator died before registering it: dead, never created. */
function neverRegistered(id: ActorId): ActorInfo {
  const owner = creatorOfId(id);
  return { actorId: id, state: "DEAD", epoch: 0, owner, error: { type: "ActorDiedError", message: `its creator ${owner} died before it registered the actor` } };
}
