// File-backed GCS storage (the default): a directory holding
//   gcs.log        append-only JSON lines {"t":table,"k":key,"v":value} ("v" absent = delete)
//   snapshot.json  every row as of some point of the log, replaced atomically
//   gcs.lock       the pid of the process using the directory
//
// Commit: a batch (everything written during one event-loop turn) is appended with one write
// and made durable with one fdatasync before `flush` resolves. Snapshot: once the log holds
// more than `snapshotEvery` entries (and on close), the rows are written to snapshot.json.tmp,
// fsynced, renamed over snapshot.json, the directory fsynced, and only then is the log
// truncated. A crash at any point leaves either the old snapshot + the whole log, or the new
// snapshot + a log whose entries it already contains; replaying puts and deletes in order is
// idempotent, so both load to the same rows.
//
// Load: the snapshot, then the log replayed over it. A crash mid-append can leave a last line
// without its newline: that line was never acknowledged (its fdatasync had not returned), so
// it is dropped with a warning and cut off the file. Anything else that does not parse is
// corruption, reported with the file and line, and the GCS refuses to start on it.

import { isRunning } from "../process.ts";
import { closeSync, linkSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { mkdir, open, readFile, rename, rm, type FileHandle } from "node:fs/promises";
import { join, resolve } from "node:path";
import { BatchedStorage, emptyTables, type Entry } from "./batched.ts";
import { fromStored, type Stored } from "./codec.ts";
import { GCS_TABLES, isGcsTable, type GcsTable, type GcsTables } from "./types.ts";

export interface FileStorageOptions {
  /** Snapshot once the log holds more than this many entries (default 10,000). */
  readonly snapshotEvery?: number;
  /** fdatasync each commit (default true). Off only for throwaway data, e.g. benchmarks of the rest. */
  readonly fsync?: boolean;
  /** Where warnings go (a torn last line, a stale lock taken over); default console.warn. */
  readonly warn?: (message: string) => void;
}

const SNAPSHOT_FORMAT = "tsray-gcs-snapshot";
const SNAPSHOT_VERSION = 1;

export class FileStorage extends BatchedStorage {
  readonly dir: string;
  readonly describe: string;
  readonly logPath: string;
  readonly snapshotPath: string;
  readonly lockPath: string;
  private readonly snapshotEvery: number;
  private readonly sync: boolean;
  private readonly warn: (message: string) => void;
  /** The committed rows, in stored form (what the next snapshot writes). */
  private readonly rows: Record<GcsTable, Map<string, Stored>> = { nodes: new Map(), actors: new Map(), functions: new Map(), meta: new Map() };
  private log: FileHandle | undefined;
  private logEntries = 0;
  private locked = false;
  private snapshots = 0;

  constructor(dir: string, opts: FileStorageOptions = {}) {
    super();
    if (dir === "") throw new Error("FileStorage: the directory path is empty");
    this.dir = resolve(dir);
    this.describe = `file:${this.dir}`;
    this.logPath = join(this.dir, "gcs.log");
    this.snapshotPath = join(this.dir, "snapshot.json");
    this.lockPath = join(this.dir, "gcs.lock");
    this.snapshotEvery = opts.snapshotEvery ?? 10_000;
    if (!(this.snapshotEvery >= 1)) throw new RangeError(`FileStorage: snapshotEvery must be ≥ 1, got ${this.snapshotEvery}`);
    this.sync = opts.fsync ?? true;
    this.warn = opts.warn ?? ((m) => console.warn(m));
  }

  /** Entries in the log since the last snapshot, and snapshots taken (for tests and benchmarks). */
  get fileStats(): { logEntries: number; snapshots: number } {
    return { logEntries: this.logEntries, snapshots: this.snapshots };
  }

  // ---- open and recover -------------------------------------------------------------------

  protected async open(): Promise<GcsTables | undefined> {
    await mkdir(this.dir, { recursive: true });
    this.lock();
    try {
      await rm(`${this.snapshotPath}.tmp`, { force: true }); // a snapshot a crash interrupted
      const hadSnapshot = await this.readSnapshot();
      const { entries, goodBytes, fileBytes } = await this.readLog();
      this.log = await open(this.logPath, "a");
      if (goodBytes < fileBytes) {
        await this.log.truncate(goodBytes);
        await this.log.sync();
      }
      await this.syncDir();
      this.logEntries = entries;
      if (!hadSnapshot && entries === 0) return undefined;
      const out = emptyTables();
      for (const t of GCS_TABLES) for (const [k, v] of this.rows[t]) out[t].set(k, fromStored(v));
      return out;
    } catch (e) {
      await this.log?.close().catch(() => {});
      this.log = undefined;
      this.unlock();
      throw e;
    }
  }

  private async readSnapshot(): Promise<boolean> {
    let text: string;
    try {
      text = await readFile(this.snapshotPath, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw e;
    }
    const bad = (why: string): never => { throw new Error(`${this.snapshotPath}: corrupt GCS snapshot: ${why}`); };
    let snap: unknown;
    try { snap = JSON.parse(text); } catch (e) { return bad((e as Error).message); }
    const s = snap as { format?: unknown; version?: unknown; tables?: unknown };
    if (typeof s !== "object" || s === null || s.format !== SNAPSHOT_FORMAT) return bad("not a tsray GCS snapshot");
    if (s.version !== SNAPSHOT_VERSION) return bad(`version ${String(s.version)}, this build reads ${SNAPSHOT_VERSION}`);
    if (typeof s.tables !== "object" || s.tables === null) return bad("no tables");
    for (const [t, rows] of Object.entries(s.tables as Record<string, unknown>)) {
      if (!isGcsTable(t)) return bad(`unknown table ${JSON.stringify(t)}`);
      if (typeof rows !== "object" || rows === null || Array.isArray(rows)) return bad(`table ${t} is not an object`);
      for (const [k, v] of Object.entries(rows as Record<string, Stored>)) this.rows[t].set(k, v);
    }
    return true;
  }

  private async readLog(): Promise<{ entries: number; goodBytes: number; fileBytes: number }> {
    let buf: Buffer;
    try {
      buf = await readFile(this.logPath);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return { entries: 0, goodBytes: 0, fileBytes: 0 };
      throw e;
    }
    let entries = 0, start = 0, line = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, start);
      if (nl < 0) break;
      line++;
      this.replay(buf.toString("utf8", start, nl), line);
      entries++;
      start = nl + 1;
    }
    if (start < buf.length) {
      this.warn(`${this.logPath}:${line + 1}: ignoring a torn last line (${buf.length - start} bytes without a newline, ` +
        `left by a crash mid-append; it was never acknowledged)`);
    }
    return { entries, goodBytes: start, fileBytes: buf.length };
  }

  private replay(text: string, line: number): void {
    const bad = (why: string): never => { throw new Error(`${this.logPath}:${line}: corrupt GCS log entry: ${why}`); };
    let e: unknown;
    try { e = JSON.parse(text); } catch (err) { return bad((err as Error).message); }
    if (typeof e !== "object" || e === null || Array.isArray(e)) return bad("not an object");
    const { t, k, v } = e as { t?: unknown; k?: unknown; v?: Stored };
    if (!isGcsTable(t)) return bad(`unknown table ${JSON.stringify(t)}`);
    if (typeof k !== "string") return bad("the key is not a string");
    if (v === undefined) this.rows[t].delete(k);
    else this.rows[t].set(k, v);
  }

  // ---- commit and snapshot ----------------------------------------------------------------

  protected async commit(batch: readonly Entry[]): Promise<void> {
    let text = "";
    for (const e of batch) {
      text += e.value === undefined
        ? `{"t":"${e.table}","k":${JSON.stringify(e.key)}}\n`
        : `{"t":"${e.table}","k":${JSON.stringify(e.key)},"v":${JSON.stringify(e.value)}}\n`;
    }
    const buf = Buffer.from(text, "utf8");
    const log = this.log!;
    for (let off = 0; off < buf.length;) off += (await log.write(buf, off, buf.length - off)).bytesWritten;
    if (this.sync) await log.datasync();
    for (const e of batch) {
      if (e.value === undefined) this.rows[e.table].delete(e.key);
      else this.rows[e.table].set(e.key, e.value);
    }
    this.logEntries += batch.length;
  }

  protected override async afterCommit(): Promise<void> {
    if (this.logEntries > this.snapshotEvery) await this.snapshot();
  }

  private async snapshot(): Promise<void> {
    const parts: string[] = [];
    for (const t of GCS_TABLES) {
      const rows: string[] = [];
      for (const [k, v] of this.rows[t]) rows.push(`${JSON.stringify(k)}:${JSON.stringify(v)}`);
      parts.push(`"${t}":{${rows.join(",")}}`);
    }
    const text = `{"format":"${SNAPSHOT_FORMAT}","version":${SNAPSHOT_VERSION},"tables":{${parts.join(",")}}}\n`;
    const tmp = `${this.snapshotPath}.tmp`;
    const f = await open(tmp, "w");
    try {
      await f.writeFile(text, "utf8");
      if (this.sync) await f.sync();
    } finally {
      await f.close();
    }
    await rename(tmp, this.snapshotPath);
    await this.syncDir();
    // The snapshot holds every row the log does: the log can go. (A crash before this point
    // replays the whole log over the new snapshot, which changes nothing.)
    await this.log!.truncate(0);
    if (this.sync) await this.log!.datasync();
    this.logEntries = 0;
    this.snapshots++;
  }

  private async syncDir(): Promise<void> {
    if (!this.sync) return;
    const d = await open(this.dir, "r");
    try { await d.sync(); } finally { await d.close(); }
  }

  protected async release(clean: boolean): Promise<void> {
    try {
      if (clean && this.log && this.logEntries > 0) await this.snapshot();
    } finally {
      await this.log?.close();
      this.log = undefined;
      this.unlock();
    }
  }

  // ---- the directory lock -----------------------------------------------------------------

  /**
   * Creates gcs.lock holding our pid, atomically (the pid goes into a private file that is then
   * hard-linked into place: link(2) fails with EEXIST like O_EXCL, and no one ever sees a lock
   * without its pid). A lock whose pid is not running is stale and is taken over.
   */
  private lock(): void {
    const mine = `${this.lockPath}.${process.pid}`;
    const fd = openSync(mine, "w");
    try { writeSync(fd, `${process.pid}\n`); } finally { closeSync(fd); }
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          linkSync(mine, this.lockPath);
          this.locked = true;
          return;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
        }
        const holder = readPid(this.lockPath);
        if (holder !== undefined && isRunning(holder)) {
          const who = holder === process.pid ? "this process (another FileStorage is open on it)" : `process ${holder}`;
          throw new Error(`${this.describe}: the directory is in use by ${who}: lock file ${this.lockPath}. ` +
            `Two GCS processes must not share a storage directory; stop the other one first.`);
        }
        if (attempt > 0) throw new Error(`${this.describe}: could not take over the stale lock ${this.lockPath} (another process is racing for it)`);
        this.warn(`${this.lockPath}: taking over a stale lock (${holder === undefined ? "no readable pid" : `pid ${holder} is not running`})`);
        try { unlinkSync(this.lockPath); } catch (e) { if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e; }
      }
    } finally {
      try { unlinkSync(mine); } catch { /* already gone */ }
    }
  }

  private unlock(): void {
    if (!this.locked) return;
    this.locked = false;
    if (readPid(this.lockPath) === process.pid) {
      try { unlinkSync(this.lockPath); } catch { /* already gone */ }
    }
  }
}

function readPid(path: string): number | undefined {
  try {
    const n = Number(readFileSync(path, "utf8").trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

