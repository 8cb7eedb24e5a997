// The embedded cluster: the second host of the src/core models (sim/cluster.ts is the first),
// in real time, inside the driver's process. The GCS, one raylet per logical node, the driver's
// core worker and one core worker per worker all live on the main thread and talk through an
// in-process transport; each worker's user code runs on its own worker thread; each node's
// object store keeps its objects in a SharedArrayBuffer arena that threads read in place;
// spilled objects go to files. The host only maps effects to these things: every decision is
// the models'. With an autoscaling configuration, the autoscaler model runs beside the GCS and
// its provider adds and removes logical nodes while the program runs.

import { defaultTuning, type ModelTuning } from "../../core/tuning.ts";
import os from "node:os";
import { createRay, type Ray } from "../../api/ray.ts";
import type { Invoker } from "../../api/handles.ts";
import { NO_BUGS, type Bugs } from "../../core/bugs.ts";
import type { CoreWorker } from "../../core/core-worker.ts";
import type { Gcs } from "../../core/gcs.ts";
import type { Msg } from "../../core/messages.ts";
import type { Raylet, RayletInput } from "../../core/raylet.ts";
import type { ResourceSet } from "../../core/resources.ts";
import { gcsAddr, rayletAddr, type Addr, type FunctionDescriptor, type FunctionId, type NodeId, type Payload, type PendingDemand } from "../../core/types.ts";
import { hostCoreWorker, hostGcs, hostRaylet, nextIncarnation, MemoryTables, type Hosted, type ProcessPorts } from "../kernel.ts";
import type { TraceBody, TraceEvent } from "../../../spec/trace.ts";
import { Arena, type ArenaStats } from "./arena.ts";
import { DriverClient, KeepAlive, directPut } from "./driver.ts";
import { collectViews, installPins, watchArena } from "./pins.ts";
import { SpillStore } from "./spill.ts";
import { ThreadPool, workerScript, type Thread } from "./threads.ts";
import { TraceSink } from "./trace.ts";
import { Timers, Transport, type DrainMode } from "./transport.ts";
import { WorkerHost } from "./worker-host.ts";
import type { AutoscalerStatus } from "../../core/autoscaler/autoscaler.ts";
import { AutoscalerHost } from "../autoscaler/host.ts";
import type { Autoscaling } from "../autoscaler/config.ts";
import { EmbeddedNodeProvider } from "../autoscaler/embedded-provider.ts";

export interface NodeSpec {
  readonly id: NodeId;
  readonly resources: ResourceSet;
}

/**
 * A daemon host (one node of a networked cluster) is this host with less in it: its node's
 * raylet and workers only. The GCS (on node `head`) and drivers live in other processes,
 * reached through `send`.
 */
export interface RemotePeers {
  readonly head: NodeId;
  /** Where this node's daemon listens, registered with the GCS. */
  readonly endpoint: string;
  /** Which start of this node this is (a restarted daemon is a new incarnation: see kernel.ts). */
  readonly incarnation: number;
  readonly send: (from: Addr, to: Addr, m: Msg) => void;
  /**
   * Handed the transport before the node boots, so that messages from outside can come in, the
   * node's arena, which object bytes from other nodes are read straight into, and a way to
   * report to the raylet what the network did (a transfer lost to a reset).
   */
  readonly attach: (transport: Transport, arena: Arena, report: (input: RayletInput) => void) => void;
}

export interface EmbeddedConfig extends ModelTuning {
  readonly nodes: readonly NodeSpec[];
  /** Set for a daemon host: no GCS or driver here. */
  readonly remote?: RemotePeers;
  /** Object store bytes per node. */
  readonly storeCapacity: number;
  /** Append trace events to this JSONL file. */
  readonly traceFile?: string;
  /** Keep trace events in memory (`cluster.trace`). */
  readonly keepTrace: boolean;
  /** Sees every trace event (a daemon's node state and metrics are built from them). */
  readonly traceListener?: (e: TraceEvent) => void;
  /** How the transport drains its queue. */
  readonly drain: DrainMode;
  /** Worker threads started at init (they wait for the raylets to need them). */
  readonly prestartWorkers: number;
  /** How long shutdown waits for the cluster to go quiet after the program ended. */
  readonly quietTimeoutMs: number;
  /** Print a line on stderr when a worker thread dies unexpectedly (as Ray does). */
  readonly logWorkerCrashes: boolean;
  /**
   * How long (µs) the host and an idle thread poll for each other's next message before
   * sleeping: waking a sleeping thread costs tens of µs on a VM. 0 turns it off.
   */
  readonly spinMicros: number;
  /** Seeded bugs switched on in the models (mutation testing of a daemon only). */
  readonly bugs: Bugs;
  /**
   * Run the autoscaler beside the GCS, adding and removing logical nodes of its worker groups;
   * `initial`: the worker nodes among `nodes` that belong to a group (its initial replicas).
   */
  readonly autoscaling?: { readonly config: Autoscaling; readonly initial: readonly { readonly node: NodeId; readonly group: string }[] };
}

