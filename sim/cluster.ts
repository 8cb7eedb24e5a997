// The simulator host: wires the src/core models of a whole cluster (GCS, raylets, driver,
// workers) to one virtual clock, one event queue, a simulated network and seeded randomness,
// and injects faults. Every effect a model asks for becomes an event; user code runs inside
// events too, and the promises it awaits settle between events, so an async program replays
// exactly from its seed.

import { defaultTuning, type ModelTuning } from "../src/core/tuning.ts";
import { ModelClient } from "../src/runtime/model-client.ts";
import { hostSleep } from "../src/runtime/sleep.ts";
import { NO_BUGS, type Bugs } from "../src/core/bugs.ts";
import type { CoreWorker, Outcome } from "../src/core/core-worker.ts";
import type { Gcs } from "../src/core/gcs.ts";
import type { Msg } from "../src/core/messages.ts";
import type { Raylet } from "../src/core/raylet.ts";
import { hostCoreWorker, hostGcs, hostRaylet, nextIncarnation, MemoryTables, type Hosted, type ProcessPorts } from "../src/runtime/kernel.ts";
import type { ResourceSet } from "../src/core/resources.ts";
import { gcsAddr, nodeOf, rayletAddr, type Addr, type FunctionDescriptor, type TaskSpec, type NodeId, type ObjectId, type Payload } from "../src/core/types.ts";
import { codecOf, createRay, type Ray } from "../src/api/ray.ts";
import { Executor } from "../src/runtime/executor.ts";
import { TraceHasher, type TraceBody, type TraceEvent } from "../spec/trace.ts";
import type { Fault, FaultPlan } from "./faults.ts";
import { SimNetwork } from "./network.ts";
import { msgSubject } from "../src/runtime/msg-subject.ts";
import type { WorkerState } from "./blocked.ts";
import { Prng } from "./prng.ts";
import { EventQueue, SimEvent } from "./queue.ts";
import { SimNodeProvider, type SimAutoscaling } from "./autoscaling.ts";
import { AutoscalerHost } from "../src/runtime/autoscaler/host.ts";

export interface SimNode {
  readonly id: NodeId;
  readonly resources: ResourceSet;
  /** A machine the autoscaler may start (a worker group's slot): down until its provider starts it. */
  readonly standby?: true;
}

export interface SimConfig extends ModelTuning {
  readonly seed: number;
  readonly nodes: readonly SimNode[];
  /** One-way latency between nodes, drawn uniformly from [min, max] ms. */
  readonly latencyMs: readonly [number, number];
  /** Latency between processes on the same node. */
  readonly localLatencyMs: number;
  /** Transfer rate between nodes for object chunks. */
  readonly bytesPerMs: number;
  /** How long a lost transmission takes to be resent. */
  readonly retransmitMs: number;
  readonly workerStartMs: number;
  readonly storeCapacity: number;
  /** Keep every trace event in memory (the hash is computed either way). */
  readonly keepTrace: boolean;
  /** How long after a driver is gone the GCS declares it dead (the daemons wait 5 s for its stream). */
  readonly driverGraceMs: number;
  /** Seeded bugs switched on, for mutation tests. */
  readonly bugs: Bugs;
  /** Run the autoscaler on the head, with simulated machines for its worker groups (sim/autoscaling.ts). */
  readonly autoscaling?: SimAutoscaling;
  /** Trace every delivered message (`msg` events, for sequence diagrams); off by default, so benches do not pay for it. */
  readonly traceMessages: boolean;
}

export const defaultSimConfig: Omit<SimConfig, "seed" | "nodes"> = {
  latencyMs: [0.2, 1],
  localLatencyMs: 0.02,
  bytesPerMs: 1_000_000,
  retransmitMs: 200,
  workerStartMs: 5,
  storeCapacity: 256 * 1024 * 1024,
  ...defaultTuning,
  keepTrace: true,
  driverGraceMs: 500,
  bugs: NO_BUGS,
  traceMessages: false,
};

