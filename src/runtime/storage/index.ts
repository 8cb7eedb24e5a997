// GCS storage: one interface (types.ts), three backends, and `openStorage(spec)` that turns the
// CLI's `--storage` value into one of them. See docs/storage.md.

import { FileStorage, type FileStorageOptions } from "./file.ts";
import { MemoryStorage } from "./memory.ts";
import { RedisStorage, type RedisStorageOptions } from "./redis.ts";
import type { GcsStorage } from "./types.ts";

export { GCS_TABLES, isGcsTable, type GcsStorage, type GcsTable, type GcsTables, type StorageStats } from "./types.ts";
export { BatchedStorage } from "./batched.ts";
export { FileStorage, type FileStorageOptions } from "./file.ts";
export { MemoryStorage, type MemoryData } from "./memory.ts";
export { RedisStorage, parseRedisUrl, type RedisStorageOptions } from "./redis.ts";

export const STORAGE_FORMS = ["file:PATH", "redis://HOST:PORT[/DB]", "memory"] as const;

export interface OpenStorageOptions {
  /** Redis key prefix (default "tsray"): one cluster per namespace. */
  readonly namespace?: string;
  readonly file?: FileStorageOptions;
  readonly redis?: RedisStorageOptions;
}

/**
 * `"file:PATH"` (relative to the working directory; `file:///abs` also works), `"redis://…"`
 * (or `rediss://`), or `"memory"`. The storage is not opened yet: call `load()`.
 */
export function openStorage(spec: string, opts: OpenStorageOptions = {}): GcsStorage {
  if (spec === "memory") return new MemoryStorage();
  if (spec.startsWith("redis://") || spec.startsWith("rediss://")) return new RedisStorage(spec, opts.namespace ?? "tsray", opts.redis);
  if (spec.startsWith("file:")) {
    const path = spec.startsWith("file://") ? spec.slice("file://".length) : spec.slice("file:".length);
    if (path === "") throw new Error(`bad storage ${JSON.stringify(spec)}: no path after "file:"; expected ${STORAGE_FORMS.join(", ")}`);
    return new FileStorage(path, opts.file);
  }
  throw new Error(`bad storage ${JSON.stringify(spec)}: expected one of ${STORAGE_FORMS.join(", ")}`);
}
