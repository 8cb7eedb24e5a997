// Worker threads, main side: the pool that starts them (pre-warmed at init, so a raylet's
// startWorker usually binds a thread that is already running), the code they run, and the
// batching of messages to them (one postMessage per thread per drain of the transport).
//
// Threads run plain JS: the worker entry and what it imports are bundled once per process with
// esbuild (a dependency of tsx) into CommonJS, cached under the package's .tsray/ directory, and
// started with a one-line eval'd `require` (~25 ms a thread; an ES module entry goes through the
// ESM loader and its hooks, ~70–150 ms). apache-arrow stays the installed package, loaded in a
// thread on first use. A build whose entry is already .js (compiled) is started directly.

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from "node:worker_threads";
import type { ToThread, FromThread } from "./protocol.ts";
import { Spinner } from "../spinner.ts";

let script: Promise<{ code: string } | { url: URL }> | undefined;

/** The worker's code, built on first use (esbuild: ~20 ms) and shared by every cluster. */
export function workerScript(): Promise<{ code: string } | { url: URL }> {
  return (script ??= build());
}

async function build(): Promise<{ code: string } | { url: URL }> {
  const js = new URL("./worker-entry.js", import.meta.url);
  const ts = new URL("./worker-entry.ts", import.meta.url);
  if (!import.meta.url.endsWith(".ts")) return { url: js };
  const { build: esbuild } = await import("esbuild");
  const arrowUrl = import.meta.resolve("apache-arrow");
  const r = await esbuild({
    entryPoints: [fileURLToPath(ts)],
    bundle: true,
    write: false,
    // CommonJS from source starts in ~25 ms; an ES module goes through the ESM loader (and any
    // hooks the parent registered, tsx's among them): ~70 ms.
    format: "cjs",
    platform: "node",
    target: "node20",
    logLevel: "silent",
    plugins: [{
      name: "tsray-worker",
      setup(b) {
        // Arrow on first use: required synchronously (require of an ES module, Node ≥ 20.19),
        // which gives the same instance as user code's import("apache-arrow").
        b.onResolve({ filter: /\/arrow\.ts$/ }, (a) => (a.importer.includes("/src/runtime/") ? { path: "arrow", namespace: "tsray-lazy" } : undefined));
        b.onLoad({ filter: /.*/, namespace: "tsray-lazy" }, () => ({
          loader: "js",
          contents: `let arrow; const path = ${JSON.stringify(fileURLToPath(arrowUrl))};
export function arrowLoaded() { return arrow; }
export function requireArrow() { return (arrow ??= require(path)); }`,
        }));
      },
    }],
  });
  const code = r.outputFiles[0].text;
  // Started from a file (required by a one-line eval'd stub: still the fast CommonJS path), a
  // dynamic import() in user code resolves from the package's directory, as in the simulator;
  // from source it would resolve from the current directory.
  try {
    const dir = fileURLToPath(new URL("../../../.tsray/", import.meta.url));
    const file = join(dir, `worker-${createHash("sha256").update(code).digest("hex").slice(0, 16)}.cjs`);
    if (!existsSync(file)) {
      mkdirSync(dir, { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, code);
      renameSync(tmp, file);
    }
    return { code: `require(${JSON.stringify(file)});` };
  } catch {
    return { code };
  }
}

export class Thread {
  readonly worker: Worker;
  /** Our end of the thread's channel. */
  readonly port: MessagePort;
  ready = false;
  exited = false;
  /** Set when the host ends the thread on purpose (killWorker, shutdown). */
  ending = false;
  /** The worker address bound to this thread. */
  addr?: string;
  /** The last uncaught error the thread reported. */
  error?: Error;
  /** Tasks sent and not yet reported done. */
  busy = 0;
  outbox: ToThread[] = [];
  /** Functions whose source this thread has received. */
  readonly sentFns = new Set<string>();
  private readonly readyWaiters: (() => void)[] = [];
  readonly exitedPromise: Promise<number>;

  constructor(src: { code: string } | { url: URL }, private readonly pool: ThreadPool) {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    const opts = { workerData: { port: port2, spinMicros: pool.spinMicros }, transferList: [port2] };
    this.worker = "code" in src ? new Worker(src.code, { eval: true, ...opts }) : new Worker(src.url, opts);
    port1.on("message", (batch: FromThread[]) => this.receive(batch));
    this.worker.on("error", (e) => { this.error = e; });
    this.exitedPromise = new Promise((resolve) => {
      this.worker.on("exit", (code) => {
        this.exited = true;
        this.ready = false;
        this.busy = 0;
        port1.close();
        for (const w of this.readyWaiters.splice(0)) w();
        pool.onExit(this, code);
        resolve(code);
      });
    });
    // Threads never keep the process alive by themselves: the driver's client holds it open
    // while the program waits on the cluster (KeepAlive). Unref after the listeners are on:
    // adding a message listener refs a port again.
    this.worker.unref();
    port1.unref();
  }

  receive(batch: FromThread[]): void {
    if (!this.ready && batch[0]?.t === "ready") {
      this.ready = true;
      for (const w of this.readyWaiters.splice(0)) w();
      batch = batch.slice(1);
      if (batch.length === 0) return;
    }
    this.pool.onBatch(this, batch);
  }

  /** Takes a batch the thread has sent, if one is waiting, without going through the event loop. */
  poll(): boolean {
    if (this.exited) return false;
    const m = receiveMessageOnPort(this.port);
    if (m === undefined) return false;
    this.receive(m.message as FromThread[]);
    return true;
  }

  whenReady(): Promise<void> {
    if (this.ready || this.exited) return Promise.resolve();
    return new Promise((r) => this.readyWaiters.push(r));
  }

  post(m: ToThread): void {
    if (this.exited) return;
    if (this.outbox.length === 0) this.pool.dirty.push(this);
    this.outbox.push(m);
  }

  /** Ends the thread: asks it to exit (it gives back its arena pins), terminates it if it does not. */
  end(graceMs = 200): Promise<number> {
    if (this.exited) return this.exitedPromise;
    this.ending = true;
    this.worker.ref(); // until it is gone: the caller awaits its exit
    if (this.ready) {
      this.port.postMessage([{ t: "exit" } satisfies ToThread]);
      const t = setTimeout(() => void this.worker.terminate(), graceMs);
      t.unref();
      void this.exitedPromise.then(() => clearTimeout(t));
    } else void this.worker.terminate();
    return this.exitedPromise;
  }
}

export interface ThreadPoolEvents {
  onBatch(thread: Thread, batch: readonly FromThread[]): void;
  onExit(thread: Thread, code: number): void;
}

export class ThreadPool {
  private readonly warm: Thread[] = [];
  readonly all = new Set<Thread>();
  /** Threads with queued messages, flushed after each transport drain. */
  dirty: Thread[] = [];
  /** Threads started (for stats). */
  started = 0;

  constructor(
    private readonly src: { code: string } | { url: URL },
    private readonly events: ThreadPoolEvents,
    /** How long a thread, and the host, poll for an answer before sleeping (µs; 0: never). */
    readonly spinMicros = 50,
  ) {
    this.spinner = new Spinner(spinMicros);
  }

  onBatch(thread: Thread, batch: readonly FromThread[]): void { this.events.onBatch(thread, batch); }

  onExit(thread: Thread, code: number): void {
    this.all.delete(thread);
    const i = this.warm.indexOf(thread);
    if (i >= 0) this.warm.splice(i, 1);
    this.events.onExit(thread, code);
  }

  private spawn(): Thread {
    const t = new Thread(this.src, this);
    this.all.add(t);
    this.started++;
    return t;
  }

  /** Starts `n` threads ahead of need; resolves when they are running. */
  prewarm(n: number): Promise<void> {
    const fresh: Thread[] = [];
    for (let i = 0; i < n; i++) fresh.push(this.spawn());
    this.warm.push(...fresh);
    return Promise.all(fresh.map((t) => t.whenReady())).then(() => undefined);
  }

  /** Warm threads kept in reserve: a taken one is replaced in the background. */
  spares = 1;

  /** A thread for a new worker: a warm one if any (ready first), else a fresh one. */
  acquire(): Thread {
    let i = this.warm.findIndex((t) => t.ready);
    if (i < 0 && this.warm.length > 0) i = 0;
    const t = i >= 0 ? this.warm.splice(i, 1)[0] : this.spawn();
    if (this.warm.length < this.spares && !this.closed) this.warm.push(this.spawn());
    return t;
  }

  private closed = false;

  flush(): void {
    const d = this.dirty;
    if (d.length === 0) return;
    this.dirty = [];
    for (const t of d) {
      const batch = t.outbox;
      t.outbox = [];
      if (t.exited || batch.length === 0) continue;
      t.port.postMessage(batch);
    }
  }

  /**
   * Right after sending work: wait a few µs for a busy thread's answer by polling its port
   * rather than sleeping in the event loop (see the thread's spinWhileIdle). Returns once an
   * answer came (its handling queued a drain) or the budget is spent.
   */
  awaitAnswer(): void {
    let busy: Thread[] | undefined;
    for (const t of this.all) if (t.busy > 0) (busy ??= []).push(t);
    if (!busy) return;
    const budget = this.spinner.next();
    if (budget <= 0) return;
    const end = performance.now() + budget;
    do {
      for (const t of busy) if (t.poll()) return this.spinner.hit();
    } while (performance.now() < end);
    this.spinner.miss();
  }

  private readonly spinner: Spinner;

  async endAll(): Promise<void> {
    this.closed = true;
    this.flush();
    await Promise.all([...this.all].map((t) => t.end()));
  }
}
