// The local target of chaos experiments: a daemon cluster of real processes on this machine,
// started with `tsray start` in a private $TSRAY_HOME, and the real faults it can take — a
// raylet SIGKILLed (and maybe rejoining under its id), a raylet frozen with SIGSTOP, the GCS
// SIGKILLed and started again on its storage, and network faults set in each daemon's fault
// layer (src/runtime/daemon/net-faults.ts). Every process writes its trace into one directory,
// which the experiment merges and checks.

import { execFile, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { getStatus } from "../src/runtime/daemon/transport.ts";
import type { NetFaultSpec } from "../src/runtime/daemon/net-faults.ts";
import { setNodeNetFaults } from "./node-net-faults.ts";
import type { ChaosCluster, ChaosNode } from "./target.ts";
import type { Session } from "../src/runtime/daemon/session.ts";
import type { SeededBug } from "../src/core/bugs.ts";
import { freePort } from "../src/runtime/free-port.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BIN = path.join(ROOT, "bin/tsray.js");
const DAEMON_MAIN = path.join(ROOT, "src/runtime/daemon/main.ts");
const run = promisify(execFile);

export class LocalCluster implements ChaosCluster {
  readonly target = "local";
  private gcs: ChildProcess | undefined;
  private gcsRestarts = 0;
  private readonly paused = new Set<number>();

  private constructor(
    readonly home: string,
    /** Where every process writes its trace and log. */
    readonly dir: string,
    readonly address: string,
    readonly token: string,
    private readonly port: number,
    private readonly nodes: readonly ChaosNode[],
    private readonly bugs: readonly SeededBug[],
  ) {}

  /** A head (the first node) and the other nodes, each a raylet daemon; `bugs` are switched on in every daemon (mutation testing). */
  static async start(nodes: readonly ChaosNode[], bugs: readonly SeededBug[] = []): Promise<LocalCluster> {
    if (nodes.length === 0 || nodes[0].id !== "head") throw new TypeError("chaos: the first node must be the head");
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "tsray-chaos-"));
    const dir = path.join(home, "cluster");
    const port = await freePort();
    const env: NodeJS.ProcessEnv = { ...process.env, TSRAY_HOME: home, TSRAY_BUGS: bugs.join(",") };
    delete env.TSRAY_TOKEN;
    delete env.TSRAY_ADDRESS;
    const dashboard = await freePort();
    try {
      await run(process.execPath, [BIN, "start", "--head", "--port", String(port), "--dashboard-port", String(dashboard), "--num-cpus", String(nodes[0].cpus), "--temp-dir", dir], { env, cwd: ROOT, timeout: 60_000 });
    } catch (e) {
      // A daemon that came up after `tsray start` gave up is recorded in the session: stop it.
      await run(process.execPath, [BIN, "stop"], { env, cwd: ROOT, timeout: 60_000 }).catch(() => undefined);
      throw e;
    }
    const token = (JSON.parse(fs.readFileSync(path.join(home, "sessions", `${port}.json`), "utf8")) as Session).token;
    const c = new LocalCluster(home, dir, `127.0.0.1:${port}`, token, port, nodes, bugs);
    try {
      for (const n of nodes.slice(1)) await c.join(n.id);
    } catch (e) {
      await c.stop(); // no daemons left behind
      throw e;
    }
    return c;
  }

  private env(): NodeJS.ProcessEnv {
    return { ...process.env, TSRAY_HOME: this.home, TSRAY_TOKEN: this.token, TSRAY_BUGS: this.bugs.join(",") };
  }

  private async tsray(...args: string[]): Promise<string> {
    const { stdout } = await run(process.execPath, [BIN, ...args], { env: this.env(), cwd: ROOT, timeout: 60_000 });
    return stdout;
  }

  /**
   * Starts (or restarts, as a new incarnation) node `id`'s raylet. A node cannot join while the
   * GCS is down: like a supervisor (Kubernetes restarting a pod), try again until it can.
   */
  async join(id: string, withinMs = 30_000): Promise<void> {
    const n = this.nodes.find((x) => x.id === id);
    if (!n || id === "head") throw new TypeError(`chaos: no worker node "${id}"`);
    const deadline = Date.now() + withinMs;
    for (;;) {
      try {
        await this.tsray("start", "--address", this.address, "--node-id", id, "--num-cpus", String(n.cpus));
        return;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  private session(): Session {
    return JSON.parse(fs.readFileSync(path.join(this.home, "sessions", `${this.port}.json`), "utf8")) as Session;
  }

  /** The pid of node `id`'s newest raylet. */
  private rayletPid(id: string): number {
    const r = this.session().daemons.filter((d) => d.role === "raylet" && d.node === id).at(-1);
    if (!r) throw new Error(`chaos: no raylet of node "${id}" was started`);
    return r.pid;
  }

  /** SIGKILLs node `id`'s raylet (its workers are threads of it, and die with it). */
  killNode(id: string): void {
    const pid = this.rayletPid(id);
    this.paused.delete(pid);
    process.kill(pid, "SIGKILL");
  }

  /** Freezes node `id`'s raylet (SIGSTOP) for `ms`, then lets it go on (SIGCONT). */
  async pause(id: string, ms: number): Promise<void> {
    const pid = this.rayletPid(id);
    process.kill(pid, "SIGSTOP");
    this.paused.add(pid);
    await new Promise((r) => setTimeout(r, ms));
    if (this.paused.delete(pid)) process.kill(pid, "SIGCONT");
  }

  /** SIGKILLs the GCS and, `downMs` later, starts it again on the same port and storage. */
  async restartGcs(downMs: number): Promise<void> {
    const pid = this.gcs?.pid ?? this.session().daemons.find((d) => d.role === "gcs")!.pid;
    process.kill(pid, "SIGKILL");
    await new Promise((r) => setTimeout(r, downMs));
    const n = ++this.gcsRestarts;
    const log = fs.openSync(path.join(this.dir, `gcs-restart-${n}.log`), "w");
    this.gcs = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), DAEMON_MAIN, "gcs",
      "--port", String(this.port), "--storage", `file:${path.join(this.dir, "gcs")}`, "--dashboard-port=-1",
      "--trace", path.join(this.dir, `gcs-restart-${n}.trace.jsonl`)], { cwd: ROOT, env: this.env(), stdio: ["ignore", log, log] });
    fs.closeSync(log);
    const deadline = Date.now() + 20_000;
    for (;;) {
      try { await getStatus(this.address, this.token, 500); return; } catch (e) {
        if (Date.now() > deadline) throw new Error(`chaos: the restarted GCS did not come up: ${(e as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * Sets the network faults of every daemon of node `id` (the head's: its GCS and its raylet),
   * through each one's control call; their gRPC addresses come from the GCS's node table.
   */
  async setNetFaults(id: string, spec: NetFaultSpec): Promise<void> {
    await setNodeNetFaults(this.address, this.token, id, spec);
  }

  /** Every trace file written so far. */
  async traces(): Promise<string[]> {
    return fs.readdirSync(this.dir).filter((f) => f.endsWith(".trace.jsonl")).map((f) => path.join(this.dir, f));
  }

  /** Stops every daemon gracefully (so their traces are flushed). The directory stays until `remove()`. */
  async stop(): Promise<void> {
    for (const pid of this.paused) { try { process.kill(pid, "SIGCONT"); } catch { /* gone */ } }
    this.paused.clear();
    if (this.gcs && this.gcs.exitCode === null) {
      const exited = new Promise((r) => this.gcs!.once("exit", r));
      this.gcs.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
    }
    await this.tsray("stop").catch(() => undefined);
  }

  remove(): void {
    fs.rmSync(this.home, { recursive: true, force: true });
  }
}
