// Group commit, shared by every backend: `write` queues, the queue is committed once per
// event-loop turn (or, while a commit is in flight, as soon as it finishes, taking everything
// that queued up meanwhile), one commit at a time so batches land in issue order, and `flush`
// waits for the commit that covers the writes issued before it.

import { toStored, type Stored } from "./codec.ts";
import { isGcsTable, type GcsStorage, type GcsTable, type GcsTables, type StorageStats } from "./types.ts";

/** One queued write: the value already in stored form (undefined = delete). */
export interface Entry {
  readonly table: GcsTable;
  readonly key: string;
  readonly value: Stored | undefined;
}

interface Waiter {
  readonly upTo: number;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
}

type Phase = "new" | "loading" | "open" | "closing" | "closed";

export abstract class BatchedStorage implements GcsStorage {
  abstract readonly describe: string;

  private phase: Phase = "new";
  private queue: Entry[] = [];
  private issued = 0;
  private durable = 0;
  private commits = 0;
  private scheduled = false;
  private committing = false;
  private readonly waiters: Waiter[] = [];
  private failure: Error | undefined;
  private closing: Promise<void> | undefined;
  /** The last stored value of every row, to write again if storage comes back empty (epoch.ts). */
  private readonly lastRows = new Map<GcsTable, Map<string, Stored>>();

  /** Opens the backend and reads what it holds (undefined: nothing stored yet). */
  protected abstract open(): Promise<GcsTables | undefined>;
  /** Makes one batch durable, in order. Throwing breaks the storage for good. */
  protected abstract commit(batch: readonly Entry[]): Promise<void>;
  /** Runs after a commit, before the next one (the file backend snapshots here). */
  protected async afterCommit(): Promise<void> {}
  /** Releases the backend; `clean` is false after a failure (nothing more may be written). */
  protected abstract release(clean: boolean): Promise<void>;

  get stats(): StorageStats {
    return { writes: this.issued, durable: this.durable, commits: this.commits };
  }

  async load(): Promise<GcsTables | undefined> {
    if (this.phase !== "new") throw new Error(`${this.describe}: load() may be called only once, before any write`);
    this.phase = "loading";
    try {
      const tables = await this.open();
      this.phase = "open";
      if (tables) for (const [t, m] of Object.entries(tables) as [GcsTable, Map<string, unknown>][]) for (const [k, v] of m) this.remember(t, k, toStored(v, `${t}/${k}`));
      return tables;
    } catch (e) {
      this.phase = "closed";
      throw e;
    }
  }

  write(table: GcsTable, key: string, value: unknown): void {
    if (this.failure) throw this.failure;
    if (this.phase !== "open") {
      throw new Error(`${this.describe}: write() ${this.phase === "new" || this.phase === "loading" ? "before load() has finished" : "after close()"}`);
    }
    if (!isGcsTable(table)) throw new TypeError(`${this.describe}: unknown GCS table ${JSON.stringify(table)}`);
    if (typeof key !== "string") throw new TypeError(`${this.describe}: a row key must be a string, got ${typeof key}`);
    const stored = value === undefined ? undefined : toStored(value, `${table}/${key}`);
    this.remember(table, key, stored);
    this.enqueue({ table, key, value: stored });
  }

  /** Queues every row again, as last written or loaded; returns how many (epoch.ts). */
  rewrite(): number {
    let n = 0;
    for (const [table, m] of this.lastRows) for (const [key, value] of m) { this.enqueue({ table, key, value }); n++; }
    return n;
  }

  private remember(table: GcsTable, key: string, value: Stored | undefined): void {
    let m = this.lastRows.get(table);
    if (!m) this.lastRows.set(table, (m = new Map()));
    if (value === undefined) m.delete(key);
    else m.set(key, value);
  }

  private enqueue(e: Entry): void {
    if (this.failure) throw this.failure;
    this.queue.push(e);
    this.issued++;
    if (!this.scheduled && !this.committing) {
      this.scheduled = true;
      setImmediate(() => { this.scheduled = false; void this.pump(); });
    }
  }

  flush(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const upTo = this.issued;
    if (this.durable >= upTo) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ upTo, resolve, reject }));
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    if (this.phase === "new" || this.phase === "closed") { this.phase = "closed"; return; }
    if (this.phase === "loading") throw new Error(`${this.describe}: close() while load() is still running`);
    this.phase = "closing"; // no more writes: close() covers exactly what was issued before it
    let flushed: Error | undefined;
    try { await this.flush(); } catch (e) { flushed = e as Error; }
    try {
      await this.release(flushed === undefined);
    } finally {
      this.phase = "closed";
    }
    if (flushed) throw flushed;
  }

  private async pump(): Promise<void> {
    if (this.committing) return;
    this.committing = true;
    try {
      while (this.queue.length > 0 && this.failure === undefined) {
        const batch = this.queue;
        this.queue = [];
        try {
          await this.commit(batch);
          this.durable += batch.length;
          this.commits++;
          this.settle();
          await this.afterCommit();
        } catch (e) {
          this.fail(e);
        }
      }
    } finally {
      this.committing = false;
    }
  }

  private settle(): void {
    while (this.waiters.length > 0 && this.waiters[0].upTo <= this.durable) this.waiters.shift()!.resolve();
  }

  private fail(e: unknown): void {
    const cause = e instanceof Error ? e : new Error(String(e));
    this.failure = cause.message.startsWith(this.describe)
      ? cause
      : new Error(`${this.describe}: commit failed, the GCS must stop (writes since the last flush may be lost): ${cause.message}`, { cause });
    this.queue = [];
    for (const w of this.waiters.splice(0)) w.reject(this.failure);
  }
}

/** Empty tables, to fill while loading. */
export function emptyTables(): Record<GcsTable, Map<string, unknown>> {
  return { nodes: new Map(), actors: new Map(), functions: new Map(), meta: new Map() };
}
