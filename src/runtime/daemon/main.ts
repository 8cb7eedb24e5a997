// The entry of a daemon process: `node --import tsx src/runtime/daemon/main.ts gcs|raylet …`.
// `tsray start` spawns these (detached, or in the foreground with --block). The token comes in
// the environment (TSRAY_TOKEN), never on the command line where `ps` would show it.

import { parseArgs } from "node:util";
import { openStorage } from "../storage/index.ts";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startHeadServices, type HeadServices } from "../head/head-services.ts";
import { gcsMetrics } from "../head/metrics.ts";
import { localAddress } from "../head/http.ts";
import { defaultNamespace } from "../storage/epoch.ts";
import { GcsDaemon } from "./gcs-daemon.ts";
import { parseBugs, type Bugs } from "../../core/bugs.ts";
import { parseAutoscaling, type Autoscaling } from "../autoscaler/config.ts";
import { AutoscalerHost, type NodeProvider } from "../autoscaler/host.ts";
import { LocalProcessProvider, type LocalProviderOptions } from "../autoscaler/local-provider.ts";

export interface Stoppable {
  close(): Promise<void>;
}

/** Starts the GCS daemon (and the dashboard) in this process. */
export async function runGcs(argv: string[], log: (line: string) => void = console.log): Promise<Stoppable> {
  const { values } = parseArgs({
    args: argv, strict: true,
    options: {
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "6379" },
      head: { type: "string", default: "head" },
      storage: { type: "string", default: "memory" },
      /** Redis key prefix: one per cluster (default: from the cluster token, so stable across restarts). */
      "storage-namespace": { type: "string" },
      trace: { type: "string" },
      "dashboard-port": { type: "string", default: "8265" },
      "dashboard-host": { type: "string" },
      "session-dir": { type: "string" },
      /** Run the autoscaler here, with local raylet processes as its nodes (docs/autoscaling.md). */
      "autoscaling-config": { type: "string" },
    },
  });
  const token = process.env.TSRAY_TOKEN;
  if (!token) throw new Error("tsray gcs: set TSRAY_TOKEN to the cluster token");
  const storage = openStorage(values.storage!, { namespace: values["storage-namespace"] ?? defaultNamespace(token) });
  // Storage lost or foreign: the daemon has stopped serving; exit so that a supervisor
  // (Kubernetes, `tsray start --gcs-only`) restarts it, as Ray's GCS does.
  const onStorageLost = () => { void stop().finally(() => process.exit(1)); };
  // Read before anything starts: a wrong configuration is refused with the field it names.
  const autoscaling = values["autoscaling-config"] === undefined ? undefined : readAutoscaling(values["autoscaling-config"]);
  let autoscaler: { host: AutoscalerHost; provider: NodeProvider & { stopAll?: () => Promise<void> } } | undefined;
  const stop = async () => { autoscaler?.host.stop(); await autoscaler?.provider.stopAll?.(); await head?.close(); await gcs.close(); };
  let head: HeadServices | undefined;
  const dashboardHost = values["dashboard-host"] ?? values.host!;
  const metrics = gcsMetrics({ head: values.head!, actors: () => (gcs.status() as { actors: Record<string, number> }).actors, jobs: () => head?.jobs.counts() ?? {} });
  const gcs = await GcsDaemon.start({
    head: values.head!, token, host: values.host, port: Number(values.port), storage, traceFile: values.trace, bugs: seededBugs("gcs", log), onStorageLost,
    // Only one autoscaler acts: this head's own wins over KubeRay's sidecar (docs/autoscaling.md).
    ...(autoscaling ? { localAutoscaler: `this head runs its own autoscaler (tsray start --head --autoscaling-config), which wins: a second one (ray kuberay-autoscaler) may not act; start the head without --autoscaling-config or set enableInTreeAutoscaling: false` } : {}),
    onFlush: (ms) => metrics.storageLatency(ms),
    // What `tsray status` shows of the jobs: those running.
    extraStatus: () => ({ ...(autoscaler ? { autoscaler: autoscaler.host.status() } : {}), dashboard: head ? `${localAddress(dashboardHost)}:${head.dashboard.port}` : undefined, jobs: head?.jobs.list().filter((j) => j.status === "RUNNING" || j.status === "PENDING").map((j) => ({ submission_id: j.submission_id, status: j.status, entrypoint: j.entrypoint })) ?? [] }),
  });
  if (autoscaling) {
    const sessionDir = values["session-dir"] ?? (values.trace ? path.dirname(path.resolve(values.trace)) : fs.mkdtempSync(path.join(os.tmpdir(), "tsray-session-")));
    const provider = await nodeProvider(autoscaling, { gcs: `${localAddress(values.host!)}:${gcs.port}`, token, dir: sessionDir, host: values.host, log });
    const host = new AutoscalerHost(autoscaling, {
      now: () => Date.now(),
      trace: (b) => gcs.trace(b),
      defer: (fn) => { setImmediate(fn); },
      every: (ms, fn) => { const t = setInterval(fn, ms); return () => clearInterval(t); },
      cluster: () => gcs.autoscalingState(),
      drain: (node, reason) => gcs.drainNode(node, reason),
    }, provider, seededBugs("autoscaler", () => {}));
    autoscaler = { host, provider };
    host.start();
    log(`tsray gcs: autoscaler on, worker groups ${autoscaling.config.groups.map((g) => `${g.name} [${g.minReplicas}, ${g.maxReplicas}]`).join(", ")}`);
  }
  const dport = Number(values["dashboard-port"]);
  if (dport >= 0) {
    const sessionDir = values["session-dir"] ?? (values.trace ? path.dirname(path.resolve(values.trace)) : fs.mkdtempSync(path.join(os.tmpdir(), "tsray-session-")));
    try {
      head = await startHeadServices({
        gcs, metrics, head: values.head!, token, address: `${localAddress(values.host!)}:${gcs.port}`, dashboardHost, dashboardPort: dport,
        sessionDir, version: packageVersion(), log,
      });
    } catch (e) {
      await gcs.close();
      throw e;
    }
  }
  log(`tsray gcs: serving on ${values.host}:${gcs.port} (storage ${storage.describe})${head ? `, dashboard on ${dashboardHost}:${head.dashboard.port}` : ""}`);
  return { close: stop };
}

