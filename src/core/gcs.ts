// The Global Control Store: node table with health checks, function table, actor table and
// actor scheduling, named actors, and the cluster resource view it gathers from heartbeats
// and broadcasts to raylets.

import type { Effects } from "./effects.ts";
import { nextActorState, type ActorState } from "./lifecycle/actor.ts";
import { nextNodeState, type NodeState } from "./lifecycle/node.ts";
import type { Msg } from "./messages.ts";
import type { ResourceSet } from "./resources.ts";
import { place } from "./scheduler.ts";
import {
  rayletAddr, type ActorId, type ActorInfo, type ActorSpec, type Addr, type ErrorInfo,
  type FunctionDescriptor, type FunctionId, type NodeId, type NodeView, type TaskSpec,
} from "./types.ts";

export interface GcsConfig {
  readonly head: NodeId;
  /** How often the resource view is pushed to raylets, and node health is checked. */
  readonly viewPeriodMs: number;
  /** A node that misses this many consecutive periods of heartbeats is declared dead. */
  readonly heartbeatMissLimit: number;
}

interface NodeEntry {
  state: NodeState;
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
  /** The outstanding lease request, while placing the actor. */
  leaseReq?: number;
  error?: ErrorInfo;
  readonly subscribers: Set<Addr>;
}

export class Gcs {
  readonly nodes = new Map<NodeId, NodeEntry>();
  readonly actors = new Map<ActorId, ActorEntry>();
  private readonly functions = new Map<FunctionId, FunctionDescriptor>();
  private readonly functionWaiters = new Map<FunctionId, Addr[]>();
  private readonly names = new Map<string, ActorId>();
  /** Lease request id → actor being placed. */
  private readonly leaseRequests = new Map<number, ActorId>();
  private nextReq = 1;
  private spreadCursor = 0;
  private viewDirty = false;

  constructor(readonly addr: Addr, private readonly cfg: GcsConfig, private readonly fx: Effects) {}

  start(): void {
    this.fx.setTimer("period", this.cfg.viewPeriodMs, true);
  }

  fire(key: string): void {
    if (key !== "period") return;
    this.checkHealth();
    if (this.viewDirty) this.broadcastView();
    this.fx.setTimer("period", this.cfg.viewPeriodMs, true);
  }

  receive(from: Addr, m: Msg): void {
    switch (m.type) {
      case "RegisterNode": return this.registerNode(from, m.node, m.resources);
      case "Heartbeat": return this.heartbeat(m.node, m.available);
      case "RegisterFunction": return this.registerFunction(m.fn);
      case "GetFunction": return this.getFunction(from, m.id);
      case "CreateActor": return this.createActor(m.spec);
      case "SubscribeActor": return this.subscribe(from, m.actorId);
      case "GetNamedActor": {
        const id = this.names.get(m.name);
        const a = id === undefined ? undefined : this.actors.get(id);
        if (a && id !== undefined) a.subscribers.add(from);
        this.fx.send(from, { type: "NamedActor", reqId: m.reqId, info: a && id !== undefined ? this.info(id, a) : undefined });
        return;
      }
      case "KillActor": return this.killActor(m.actorId);
      case "LeaseGranted": return this.actorLeaseGranted(m.reqId, m.leaseId, m.worker);
      case "LeaseSpillback": return this.actorLeaseRetry(m.reqId, m.node);
      case "LeaseRejected": return this.actorLeaseRejected(m.reqId, m.reason);
      case "TaskReply": return this.actorCreated(m.taskId, m.result);
      default:
        return; // Not addressed to the GCS: ignored, so a stray message cannot crash it.
    }
  }

  // ---- nodes -------------------------------------------------------------------------------

  private registerNode(from: Addr, node: NodeId, resources: ResourceSet): void {
    const prev = this.nodes.get(node);
    const state = nextNodeState("REGISTERING", { type: "REGISTERED" });
    this.nodes.set(node, { state, total: resources, available: prev?.state === "DEAD" || !prev ? resources : prev.available, missed: 0 });
    this.fx.trace({ kind: "node.registered", comp: "gcs", id: node, resources });
    this.fx.send(from, { type: "NodeRegistered", head: this.cfg.head });
    this.broadcastView();
    this.retryPendingActors();
  }

  private heartbeat(node: NodeId, available: ResourceSet): void {
    const n = this.nodes.get(node);
    if (!n || n.state === "DEAD") return;
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
    this.fx.trace({ kind: "node.dead", comp: "gcs", id: node, reason });
    this.broadcastView();
    for (const [id, a] of this.actors) {
      if (a.node === node && a.state !== "DEAD") this.actorDied(id, a, `the node ${node} running it died`);
    }
  }

  view(): NodeView[] {
    const out: NodeView[] = [];
    for (const [node, n] of this.nodes) out.push({ node, total: n.total, available: n.available, alive: n.state !== "DEAD" });
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
    if (w) w.push(from); else this.functionWaiters.set(id, [from]);
  }

  // ---- actors ------------------------------------------------------------------------------

  private info(id: ActorId, a: ActorEntry): ActorInfo {
    return { actorId: id, state: a.state, address: a.address, epoch: a.epoch, name: a.spec.name, owner: a.spec.owner, error: a.error };
  }

  private publish(id: ActorId, a: ActorEntry): void {
    this.fx.trace({ kind: "actor.state", comp: "gcs", actor: id, state: a.state, worker: a.address, at: a.node, epoch: a.epoch });
    const info = this.info(id, a);
    for (const s of a.subscribers) this.fx.send(s, { type: "ActorUpdate", info });
  }

