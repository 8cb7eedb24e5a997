// The GCS as a daemon: the src/core Gcs model behind a gRPC server, its tables in durable
// storage. Everything the model decides in one turn is held until storage has made that
// turn's writes durable, so nothing the outside world was told can be lost by a crash.

import type { Gcs, GcsInput } from "../../core/gcs.ts";
import type { Msg } from "../../core/messages.ts";
import { NO_BUGS, type Bugs } from "../../core/bugs.ts";
import { daemonTuning, type ModelTuning } from "../../core/tuning.ts";
import { gcsAddr, nodeOf, type Addr, type AutoscalingState, type NodeId } from "../../core/types.ts";
import type { TraceBody } from "../../../spec/trace.ts";
import { hostGcs, type Hosted } from "../kernel.ts";

/** Messages kept per absent peer; beyond it they are lost, as on a network (the models cope). */
const MAX_WAITING = 10_000;
/** How long a driver may be disconnected before it counts as dead. */
export const DRIVER_GRACE_MS = 5_000;
/**
 * The same for each driver a restarted GCS restored from storage. Longer: a live driver must
 * first notice that its stream to the old process died (at worst a keepalive's 4 s, when the
 * old pod vanished without a reset), then dial the new one, whose address may take a moment to
 * reach it (a port mapping, a Service). Measured through a container's port mapping: about 5 s
 * from the kill; with the 5 s grace, a driver was declared dead now and then while alive.
 */
export const RESTORED_DRIVER_GRACE_MS = 10_000;
import type { GcsStorage } from "../storage/index.ts";
import { StorageWatch, clusterIdOf, isMarked } from "../storage/epoch.ts";
import { TraceSink } from "../embedded/trace.ts";
import { DaemonServer, type Logger } from "./transport.ts";
import { isDriverAddr } from "./driver-addr.ts";
import { NET_FAULTS_SERVICE, NetFaults, netFaultsImplementation } from "./net-faults.ts";
import { AUTOSCALING_SERVICE, autoscalingImplementation } from "./autoscaling-service.ts";
import type { AutoscalerStatus } from "../../core/autoscaler/autoscaler.ts";

export interface GcsDaemonOptions {
  readonly head: NodeId;
  readonly token: string;
  readonly host?: string;
  readonly port?: number;
  readonly storage: GcsStorage;
  readonly traceFile?: string;
  /** The models' tuning (default: the daemons' tuning, which every daemon and driver shares). */
  readonly tuning?: ModelTuning;
  readonly log?: Logger;
  /** Seeded bugs switched on (mutation testing only). */
  readonly bugs?: Bugs;
  /** Told how long each storage commit took (the GCS's metrics). */
  readonly onFlush?: (ms: number) => void;
  /** More for the status reply (the jobs running). */
  readonly extraStatus?: () => object;
  /** The id that marks this cluster's storage (storage/epoch.ts); default clusterIdOf(token). */
  readonly clusterId?: string;
  /** How often the storage marker is checked (default 1,000 ms). */
  readonly storageCheckMs?: number;
  /**
   * Storage is lost (a commit failed, it stopped answering) or holds another cluster's data:
   * the daemon has stopped serving; the process should exit so that its supervisor restarts it.
   */
  readonly onStorageLost?: (e: Error) => void;
  /**
   * This head runs its own autoscaler (--autoscaling-config): it wins, and the autoscaling
   * service refuses a remote one (KubeRay's sidecar) with this reason.
   */
  readonly localAutoscaler?: string;
}

