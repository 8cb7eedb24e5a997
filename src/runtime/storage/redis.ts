// Redis-backed GCS storage, as Ray and KubeRay use for GCS fault tolerance: one hash per table
// (`${namespace}:${table}`, field = row key, value = the row as JSON). A batch (everything
// written during one event-loop turn) goes out as one MULTI/EXEC; `flush` resolves when the
// EXEC covering its writes has been answered. Within a batch only the last write of each row
// matters (the transaction is atomic, so no one sees the steps in between), so a batch becomes
// at most one HSET and one HDEL per table.
//
// "Durable" here means "Redis has applied it": how much survives a crash of Redis itself is
// Redis's persistence configuration (appendonly yes + appendfsync always for every EXEC;
// everysec loses up to a second), as it is for Ray.

import { Redis } from "ioredis";
import { BatchedStorage, emptyTables, type Entry } from "./batched.ts";
import { fromStored, type Stored } from "./codec.ts";
import { GCS_TABLES, type GcsTable, type GcsTables } from "./types.ts";

export interface RedisStorageOptions {
  /** Give up connecting after this long (default 5,000 ms). */
  readonly connectTimeoutMs?: number;
  /** After losing a working connection, keep reconnecting for this long before failing (default 10,000 ms). */
  readonly reconnectForMs?: number;
  /**
   * A command (a load, a commit's EXEC) not answered within this long, a reconnection included,
   * fails: a connection gone silent without an error (a NAT that forgot it) would hold it for
   * good. Default: the reconnect window and one connection attempt, so that it never cuts a
   * reconnection short (15,000 ms with the defaults).
   */
  readonly commandTimeoutMs?: number;
}