  private createActor(spec: ActorSpec): void {
    if (this.actors.has(spec.actorId)) return; // a duplicate registration (retried message)
    const a: ActorEntry = {
      state: "DEPENDENCIES_UNREADY", spec, epoch: 0, restartsLeft: spec.maxRestarts, subscribers: new Set([spec.owner]),
    };
    this.actors.set(spec.actorId, a);
    if (spec.name !== undefined) {
      if (this.names.has(spec.name)) {
        a.state = nextActorState(a.state, { type: "KILL" });
        a.error = { type: "ActorDiedError", message: `an actor named "${spec.name}" already exists` };
        return this.publish(spec.actorId, a);
      }
      this.names.set(spec.name, spec.actorId);
    }
    // The owner resolved the constructor's arguments before registering.
    a.state = nextActorState(a.state, { type: "DEPS_RESOLVED" });
    this.publish(spec.actorId, a);
    this.scheduleActor(spec.actorId, a);
  }

  private subscribe(from: Addr, id: ActorId): void {
    const a = this.actors.get(id);
    if (!a) return;
    a.subscribers.add(from);
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
        // Wait for the cluster to change (a node joining) rather than fail: Ray does the same.
        a.leaseReq = undefined;
        return;
      }
      node = p.node;
    }
    const reqId = this.nextReq++;
    a.leaseReq = reqId;
    this.leaseRequests.set(reqId, id);
    this.fx.send(rayletAddr(node), {
      type: "RequestLease", reqId,
      req: { resources: a.spec.resources, strategy: a.spec.strategy, deps: [], actorId: id, grantOrReject: true, taskId: `${id}:create` },
    });
  }

  private retryPendingActors(): void {
    for (const [id, a] of this.actors) {
      if ((a.state === "PENDING_CREATION" || a.state === "RESTARTING") && a.leaseReq === undefined && a.address === undefined) {
        this.scheduleActor(id, a);
      }
    }
  }

  private actorLeaseGranted(reqId: number, leaseId: string, worker: Addr): void {
    const id = this.leaseRequests.get(reqId);
    this.leaseRequests.delete(reqId);
    const a = id === undefined ? undefined : this.actors.get(id);
    if (!a || id === undefined || a.leaseReq !== reqId || a.state === "DEAD") {
      // Late or for a dead actor: give the worker back.
      this.fx.send(rayletAddr(worker.split("/")[0]), { type: "ReturnLease", leaseId, destroyWorker: true });
      return;
    }
    a.leaseReq = undefined;
    a.leaseId = leaseId;
    a.node = worker.split("/")[0];
    a.address = worker;
    const spec: TaskSpec = {
      taskId: `${id}:create:${a.epoch}`, kind: "actor-create", fn: a.spec.fn, name: a.spec.className, args: a.spec.args,
      returnId: `${id}:created`, owner: this.addr, resources: a.spec.resources, strategy: a.spec.strategy,
      maxRetries: 0, retryExceptions: false, attempt: a.epoch, actorId: id,
    };
    this.fx.send(worker, { type: "PushTask", spec });
  }

  private actorLeaseRetry(reqId: number, node: NodeId): void {
    const id = this.leaseRequests.get(reqId);
    this.leaseRequests.delete(reqId);
    const a = id === undefined ? undefined : this.actors.get(id);
    if (a && id !== undefined && a.leaseReq === reqId) this.scheduleActor(id, a, node);
  }

  private actorLeaseRejected(reqId: number, reason: string): void {
    const id = this.leaseRequests.get(reqId);
    this.leaseRequests.delete(reqId);
    const a = id === undefined ? undefined : this.actors.get(id);
    if (!a || id === undefined || a.leaseReq !== reqId) return;
    a.leaseReq = undefined;
    void reason; // the view will change (a node joins or frees up): retried on the next registration
  }

  private actorCreated(taskId: string, result: import("./messages.ts").TaskResult): void {
    const id = taskId.slice(0, taskId.indexOf(":create:"));
    const a = this.actors.get(id);
    if (!a || taskId !== `${id}:create:${a.epoch}` || a.state === "DEAD") return;
    if (result.kind === "error") {
      a.error = { type: "ActorDiedError", message: `the actor's constructor failed: ${result.error.message}`, stack: result.error.stack };
      a.state = nextActorState(a.state, { type: "DIED", restartable: false });
      this.releaseActorLease(a);
      return this.publish(id, a);
    }
    a.state = nextActorState(a.state, { type: "CREATED" });
    this.publish(id, a);
  }

  private killActor(id: ActorId): void {
    const a = this.actors.get(id);
    if (!a || a.state === "DEAD") return;
    a.state = nextActorState(a.state, { type: "KILL" });
    a.error = { type: "ActorDiedError", message: `the actor ${a.spec.className} was killed by ray.kill()` };
    this.releaseActorLease(a);
    this.publish(id, a);
  }

  private actorDied(id: ActorId, a: ActorEntry, why: string): void {
    const restartable = a.restartsLeft !== 0;
    if (restartable && a.restartsLeft > 0) a.restartsLeft--;
    a.state = nextActorState(a.state, { type: "DIED", restartable });
    a.address = undefined;
    a.node = undefined;
    a.leaseId = undefined;
    if (!restartable) a.error = { type: "ActorDiedError", message: `the actor ${a.spec.className} died: ${why}` };
    else a.epoch++;
    this.publish(id, a);
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
