// Storage that can change behind the GCS's back. Redis can be restarted empty (no persistence,
// a failover to an empty replica, a FLUSHALL), or be shared with another cluster; the GCS would
// go on serving from memory while storage holds nothing, and the next GCS restart would lose
// every table. So each cluster marks its storage: a marker row holding the cluster's id, written
// when the GCS first opens it. A StorageWatch then checks the marker every period:
//   - the marker is there and ours: storage is healthy;
//   - it is gone: storage came back empty; every row the GCS holds is written again (the
//     backend keeps the last value of each row it stored), then the marker;
//   - it names another cluster: this is foreign data; the GCS must not serve on it;
//   - storage does not answer (after the backend's own reconnect period): storage is lost.
// Lost or foreign, the GCS reports NOT_SERVING and exits, so that its supervisor restarts it
// (as Ray's GCS exits when it loses Redis) instead of serving stale state as healthy.

import { createHash } from "node:crypto";
import type { GcsStorage } from "./types.ts";

/** A backend that can hold a marker and write its rows again (Redis, memory). */
export interface MarkedStorage extends GcsStorage {
  /** The marker's value, undefined when there is none. */
  readMarker(): Promise<string | undefined>;
  writeMarker(owner: string): Promise<void>;
  /** Queues every row this storage holds (as last written or loaded) again; returns how many. */
  rewrite(): number;
}

export function isMarked(s: GcsStorage): s is MarkedStorage {
  const m = s as Partial<MarkedStorage>;
  return typeof m.readMarker === "function" && typeof m.writeMarker === "function" && typeof m.rewrite === "function";
}

/**
 * A cluster's id, from its token: the same on every start of its GCS (a supervisor restarts it
 * with the same environment), different between clusters, and no secret (a hash).
 */
export function clusterIdOf(token: string): string {
  return createHash("sha256").update(`tsray-cluster:${token}`).digest("hex").slice(0, 16);
}

/** The storage namespace a cluster uses unless told otherwise (`--storage-namespace`). */
export function defaultNamespace(token: string): string {
  return `tsray-${clusterIdOf(token)}`;
}

export interface StorageWatchOptions {
  /** This cluster's id (clusterIdOf). */
  readonly owner: string;
  /** Storage is lost or foreign: stop serving. */
  readonly onLost: (e: Error) => void;
  readonly log: (line: string) => void;
  /** How often to check (default 1,000 ms). */
  readonly periodMs?: number;
}

export class StorageWatch {
  private timer: NodeJS.Timeout | undefined;
  private checking = false;
  private stopped = false;
  /** Rows written again after storage came back empty (for tests and logs). */
  rewritten = 0;

  private constructor(private readonly storage: MarkedStorage, private readonly o: StorageWatchOptions) {}

  /**
   * Claims the storage for `owner` (refusing another cluster's; data without a marker, written
   * before markers existed, is adopted), then checks it every period.
   */
  static async start(storage: MarkedStorage, o: StorageWatchOptions): Promise<StorageWatch> {
    const marker = await storage.readMarker();
    if (marker !== undefined && marker !== o.owner) throw foreign(storage, marker, o.owner);
    if (marker === undefined) await storage.writeMarker(o.owner);
    const w = new StorageWatch(storage, o);
    w.timer = setInterval(() => void w.check(), o.periodMs ?? 1_000);
    w.timer.unref();
    return w;
  }

  /** One check (the timer runs it; tests may too). */
  async check(): Promise<void> {
    if (this.checking || this.stopped) return;
    this.checking = true;
    try {
      const marker = await this.storage.readMarker();
      if (this.stopped) return;
      if (marker === undefined) {
        const n = this.storage.rewrite();
        this.o.log(`tsray gcs: ${this.storage.describe} came back empty (its cluster marker is gone): writing its ${n} rows again from memory`);
        await this.storage.flush();
        await this.storage.writeMarker(this.o.owner);
        this.rewritten += n;
      } else if (marker !== this.o.owner) throw foreign(this.storage, marker, this.o.owner);
    } catch (e) {
      if (!this.stopped) {
        this.stop();
        this.o.onLost(e as Error);
      }
    } finally {
      this.checking = false;
    }
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }
}

function foreign(storage: GcsStorage, marker: string, owner: string): Error {
  return new Error(`${storage.describe} holds another cluster's data (marker ${marker}, this cluster is ${owner}): refusing to serve on it; give each cluster its own --storage-namespace`);
}