/** `redis://host:port[/db]` (also `rediss://` for TLS, and `user:password@` before the host). */
export function parseRedisUrl(url: string): { host: string; port: number; db: number; redacted: string } {
  const bad = (why: string): never => { throw new Error(`bad Redis URL ${JSON.stringify(redact(url))}: ${why}; expected redis://host:port[/db]`); };
  let u: URL;
  try { u = new URL(url); } catch { return bad("not a URL"); }
  if (u.protocol !== "redis:" && u.protocol !== "rediss:") bad(`scheme ${u.protocol} is not redis:`);
  if (u.hostname === "") bad("no host");
  const port = u.port === "" ? 6379 : Number(u.port);
  const path = u.pathname.replace(/^\//, "");
  const db = path === "" ? 0 : Number(path);
  if (!/^\d*$/.test(path) || !Number.isInteger(db) || db < 0) bad(`database ${JSON.stringify(path)} is not a number`);
  if (u.search !== "" || u.hash !== "") bad("no query or fragment is understood");
  return { host: u.hostname, port, db, redacted: redact(url) };
}

function redact(url: string): string {
  return url.replace(/^(rediss?:\/\/)([^@/]*)@/, (_, scheme: string, auth: string) => `${scheme}${auth.includes(":") ? auth.replace(/:.*/, ":***") : auth}@`);
}

export class RedisStorage extends BatchedStorage {
  readonly describe: string;
  readonly url: string;
  readonly namespace: string;
  private readonly connectTimeoutMs: number;
  private readonly reconnectForMs: number;
  private readonly commandTimeoutMs: number;
  private client: Redis | undefined;
  private lastError: Error | undefined;
  private connectedOnce = false;
  private downSince: number | undefined;

  constructor(url: string, namespace = "tsray", opts: RedisStorageOptions = {}) {
    super();
    const { redacted } = parseRedisUrl(url);
    if (namespace === "" || /[\s{}]/.test(namespace)) throw new Error(`bad Redis namespace ${JSON.stringify(namespace)}: non-empty, no spaces or braces`);
    this.url = url;
    this.namespace = namespace;
    this.describe = `${redacted} (namespace ${namespace})`;
    for (const k of ["connectTimeoutMs", "reconnectForMs", "commandTimeoutMs"] as const) {
      const v = opts[k];
      if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw new Error(`Redis storage: ${k} must be a positive number of milliseconds, not ${v}`);
    }
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 5_000;
    this.reconnectForMs = opts.reconnectForMs ?? 10_000;
    this.commandTimeoutMs = opts.commandTimeoutMs ?? this.reconnectForMs + this.connectTimeoutMs;
  }

  /** The Redis key of a table's hash. */
  key(table: GcsTable): string {
    return `${this.namespace}:${table}`;
  }

  protected async open(): Promise<GcsTables | undefined> {
    const client = new Redis(this.url, {
      lazyConnect: true,
      connectTimeout: this.connectTimeoutMs,
      commandTimeout: this.commandTimeoutMs,
      // Commands wait while a lost connection is being re-established; once we give up, they fail.
      maxRetriesPerRequest: null,
      retryStrategy: () => {
        if (!this.connectedOnce) return null; // the first connection fails fast, with its reason
        this.downSince ??= Date.now();
        return Date.now() - this.downSince > this.reconnectForMs ? null : 200;
      },
    });
    client.on("error", (e: Error) => { this.lastError = e; });
    client.on("ready", () => { this.connectedOnce = true; this.downSince = undefined; });
    try {
      await client.connect();
    } catch (e) {
      client.disconnect();
      throw new Error(`${this.describe}: cannot connect to Redis: ${(this.lastError ?? (e as Error)).message}`);
    }
    this.client = client;
    try {
      const p = client.pipeline();
      for (const t of GCS_TABLES) p.hgetall(this.key(t));
      const replies = await p.exec();
      const out = emptyTables();
      let any = false;
      GCS_TABLES.forEach((t, i) => {
        const [err, hash] = replies![i];
        if (err) throw err;
        for (const [k, json] of Object.entries(hash as Record<string, string>)) {
          let v: unknown;
          try { v = fromStored(JSON.parse(json) as Stored); } catch (e) {
            throw new Error(`${this.describe}: corrupt row ${k} in hash ${this.key(t)}: ${(e as Error).message}`);
          }
          out[t].set(k, v);
          any = true;
        }
      });
      return any ? out : undefined;
    } catch (e) {
      client.disconnect();
      this.client = undefined;
      throw this.wrap(e);
    }
  }

  /** The key of the cluster marker (epoch.ts). */
  markerKey(): string {
    return `${this.namespace}:marker`;
  }

  async readMarker(): Promise<string | undefined> {
    if (!this.client) throw new Error(`${this.describe}: not open`);
    try {
      return (await this.client.get(this.markerKey())) ?? undefined;
    } catch (e) {
      throw this.wrap(e);
    }
  }

  async writeMarker(owner: string): Promise<void> {
    if (!this.client) throw new Error(`${this.describe}: not open`);
    try {
      await this.client.set(this.markerKey(), owner);
    } catch (e) {
      throw this.wrap(e);
    }
  }

  protected async commit(batch: readonly Entry[]): Promise<void> {
    const last = new Map<GcsTable, Map<string, Stored | undefined>>();
    for (const e of batch) {
      let m = last.get(e.table);
      if (!m) last.set(e.table, (m = new Map()));
      m.set(e.key, e.value); // the last write of a row wins
    }
    const tx = this.client!.multi();
    for (const [table, rows] of last) {
      const puts: string[] = [], dels: string[] = [];
      for (const [k, v] of rows) {
        if (v === undefined) dels.push(k);
        else puts.push(k, JSON.stringify(v));
      }
      if (dels.length > 0) tx.hdel(this.key(table), ...dels);
      if (puts.length > 0) tx.hset(this.key(table), ...puts);
    }
    let replies: [Error | null, unknown][] | null;
    try {
      replies = await tx.exec();
    } catch (e) {
      throw this.wrap(e);
    }
    if (replies === null) throw new Error(`${this.describe}: the transaction was discarded`);
    for (const [err] of replies) if (err) throw this.wrap(err);
  }

  protected async release(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    if (!c) return;
    if (c.status !== "ready") { c.disconnect(); return; }
    try { await c.quit(); } catch { c.disconnect(); }
  }

  private wrap(e: unknown): Error {
    const msg = (e as Error)?.message ?? String(e);
    if (e instanceof Error && msg.startsWith(this.describe)) return e;
    const why = this.lastError && this.lastError.message !== msg ? ` (last connection error: ${this.lastError.message})` : "";
    return new Error(`${this.describe}: ${msg}${why}`, { cause: e });
  }
}
