// The host kernel: what every host does the same way, written once. It builds the models (GCS,
// raylets, core workers) from one tuning and a node's place in the topology, turns their timer
// effects into the host's scheduling port, and hands each model only the messages it can
// receive. A host (the simulator, the embedded cluster, the daemons) supplies only its ports:
// how to send, how to schedule and cancel, what time it is, its randomness, its trace sink, and
// for raylets its workers, store memory and spill storage.

import type { Bugs } from "../core/bugs.ts";
import { CoreWorker, coreWorkerTuning } from "../core/core-worker.ts";
import { UnexpectedInputError } from "../core/assert.ts";
import { timerKey, type Effects, type RayletEffects, type Timer, type WorkerEffects } from "../core/effects.ts";
import { Gcs, type GcsEffects, type GcsTable, type GcsTables, type GcsTimer } from "../core/gcs.ts";
import { isGcsMsg, isRayletMsg, isWorkerMsg, type Msg } from "../core/messages.ts";
import { Raylet, type RayletTimer } from "../core/raylet.ts";
import type { ResourceSet } from "../core/resources.ts";
import type { ModelTuning } from "../core/tuning.ts";
import { gcsAddr, rayletAddr, type Addr, type NodeId } from "../core/types.ts";
import type { WorkerTimer } from "../core/worker/inputs.ts";
import type { TraceBody } from "../../spec/trace.ts";

/** What a host gives every model process (called unbound: plain functions, no `this`). */
export interface ProcessPorts<H = unknown> {
  readonly now: () => number;
  readonly random: () => number;
  readonly send: (to: Addr, m: Msg) => void;
  /** Runs `fire` after `delayMs` (`periodic`: housekeeping, not pending work); returns a handle for `cancel`. */
  readonly schedule: (delayMs: number, fire: () => void, periodic: boolean) => H;
  readonly cancel: (handle: H) => void;
  readonly trace: (body: TraceBody) => void;
}

/** A model as a host holds it: messages go in checked against what the model receives. */
export interface Hosted {
  readonly addr: Addr;
  /** Hands over a message; a message the model does not receive is refused with UnexpectedInputError. */
  message(from: Addr, m: Msg): void;
  /** Cancels every timer the model armed (the process died). */
  stopTimers(): void;
  /** The model's state, as plain records (for tests and debugging). */
  state(): object;
}

/** The timers one model armed, by key: arming a key again replaces it. */
class TimerTable<T extends Timer, H> {
  private readonly armed = new Map<string, H>();
  constructor(private readonly ports: ProcessPorts<H>, private readonly fire: (t: T) => void) {}
  set(t: T, delayMs: number, periodic = false): void {
    const key = timerKey(t);
    const old = this.armed.get(key);
    if (old !== undefined) this.ports.cancel(old);
    this.armed.set(key, this.ports.schedule(delayMs, () => { this.armed.delete(key); this.fire(t); }, periodic));
  }
  cancel(t: T): void {
    const key = timerKey(t);
    const old = this.armed.get(key);
    if (old === undefined) return;
    this.ports.cancel(old);
    this.armed.delete(key);
  }
  clear(): void {
    for (const h of this.armed.values()) this.ports.cancel(h);
    this.armed.clear();
  }
}

function effects<T extends Timer, H>(ports: ProcessPorts<H>, timers: TimerTable<T, H>): Effects<T> {
  // The host's own functions where they fit as they are: no extra call on the hot paths.
  return {
    now: ports.now,
    random: ports.random,
    send: ports.send,
    setTimer: (t, delayMs, periodic) => timers.set(t, delayMs, periodic),
    cancelTimer: (t) => timers.cancel(t),
    trace: ports.trace,
  };
}

function refuse(addr: Addr, m: Msg): never {
  throw new UnexpectedInputError(`${addr} does not receive ${m.type} messages`);
}

// ---- the GCS ----------------------------------------------------------------------------------

export interface GcsPorts<H> extends ProcessPorts<H> {
  /** Durably write (or, with undefined, delete) a row. */
  readonly persist: (table: GcsTable, key: string, value: unknown) => void;
}

/** GCS tables kept in this process's memory (the simulator's and the embedded host's storage). */
export class MemoryTables {
  readonly tables: Record<GcsTable, Map<string, unknown>> = { nodes: new Map(), actors: new Map(), functions: new Map(), meta: new Map() };
  /** The GCS's persist effect on these tables. */
  readonly persist = (table: GcsTable, key: string, value: unknown): void => {
    if (value === undefined) this.tables[table].delete(key);
    else this.tables[table].set(key, value);
  };
}