/** 30% of memory (Ray's default object store share), at most 2 GiB per node. */
export function defaultStoreCapacity(nodes = 1): number {
  return Math.max(64 << 20, Math.min(2 ** 31, Math.floor((os.totalmem() * 0.3) / nodes)));
}

export const defaultEmbeddedConfig: Omit<EmbeddedConfig, "nodes" | "storeCapacity" | "prestartWorkers"> = {
  keepTrace: false,
  drain: "microtask",
  ...defaultTuning,
  quietTimeoutMs: 5000,
  logWorkerCrashes: true,
  spinMicros: 50,
  bugs: NO_BUGS,
};

interface NodeState {
  readonly spec: NodeSpec;
  readonly arena: Arena;
  raylet?: Raylet;
}

/** Slack above the store's byte budget for slot headers and alignment (see docs/embedded.md). */
const arenaBytes = (capacity: number) => capacity + Math.max(1 << 20, Math.ceil(capacity / 8));

export class EmbeddedCluster {
  readonly head: NodeId;
  readonly transport: Transport;
  private readonly gcs: Gcs | undefined;
  /** The driver and its API; absent in a daemon host. */
  private readonly local: { readonly driver: CoreWorker; readonly client: DriverClient; readonly ray: Ray & Invoker } | undefined;
  readonly spill: SpillStore;
  readonly sink: TraceSink;
  private readonly nodes = new Map<NodeId, NodeState>();
  private readonly timers = new Map<Addr, Timers>();
  /** Non-periodic timers armed: pending work. */
  private readonly pendingTimers = new Set<NodeJS.Timeout>();
  private readonly workers = new Map<Addr, WorkerHost>();
  private readonly fns = new Map<FunctionId, FunctionDescriptor>();
  private readonly gcsStorage = new MemoryTables();
  private readonly keepAlive = new KeepAlive();
  private pool!: ThreadPool;
  /** Workers whose thread has not reported ready yet. */
  private starting = 0;
  private closed = false;
  private readonly exitHook = () => this.closeSync();
  private autoscaler: AutoscalerHost | undefined;
  private readonly sweeper = setInterval(() => this.sweepZombies(), 250).unref();
  /** Unexpected worker thread exits, for diagnostics. */
  readonly crashes: { worker: Addr; reason: string }[] = [];
  /** Errors a model threw (bugs): surfaced by tests. */
  readonly modelErrors: string[] = [];

  static async start(cfg: EmbeddedConfig): Promise<EmbeddedCluster> {
    const c = new EmbeddedCluster(cfg);
    c.keepAlive.hold();
    try {
      c.pool = new ThreadPool(await workerScript(), {
        onBatch: (t, b) => c.onBatch(t, b),
        onExit: (t, code) => c.onThreadExit(t, code),
      }, cfg.spinMicros);
      const warm = c.pool.prewarm(cfg.prestartWorkers);
      c.boot();
      await Promise.all([warm, c.whenQuiet(10_000)]);
    } catch (e) {
      await c.teardown();
      throw e;
    } finally {
      c.keepAlive.release();
    }
    return c;
  }