export class GcsDaemon {
  private gcs!: Gcs;
  private hosted!: Hosted;
  private server!: DaemonServer;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Sends decided but not yet released: they wait for the writes made before them. */
  private held: { to: Addr; msg: Msg }[] = [];
  private dirty = false;
  /**
   * Messages for a node or driver whose stream is not up (yet: after a GCS restart, everyone
   * reconnects within a couple of seconds): delivered when it says hello, instead of lost.
   */
  private readonly waiting = new Map<string, { to: Addr; msg: Msg }[]>();
  /** Drivers whose stream ended, until they reconnect or their grace runs out. */
  private readonly leaving = new Map<Addr, NodeJS.Timeout>();
  private releasing = false;
  private closed = false;
  private readonly sink: TraceSink;
  /** The storage's meta rows as loaded at start (the job records among them). */
  private loadedMeta: ReadonlyMap<string, unknown> = new Map();
  private watch: StorageWatch | undefined;
  /** Why storage was lost (a commit failed, it stopped answering, it holds another cluster's data). */
  private lost: Error | undefined;
  readonly addr: Addr;
  port = 0;
  /** The network fault layer between the GCS and other nodes (off unless set). */
  readonly faults: NetFaults;
  /** What a remote autoscaler (autoscaling-service.ts) last reported of itself, and when. */
  private remoteAutoscaler: { status: AutoscalerStatus; at: number } | undefined;

  private constructor(private readonly opts: GcsDaemonOptions) {
    this.addr = gcsAddr(opts.head);
    this.faults = new NetFaults(opts.head);
    this.sink = new TraceSink({ file: opts.traceFile });
  }

  static async start(opts: GcsDaemonOptions): Promise<GcsDaemon> {
    const d = new GcsDaemon(opts);
    const tables = await opts.storage.load();
    const log = opts.log ?? console.error;
    if (isMarked(opts.storage)) {
      try {
        d.watch = await StorageWatch.start(opts.storage, { owner: opts.clusterId ?? clusterIdOf(opts.token), periodMs: opts.storageCheckMs, log, onLost: (e) => d.storageLost(e) });
      } catch (e) {
        await opts.storage.close().catch(() => {});
        throw e;
      }
    }
    if (tables) d.loadedMeta = tables.meta;
    // The oracle for gcs-durability: the rows storage holds, each acknowledged before it was read back.
    if (tables && d.sink.enabled) d.sink.emit(opts.head, { kind: "storage.acknowledged", comp: "host", nodes: [...tables.nodes.keys()].sort(), actors: [...tables.actors.keys()].sort() });
    const hosted = hostGcs(opts.head, opts.tuning ?? daemonTuning, opts.bugs ?? NO_BUGS, {
      now: () => Date.now(),
      random: () => Math.random(),
      send: (to, msg) => d.hold(to, msg),
      schedule: (ms, fire, periodic) => d.schedule(ms, fire, periodic),
      cancel: (t) => d.cancel(t),
      trace: (body) => { if (d.sink.enabled) d.sink.emit(opts.head, body); },
      persist: (table, key, value) => { opts.storage.write(table, key, value); d.dirty = true; },
    }, tables);
    d.hosted = hosted;
    d.gcs = hosted.model;
    d.server = new DaemonServer({
      token: opts.token, host: opts.host, port: opts.port, services: ["Gcs", "NodeManager"], addrs: [d.addr],
      onFrame: (f) => d.faults.inbound(nodeOf(f.from), f.msg, () => { if (!d.closed) d.deliver(f.from, f.msg); }),
      onPeer: (peer, addrs) => {
        for (const a of addrs) {
          clearTimeout(d.leaving.get(a));
          d.leaving.delete(a);
          const q = d.waiting.get(a);
          if (!q) continue;
          d.waiting.delete(a);
          for (const { to, msg } of q) d.server.sendMsg(peer, d.addr, to, msg);
        }
        // A driver declared gone that comes back is told so (and ends): see driver-connected.
        for (const a of addrs) if (isDriverAddr(a)) d.stepSafely({ kind: "driver-connected", driver: a }, `driver ${a} connected`);
      },
      // A driver's own stream ended and it did not come back within the grace period: the
      // driver is gone, and with it its leases, objects and actors (a blip is not a death).
      // Judged by the driver's own stream only: its node's daemon also routes to its address.
      onPeerGone: (peer) => {
        if (d.closed) return;
        for (const a of peer.addrs) if (isDriverAddr(a)) d.graceFor(a);
      },
      status: () => d.status(),
      log: opts.log,
      extraServices: [
        { definition: NET_FAULTS_SERVICE, implementation: netFaultsImplementation(d.faults, opts.log ?? console.error) },
        {
          definition: AUTOSCALING_SERVICE,
          implementation: autoscalingImplementation({
            refusal: () => opts.localAutoscaler,
            autoscalingState: () => d.autoscalingState(),
            drainNode: (node, reason) => d.drainNode(node, reason),
            report: (status) => { d.remoteAutoscaler = { status, at: Date.now() }; },
          }),
        },
      ],
    });
    d.port = await d.server.start();
    d.gcs.start();
    // Drivers restored from storage get a grace period too (a longer one): one that died while
    // this GCS was down never reconnects, and nothing else would ever bury it.
    for (const a of d.gcs.state.drivers) d.graceFor(a, RESTORED_DRIVER_GRACE_MS);
    return d;
  }