interface Proc {
  readonly addr: Addr;
  readonly node: NodeId;
  comp: Hosted;
  alive: boolean;
}

/** A timer's event while it is in the queue (cleared when it runs: a ran event is not cancelled). */
interface SimTimer {
  ev: SimEvent | undefined;
}

interface NodeState {
  readonly spec: SimNode;
  incarnation: number;
  up: boolean;
  pausedUntil: number;
  /**
   * What reached the node while it was paused, in the order it came: handed over, in that
   * order, when it resumes. (Deferring each to the resume time on its own reordered them when a
   * second pause extended the first: what was deferred to the old end went behind what was
   * deferred to the new one, and a generator's item report fell behind its task's reply.)
   */
  held: (() => void)[];
  /** How many of `held` are work, not housekeeping (a pending resume then keeps the simulation going). */
  heldWork: number;
  /** When the resume event in the queue is due (-1: none), and whether it counts as work. */
  resumeAt: number;
  resumeIsWork: boolean;
  skewMs: number;
  storeFullUntil: number;
  readonly procs: Set<Addr>;
  raylet?: Raylet;
}

export class SimCluster {
  readonly queue = new EventQueue();
  now = 0;
  events = 0;
  readonly head: NodeId;
  gcs!: Gcs;
  readonly driver: CoreWorker;
  readonly driverRay: Ray;
  readonly trace: TraceEvent[] = [];
  readonly network: SimNetwork;
  private readonly hasher = new TraceHasher();
  private traceCount = 0;
  private readonly procs = new Map<Addr, Proc>();
  /** Every core worker started (the driver's too), by address: what a blocked program waits on is read off them. */
  private readonly coreWorkerModels = new Map<Addr, CoreWorker>();
  private readonly nodeIndexes = new Map<Addr, number>();
  private readonly connIndexes = new Map<Addr, number>();
  /** How many processes with connections of their own (the GCS, drivers) have a connection index (in connIndexes). */
  private ownConns = 0;
  /** The nodes by network index (the order of cfg.nodes). */
  private readonly nodeStates: NodeState[] = [];
  private readonly nodes = new Map<NodeId, NodeState>();
  /** The GCS's durable storage: survives a GCS crash. */
  private readonly gcsStorage = new MemoryTables();
  private readonly faultRng: Prng;
  private readonly faultEvents: SimEvent[] = [];
  /** Set when a promise user code awaits was settled: microtasks must run before the next event. */
  drainNeeded = false;
  /** A kill-driver fault struck: the program will never finish. */
  driverKilled = false;
  /**
   * Crashed nodes and gone drivers the GCS has not declared dead yet. Until it does, the cluster
   * is not done with the death (a raylet may still grant a lease to a worker that died with its
   * node, returned only on the news; a dead driver's leases, actors and objects go on the news),
   * so a run does not end quiet before failure detection had its say.
   */
  readonly undetected = new Set<string>();
  /** The driver's address; its process is killed by a kill-driver fault, or when its job ends. */
  readonly driverAddr: Addr;
  /** Every driver's address: the program's, and those of the jobs it ran (`runJob`). They outlive the head's raylet. */
  private readonly drivers = new Set<Addr>();
  /** The autoscaler on the head, when cfg.autoscaling is set. */
  readonly autoscaler?: AutoscalerHost;