  private constructor(readonly cfg: EmbeddedConfig) {
    if (cfg.nodes.length === 0) throw new Error("an embedded cluster needs at least one node");
    if (cfg.autoscaling && cfg.remote) throw new Error("a daemon host runs no autoscaler (the GCS's process does)");
    this.head = cfg.remote?.head ?? cfg.nodes[0].id;
    for (const n of cfg.nodes) this.newNode(n);
    installPins();
    this.transport = new Transport(cfg.drain);
    this.transport.remote = cfg.remote?.send;
    const node = this.nodes.get(cfg.nodes[0].id)!;
    cfg.remote?.attach(this.transport, node.arena, (input) => this.transport.post(() => node.raylet?.step(input)));
    this.transport.afterDrain = () => this.afterDrain();
    this.transport.onError = (e, where) => {
      const msg = `${where}: ${e instanceof Error ? e.stack ?? e.message : String(e)}`;
      this.modelErrors.push(msg);
      console.error(`tsray: internal error in ${msg}`);
    };
    this.sink = new TraceSink({ keep: cfg.keepTrace, file: cfg.traceFile, listener: cfg.traceListener });
    this.spill = new SpillStore();
    process.once("exit", this.exitHook);

    if (cfg.remote) {
      this.gcs = undefined;
      this.local = undefined;
      return;
    }
    const storage = this.gcsStorage;
    this.gcs = this.spawn(hostGcs(this.head, cfg, cfg.bugs, {
      ...this.ports(gcsAddr(this.head), this.head),
      persist: storage.persist,
    })).model;

    const addr = `${this.head}/driver`;
    let client!: DriverClient;
    const driver = this.spawn(hostCoreWorker(addr, this.head, this.head, cfg, cfg.bugs, {
      ...this.ports(addr, this.head),
      complete: (callId, result) => client.complete(callId, result),
      execute: () => { throw new Error("the driver does not execute tasks"); },
      interrupt: () => { throw new Error("the driver runs no tasks to interrupt"); },
    })).model;
    client = new DriverClient(driver, addr, this.head, this.keepAlive, () => this.check());
    const ray = createRay(client, { releaseOnCollect: true });
    ray.put = directPut(ray, client, this.nodes.get(this.head)!.arena);
    this.local = { driver, client, ray };
  }

  /** The program's API (the embedded host's driver). */
  get ray(): Ray & Invoker {
    if (!this.local) throw new Error("a daemon host runs no driver");
    return this.local.ray;
  }

  private boot(): void {
    this.gcs?.start();
    for (const n of this.nodes.values()) this.startRaylet(n);
    this.local?.driver.start(false);
    if (this.cfg.autoscaling) this.startAutoscaler(this.cfg.autoscaling.config, this.cfg.autoscaling.initial);
  }

  private newNode(n: NodeSpec): NodeState {
    if (this.nodes.has(n.id)) throw new Error(`node id "${n.id}" appears twice`);
    if (n.id === "" || n.id.includes("/")) throw new Error(`node id "${n.id}" must be non-empty and not contain "/"`);
    const arena = new Arena(arenaBytes(this.cfg.storeCapacity));
    watchArena(arena.sab, (off) => arena.readersGone(off));
    const state: NodeState = { spec: n, arena };
    this.nodes.set(n.id, state);
    return state;
  }

  // ---- logical nodes added and removed while running (the autoscaler's embedded provider) -----

  has(node: NodeId): boolean { return this.nodes.has(node); }

  /** Adds a node: its store, and its raylet, which registers with the GCS; workers start as it needs them. */
  addNode(spec: NodeSpec): void {
    this.check();
    if (this.cfg.remote) throw new Error("a daemon host has one node");
    this.startRaylet(this.newNode({ id: spec.id, resources: { ...spec.resources } }));
  }

  /**
   * Removes a node the GCS no longer counts on (drained, or dead): its raylet and its workers
   * stop, its store's memory goes. The head, where the GCS and the driver live, stays.
   */
  removeNode(node: NodeId): void {
    if (node === this.head) throw new Error(`node ${node} is the head: it cannot be removed`);
    const n = this.nodes.get(node);
    if (!n || this.closed) return;
    for (const [addr, w] of [...this.workers]) if (w.node === node) this.endWorker(addr);
    this.kill(rayletAddr(node));
    n.raylet = undefined;
    watchArena(n.arena.sab, undefined);
    this.nodes.delete(node);
  }

