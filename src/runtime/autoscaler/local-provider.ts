// The daemons' local node provider: a worker node is a raylet daemon process on this machine,
// started as `tsray start --address … --block` would start it and stopped with SIGTERM. It lets
// one machine try scaling end to end (Ray's "fake multi-node" provider has the same purpose).

import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import type { WorkerGroup } from "../../core/autoscaler/autoscaler.ts";
import type { NodeId } from "../../core/types.ts";
import type { NodeProvider } from "./host.ts";

export interface LocalProviderOptions {
  /** The GCS the raylets join (host:port). */
  readonly gcs: string;
  readonly token: string;
  /** Where each node's log and trace go. */
  readonly dir: string;
  readonly host?: string;
  readonly log: (line: string) => void;
}

const DAEMON_MAIN = new URL("../daemon/main.ts", import.meta.url);
const KILL_GRACE_MS = 10_000;

export class LocalProcessProvider implements NodeProvider {
  private readonly children = new Map<NodeId, ChildProcess>();
  private readonly used = new Map<string, number>();

  constructor(private readonly opts: LocalProviderOptions) {}

  initial() { return []; }

  launch(launch: string, group: WorkerGroup, done: (r: { ok: true; node: NodeId } | { ok: false; reason: string }) => void): void {
    // Node ids are never reused: a new node is a new id, as a new pod is a new name.
    const n = (this.used.get(group.name) ?? 0) + 1;
    this.used.set(group.name, n);
    const node = `${group.name}-${n}`;
    const { CPU, GPU, ...custom } = group.resources;
    const args = [
      "--import", import.meta.resolve("tsx"), DAEMON_MAIN.pathname, "raylet", "--gcs", this.opts.gcs, "--node", node, "--host", this.opts.host ?? "127.0.0.1",
      "--num-cpus", String(CPU ?? 0), ...(GPU !== undefined ? ["--num-gpus", String(GPU)] : []),
      ...(Object.keys(custom).length > 0 ? ["--resources", JSON.stringify(custom)] : []),
      "--trace", path.join(this.opts.dir, `${node}.trace.jsonl`),
    ];
    const log = fs.openSync(path.join(this.opts.dir, `${node}.log`), "a", 0o600);
    const child = spawn(process.execPath, args, { env: { ...process.env, TSRAY_TOKEN: this.opts.token }, stdio: ["ignore", log, log] });
    fs.closeSync(log);
    let answered = false;
    child.once("spawn", () => {
      answered = true;
      this.children.set(node, child);
      this.opts.log(`tsray autoscaler: ${launch}: started node ${node} (pid ${child.pid})`);
      done({ ok: true, node });
    });
    child.once("error", (e) => {
      if (answered) return;
      answered = true;
      done({ ok: false, reason: `could not start a raylet for ${node}: ${e.message}` });
    });
    child.once("exit", () => { this.children.delete(node); });
  }

  terminate(node: NodeId, _group: WorkerGroup, done: () => void): void {
    this.stop(node, done);
  }

  /** Stops every node it started (the head is going away). */
  async stopAll(): Promise<void> {
    await Promise.all([...this.children.keys()].map((node) => new Promise<void>((resolve) => this.stop(node, resolve))));
  }

  private stop(node: NodeId, done: () => void): void {
    const child = this.children.get(node);
    if (!child || child.exitCode !== null) { this.children.delete(node); return done(); }
    const force = setTimeout(() => child.kill("SIGKILL"), KILL_GRACE_MS);
    child.once("exit", () => { clearTimeout(force); this.opts.log(`tsray autoscaler: stopped node ${node}`); done(); });
    child.kill("SIGTERM");
  }
}
