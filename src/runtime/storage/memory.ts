// In-memory GCS storage, for tests and the embedded cluster: the same batching, ordering and
// value checks as the durable backends, with the "disk" being a plain object that outlives the
// storage instance. A restarted GCS in the same process opens a new MemoryStorage over the
// same data (`reopen()`); nothing survives the process.

import { BatchedStorage, emptyTables, type Entry } from "./batched.ts";
import { fromStored, type Stored } from "./codec.ts";
import { GCS_TABLES, type GcsTable, type GcsTables } from "./types.ts";

/** What a MemoryStorage holds; share it between instances to model a restart. */
export interface MemoryData {
  readonly tables: Record<GcsTable, Map<string, Stored>>;
  /** Whether anything was ever committed (load() answers undefined until then). */
  written: boolean;
  /** The cluster marker (epoch.ts). */
  marker?: string;
}

export class MemoryStorage extends BatchedStorage {
  readonly describe = "memory";
  readonly data: MemoryData;

  constructor(data?: MemoryData) {
    super();
    this.data = data ?? { tables: { nodes: new Map(), actors: new Map(), functions: new Map(), meta: new Map() }, written: false };
  }

  /** A fresh instance over the same data: what a restarted GCS in this process opens. */
  reopen(): MemoryStorage {
    return new MemoryStorage(this.data);
  }

  protected async open(): Promise<GcsTables | undefined> {
    if (!this.data.written) return undefined;
    const out = emptyTables();
    for (const t of GCS_TABLES) for (const [k, v] of this.data.tables[t]) out[t].set(k, fromStored(v));
    return out;
  }

  protected async commit(batch: readonly Entry[]): Promise<void> {
    for (const e of batch) {
      if (e.value === undefined) this.data.tables[e.table].delete(e.key);
      else this.data.tables[e.table].set(e.key, e.value);
    }
    this.data.written = true;
  }

  async readMarker(): Promise<string | undefined> {
    return this.data.marker;
  }

  async writeMarker(owner: string): Promise<void> {
    this.data.marker = owner;
  }

  protected async release(): Promise<void> {}
}