  constructor(readonly cfg: SimConfig, plan?: FaultPlan) {
    if (cfg.nodes.length === 0) throw new Error("a simulated cluster needs at least one node");
    this.head = cfg.nodes[0].id;
    for (const n of cfg.nodes) {
      if (this.nodes.has(n.id)) throw new Error(`node id "${n.id}" appears twice`);
      if (n.id.includes("/") || n.id === "") throw new Error(`node id "${n.id}" must be non-empty and not contain "/"`);
      const state: NodeState = { spec: n, incarnation: 0, up: false, pausedUntil: 0, held: [], heldWork: 0, resumeAt: -1, resumeIsWork: false, skewMs: 0, storeFullUntil: 0, procs: new Set() };
      this.nodes.set(n.id, state);
      this.nodeStates.push(state);
    }
    this.network = new SimNetwork(cfg.nodes.map((n) => n.id), cfg, cfg.seed, plan?.network);
    this.faultRng = new Prng(cfg.seed, "faults");
    this.startGcs(false);
    for (const n of cfg.nodes) if (!n.standby) this.startRaylet(n.id);
    if (cfg.autoscaling) {
      const provider = new SimNodeProvider(this, cfg.autoscaling);
      this.autoscaler = new AutoscalerHost(cfg.autoscaling.autoscaling, {
        now: () => this.now,
        trace: (b) => this.emit(this.head, b),
        defer: (fn) => { this.schedule(0, fn); },
        every: (ms, fn) => {
          const e = new Every(this, ms, fn);
          this.queue.add(this.now + ms, e, true);
          return () => e.stop();
        },
        cluster: () => (this.gcsUp() ? this.gcs.autoscalingState() : undefined),
        drain: (node, reason) => { if (this.gcsUp()) this.gcs.step({ kind: "drain-node", node, reason }); },
      }, provider, cfg.bugs);
      this.autoscaler.start();
    }
    this.driverAddr = `${this.head}/driver`;
    this.drivers.add(this.driverAddr);
    const driver = this.spawnWorker(this.driverAddr, this.head);
    this.driver = driver.model;
    this.driverRay = driver.ray;
    if (plan) for (const f of plan.schedule) this.faultEvents.push(this.queue.push(f.at, () => this.inject(f)));
  }

  /** Runs the cluster until every node has registered and the view has reached everyone. */
  boot(): void {
    this.driver.start(false);
    while (this.queue.pendingWork > this.pendingFaults()) this.step();
  }

  private pendingFaults(): number {
    let n = 0;
    for (const e of this.faultEvents) if (!e.cancelled && e.t > this.now) n++;
    return n;
  }

  /** The program is over: faults not yet injected never will be. */
  cancelFaults(): void {
    for (const e of this.faultEvents) if (e.t > this.now) this.queue.cancel(e);
  }

  raylet(node: NodeId): Raylet | undefined { return this.nodes.get(node)?.raylet; }

  private gcsUp(): boolean { return this.procs.get(gcsAddr(this.head))?.alive ?? false; }

  /** Whether the node's machine is up (its raylet started and not crashed or stopped). */
  isUp(node: NodeId): boolean { return this.nodes.get(node)?.up ?? false; }

  /** Starts a standby machine's raylet (the autoscaler's provider). */
  startNode(node: NodeId): void {
    if (!this.nodes.get(node)!.up) this.startRaylet(node);
  }

  /** Stops a machine the autoscaler removed: everything volatile on it goes. */
  stopNode(node: NodeId): void {
    const n = this.nodes.get(node)!;
    if (n.up) this.crashNode(n);
  }

  /** The state of every live model process, by address (for tests and debugging). */
  states(): Map<Addr, object> {
    const out = new Map<Addr, object>();
    for (const [addr, p] of this.procs) if (p.alive) out.set(addr, p.comp.state());
    return out;
  }

  // ---- the clock and the queue ----------------------------------------------------------

  schedule(delay: number, run: () => void, periodic = false): SimEvent {
    return this.queue.push(this.now + delay, run, periodic);
  }

  /** Cancels an event `schedule` returned; it must not have run yet. */
  unschedule(e: SimEvent): void {
    this.queue.cancel(e);
  }

  /** Runs the next event; false when the queue is empty. */
  step(): boolean {
    const e = this.queue.pop();
    if (!e) return false;
    this.now = e.t;
    this.events++;
    e.run();
    return true;
  }

