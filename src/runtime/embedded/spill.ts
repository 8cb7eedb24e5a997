// External storage for spilled primary copies: one file per object under a per-cluster temp
// directory (made with mkdtemp in os.tmpdir(), removed at shutdown). Writes are asynchronous;
// `spill` copies an arena-backed payload first (the store releases its slot as soon as spill
// returns), and a restore that arrives before the write finished is served from that copy.

import fs from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { NodeId, ObjectId, Payload } from "../../core/types.ts";

interface Spilled {
  /** Everything but the bytes. */
  readonly meta: Omit<Payload, "data">;
  readonly file: string;
  /** The bytes, while the write is in flight. */
  bytes?: Uint8Array;
  write?: Promise<void>;
  deleted?: boolean;
}

export class SpillStore {
  readonly dir: string;
  private readonly objects = new Map<string, Spilled>();
  private readonly io = new Set<Promise<unknown>>();
  private seq = 0;
  /** Files written (for tests and stats). */
  spilledCount = 0;
  restoredCount = 0;
  failures: string[] = [];

  constructor() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsray-spill-"));
  }

  /** I/O in flight (the cluster is not quiet while there is). */
  get busy(): number { return this.io.size; }

  private track<T>(p: Promise<T>): Promise<T> {
    this.io.add(p);
    const done = () => { this.io.delete(p); };
    p.then(done, done);
    return p;
  }

  spill(node: NodeId, id: ObjectId, payload: Payload): void {
    const key = `${node}\0${id}`;
    const data = payload.data as Uint8Array;
    // An arena slot is reused once spill returns: keep a private copy until the file is written.
    const bytes = data.buffer instanceof SharedArrayBuffer ? Buffer.from(data) : data;
    const { data: _drop, ...meta } = payload;
    void _drop;
    const file = path.join(this.dir, `${++this.seq}.obj`);
    const s: Spilled = { meta, file, bytes };
    this.objects.set(key, s);
    this.spilledCount++;
    s.write = this.track(fsp.writeFile(file, bytes).then(
      () => {
        s.bytes = undefined;
        if (s.deleted) return fsp.rm(file, { force: true });
      },
      (e: Error) => { this.failures.push(`spilling ${id} to ${file}: ${e.message}`); },
    ));
  }

  /** Reads a spilled copy back; `done` gets undefined if it is gone (or the file failed). */
  restore(node: NodeId, id: ObjectId, done: (p: Payload | undefined) => void): void {
    const s = this.objects.get(`${node}\0${id}`);
    if (!s) return void queueMicrotask(() => done(undefined));
    if (s.bytes) {
      const bytes = s.bytes;
      return void queueMicrotask(() => { this.restoredCount++; done({ ...s.meta, data: bytes }); });
    }
    this.track(fsp.readFile(s.file)).then(
      (buf) => { this.restoredCount++; done({ ...s.meta, data: new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) }); },
      (e: Error) => { this.failures.push(`restoring ${id} from ${s.file}: ${e.message}`); done(undefined); },
    );
  }

  delete(node: NodeId, id: ObjectId): void {
    const key = `${node}\0${id}`;
    const s = this.objects.get(key);
    if (!s) return;
    this.objects.delete(key);
    s.deleted = true;
    if (!s.bytes) this.track(fsp.rm(s.file, { force: true }));
  }

  /** Files on disk right now (for tests). */
  files(): string[] {
    try { return fs.readdirSync(this.dir); } catch { return []; }
  }

  /** Waits for I/O in flight, then removes the directory. */
  async close(): Promise<void> {
    while (this.io.size > 0) await Promise.allSettled([...this.io]);
    this.objects.clear();
    await fsp.rm(this.dir, { recursive: true, force: true });
  }

  /** At process exit without shutdown: best effort, synchronous. */
  closeSync(): void {
    try { fs.rmSync(this.dir, { recursive: true, force: true }); } catch { /* nothing more to do */ }
  }
}
