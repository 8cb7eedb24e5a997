// The simulator host: wires the src/core models of a whole cluster (GCS, raylets, driver,
// workers) to one virtual clock, one event queue, a simulated network and seeded randomness.
// Every effect a model asks for becomes an event; user code runs inside events too, and the
// promises it awaits are settled between events, so an async program replays exactly.

import { CoreWorker, type Outcome } from "../src/core/core-worker.ts";
import type { CallResult, Effects, RayletEffects, WorkerEffects } from "../src/core/effects.ts";
import { Gcs } from "../src/core/gcs.ts";
import type { Msg } from "../src/core/messages.ts";
import { Raylet } from "../src/core/raylet.ts";
import type { ResourceSet } from "../src/core/resources.ts";
import {
  gcsAddr, nodeOf, rayletAddr, type Addr, type ErrorInfo, type NodeId, type ObjectId, type Payload,
} from "../src/core/types.ts";
import type { CoreClient } from "../src/api/client.ts";
import { toError } from "../src/api/errors.ts";
import { codecOf, createRay, type Ray } from "../src/api/ray.ts";
import { Executor } from "../src/runtime/executor.ts";
import { TraceHasher, type TraceBody, type TraceEvent } from "../spec/trace.ts";
import { Prng } from "./prng.ts";
import { EventQueue, type SimEvent } from "./queue.ts";

export interface SimNode {
  readonly id: NodeId;
  readonly resources: ResourceSet;
}

export interface SimConfig {
  readonly seed: number;
  readonly nodes: readonly SimNode[];
  /** One-way latency between nodes, drawn uniformly from [min, max] ms. */
  readonly latencyMs: readonly [number, number];
  /** Latency between processes on the same node. */
  readonly localLatencyMs: number;
  /** Transfer rate between nodes for object chunks. */
  readonly bytesPerMs: number;
  readonly workerStartMs: number;
  readonly storeCapacity: number;
  readonly heartbeatMs: number;
  readonly viewPeriodMs: number;
  readonly heartbeatMissLimit: number;
  readonly chunkBytes: number;
  readonly maxInlineBytes: number;
  readonly maxPendingLeases: number;
  readonly storeFullTimeoutMs: number;
  /** Keep every trace event in memory (the hash is computed either way). */
  readonly keepTrace: boolean;
}

export const defaultSimConfig: Omit<SimConfig, "seed" | "nodes"> = {
  latencyMs: [0.2, 1],
  localLatencyMs: 0.02,
  bytesPerMs: 1_000_000,
  workerStartMs: 5,
  storeCapacity: 256 * 1024 * 1024,
  heartbeatMs: 100,
  viewPeriodMs: 100,
  heartbeatMissLimit: 5,
  chunkBytes: 5 * 1024 * 1024,
  maxInlineBytes: 100 * 1024,
  maxPendingLeases: 10,
  storeFullTimeoutMs: 1000,
  keepTrace: true,
};

interface Component {
  receive(from: Addr, m: Msg): void;
  fire(key: string): void;
}

interface Proc {
  readonly addr: Addr;
  readonly node: NodeId;
  readonly comp: Component;
  readonly timers: Map<string, SimEvent>;
  alive: boolean;
}

export class SimCluster {
  readonly queue = new EventQueue();
  now = 0;
  events = 0;
  readonly head: NodeId;
  readonly gcs: Gcs;
  readonly raylets = new Map<NodeId, Raylet>();
  readonly driver: CoreWorker;
  readonly driverRay: Ray;
  readonly trace: TraceEvent[] = [];
  private readonly hasher = new TraceHasher();
  private traceCount = 0;
  private readonly procs = new Map<Addr, Proc>();
  private readonly nodeIndex = new Map<NodeId, number>();
  private readonly linkLast: Float64Array;
  private readonly netRng: Prng;
  /** Set when a promise user code awaits was settled: microtasks must run before the next event. */
  drainNeeded = false;

  constructor(readonly cfg: SimConfig) {
    if (cfg.nodes.length === 0) throw new Error("a simulated cluster needs at least one node");
    this.head = cfg.nodes[0].id;
    cfg.nodes.forEach((n, i) => {
      if (this.nodeIndex.has(n.id)) throw new Error(`node id "${n.id}" appears twice`);
      if (n.id.includes("/")) throw new Error(`node id "${n.id}" must not contain "/"`);
      this.nodeIndex.set(n.id, i);
    });
    this.linkLast = new Float64Array(cfg.nodes.length * cfg.nodes.length);
    this.netRng = new Prng(cfg.seed, "network");
    const g = gcsAddr(this.head);
    this.gcs = this.spawn(g, this.head, (fx) => new Gcs(g, { head: this.head, viewPeriodMs: cfg.viewPeriodMs, heartbeatMissLimit: cfg.heartbeatMissLimit }, fx));
    for (const n of cfg.nodes) this.startRaylet(n);
    const driver = this.spawnWorker(`${this.head}/driver`, this.head);
    this.driver = driver.model;
    this.driverRay = driver.ray;
  }