  /** Runs `fn` at a node now, or when the node resumes if it is paused (after what came before it). */
  private atNode(node: NodeId, fn: () => void, periodic = false): void {
    const n = this.nodes.get(node)!;
    if (this.now >= n.pausedUntil) return fn();
    n.held.push(fn);
    if (!periodic) n.heldWork++;
    this.scheduleResume(n);
  }

  /** One resume event at the end of the node's pause; it counts as work while work is held. */
  private scheduleResume(n: NodeState): void {
    const work = n.heldWork > 0;
    if (n.resumeAt === n.pausedUntil && (n.resumeIsWork || !work)) return;
    n.resumeAt = n.pausedUntil;
    n.resumeIsWork = work;
    this.queue.push(n.pausedUntil, () => this.resume(n), !work);
  }

  private resume(n: NodeState): void {
    if (this.now < n.pausedUntil) return this.scheduleResume(n); // paused for longer meanwhile
    if (n.held.length === 0) return; // handed over already by the event due at the same time
    const held = n.held;
    n.held = [];
    n.heldWork = 0;
    n.resumeAt = -1;
    for (const fn of held) fn();
  }

  // ---- the network --------------------------------------------------------------------------

  /** The network index of the node an address is on (-1: no such node), remembered per address. */
  private nodeIndex(addr: Addr): number {
    let i = this.nodeIndexes.get(addr);
    if (i === undefined) this.nodeIndexes.set(addr, (i = this.network.indexOf(nodeOf(addr))));
    return i;
  }

  /**
   * The end of a connection an address's messages travel on, as between the daemons: its node
   * daemon's (the raylet and its worker threads share the node's connections), or for the GCS
   * and each driver, a process with connections of its own, an index past the nodes'.
   */
  private connIndex(addr: Addr): number {
    let i = this.connIndexes.get(addr);
    if (i === undefined) {
      const ownConn = addr === gcsAddr(this.head) || this.drivers.has(addr);
      this.connIndexes.set(addr, (i = ownConn ? this.nodeStates.length + this.ownConns++ : this.nodeIndex(addr)));
    }
    return i;
  }

  private send(from: Addr, to: Addr, m: Msg): void {
    const b = this.nodeIndex(to);
    if (b < 0) return; // no such node: the message goes nowhere
    // Heartbeats, resource views and the soft limit's asks are housekeeping: in flight, they are
    // not pending work (a worker that owns something refuses to exit, and is asked again every
    // idleWorkerKillingMs: counted as work, its asks would keep a finished run from going quiet).
    const periodic = m.type === "Heartbeat" || m.type === "ClusterView" || m.type === "Exit" || m.type === "ExitReply";
    const at = this.network.arrival(this.now, this.nodeIndex(from), b, m, this.connIndex(from), this.connIndex(to));
    const again = this.network.duplicateAt;
    const dest = this.nodeStates[b];
    // The process it is written to: a message travels on that process's connection, which ends
    // with it. A process started afterwards at the same address (a restarted raylet or GCS) never
    // gets it, as a reply on a broken stream never reaches the daemon that reconnected.
    const addressee = this.procs.get(to);
    this.queue.add(at, new Delivery(this, from, to, dest, m, this.now, addressee), periodic);
    if (!Number.isNaN(again)) this.queue.add(again, new Delivery(this, from, to, dest, m, this.now, addressee), periodic); // a duplicate
  }

  /** A message reaches its destination's node: handed over now, or when the node resumes. */
  deliver(from: Addr, to: Addr, dest: NodeState, m: Msg, periodic: boolean, sent: number, addressee: Proc | undefined): void {
    if (this.now < dest.pausedUntil) return this.atNode(dest.spec.id, () => this.deliver(from, to, dest, m, periodic, sent, addressee), periodic);
    const p = this.procs.get(to);
    if (!p || !p.alive || (addressee !== undefined && p !== addressee)) return;
    if (this.cfg.traceMessages && !periodic) this.emit(dest.spec.id, { kind: "msg", comp: "host", from, to, type: m.type, sent, about: msgSubject(m) });
    p.comp.message(from, m);
  }