  private startAutoscaler(config: Autoscaling, initial: readonly { node: NodeId; group: string }[]): void {
    const gcs = this.gcs!;
    const transport = this.transport;
    this.autoscaler = new AutoscalerHost(config, {
      now: () => performance.now(),
      trace: (b) => this.emit(b),
      // After the current step, as a fresh input: the models are never re-entered.
      defer: (fn) => transport.post(fn),
      // Housekeeping, not pending work: it neither keeps the process alive nor the cluster from going quiet.
      every: (ms, fn) => { const t = setInterval(() => { if (!this.closed) transport.post(fn); }, ms).unref(); return () => clearInterval(t); },
      cluster: () => gcs.autoscalingState(),
      drain: (node, reason) => gcs.step({ kind: "drain-node", node, reason }),
    }, new EmbeddedNodeProvider(this, initial), this.cfg.bugs);
    this.autoscaler.start();
  }

  /** The autoscaler's groups, launches and drains (what `tsray status` shows under "Autoscaler"); undefined without one. */
  autoscalerStatus(): AutoscalerStatus | undefined { return this.autoscaler?.status(); }

  private check(): void {
    if (this.closed) throw new Error("this embedded cluster was shut down: call ray.init() again");
  }

  // ---- effects ------------------------------------------------------------------------------

  /** The ports of a process at `addr`: the transport, real timers queued on it, the trace sink. */
  private ports(addr: Addr, node: NodeId): ProcessPorts<NodeJS.Timeout> {
    const timers = new Timers(this.transport, this.pendingTimers);
    this.timers.set(addr, timers);
    const transport = this.transport;
    const sink = this.sink;
    return {
      now: () => performance.now(),
      random: Math.random,
      send: (to, m) => transport.send(addr, to, m),
      schedule: (delayMs, fire, periodic) => timers.schedule(delayMs, fire, periodic),
      cancel: (t) => timers.cancel(t),
      trace: sink.enabled ? (body) => sink.emit(node, body) : () => {},
    };
  }

  private spawn<T extends Hosted>(comp: T): T {
    this.transport.register(comp.addr, comp);
    return comp;
  }

  private kill(addr: Addr): void {
    this.transport.unregister(addr);
    this.timers.get(addr)?.clearAll();
    this.timers.delete(addr);
  }

  private startRaylet(n: NodeState): void {
    const node = n.spec.id;
    const addr = rayletAddr(node);
    const arena = n.arena;
    const spill = this.spill;
    // One start per node here; a daemon host is told which start it is.
    const place = {
      node, head: this.head, resources: n.spec.resources, storeCapacity: this.cfg.storeCapacity,
      incarnation: this.cfg.remote?.incarnation ?? nextIncarnation(undefined), endpoint: this.cfg.remote?.endpoint,
    };
    const raylet: Raylet = this.spawn(hostRaylet(place, this.cfg, this.cfg.bugs, {
      ...this.ports(addr, node),
      startWorker: (w) => this.startWorker(w, node),
      killWorker: (w) => this.endWorker(w),
      admit: (payload) => {
        const p = admit(arena, payload);
        if (!p && arena.hasZombies) this.collectEverywhere();
        else if (p) this.collectIfFilling(arena, payload.size);
        return p;
      },
      release: (payload) => { if (payload.data instanceof Uint8Array) arena.release(payload.data); },
      spill: (id, payload) => spill.spill(node, id, payload),
      restore: (id) => spill.restore(node, id, (p) => { if (p && !this.closed) this.transport.post(() => raylet.step({ kind: "restored", id, payload: p })); }),
      deleteSpilled: (id) => spill.delete(node, id),
    })).model;
    n.raylet = raylet;
    raylet.start();
  }

  // ---- workers ------------------------------------------------------------------------------

  /** The raylet's startWorker effect: bind a thread (warm if possible) to a new core worker. */
  private startWorker(addr: Addr, node: NodeId): void {
    const thread = this.pool.acquire();
    thread.addr = addr;
    const host = new WorkerHost(addr, node, thread, this.fns);
    this.workers.set(addr, host);
    host.model = this.spawn(hostCoreWorker(addr, node, this.head, this.cfg, this.cfg.bugs, {
      ...this.ports(addr, node),
      complete: (callId, result) => host.complete(callId, result),
      execute: (spec, fn, args) => host.execute(spec, fn, args),
      interrupt: (taskId) => host.interrupt(taskId),
    })).model;
    host.timers = this.timers.get(addr)!;
    thread.post({ t: "bind", addr, node });
    if (thread.ready) this.transport.post(() => host.model.start(true));
    else {
      this.starting++;
      void thread.whenReady().then(() => {
        this.starting--;
        if (!host.dead && !this.closed) this.transport.post(() => host.model.start(true));
      });
    }
  }