  /** Runs the cluster until every node has registered and the view has reached everyone. */
  boot(): void {
    this.gcs.start();
    for (const r of this.raylets.values()) r.start();
    while (this.queue.pendingWork > 0) this.step();
  }

  // ---- the clock and the queue ----------------------------------------------------------

  schedule(delay: number, run: () => void, periodic = false): SimEvent {
    return this.queue.push(this.now + delay, run, periodic);
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

  // ---- the network --------------------------------------------------------------------------

  private send(from: Addr, to: Addr, m: Msg): void {
    const a = this.nodeIndex.get(nodeOf(from))!;
    const b = this.nodeIndex.get(nodeOf(to));
    if (b === undefined) return; // no such node: the message goes nowhere
    let delay = a === b ? this.cfg.localLatencyMs : this.netRng.between(this.cfg.latencyMs[0], this.cfg.latencyMs[1]);
    if (m.type === "Chunk" && a !== b) delay += m.size / this.cfg.bytesPerMs;
    // Links are FIFO (as a TCP stream is): a message never overtakes an earlier one on its link.
    const link = a * this.cfg.nodes.length + b;
    const at = Math.max(this.now + delay, this.linkLast[link]);
    this.linkLast[link] = at;
    this.queue.push(at, () => {
      const p = this.procs.get(to);
      if (p && p.alive) p.comp.receive(from, m);
    });
  }

  // ---- tracing ------------------------------------------------------------------------------

  emit(node: NodeId, body: TraceBody): void {
    this.hasher.add(this.now, node, body);
    this.traceCount++;
    if (this.cfg.keepTrace) this.trace.push({ t: this.now, node, ...body } as TraceEvent);
  }

  get traceHash(): string { return this.hasher.digest(); }
  get traceLength(): number { return this.traceCount; }

  // ---- processes ----------------------------------------------------------------------------

  private baseEffects(addr: Addr, node: NodeId, holder: { proc?: Proc }): Effects {
    const rng = new Prng(this.cfg.seed, addr);
    const timers = new Map<string, SimEvent>();
    (holder as { timers?: Map<string, SimEvent> }).timers = timers;
    return {
      now: () => this.now,
      random: () => rng.next(),
      send: (to, m) => this.send(addr, to, m),
      setTimer: (key, delay, periodic = false) => {
        const old = timers.get(key);
        if (old) this.queue.cancel(old);
        timers.set(key, this.schedule(delay, () => {
          timers.delete(key);
          const p = holder.proc!;
          if (p.alive) p.comp.fire(key);
        }, periodic));
      },
      cancelTimer: (key) => {
        const old = timers.get(key);
        if (old) { this.queue.cancel(old); timers.delete(key); }
      },
      trace: (body) => this.emit(node, body),
    };
  }

  private spawn<T extends Component>(addr: Addr, node: NodeId, make: (fx: Effects) => T): T;
  private spawn<T extends Component, F extends Effects>(addr: Addr, node: NodeId, make: (fx: F) => T, extra: (fx: Effects) => F): T;
  private spawn<T extends Component>(addr: Addr, node: NodeId, make: (fx: any) => T, extra?: (fx: Effects) => Effects): T {
    const holder: { proc?: Proc; timers?: Map<string, SimEvent> } = {};
    const base = this.baseEffects(addr, node, holder);
    const comp = make(extra ? extra(base) : base);
    const proc: Proc = { addr, node, comp, timers: holder.timers!, alive: true };
    holder.proc = proc;
    this.procs.set(addr, proc);
    return comp;
  }

  private startRaylet(n: SimNode): Raylet {
    const addr = rayletAddr(n.id);
    const spilled = new Map<ObjectId, Payload>();
    const r = this.spawn(addr, n.id, (fx: RayletEffects) => new Raylet(addr, {
      node: n.id, gcs: gcsAddr(this.head), resources: n.resources, storeCapacity: this.cfg.storeCapacity,
      heartbeatMs: this.cfg.heartbeatMs, chunkBytes: this.cfg.chunkBytes, storeFullTimeoutMs: this.cfg.storeFullTimeoutMs,
    }, fx), (base) => ({
      ...base,
      startWorker: (w) => this.schedule(this.cfg.workerStartMs, () => {
        if (!this.procs.get(addr)?.alive) return;
        this.spawnWorker(w, n.id).model.start(true);
      }),
      killWorker: (w) => this.kill(w),
      // Payloads are immutable here, so the store keeps them as they are.
      admit: (payload) => payload,
      release: () => {},
      // External storage for spilled objects survives in this map (a node's local disk).
      spill: (id, payload) => { spilled.set(id, payload); },
      restore: (id) => this.schedule(this.cfg.localLatencyMs, () => {
        const p = spilled.get(id);
        if (p && this.procs.get(addr)?.alive) r.restored(id, p);
      }),
      deleteSpilled: (id) => { spilled.delete(id); },
    }));
    this.raylets.set(n.id, r);
    return r;
  }

  /** A core worker process (the driver, or a worker a raylet started) with its executor. */
  private spawnWorker(addr: Addr, node: NodeId): { model: CoreWorker; ray: Ray } {
    const calls = new Map<number, (r: CallResult) => void>();
    let executor: Executor | undefined;
    let model!: CoreWorker;
    const math = Object.create(Math) as Math;
    const mathRng = new Prng(this.cfg.seed, `math:${addr}`);
    (math as { random: () => number }).random = () => mathRng.next();
    model = this.spawn(addr, node, (fx: WorkerEffects) => new CoreWorker(addr, {
      node, gcs: gcsAddr(this.head), maxInlineBytes: this.cfg.maxInlineBytes, maxPendingLeases: this.cfg.maxPendingLeases,
    }, fx), (base) => ({
      ...base,
      complete: (callId, result) => {
        const cb = calls.get(callId);
        calls.delete(callId);
        if (cb) { cb(result); this.drainNeeded = true; }
      },
      execute: (spec, fn, args) => this.schedule(0, () => {
        if (!this.procs.get(addr)?.alive) return;
        const out = executor!.run(spec, fn, args);
        const done = (o: Outcome) => { if (this.procs.get(addr)?.alive) model.taskDone(spec.taskId, spec.attempt, o); };
        if (out instanceof Promise) {
          this.drainNeeded = true;
          out.then((o) => this.schedule(0, () => done(o)));
        } else done(out);
      }),
    }));
    const client = new SimClient(this, model, addr, node, calls);
    const ray = createRay(client);
    executor = new Executor(ray, codecOf(client), math);
    return { model, ray };
  }

  kill(addr: Addr): void {
    const p = this.procs.get(addr);
    if (!p) return;
    p.alive = false;
    for (const t of p.timers.values()) this.queue.cancel(t);
    this.procs.delete(addr);
  }
}

/** The API's port onto a simulated core worker: calls go straight into the model. */
class SimClient implements CoreClient {
  private ids = 0;
  private callIds = 0;