  // ---- tracing ------------------------------------------------------------------------------

  emit(node: NodeId, body: TraceBody): void {
    if (body.kind === "node.dead") this.undetected.delete(body.id);
    if (body.kind === "driver.dead") this.undetected.delete(body.driver);
    this.hasher.add(this.now, node, body);
    this.traceCount++;
    if (this.cfg.keepTrace) this.trace.push({ t: this.now, node, ...body } as TraceEvent);
  }

  get traceHash(): string { return this.hasher.digest(); }

  /** The live core workers and their state, in the order they started. */
  liveCoreWorkers(): WorkerState[] {
    return [...this.coreWorkerModels].filter(([addr]) => this.alive(addr)).map(([addr, model]) => ({ addr, state: model.state }));
  }
  get traceLength(): number { return this.traceCount; }

  // ---- processes ----------------------------------------------------------------------------

  /** The ports of a process at `addr` on `node`: the virtual clock, the queue, the simulated network. */
  private ports(addr: Addr, node: NodeId, proc: Proc): ProcessPorts<SimTimer> {
    const rng = new Prng(this.cfg.seed, `${addr}@${this.nodes.get(node)!.incarnation}`);
    const n = this.nodes.get(node)!;
    return {
      now: () => this.now + n.skewMs,
      random: () => rng.next(),
      // A dead process does nothing: user code still running in it (an async task or program
      // that resumes) sends nothing, traces nothing and starts nothing.
      send: (to, m) => { if (proc.alive) this.send(addr, to, m); },
      schedule: (delay, fire, periodic) => {
        const h: SimTimer = { ev: undefined };
        h.ev = this.schedule(delay, () => {
          h.ev = undefined;
          this.atNode(node, () => { if (proc.alive) fire(); }, periodic);
        }, periodic);
        return h;
      },
      cancel: (h) => { if (h.ev) { this.queue.cancel(h.ev); h.ev = undefined; } },
      trace: (body) => { if (proc.alive) this.emit(node, body); },
    };
  }

  /** Starts a model process: `make` builds it on the ports it is given. */
  private spawn<T extends Hosted>(addr: Addr, node: NodeId, make: (ports: ProcessPorts<SimTimer>) => T): T {
    const proc: Proc = { addr, node, comp: undefined as unknown as Hosted, alive: true };
    const comp = make(this.ports(addr, node, proc));
    proc.comp = comp;
    this.procs.set(addr, proc);
    this.nodes.get(node)!.procs.add(addr);
    return comp;
  }

  private startGcs(recover: boolean): void {
    const g = gcsAddr(this.head);
    this.kill(g); // restarts that overlap: the latest one wins
    const storage = this.gcsStorage;
    // The simulated storage acknowledges each write at once: what it holds is the oracle.
    if (recover) this.emit(this.head, { kind: "storage.acknowledged", comp: "host", nodes: [...storage.tables.nodes.keys()].sort(), actors: [...storage.tables.actors.keys()].sort() });
    const hosted = this.spawn(g, this.head, (ports) => hostGcs(this.head, this.cfg, this.cfg.bugs, {
      ...ports,
      persist: storage.persist,
    }, recover ? storage.tables : undefined));
    this.gcs = hosted.model;
    this.gcs.start();
  }