  /** The raylet's killWorker effect. */
  private endWorker(addr: Addr): void {
    const host = this.workers.get(addr);
    if (!host) return;
    host.dead = true;
    host.released();
    this.workers.delete(addr);
    this.kill(addr);
    this.pool.flush();
    void host.thread.end();
  }

  private onBatch(thread: Thread, batch: readonly Parameters<WorkerHost["handle"]>[0][number][]): void {
    if (this.closed || thread.addr === undefined) return;
    const host = this.workers.get(thread.addr);
    if (host && host.thread === thread) {
      host.handle(batch);
      // A finished task usually hands the thread its next one at once (an actor's next call):
      // send it now, so the thread runs it while this thread does the rest of the bookkeeping.
      this.pool.flush();
    }
  }

  /** A thread exited. Unless the host ended it, its worker died: the raylet hears it as an exit. */
  private onThreadExit(thread: Thread, code: number): void {
    if (this.closed || thread.ending || thread.addr === undefined) return;
    const addr = thread.addr;
    const host = this.workers.get(addr);
    if (!host || host.thread !== thread) return;
    const reason = thread.error ? `${thread.error.name}: ${thread.error.message}` : `exit code ${code}`;
    this.crashes.push({ worker: addr, reason });
    if (this.cfg.logWorkerCrashes) {
      const during = host.running ? ` while running ${host.running.name} (task ${host.running.task})` : "";
      console.warn(`tsray: worker ${addr} died${during}: ${reason}`);
    }
    host.dead = true;
    host.released();
    this.workers.delete(addr);
    this.kill(addr);
    const raylet = this.nodes.get(host.node)?.raylet;
    this.transport.post(() => raylet?.step({ kind: "worker-exited", worker: addr }));
  }

  private afterDrain(): void {
    const pool = this.pool;
    if (!pool) return;
    pool.flush();
    pool.awaitAnswer();
  }

  private reclaiming = false;
  /** Bytes admitted to an arena three quarters full since the last collection (collectIfFilling). */
  private admittedWhileFull = 0;

  /**
   * Dropped refs are released when V8 collects them, and V8 collects when the JS heap needs it,
   * not when an arena does: a program (or an actor) that puts big objects and drops them
   * allocates little JS heap, so its dropped refs, and their objects, lived on until the store
   * filled and spilled them to disk (a driver's 400 dropped puts of 8 MB into a 2.25 GiB arena:
   * 132 spilled, in 6.5 s, here). Once an arena is three quarters full, collect everywhere after
   * each eighth of its capacity admitted: a full collection of a small heap costs milliseconds.
   */
  private collectIfFilling(arena: Arena, size: number): void {
    if (arena.bytesUsed < 0.75 * arena.capacity) return;
    this.admittedWhileFull += size;
    if (this.admittedWhileFull < arena.capacity / 8) return;
    this.admittedWhileFull = 0;
    this.collectEverywhere();
  }

  /**
   * Collect garbage here and in every thread, then sweep: views nobody reads any more give their
   * slots back, and refs the program dropped are released (their finalizers run after the
   * collection). Asked when an arena is short of memory while slots wait for readers (the store
   * retries the put itself, on its back-pressure timer), and as an arena fills up.
   */
  private collectEverywhere(): void {
    if (this.reclaiming || this.closed) return;
    this.reclaiming = true;
    // The collection, the registration of refs made meanwhile and the finalizers all need turns
    // of the event loop, which a driver's loop of puts resolved by microtasks never gives.
    this.transport.yieldEachDrain = true;
    for (const t of this.pool.all) t.post({ t: "gc" });
    setImmediate(() => {
      collectViews();
      // Finalizers run as tasks after the collection.
      setTimeout(() => {
        this.reclaiming = false;
        this.transport.yieldEachDrain = false;
        this.sweepZombies();
      }, 10).unref();
    });
  }

