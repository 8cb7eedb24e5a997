// The GCS storage port as hosts see it. The GCS model (src/core/gcs.ts) asks for durability
// through its synchronous `persist(table, key, value)` effect; a host turns each call into
// `storage.write(...)` and, before it lets anything the model decided reach the outside world,
// awaits `storage.flush()`.
//
// The contract ("nothing acknowledged is lost"):
//   - `write` only enqueues. It copies the value at once (later mutations of the object by the
//     model do not leak into storage) and throws at once on a value storage cannot represent.
//   - Writes are applied in the order they were issued; a delete (`undefined`) is a write.
//   - All writes issued during one event-loop turn are committed together (group commit): one
//     append + one fdatasync for the file backend, one MULTI/EXEC for Redis.
//   - `flush()` resolves once every write issued before the call is durable. The GCS daemon
//     feeds a turn's inputs to the model, collects the sends, awaits `flush()`, and only then
//     sends the replies. So a reply, an acknowledged registration or a published actor state
//     is never ahead of storage: after a crash and `load()`, every acknowledged row is there.
//     Rows written but not yet flushed may or may not survive; nobody was told about them.
//   - If a commit fails the storage is broken for good: pending and later `flush()` calls
//     reject with the cause, `write` throws it, and the host must stop the GCS (as Ray's GCS
//     exits when it loses its Redis) rather than acknowledge anything more.
//   - Life cycle: `load()` once (it opens the backend: takes the directory lock, connects to
//     Redis), then any number of `write`/`flush`, then `close()` (flushes, then releases).

import type { GcsTable, GcsTables } from "../../core/gcs.ts";

export type { GcsTable, GcsTables };

/** The tables, in a fixed order (the order a snapshot lists them in). */
export const GCS_TABLES: readonly GcsTable[] = ["nodes", "actors", "functions", "meta"];

export function isGcsTable(t: unknown): t is GcsTable {
  return typeof t === "string" && (GCS_TABLES as readonly string[]).includes(t);
}

export interface GcsStorage {
  /**
   * Opens the backend and reads everything stored: the tables a restarted GCS starts from, or
   * undefined when nothing has been stored yet (a fresh cluster). Call once, before any write.
   */
  load(): Promise<GcsTables | undefined>;
  /** Enqueues a put (or, with `undefined`, a delete). Synchronous, as the model's persist effect is. */
  write(table: GcsTable, key: string, value: unknown): void;
  /** Resolves when every write issued before this call is durable; rejects if storage failed. */
  flush(): Promise<void>;
  /** Flushes, then releases the backend (file lock, connection). Idempotent. */
  close(): Promise<void>;
  /** Human-readable: which backend, where (never a password). */
  readonly describe: string;
}

/** Counters, for tests and benchmarks. */
export interface StorageStats {
  /** Writes accepted by `write`. */
  readonly writes: number;
  /** Writes made durable. */
  readonly durable: number;
  /** Batches committed (each one fdatasync / one MULTI-EXEC). */
  readonly commits: number;
}