  private startRaylet(node: NodeId): Raylet {
    const n = this.nodes.get(node)!;
    n.incarnation = nextIncarnation(n.incarnation);
    n.up = true;
    const addr = rayletAddr(node);
    const spilled = new Map<ObjectId, Payload>(); // the node's local disk
    const place = { node, head: this.head, resources: n.spec.resources, incarnation: n.incarnation, storeCapacity: this.cfg.storeCapacity };
    const hosted = this.spawn(addr, node, (ports) => hostRaylet(place, this.cfg, this.cfg.bugs, {
      ...ports,
      startWorker: (w) => this.schedule(this.cfg.workerStartMs, () => this.atNode(node, () => {
        if (!this.procs.get(addr)?.alive) return;
        this.spawnWorker(w, node).model.start(true);
      })),
      killWorker: (w) => this.kill(w),
      // Payloads are immutable here, so the store keeps them as they are; a "store-full" fault refuses them.
      admit: (payload) => (this.now < n.storeFullUntil ? undefined : payload),
      release: () => {},
      spill: (id, payload) => { spilled.set(id, payload); },
      restore: (id) => this.schedule(this.cfg.localLatencyMs, () => this.atNode(node, () => {
        const p = spilled.get(id);
        if (p && this.procs.get(addr)?.alive) raylet.step({ kind: "restored", id, payload: p });
      })),
      deleteSpilled: (id) => { spilled.delete(id); },
    }));
    const raylet = hosted.model;
    n.raylet = raylet;
    raylet.start();
    return raylet;
  }

  /** A core worker process (the driver, or a worker a raylet started) with its executor. */
  private spawnWorker(addr: Addr, node: NodeId): { model: CoreWorker; ray: Ray } {
    let client!: SimClient;
    let executor!: Executor;
    const math = Object.create(Math) as Math;
    const mathRng = new Prng(this.cfg.seed, `math:${addr}`);
    (math as { random: () => number }).random = () => mathRng.next();
    const model: CoreWorker = this.spawn(addr, node, (ports) => hostCoreWorker(addr, node, this.head, this.cfg, this.cfg.bugs, {
      ...ports,
      complete: (callId, result) => {
        if (!proc.alive) return; // a killed driver's gets and waits never return
        client.complete(callId, result);
        this.drainNeeded = true; // a promise settled: its continuation runs before the next event
      },
      execute: (spec, fn, args) => this.queue.add(this.now, new TaskRun(this, at, proc, model, executor, spec, fn, args)),
      // An event of its own: the signal's listeners are user code, which may call into the model.
      interrupt: (taskId) => this.schedule(0, () => { if (this.procs.get(addr)?.alive) { executor.interrupt(taskId); this.drainNeeded = true; } }),
    })).model;
    const at = this.nodes.get(node)!;
    const proc = this.procs.get(addr)!;
    this.coreWorkerModels.set(addr, model);
    client = new SimClient(this, model, addr, node);
    const ray = createRay(client, { inProcess: true }); // payloads stay in this process
    executor = new Executor(ray, codecOf(client), client, math, Object.create(globalThis) as typeof globalThis);
    return { model, ray };
  }

  // runTask and taskDone are atNode(node, fn) spelled out: no closure per task unless the node is paused.

  /** Runs a task's function on a worker, now or when its node resumes. */
  runTask(at: NodeState, proc: Proc, model: CoreWorker, executor: Executor, spec: TaskSpec, fn: FunctionDescriptor, args: readonly Payload[]): void {
    if (this.now < at.pausedUntil) return this.atNode(at.spec.id, () => this.runTask(at, proc, model, executor, spec, fn, args));
    if (!proc.alive) return;
    const out = executor.run(spec, fn, args);
    if (out instanceof Promise) {
      this.drainNeeded = true;
      out.then((o) => this.schedule(0, () => this.taskDone(at, proc, model, spec, o)));
    } else this.taskDone(at, proc, model, spec, out);
  }

  /** A task's function returned (or its promise settled): tell the worker, if it still lives. */
  private taskDone(at: NodeState, proc: Proc, model: CoreWorker, spec: TaskSpec, o: Outcome): void {
    if (this.now < at.pausedUntil) return this.atNode(at.spec.id, () => this.taskDone(at, proc, model, spec, o));
    if (proc.alive) model.taskDone(spec.taskId, spec.attempt, o);
  }

  alive(addr: Addr): boolean { return this.procs.get(addr)?.alive === true; }