  /** Unless driver `a` (re)connects within the grace period, it is gone, and with it its leases, objects and actors. */
  private graceFor(a: Addr, ms = DRIVER_GRACE_MS): void {
    if (this.server.hasOwnRoute(a)) return;
    clearTimeout(this.leaving.get(a));
    this.leaving.set(a, setTimeout(() => {
      this.leaving.delete(a);
      if (this.closed || this.server.hasOwnRoute(a)) return;
      this.waiting.delete(a);
      this.stepSafely({ kind: "driver-gone", driver: a }, `driver ${a} gone`);
    }, ms).unref());
  }

  /** Hands the GCS a host input; a model error is logged against `what`, never thrown into a gRPC callback. */
  private stepSafely(input: GcsInput, what: string): void {
    try { this.gcs.step(input); } catch (e) { (this.opts.log ?? console.error)(`tsray gcs: ${what}: ${(e as Error).message}`); }
  }

  /** What the autoscaler on the head reads (undefined once this GCS stopped serving). */
  autoscalingState(): AutoscalingState | undefined {
    return this.closed || this.lost ? undefined : this.gcs.autoscalingState();
  }

  /** Writes a trace event of a component living next to the GCS (the autoscaler). */
  trace(body: TraceBody): void {
    if (this.sink.enabled) this.sink.emit(this.opts.head, body);
  }

  /** The autoscaler asks to remove an idle node. */
  drainNode(node: NodeId, reason: string): void {
    if (this.closed || this.lost) return;
    this.stepSafely({ kind: "drain-node", node, reason }, `drain ${node}`);
  }

  /** False once storage is lost or foreign: this GCS no longer serves (and is closing). */
  get storageHealthy(): boolean {
    return this.lost === undefined;
  }

  /** Stops serving for good: health NOT_SERVING, then closed; the host's onStorageLost exits the process. */
  private storageLost(e: Error): void {
    if (this.lost || this.closed) return;
    this.lost = e;
    (this.opts.log ?? console.error)(`tsray gcs: storage lost, not serving any more: ${e.message}`);
    this.server.setServing("", false);
    this.opts.onStorageLost?.(e);
    void this.close();
  }

  /** What `tsray status` shows: every node with its endpoint, resources and state; actors by state; the drivers connected now. */
  status(): object {
    const actors: Record<string, number> = {};
    for (const a of this.gcs.actors.values()) actors[a.state] = (actors[a.state] ?? 0) + 1;
    const netFaults = { rules: this.faults.current.rules, waiting: this.faults.waiting, ...this.faults.stats };
    // A remote autoscaler's last report, with its age: a sidecar that stopped reporting shows as such.
    const remote = this.remoteAutoscaler ? { autoscaler: { ...this.remoteAutoscaler.status, reportedMsAgo: Date.now() - this.remoteAutoscaler.at } } : {};
    return { gcs: this.addr, nodes: this.gcs.view(), actors, pendingDemands: this.gcs.pendingDemands(), drivers: [...this.gcs.state.drivers], netFaults, ...remote, ...this.opts.extraStatus?.() };
  }