/** The configuration's node provider; a Kubernetes one learns the worker pods already running first. */
async function nodeProvider(a: Autoscaling, local: LocalProviderOptions): Promise<NodeProvider & { stopAll?: () => Promise<void> }> {
  const p = a.provider;
  if (p.type === "local") return new LocalProcessProvider(local);
  const { KubeConfig } = await import("@kubernetes/client-node");
  const { KubernetesProvider } = await import("../autoscaler/kubernetes-provider.ts");
  const namespace = p.namespace ?? process.env.RAY_CLUSTER_NAMESPACE;
  const cluster = p.cluster ?? process.env.RAY_CLUSTER_NAME;
  if (!namespace || !cluster) throw new Error(`--autoscaling-config: provider ${p.type} needs provider.namespace and provider.cluster (or RAY_CLUSTER_NAMESPACE and RAY_CLUSTER_NAME, which KubeRay sets)`);
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault(); // in a pod: its service account
  const k = new KubernetesProvider({ kubeConfig, namespace, cluster, mode: p.type === "kuberay" ? "raycluster" : "deployment", log: local.log });
  await k.discover();
  return k;
}

/** Reads an autoscaling configuration file (JSON), refusing it with the file and the field at fault. */
function readAutoscaling(file: string) {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`--autoscaling-config ${file}: ${(e as Error).message}`);
  }
  try {
    return parseAutoscaling(raw);
  } catch (e) {
    throw new Error(`--autoscaling-config ${file}: ${(e as Error).message}`);
  }
}

function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string }).version;
}

/** $TSRAY_BUGS: seeded bugs to switch on in this process's models (mutation testing), said out loud. */
export function seededBugs(role: string, log: (line: string) => void): Bugs {
  const bugs = parseBugs(process.env.TSRAY_BUGS);
  if (bugs.size > 0) log(`tsray ${role}: SEEDED BUGS ON (TSRAY_BUGS, for mutation testing): ${[...bugs].join(", ")}`);
  return bugs;
}

/** Runs a role until SIGTERM/SIGINT, then closes it and exits. */
export async function serve(start: () => Promise<Stoppable>): Promise<void> {
  const d = await start();
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`tsray: ${signal}: shutting down`);
    void d.close().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/\\/g, "/"))) {
  process.umask(0o077); // logs, traces, storage and sockets: this user's only
  const [role, ...rest] = process.argv.slice(2);
  const roles: Record<string, () => Promise<Stoppable>> = {
    gcs: () => runGcs(rest),
    raylet: async () => (await import("./raylet-daemon.ts")).runRaylet(rest),
  };
  const start = roles[role ?? ""];
  if (!start) {
    console.error(`usage: main.ts (${Object.keys(roles).join("|")}) [options]`);
    process.exit(2);
  }
  serve(start).catch((e) => {
    console.error(`tsray ${role}: ${(e as Error).message}`);
    process.exit(1);
  });
}