  /** Zombies whose last reader was a view in a thread (collected there) are found by polling. */
  private sweepZombies(): void {
    for (const n of this.nodes.values()) if (n.arena.hasZombies) n.arena.sweep();
  }

  // ---- quiet and shutdown ---------------------------------------------------------------------

  /** No message queued, no timer armed (but housekeeping), no task running, no I/O in flight. */
  isQuiet(): boolean {
    if (!this.transport.idle || this.pendingTimers.size > 0 || this.starting > 0 || this.spill.busy > 0) return false;
    for (const w of this.workers.values()) if (w.running) return false;
    return true;
  }

  /** Resolves true once the cluster is quiet, false if it is still busy after `timeoutMs`. */
  whenQuiet(timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    return new Promise((resolve) => {
      const poll = () => {
        if (this.isQuiet()) return resolve(true);
        if (performance.now() >= deadline) return resolve(false);
        setTimeout(poll, 1);
      };
      setImmediate(poll);
    });
  }

  emit(body: TraceBody): void { if (this.sink.enabled) this.sink.emit(this.head, body); }

  get trace(): readonly TraceEvent[] { return this.sink.events ?? []; }

  get isClosed(): boolean { return this.closed; }

  /** Store and arena figures per node (for tests and the bench). */
  storeStats(): Record<NodeId, { store: { used: number; count: number; spilled: number }; arena: ArenaStats }> {
    const out: Record<NodeId, { store: { used: number; count: number; spilled: number }; arena: ArenaStats }> = {};
    for (const [id, n] of this.nodes) {
      const s = n.raylet!.store;
      out[id] = { store: { used: s.usedBytes, count: s.count, spilled: s.spilledCopies.size }, arena: n.arena.stats() };
    }
    return out;
  }

  /** Demands no live node can meet, by resource shape (the GCS's table, as `tsray status` shows it). */
  pendingDemands(): PendingDemand[] { return this.gcs?.pendingDemands() ?? []; }

  threadCount(): number { return this.pool.all.size; }

  /**
   * Ends the program as the simulator does: drop every reference the driver holds, mark
   * program.end, wait for the cluster to go quiet and mark cluster.quiet; then release
   * everything (threads, timers, arenas, spill files, the trace file).
   */
  async shutdown(opts: { ok?: boolean } = {}): Promise<{ quiet: boolean }> {
    if (this.closed) return { quiet: true };
    this.keepAlive.hold();
    let quiet = false;
    try {
      if (this.local) {
        this.local.driver.releaseAll();
        this.emit({ kind: "program.end", comp: "host", ok: opts.ok ?? true });
      }
      // Quiet matters to a trace (the checkers judge the stores there); without one, running
      // tasks are not waited for long: they end with their threads.
      quiet = await this.whenQuiet(this.sink.enabled ? this.cfg.quietTimeoutMs : Math.min(this.cfg.quietTimeoutMs, 250));
      if (quiet && this.local) this.emit({ kind: "cluster.quiet", comp: "host" });
    } finally {
      await this.teardown();
    }
    return { quiet };
  }

  private async teardown(): Promise<void> {
    this.closed = true;
    this.autoscaler?.stop();
    this.local?.client.abandon("the cluster was shut down while this call was waiting");
    for (const t of this.timers.values()) t.clearAll();
    this.timers.clear();
    this.transport.clear();
    for (const w of this.workers.values()) w.dead = true;
    this.workers.clear();
    clearInterval(this.sweeper);
    for (const n of this.nodes.values()) watchArena(n.arena.sab, undefined);
    await this.pool?.endAll();
    await this.spill.close();
    this.sink.close();
    this.keepAlive.close();
    process.removeListener("exit", this.exitHook);
    this.nodes.clear();
  }

  /** The process is exiting without shutdown: keep the trace, remove the spill directory. */
  private closeSync(): void {
    this.sink.close();
    this.spill.closeSync();
  }
}

/** Takes a payload into a node's arena: a staged slot of this arena as is, else a copy. */
function admit(arena: Arena, payload: Payload): Payload | undefined {
  const d = payload.data;
  if (!(d instanceof Uint8Array)) return payload;
  if (arena.adopt(d)) return payload;
  const slot = arena.copyIn(d);
  return slot ? { ...payload, data: slot } : undefined;
}