export function hostGcs<H>(head: NodeId, tuning: ModelTuning, bugs: Bugs, ports: GcsPorts<H>, tables?: GcsTables): Hosted & { readonly model: Gcs } {
  const addr = gcsAddr(head);
  let model!: Gcs;
  const timers = new TimerTable<GcsTimer, H>(ports, (timer) => model.step({ kind: "timer", timer }));
  const fx: GcsEffects = { ...effects(ports, timers), persist: ports.persist };
  model = new Gcs(addr, {
    head, viewPeriodMs: tuning.viewPeriodMs, heartbeatMissLimit: tuning.heartbeatMissLimit, recoveryGracePeriods: tuning.recoveryGracePeriods,
    deadNodesKept: tuning.deadNodesKept, deadActorsKept: tuning.deadActorsKept, deadWorkersKept: tuning.deadWorkersKept,
    removedGroupsKept: tuning.removedGroupsKept, bugs,
  }, fx, tables);
  return {
    addr, model,
    message: (from, m) => (isGcsMsg(m) ? model.step({ kind: "message", from, msg: m }) : refuse(addr, m)),
    stopTimers: () => timers.clear(),
    state: () => model.state,
  };
}

// ---- raylets ----------------------------------------------------------------------------------

/**
 * A node's incarnation: which start of the node this is, one more than the latest life the
 * GCS's node table records for it (`lastKnown`; none: 1). The node table is persisted, so the
 * count survives GCS restarts; every host takes it from there (the simulator, which starts every
 * node itself, keeps the same count as its node table would), never from a clock. A daemon asks
 * the GCS for its table when it starts.
 */
export function nextIncarnation(lastKnown: number | undefined): number {
  return (lastKnown ?? 0) + 1;
}

export interface RayletPorts<H> extends ProcessPorts<H>, Omit<RayletEffects, keyof Effects<RayletTimer>> {}

export interface NodePlace {
  readonly node: NodeId;
  readonly head: NodeId;
  readonly resources: ResourceSet;
  readonly incarnation: number;
  readonly storeCapacity: number;
  /** Where the node's daemon listens (daemon hosts only). */
  readonly endpoint?: string;
}

export function hostRaylet<H>(place: NodePlace, tuning: ModelTuning, bugs: Bugs, ports: RayletPorts<H>): Hosted & { readonly model: Raylet } {
  const addr = rayletAddr(place.node);
  let model!: Raylet;
  const timers = new TimerTable<RayletTimer, H>(ports, (timer) => model.step({ kind: "timer", timer }));
  const fx: RayletEffects = {
    ...effects(ports, timers),
    startWorker: ports.startWorker, killWorker: ports.killWorker, admit: ports.admit, release: ports.release,
    spill: ports.spill, restore: ports.restore, deleteSpilled: ports.deleteSpilled,
  };
  model = new Raylet(addr, {
    node: place.node, incarnation: place.incarnation, endpoint: place.endpoint, gcs: gcsAddr(place.head), resources: place.resources,
    storeCapacity: place.storeCapacity, heartbeatMs: tuning.heartbeatMs, chunkBytes: tuning.chunkBytes, storeFullTimeoutMs: tuning.storeFullTimeoutMs,
    workersSoftLimit: tuning.workersSoftLimit, idleWorkerKillingMs: tuning.idleWorkerKillingMs, deadWorkersKept: tuning.deadWorkersKept, bugs,
  }, fx);
  return {
    addr, model,
    message: (from, m) => (isRayletMsg(m) ? model.step({ kind: "message", from, msg: m }) : refuse(addr, m)),
    stopTimers: () => timers.clear(),
    state: () => model.state,
  };
}

// ---- core workers -----------------------------------------------------------------------------

export interface WorkerPorts<H> extends ProcessPorts<H>, Omit<WorkerEffects, keyof Effects<WorkerTimer>> {}

export function hostCoreWorker<H>(addr: Addr, node: NodeId, head: NodeId, tuning: ModelTuning, bugs: Bugs, ports: WorkerPorts<H>): Hosted & { readonly model: CoreWorker } {
  let model!: CoreWorker;
  const timers = new TimerTable<WorkerTimer, H>(ports, (timer) => model.step({ kind: "timer", timer }));
  const fx: WorkerEffects = { ...effects(ports, timers), execute: ports.execute, complete: ports.complete, interrupt: ports.interrupt };
  model = new CoreWorker(addr, { node, gcs: gcsAddr(head), ...coreWorkerTuning(tuning), bugs }, fx);
  return {
    addr, model,
    message: (from, m) => (isWorkerMsg(m) ? model.step({ kind: "message", from, msg: m }) : refuse(addr, m)),
    stopTimers: () => timers.clear(),
    state: () => model.state,
  };
}