  /**
   * A driver is gone — killed, or its job ended: its process stops, and the GCS hears of it
   * after `driverGraceMs` (as the daemons' GCS declares a driver gone once its stream stayed
   * closed for the grace period), or once it is back if it is down then.
   */
  driverGone(driver: Addr = this.driverAddr): void {
    this.kill(driver);
    this.undetected.add(driver);
    const tell = () => this.atNode(this.head, () => {
      if (this.alive(gcsAddr(this.head))) this.gcs.step({ kind: "driver-gone", driver });
      else this.schedule(this.cfg.driverGraceMs, tell);
    });
    this.schedule(this.cfg.driverGraceMs, tell);
  }

  /**
   * Runs `program` as a job of its own (as a second `tsray run` would): a driver of its own on
   * the head, which lets go of its references once the program settles and is gone then, as a
   * driver whose program returned (its job ends, and its workers with it).
   */
  runJob<T>(program: (ray: Ray) => Promise<T>): Promise<T> {
    const addr = `${this.head}/driver-${this.drivers.size + 1}`;
    this.drivers.add(addr);
    const { model, ray } = this.spawnWorker(addr, this.head);
    model.start(false);
    const end = () => {
      if (!this.alive(addr)) return;
      model.releaseAll();
      this.driverGone(addr);
    };
    return program(ray).finally(end);
  }

  kill(addr: Addr): void {
    const p = this.procs.get(addr);
    if (!p) return;
    p.alive = false;
    p.comp.stopTimers();
    this.procs.delete(addr);
    this.nodes.get(p.node)!.procs.delete(addr);
  }

  // ---- faults -------------------------------------------------------------------------------

  private inject(f: Fault): void {
    const until = "until" in f ? f.until : f.kind === "restart-gcs" ? f.at + (f.downMs ?? 200) : undefined;
    const note = (detail?: string) => this.emit(this.head, { kind: "fault", comp: "host", fault: f.kind, detail, until });
    switch (f.kind) {
      case "kill-node": {
        const n = this.nodes.get(f.node)!;
        if (!n.up) return note(`${f.node} is already down`);
        note(f.node);
        return this.crashNode(n);
      }
      case "restart-node": {
        const n = this.nodes.get(f.node)!;
        note(f.node);
        if (n.up) this.crashNode(n);
        this.startRaylet(f.node);
        return;
      }
      case "kill-worker": {
        const n = this.nodes.get(f.node)!;
        const workers = [...n.procs].filter((a) => /\/w\d+-\d+$/.test(a)).sort();
        if (workers.length === 0) return note(`no worker on ${f.node}`);
        const w = workers[Math.floor(this.faultRng.next() * workers.length)];
        note(w);
        this.kill(w);
        // The raylet sees its child exit.
        this.atNode(f.node, () => n.raylet?.step({ kind: "worker-exited", worker: w }));
        return;
      }
      case "kill-driver": {
        if (!this.alive(this.driverAddr)) return note("the driver is already gone");
        note(this.driverAddr);
        this.driverKilled = true;
        return this.driverGone();
      }
      case "restart-gcs": {
        note(`down for ${f.downMs ?? 200} ms`);
        this.kill(gcsAddr(this.head));
        this.schedule(f.downMs ?? 200, () => this.startGcs(true));
        return;
      }
      case "pause": {
        note(f.node);
        const n = this.nodes.get(f.node)!;
        n.pausedUntil = Math.max(n.pausedUntil, f.until);
        return;
      }
      case "partition":
        note(JSON.stringify(f.groups));
        return this.network.partition(f.at, f.until, f.groups, f.oneWay ?? false);
      case "clock-skew": {
        note(`${f.node} ${f.ms} ms`);
        const n = this.nodes.get(f.node)!;
        n.skewMs = f.ms;
        this.queue.push(f.until, () => { n.skewMs = 0; });
        return;
      }
      case "store-full":
        note(f.node);
        this.nodes.get(f.node)!.storeFullUntil = f.until;
        return;
      case "delay":
        note(`${f.ms} ms`);
        return this.network.delay(f.at, f.until, f.ms, f.nodes);
      case "drop":
        note(`rate ${f.rate}`);
        return this.network.drop(f.at, f.until, f.rate);
      case "duplicate":
        note(`rate ${f.rate}`);
        return this.network.duplicate(f.at, f.until, f.rate);
    }
  }

