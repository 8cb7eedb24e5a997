// The GCS as a daemon: the src/core Gcs model behind a gRPC server, its tables in durable
// storage. Everything the model decides in one turn is held until storage has made that
// turn's writes durable, so nothing the outside world was told can be lost by a crash.

import { Gcs, type GcsEffects } from "../../core/gcs.ts";
import type { Msg } from "../../core/messages.ts";
import { NO_BUGS, type Bugs } from "../../core/bugs.ts";
import { gcsAddr, nodeOf, type Addr, type NodeId } from "../../core/types.ts";

/** Messages kept per absent peer; beyond it they are lost, as on a network (the models cope). */
const MAX_WAITING = 10_000;
/** How long a driver may be disconnected before it counts as dead. */
const DRIVER_GRACE_MS = 5_000;
import type { GcsStorage } from "../storage/index.ts";
import { StorageWatch, clusterIdOf, isMarked } from "../storage/epoch.ts";
import { TraceSink } from "../embedded/trace.ts";
import { DaemonServer, type Logger } from "./transport.ts";

export interface GcsDaemonOptions {
  readonly head: NodeId;
  readonly token: string;
  readonly host?: string;
  readonly port?: number;
  readonly storage: GcsStorage;
  readonly traceFile?: string;
  readonly viewPeriodMs?: number;
  /** Periods without a heartbeat before a node is declared dead: 3 s by default, so that a busy machine is not mistaken for a dead one. */
  readonly heartbeatMissLimit?: number;
  readonly log?: Logger;
  /** Seeded bugs switched on (mutation testing only). */
  readonly bugs?: Bugs;
  /** The id that marks this cluster's storage (storage/epoch.ts); default clusterIdOf(token). */
  readonly clusterId?: string;
  /** How often the storage marker is checked (default 1,000 ms). */
  readonly storageCheckMs?: number;
  /**
   * Storage is lost (a commit failed, it stopped answering) or holds another cluster's data:
   * the daemon has stopped serving; the process should exit so that its supervisor restarts it.
   */
  readonly onStorageLost?: (e: Error) => void;
}

export class GcsDaemon {
  private gcs!: Gcs;
  private server!: DaemonServer;
  private readonly timers = new Map<string, NodeJS.Timeout>();
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
  private watch: StorageWatch | undefined;
  private lost: Error | undefined;
  readonly addr: Addr;
  port = 0;

  private constructor(private readonly opts: GcsDaemonOptions) {
    this.addr = gcsAddr(opts.head);
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
    const fx: GcsEffects = {
      now: () => Date.now(),
      random: () => Math.random(),
      send: (to, msg) => d.hold(to, msg),
      setTimer: (key, ms, periodic) => d.setTimer(key, ms, periodic),
      cancelTimer: (key) => d.cancelTimer(key),
      trace: (body) => { if (d.sink.enabled) d.sink.emit(opts.head, body); },
      persist: (table, key, value) => { opts.storage.write(table, key, value); d.dirty = true; },
    };
    d.gcs = new Gcs(d.addr, {
      head: opts.head, viewPeriodMs: opts.viewPeriodMs ?? 100, heartbeatMissLimit: opts.heartbeatMissLimit ?? 30, recoveryGracePeriods: 30, bugs: opts.bugs ?? NO_BUGS,
    }, fx, tables);
    d.server = new DaemonServer({
      token: opts.token, host: opts.host, port: opts.port, services: ["Gcs", "NodeManager"], addrs: [d.addr],
      onFrame: (f) => { if (!d.closed) d.gcs.receive(f.from, f.msg); },
      onPeer: (peer, addrs) => {
        for (const a of addrs) {
          clearTimeout(d.leaving.get(a));
          d.leaving.delete(a);
          const q = d.waiting.get(a);
          if (!q) continue;
          d.waiting.delete(a);
          for (const { to, msg } of q) d.server.sendMsg(peer, d.addr, to, msg);
        }
      },
      // A driver's stream ended and it did not come back within the grace period: the driver
      // is gone, and with it the actors it owns (a blip in the network is not a death).
      onPeerGone: (peer) => {
        if (d.closed) return;
        for (const a of peer.addrs) {
          if (!/\/driver-/.test(a) || d.server.route(a) !== undefined && d.server.route(a) !== peer) continue;
          clearTimeout(d.leaving.get(a));
          d.leaving.set(a, setTimeout(() => {
            d.leaving.delete(a);
            if (!d.closed) d.gcs.receive(a, { type: "WorkerDied", worker: a });
          }, DRIVER_GRACE_MS).unref());
        }
      },
      status: () => d.status(),
      log: opts.log,
    });
    d.port = await d.server.start();
    d.gcs.start();
    return d;
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

  /** What `tsray status` shows: every node with its endpoint, resources and state; actors by state. */
  status(): object {
    const actors: Record<string, number> = {};
    for (const a of this.gcs.actors.values()) actors[a.state] = (actors[a.state] ?? 0) + 1;
    return { gcs: this.addr, nodes: this.gcs.view(), actors };
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
          await this.opts.storage.flush();
        }
        const batch = this.held;
        this.held = [];
        for (const { to, msg } of batch) {
          const peer = this.server.route(to);
          if (peer) this.server.sendMsg(peer, this.addr, to, msg);
          else this.wait(to, msg);
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
    const key = /\/driver-/.test(to) ? to : nodeOf(to);
    let q = this.waiting.get(key);
    if (!q) this.waiting.set(key, (q = []));
    if (q.length < MAX_WAITING) q.push({ to, msg });
  }

  private setTimer(key: string, ms: number, periodic?: boolean): void {
    this.cancelTimer(key);
    const t = setTimeout(() => {
      this.timers.delete(key);
      if (!this.closed) this.gcs.fire(key);
    }, ms);
    if (periodic) t.unref();
    this.timers.set(key, t);
  }

  private cancelTimer(key: string): void {
    const t = this.timers.get(key);
    if (t) clearTimeout(t);
    this.timers.delete(key);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.watch?.stop();
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const t of this.leaving.values()) clearTimeout(t);
    await this.server.close();
    await this.opts.storage.close().catch(() => {});
    this.sink.close();
  }
}