  constructor(
    private readonly sim: SimCluster,
    private readonly model: CoreWorker,
    readonly addr: Addr,
    readonly node: NodeId,
    private readonly calls: Map<number, (r: CallResult) => void>,
  ) {}

  nextId(): string { return `${this.addr}#${++this.ids}`; }

  private call<T>(start: (callId: number) => void, map: (r: CallResult) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const id = ++this.callIds;
      this.calls.set(id, (r) => {
        if (r.kind === "error") reject(toError(r.error));
        else resolve(map(r));
      });
      start(id);
    });
  }

  submitTask: CoreClient["submitTask"] = (taskId, fn, args, opts) => { this.model.submitTask(taskId, fn, args, opts); };
  createActor: CoreClient["createActor"] = (id, cls, args, opts) => { this.model.createActor(id, cls, args, opts); };
  submitActorTask: CoreClient["submitActorTask"] = (taskId, actorId, method, args, retries) => {
    this.model.submitActorTask(taskId, actorId, method, args, retries);
  };
  put(id: ObjectId, payload: Payload): Promise<void> {
    return this.call((c) => this.model.put(id, payload, c), () => undefined);
  }
  get(refs: Parameters<CoreClient["get"]>[0], timeoutMs?: number): Promise<readonly (Payload | ErrorInfo)[]> {
    return this.call((c) => this.model.get(refs, timeoutMs, c), (r) => (r.kind === "values" ? r.values : []));
  }
  wait(refs: Parameters<CoreClient["wait"]>[0], numReturns: number, timeoutMs?: number): Promise<readonly ObjectId[]> {
    return this.call((c) => this.model.wait(refs, numReturns, timeoutMs, c), (r) => (r.kind === "ready" ? r.ready : []));
  }
  getNamedActor(name: string) {
    return this.call((c) => this.model.getNamedActor(name, c), (r) => (r.kind === "actor" ? r.info : undefined));
  }
  killActor(actorId: string): void { this.model.killActor(actorId); }
  addRef(id: ObjectId): void { this.model.addRef(id); }
  releaseRef(id: ObjectId): void { this.model.releaseRef(id); }
  sleep(ms: number): Promise<void> {
    if (!(ms >= 0)) return Promise.reject(new TypeError(`ray.sleep: ms must be a number >= 0, got ${ms}`));
    return new Promise((resolve) => this.sim.schedule(ms, () => { resolve(); this.sim.drainNeeded = true; }));
  }
}