  /** Everything volatile on the node is gone: its raylet, its store, its workers. */
  private crashNode(n: NodeState): void {
    n.up = false;
    this.undetected.add(n.spec.id);
    // The store's memory and the node's disk go with it, its leases with its workers, and its
    // bundle reservations: say so, so checkers see every copy, lease and reservation end (a raylet
    // the GCS had already declared dead may have granted or reserved some since, which the death
    // did not cover).
    const store = n.raylet?.store;
    if (store) for (const id of [...store.ids(), ...store.spilledCopies.keys()]) this.emit(n.spec.id, { kind: "object.deleted", comp: "store", obj: id, reason: "node-died" });
    for (const [lease, l] of n.raylet?.leases ?? []) {
      if (!l.blocked) this.emit(n.spec.id, { kind: "lease.returned", comp: "raylet", lease, worker: l.worker, resources: l.resources });
    }
    for (const [bundle, b] of n.raylet?.bundles ?? []) this.emit(n.spec.id, { kind: "bundle.released", comp: "raylet", bundle, resources: b.resources });
    for (const addr of [...n.procs]) if (!this.drivers.has(addr) && !addr.endsWith("/gcs")) this.kill(addr);
    n.raylet = undefined;
  }
}

/** A message in flight. */
class Delivery extends SimEvent {
  constructor(
    private readonly sim: SimCluster, private readonly from: Addr, private readonly to: Addr, private readonly dest: NodeState,
    private readonly m: Msg, private readonly sent: number, private readonly addressee: Proc | undefined,
  ) { super(); }
  run(): void { this.sim.deliver(this.from, this.to, this.dest, this.m, this.periodic, this.sent, this.addressee); }
}

/**
 * Housekeeping every `ms`: one event object that puts itself back in the queue (a closure made
 * per cluster would lose its optimised code with the cluster, and be compiled again for the next).
 */
class Every extends SimEvent {
  constructor(private readonly sim: SimCluster, private readonly ms: number, private readonly fn: () => void) { super(); }
  run(): void {
    this.sim.queue.add(this.sim.now + this.ms, this, true);
    this.fn();
  }
  /** Cancelled, the event is skipped wherever it is in the queue. */
  stop(): void { this.sim.queue.cancel(this); }
}

/** A task about to run on a worker. */
class TaskRun extends SimEvent {
  constructor(
    private readonly sim: SimCluster, private readonly at: NodeState, private readonly proc: Proc, private readonly model: CoreWorker,
    private readonly executor: Executor, private readonly spec: TaskSpec, private readonly fn: FunctionDescriptor, private readonly args: readonly Payload[],
  ) { super(); }
  run(): void { this.sim.runTask(this.at, this.proc, this.model, this.executor, this.spec, this.fn, this.args); }
}

/** The API's port onto a simulated core worker: sleep passes in virtual time. */
class SimClient extends ModelClient {
  constructor(private readonly sim: SimCluster, model: CoreWorker, addr: Addr, node: NodeId) {
    super(model, addr, node);
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    let fired = false; // an event that ran is off the queue: unscheduling it would miscount the pending work
    return hostSleep(ms, signal, (wake) => this.sim.schedule(ms, () => {
      fired = true;
      if (!this.sim.alive(this.addr)) return; // its process was killed: it never wakes
      wake();
      this.sim.drainNeeded = true;
    }), (ev) => { if (!fired) this.sim.unschedule(ev); });
  }
}