  /** The placement groups, for the state API (Ray's PlacementGroupState fields). */
  placementGroupRows(): object[] {
    return [...this.gcs.placementGroups.groups.values()].map((g) => ({
      placement_group_id: g.spec.pgId, name: g.spec.name ?? "", creator: g.spec.creator, state: g.state, strategy: g.spec.strategy,
      is_detached: g.spec.lifetime === "detached",
      bundles: g.spec.bundles.map((r, i) => ({ bundle_id: i, node_id: g.placement[i] ?? null, unit_resources: r })),
    }));
  }

  /** The actors, for the state API. */
  actorRows(): object[] {
    return [...this.gcs.actors.entries()].map(([id, a]) => ({
      actor_id: id, class_name: a.spec.className, state: a.state, name: a.spec.name ?? "", node_id: a.node ?? null,
      address: a.address ?? null, owner: a.spec.owner, num_restarts: a.epoch > 0 ? a.epoch - 1 : 0, required_resources: a.spec.resources,
      ...(a.error ? { death_cause: a.error.message } : {}),
    }));
  }

  /**
   * Rows kept in storage next to the model's tables, as Ray keeps job records in the GCS's KV:
   * meta rows under `prefix`, as they were when the GCS started.
   */
  storedRows(prefix: string): [string, unknown][] {
    return [...this.loadedMeta].filter(([k]) => k.startsWith(prefix));
  }

  /** Writes (or, with undefined, deletes) a meta row; resolves once it is durable, rejects (with why) if the GCS stopped or its storage failed. */
  async putRow(key: string, value: unknown): Promise<void> {
    if (this.closed) throw new Error(`the GCS has stopped${this.lost ? ` (storage failed: ${this.lost.message})` : ""}`);
    this.opts.storage.write("meta", key, value);
    await this.timedFlush();
  }

  /** Which storage backend, where (for messages). */
  get storageDescription(): string { return this.opts.storage.describe; }

  private async timedFlush(): Promise<void> {
    const t0 = performance.now();
    await this.opts.storage.flush();
    this.opts.onFlush?.(performance.now() - t0);
  }

  private hold(to: Addr, msg: Msg): void {
    this.held.push({ to, msg });
    if (!this.releasing) {
      this.releasing = true;
      queueMicrotask(() => void this.release());
    }
  }

  /** Waits for storage to make this turn's writes durable, then sends what was decided. */
  private async release(): Promise<void> {
    try {
      while (this.held.length > 0) {
        if (this.dirty) {
          this.dirty = false;
          await this.timedFlush();
        }
        const batch = this.held;
        this.held = [];
        for (const { to, msg } of batch) {
          this.faults.outbound(nodeOf(to), msg, () => {
            const peer = this.server.route(to);
            if (peer) this.server.sendMsg(peer, this.addr, to, msg);
            else this.wait(to, msg);
          });
        }
      }
    } catch (e) {
      // Storage failed: acknowledge nothing more (Ray's GCS exits when it loses its store).
      this.storageLost(e as Error);
    } finally {
      this.releasing = false;
    }
  }

  private wait(to: Addr, msg: Msg): void {
    // Keyed as routes are: a driver by its address, anything else by its node.
    const key = isDriverAddr(to) ? to : nodeOf(to);
    let q = this.waiting.get(key);
    if (!q) this.waiting.set(key, (q = []));
    if (q.length < MAX_WAITING) q.push({ to, msg });
  }

  /**
   * Hands a frame to the model. A message the GCS does not receive is refused and logged, and
   * a model error is logged too: the daemon keeps serving (a peer cannot crash it).
   */
  private deliver(from: Addr, msg: Msg): void {
    try {
      this.hosted.message(from, msg);
    } catch (e) {
      (this.opts.log ?? console.error)(`tsray gcs: ${msg.type} from ${from}: ${(e as Error).message}`);
    }
  }

  private schedule(ms: number, fire: () => void, periodic: boolean): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.closed) fire();
    }, ms);
    if (periodic) t.unref();
    this.timers.add(t);
    return t;
  }

  private cancel(t: NodeJS.Timeout): void {
    clearTimeout(t);
    this.timers.delete(t);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.watch?.stop();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const t of this.leaving.values()) clearTimeout(t);
    this.faults.close();
    await this.server.close();
    await this.opts.storage.close().catch(() => {});
    this.sink.close();
  }
}
