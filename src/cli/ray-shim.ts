// The `ray` command of the tsray image (bin/ray.js): what KubeRay's pods run — `ray start …
// --block` (the flags KubeRay generates from rayStartParams and the container's resources),
// `ray health-check` (the wait-gcs-ready init container, the autoscaler), `ray kuberay-autoscaler`
// (the head's `autoscaler` sidecar with in-tree autoscaling), `ray stop` (preStop hooks),
// `ray status` and `ray job …` (submitter pods) — mapped onto tsray's CLI. Every flag
// `ray start` can get from KubeRay is in RAY_START_FLAGS, either mapped onto `tsray start` or
// refused with a message naming it; so are the environment variables KubeRay sets that change
// what a node does (RAY_START_ENV). docs/kubernetes.md has the table.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { envAddress, envToken, home } from "../runtime/daemon/session.ts";
import { NODE_ID_RE } from "../runtime/daemon/validate.ts";
import { isRunning } from "../runtime/process.ts";

/** A flag or variable the shim cannot honour: the message names it. */
export class Refused extends Error {}

/** What `ray start …` becomes: `tsray start ARGV` with ENV added to the environment. */
export interface StartPlan {
  readonly argv: string[];
  readonly env: Record<string, string>;
}

/** The parts of a `ray start` command line a flag's rule adds to. */
interface Draft {
  readonly head: boolean;
  readonly args: string[];
  readonly resources: Record<string, number>;
  nodeIp?: string;
  redisPassword?: string;
}

interface FlagRule {
  /** Whether the flag takes a value (`--k=v` or `--k v`); a switch is `--k` alone. */
  readonly value: boolean;
  /** "mapped": onto tsray start (or honoured as tsray behaves anyway); "refused": an error naming it. */
  readonly status: "mapped" | "refused";
  /** What it becomes, for the docs' table. */
  readonly does: string;
  apply(d: Draft, v: string, flag: string): void;
}

const pass = (to: string, does: string, only?: "head" | "worker"): FlagRule => ({
  value: true, status: "mapped", does,
  apply: (d, v, flag) => {
    if (only === "head" && !d.head) throw new Refused(`ray start: ${flag} applies to the head only (--head)`);
    if (only === "worker" && d.head) throw new Refused(`ray start: ${flag} applies to a worker only (without --head)`);
    d.args.push(`--${to}`, v);
  },
});
const refused = (value: boolean, why: string): FlagRule => ({
  value, status: "refused", does: `refused: ${why}`,
  apply: (_d, _v, flag) => { throw new Refused(`ray start: ${flag} is not supported by tsray: ${why}`); },
});
/** A value-taking flag tsray honours for one value only (e.g. `--include-log-monitor=false`). */
const onlyValue = (accepted: string, does: string, why: string): FlagRule => ({
  value: true, status: "mapped", does: `${does}; any other value refused: ${why}`,
  apply: (_d, v, flag) => { if (v !== accepted) throw new Refused(`ray start: ${flag}=${v} is not supported by tsray: ${why}`); },
});

function number(flag: string, v: string): number {
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || n < 0) throw new Refused(`ray start: ${flag} must be a number >= 0, got ${JSON.stringify(v)}`);
  return n;
}

/**
 * Every flag `ray start` gets from KubeRay (rayStartParams keys become `--key=value`; KubeRay adds
 * --block, --metrics-export-port, --dashboard-agent-listen-port, --dashboard-host, --address,
 * --num-cpus, --memory, --num-gpus, --resources, --labels, --no-monitor, --redis-password), plus
 * the ones users commonly put in rayStartParams.
 */
export const RAY_START_FLAGS: Readonly<Record<string, FlagRule>> = {
  head: { value: false, status: "mapped", does: "`--head`", apply: () => {} },
  block: { value: false, status: "mapped", does: "`--block`: the daemons run in this process, which exits when they stop", apply: (d) => { d.args.push("--block"); } },
  address: pass("address", "`--address HOST:PORT` (the GCS to join)", "worker"),
  port: pass("port", "`--port` (the GCS port)", "head"),
  "node-ip-address": {
    value: true, status: "mapped", does: "`--node-ip-address`: the address other nodes reach this one at (default: this pod's first non-loopback IPv4)",
    apply: (d, v) => { d.nodeIp = v; },
  },
  "dashboard-host": pass("dashboard-host", "`--dashboard-host`", "head"),
  "dashboard-port": pass("dashboard-port", "`--dashboard-port`", "head"),
  "num-cpus": { value: true, status: "mapped", does: "`--num-cpus`", apply: (d, v, f) => { d.resources.CPU = number(f, v); } },
  "num-gpus": { value: true, status: "mapped", does: "`--num-gpus`", apply: (d, v, f) => { d.resources.GPU = number(f, v); } },
  memory: {
    value: true, status: "mapped", does: "the node's resource `memory` (bytes), as Ray's; tasks ask for it through `resources`",
    apply: (d, v, f) => { d.resources.memory = number(f, v); },
  },
  resources: {
    value: true, status: "mapped", does: "`--resources` (JSON), merged with the resources above",
    apply: (d, v, flag) => {
      let parsed: unknown;
      try { parsed = JSON.parse(v); } catch { throw new Refused(`ray start: ${flag} must be a JSON object of resource amounts, got ${JSON.stringify(v)}`); }
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Refused(`ray start: ${flag} must be a JSON object, got ${JSON.stringify(v)}`);
      for (const [k, n] of Object.entries(parsed)) d.resources[k] = number(`${flag} ${k}`, String(n));
    },
  },
  "metrics-export-port": pass("metrics-export-port", "`--metrics-export-port`"),
  "dashboard-agent-listen-port": pass("dashboard-agent-listen-port", "`--dashboard-agent-listen-port` (the node's health endpoints)"),
  "no-monitor": { value: false, status: "mapped", does: "honoured: tsray's head starts no autoscaler monitor", apply: () => {} },
  "redis-password": {
    value: true, status: "mapped", does: "the password in the Redis URL of the GCS storage (with RAY_REDIS_ADDRESS)",
    apply: (d, v, flag) => {
      if (!d.head) throw new Refused(`ray start: ${flag} applies to the head only (its GCS storage)`);
      d.redisPassword = v;
    },
  },
  "temp-dir": pass("temp-dir", "`--temp-dir` (logs, traces, file storage)"),
  "log-color": onlyValue("false", "honoured: tsray's logs are plain text", "tsray does not color its logs"),
  "include-log-monitor": onlyValue("false", "honoured: tsray runs no log monitor", "tsray runs no log monitor (each daemon's log is a file in the session directory)"),
  "include-dashboard": onlyValue("true", "honoured: the head always serves the dashboard", "the head's dashboard port carries the Jobs API and the health probes KubeRay needs"),
  labels: refused(true, "node labels are not implemented (label selectors are refused by the API too); use resources"),
  "plasma-directory": refused(true, "the object store lives in the raylet's memory, not in files"),
  "object-store-memory": refused(true, "the object store's capacity is not configurable through ray start"),
  "object-manager-port": refused(true, "tsray's object channel port is --object-port of `tsray start`"),
  "node-manager-port": refused(true, "the raylet listens on a free port it registers with the GCS"),
  "ray-client-server-port": refused(true, "Ray Client (ray://) is not implemented: drivers connect to the GCS"),
  "autoscaling-config": refused(true, "tsray's head runs no autoscaler monitor"),
};

/**
 * Environment variables KubeRay sets that change what a node does, and what the shim makes of
 * them (the others — RAY_PORT, RAY_IP, FQ_RAY_IP, RAY_CLUSTER_NAME, RAY_USAGE_STATS_*,
 * KUBERAY_GEN_RAY_START_CMD, … — describe the pod and change nothing).
 */
export const RAY_START_ENV: Readonly<Record<string, string>> = {
  RAY_ADDRESS: "the GCS address for clients (ray.init, `tsray run`, `ray status`, `ray job`): 127.0.0.1:6379 on the head, the head Service on workers",
  RAY_AUTH_MODE: "`token`: the cluster token is RAY_AUTH_TOKEN (KubeRay's authOptions); `disabled` or unset: TSRAY_TOKEN; anything else refused",
  RAY_AUTH_TOKEN: "the cluster token (when RAY_AUTH_MODE=token and TSRAY_TOKEN is unset)",
  RAY_ENABLE_K8S_TOKEN_AUTH: "refused when true: Kubernetes service-account tokens are not accepted by tsray's daemons",
  RAY_USE_TLS: "refused when 1/true: tsray's daemons do not speak TLS",
  RAY_REDIS_ADDRESS: "head: the GCS storage is this Redis (`--storage redis://…`, password from --redis-password or REDIS_PASSWORD)",
  RAY_external_storage_namespace: "head: `--storage-namespace` (one cluster per namespace in Redis)",
  RAY_gcs_storage: "head: `rocksdb` → file storage under RAY_gcs_storage_path (KubeRay's embedded GCS FT); other values refused",
  RAY_CLOUD_INSTANCE_ID: "worker: the node id (the pod's name), so a node restarted in the same pod keeps its id",
};

/** The flags of `ray start` that make a node's resources, as they become the resources of `tsray start`. */
const RESOURCE_FLAGS = ["num-cpus", "num-gpus", "memory", "resources"] as const;

/**
 * The resources a node started by `ray start` with these params (KubeRay's rayStartParams and the
 * flags it adds from the container, values as KubeRay writes them into the bash command line, so
 * a quoted `'{"TPU":4}'` loses its quotes as in the shell) offers: the same rules as `ray start`.
 */
export function nodeResources(params: Readonly<Record<string, string>>): Record<string, number> {
  const d: Draft = { head: false, args: [], resources: {} };
  for (const k of RESOURCE_FLAGS) {
    const v = params[k];
    if (v !== undefined) RAY_START_FLAGS[k]!.apply(d, shellWord(v), `--${k}`);
  }
  return d.resources;
}

/** A value as bash passes it on after `--k=`: outer single quotes taken literally, double quotes with \" and \\ unescaped. */
function shellWord(v: string): string {
  const single = /^'([^']*)'$/s.exec(v);
  if (single) return single[1]!;
  const double = /^"((?:[^"\\]|\\.)*)"$/s.exec(v);
  return double ? double[1]!.replace(/\\(["\\$`])/g, "$1") : v;
}

/** The first non-loopback IPv4 address of this machine (a pod's own IP), as Ray picks the node IP. */
export function detectNodeIp(): string {
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  return "127.0.0.1";
}

/** `ray start`'s command line as (flag, value, rule): `--k=v` as KubeRay writes it, or `--k v`. */
function parseStartFlags(argv: string[]): Array<{ flag: string; value: string; rule: FlagRule }> {
  const out: Array<{ flag: string; value: string; rule: FlagRule }> = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith("--")) throw new Refused(`ray start: unexpected argument ${JSON.stringify(a)}`);
    const eq = a.indexOf("=");
    const key = eq >= 0 ? a.slice(2, eq) : a.slice(2);
    const flag = `--${key}`;
    const rule = RAY_START_FLAGS[key];
    if (!rule) throw new Refused(`ray start: ${flag} is not supported by tsray's ray command (docs/kubernetes.md lists the flags it maps)`);
    let value = eq >= 0 ? a.slice(eq + 1) : undefined;
    if (rule.value && value === undefined) {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith("--")) throw new Refused(`ray start: ${flag} needs a value`);
      value = next;
      i++;
    }
    if (!rule.value && value !== undefined) throw new Refused(`ray start: ${flag} takes no value, got ${a}`);
    out.push({ flag, value: value ?? "", rule });
  }
  return out;
}

/** The token a daemon started from `env` serves with (KubeRay's authOptions, or TSRAY_TOKEN). */
function daemonToken(env: NodeJS.ProcessEnv): string | undefined {
  const mode = env.RAY_AUTH_MODE?.trim().toLowerCase();
  if (mode !== undefined && mode !== "" && mode !== "token" && mode !== "disabled") throw new Refused(`RAY_AUTH_MODE=${env.RAY_AUTH_MODE} is not supported by tsray (token or disabled)`);
  if (/^(1|true)$/i.test(env.RAY_ENABLE_K8S_TOKEN_AUTH ?? "")) throw new Refused(`RAY_ENABLE_K8S_TOKEN_AUTH=${env.RAY_ENABLE_K8S_TOKEN_AUTH}: Kubernetes service-account tokens are not accepted by tsray's daemons (use authOptions mode token)`);
  if (mode === "token" && !env.RAY_AUTH_TOKEN?.trim() && !env.TSRAY_TOKEN) throw new Refused("RAY_AUTH_MODE=token but RAY_AUTH_TOKEN is empty");
  return envToken(env);
}

/** `ray start ARGV` → `tsray start …`, with the environment KubeRay gave the container. */
export function planStart(argv: string[], env: NodeJS.ProcessEnv, nodeIp: () => string = detectNodeIp): StartPlan {
  const flags = parseStartFlags(argv);
  const d: Draft = { head: flags.some((f) => f.flag === "--head"), args: [], resources: {} };
  for (const f of flags) f.rule.apply(d, f.value, f.flag);
  if (!d.head && !d.args.includes("--address")) throw new Refused("ray start: give --head or --address HOST:PORT");
  if (Object.keys(d.resources).length > 0) {
    const { CPU, GPU, ...custom } = d.resources;
    if (CPU !== undefined) d.args.push("--num-cpus", String(CPU));
    if (GPU !== undefined) d.args.push("--num-gpus", String(GPU));
    if (Object.keys(custom).length > 0) d.args.push("--resources", JSON.stringify(custom));
  }
  if (/^(1|true)$/i.test(env.RAY_USE_TLS ?? "")) throw new Refused(`RAY_USE_TLS=${env.RAY_USE_TLS}: tsray's daemons do not speak TLS`);
  const token = daemonToken(env);
  const out: Record<string, string> = {};
  if (token) out.TSRAY_TOKEN = token;
  else if (!d.head) throw new Refused("ray start: no cluster token to join with: set TSRAY_TOKEN, or enable KubeRay's authOptions (mode: token)");
  if (d.head) d.args.push(...headStorage(env, d.redisPassword));
  else if (env.RAY_CLOUD_INSTANCE_ID && NODE_ID_RE.test(env.RAY_CLOUD_INSTANCE_ID)) d.args.push("--node-id", env.RAY_CLOUD_INSTANCE_ID);
  // Serve on every interface (probes call localhost, clients the pod IP); advertise the pod IP.
  d.args.push("--host", "0.0.0.0", "--node-ip-address", d.nodeIp ?? nodeIp());
  return { argv: [d.head ? "--head" : "", ...d.args].filter(Boolean), env: out };
}

/** The head's GCS storage from KubeRay's GCS fault-tolerance environment (none: tsray's default file). */
function headStorage(env: NodeJS.ProcessEnv, password: string | undefined): string[] {
  const redis = env.RAY_REDIS_ADDRESS?.trim();
  const kind = env.RAY_gcs_storage?.trim();
  if (redis && kind && kind !== "redis") throw new Refused(`RAY_gcs_storage=${kind} with RAY_REDIS_ADDRESS: give one GCS storage`);
  const ns = env.RAY_external_storage_namespace ? ["--storage-namespace", env.RAY_external_storage_namespace] : [];
  if (redis) {
    const pw = password ?? env.REDIS_PASSWORD;
    const url = new URL(/^rediss?:\/\//.test(redis) ? redis : `redis://${redis}`);
    if (pw) url.password = pw;
    return ["--storage", url.toString().replace(/\/$/, ""), ...ns];
  }
  if (password) throw new Refused("ray start: --redis-password without RAY_REDIS_ADDRESS (KubeRay sets both for gcsFaultToleranceOptions)");
  if (kind === "rocksdb") {
    const dir = env.RAY_gcs_storage_path?.trim();
    if (!dir) throw new Refused("RAY_gcs_storage=rocksdb needs RAY_gcs_storage_path (the volume KubeRay mounts)");
    return ["--storage", `file:${path.join(dir, "tsray-gcs")}`, ...ns];
  }
  if (kind) throw new Refused(`RAY_gcs_storage=${kind} is not supported by tsray (rocksdb: file storage, or RAY_REDIS_ADDRESS: Redis)`);
  return ns;
}

// ---- the other subcommands ------------------------------------------------------------------

export interface ShimIo {
  readonly stdout: { write(s: string): unknown };
  readonly stderr: { write(s: string): unknown };
}

const USAGE = `usage: ray start (--head | --address=HOST:PORT) [--block] [flags KubeRay generates…]
       ray health-check [--address HOST:PORT] [--skip-version-check]
       ray kuberay-autoscaler --cluster-name NAME --cluster-namespace NAMESPACE
       ray stop [--force] [--grace-period SECONDS]
       ray status [--address HOST:PORT]
       ray job submit|status|logs|stop|list|delete …
The tsray image's \`ray\`: maps Ray's commands onto tsray's CLI (docs/kubernetes.md).`;

/** `ray start --help`: every flag and variable KubeRay may give, and what the shim makes of it. */
function startHelp(): string {
  const flags = Object.entries(RAY_START_FLAGS).map(([k, r]) => `  --${k}${r.value ? "=V" : ""}: ${r.does}`);
  const env = Object.entries(RAY_START_ENV).map(([k, v]) => `  ${k}: ${v}`);
  return `usage: ray start (--head | --address=HOST:PORT) [--block] [flags…]  →  tsray start …\n\nFlags:\n${flags.join("\n")}\n\nEnvironment:\n${env.join("\n")}\n`;
}

/** Where `ray start --block` records its process, for `ray stop` (a preStop hook). */
function blockPidFile(): string {
  return path.join(home(), "ray-start-block.pids");
}

/**
 * `ray health-check`: exit 0 if the GCS at --address is serving (Ray: NodeInfoGcsService.CheckAlive).
 * It asks the standard gRPC health service, which needs no token (as Kubernetes' probes call it),
 * for the server and its Gcs service: a GCS that lost its storage reports NOT_SERVING. Ray's
 * version check compares Ray releases; a tsray image holds one tsray, so there is nothing to
 * compare and --skip-version-check changes nothing.
 */
async function healthCheckCmd(argv: string[], io: ShimIo): Promise<number> {
  const { gcsProblem } = await import("../runtime/autoscaler/kuberay-sidecar.ts");
  const { values } = parseArgs({
    args: argv, strict: true,
    options: { address: { type: "string" }, "skip-version-check": { type: "boolean" }, timeout: { type: "string" } },
  });
  const address = values.address ?? envAddress();
  if (!address) throw new Refused("ray health-check: give --address HOST:PORT (or set RAY_ADDRESS)");
  const timeoutMs = values.timeout !== undefined ? Number(values.timeout) * 1000 : 5_000;
  if (!(timeoutMs > 0)) throw new Refused(`ray health-check: --timeout must be a number of seconds > 0, got ${JSON.stringify(values.timeout)}`);
  const problem = await gcsProblem(address, timeoutMs);
  if (problem === undefined) return 0;
  io.stderr.write(`ray health-check: ${problem}\n`);
  return 1;
}

/**
 * `ray kuberay-autoscaler --cluster-name N --cluster-namespace NS`: what KubeRay's `autoscaler`
 * sidecar runs (src/runtime/autoscaler/kuberay-sidecar.ts), until SIGTERM. Ray's command takes
 * these two flags only; the environment KubeRay gives the sidecar is read as the table in
 * docs/kubernetes.md says (the GCS at 127.0.0.1:6379 unless TSRAY_ADDRESS/RAY_ADDRESS names
 * another; the period from Ray's AUTOSCALER_UPDATE_INTERVAL_S, the API server's request timeout
 * from its KUBERAY_REQUEST_TIMEOUT_S).
 */
async function kuberayAutoscaler(argv: string[], io: ShimIo): Promise<number> {
  const { values } = parseArgs({ args: argv, strict: true, options: { "cluster-name": { type: "string" }, "cluster-namespace": { type: "string" } } });
  const cluster = values["cluster-name"];
  const namespace = values["cluster-namespace"];
  if (!cluster || !namespace) throw new Refused("ray kuberay-autoscaler: --cluster-name and --cluster-namespace are required (KubeRay passes $(RAY_CLUSTER_NAME) and $(RAY_CLUSTER_NAMESPACE))");
  const env = process.env;
  if (env.KUBERAY_CRD_VER !== undefined && env.KUBERAY_CRD_VER !== "v1") throw new Refused(`ray kuberay-autoscaler: KUBERAY_CRD_VER=${env.KUBERAY_CRD_VER}: tsray reads RayClusters of ray.io/v1 only`);
  const interval = env.AUTOSCALER_UPDATE_INTERVAL_S ?? "5";
  if (!/^[1-9][0-9]*$/.test(interval)) throw new Refused(`ray kuberay-autoscaler: AUTOSCALER_UPDATE_INTERVAL_S=${interval}: a whole number of seconds >= 1`);
  const requestTimeout = env.KUBERAY_REQUEST_TIMEOUT_S ?? "60";
  if (!/^[1-9][0-9]*$/.test(requestTimeout)) throw new Refused(`ray kuberay-autoscaler: KUBERAY_REQUEST_TIMEOUT_S=${requestTimeout}: a whole number of seconds >= 1`);
  const token = daemonToken(env);
  if (!token) throw new Refused("ray kuberay-autoscaler: no cluster token: enable KubeRay's authOptions (mode: token), which gives the sidecar RAY_AUTH_TOKEN, or set TSRAY_TOKEN");
  const { KubeConfig } = await import("@kubernetes/client-node");
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault(); // KUBECONFIG when set, else the pod's service account
  const { runKubeRayAutoscaler } = await import("../runtime/autoscaler/kuberay-sidecar.ts");
  const log = (line: string) => { io.stdout.write(`${line}\n`); };
  let running: { stop(): Promise<void> };
  try {
    running = await runKubeRayAutoscaler({ cluster, namespace, gcs: envAddress(env) ?? "127.0.0.1:6379", token, kubeConfig, periodSeconds: Number(interval), requestTimeoutMs: Number(requestTimeout) * 1000, log });
  } catch (e) {
    io.stderr.write(`ray kuberay-autoscaler: ${(e as Error).message}\n`);
    return 1;
  }
  if (env.RAY_HEAD_POD_NAME) log(`ray kuberay-autoscaler: in head pod ${env.RAY_HEAD_POD_NAME}`);
  const signal = await new Promise<string>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  log(`ray kuberay-autoscaler: ${signal}: stopping`);
  await running.stop();
  return 0;
}

/** `ray stop`: the `ray start --block` processes of this container, then clusters started detached. */
async function stop(argv: string[], io: ShimIo): Promise<number> {
  const { values } = parseArgs({ args: argv, strict: true, options: { force: { type: "boolean", short: "f" }, "grace-period": { type: "string", short: "g" } } });
  const grace = values["grace-period"] !== undefined ? Number(values["grace-period"]) : 16; // Ray's default
  if (!Number.isFinite(grace) || grace < 0) throw new Refused(`ray stop: --grace-period must be seconds >= 0, got ${JSON.stringify(values["grace-period"])}`);
  const file = blockPidFile();
  const pids = fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").map(Number).filter((p) => p > 0 && isRunning(p)) : [];
  for (const pid of pids) process.kill(pid, values.force ? "SIGKILL" : "SIGTERM");
  const deadline = Date.now() + grace * 1000;
  while (pids.some(isRunning) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  for (const pid of pids.filter(isRunning)) process.kill(pid, "SIGKILL");
  fs.rmSync(file, { force: true });
  if (pids.length > 0) io.stdout.write(`ray stop: stopped ${pids.length} ray start --block process(es) (${pids.join(", ")})\n`);
  return (await import("./stop.ts")).main(["--all"]);
}

/** Client commands read KubeRay's variables (RAY_ADDRESS, RAY_DASHBOARD_ADDRESS, RAY_AUTH_TOKEN) as tsray's. */
function clientEnv(): void {
  const env = process.env;
  if (env.TSRAY_DASHBOARD_ADDRESS === undefined) {
    const dash = env.RAY_DASHBOARD_ADDRESS ?? (env.RAY_ADDRESS && /^https?:\/\//.test(env.RAY_ADDRESS) ? env.RAY_ADDRESS : undefined);
    if (dash) env.TSRAY_DASHBOARD_ADDRESS = dash;
  }
  if (env.RAY_ADDRESS && /^https?:\/\//.test(env.RAY_ADDRESS)) delete env.RAY_ADDRESS; // a dashboard URL, taken above
  const token = daemonToken(env);
  if (token) env.TSRAY_TOKEN = token;
}

/** `ray job …` flags tsray's job CLI has under another name, or not at all. */
const JOB_REFUSED: Readonly<Record<string, string>> = {
  "entrypoint-num-cpus": "a job's driver runs on the head outside the scheduler (ask for resources in the program)",
  "entrypoint-num-gpus": "a job's driver runs on the head outside the scheduler (ask for resources in the program)",
  "entrypoint-memory": "a job's driver runs on the head outside the scheduler",
  "entrypoint-resources": "a job's driver runs on the head outside the scheduler (ask for resources in the program)",
  "working-dir": "runtime environments are not implemented: the entrypoint runs in the head's working directory",
  "runtime-env": "runtime environments are not implemented (runtime_env.env_vars: --runtime-env-json)",
};

export async function runRayShim(argv: string[], io: ShimIo): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case "start": {
        if (rest.includes("--help") || rest.includes("-h")) { io.stdout.write(startHelp()); return 0; }
        const plan = planStart(rest, process.env);
        Object.assign(process.env, plan.env);
        io.stdout.write(`ray: tsray start ${plan.argv.join(" ")}\n`);
        if (plan.argv.includes("--block")) {
          fs.mkdirSync(home(), { recursive: true, mode: 0o700 });
          fs.appendFileSync(blockPidFile(), `${process.pid}\n`);
        }
        return await (await import("./start.ts")).main(plan.argv);
      }
      case "health-check": return await healthCheckCmd(rest, io);
      case "kuberay-autoscaler": return await kuberayAutoscaler(rest, io);
      case "stop": return await stop(rest, io);
      case "status":
        clientEnv();
        return await (await import("./status.ts")).main(rest);
      case "job": {
        const sep = rest.indexOf("--");
        const flags = sep >= 0 ? rest.slice(0, sep) : rest;
        for (const f of flags) {
          const key = f.startsWith("--") ? f.slice(2).split("=")[0]! : undefined;
          if (key && JOB_REFUSED[key]) throw new Refused(`ray job: --${key} is not supported by tsray: ${JOB_REFUSED[key]}`);
        }
        clientEnv();
        return await (await import("./job.ts")).main(rest);
      }
      case undefined: case "--help": case "-h":
        (cmd === undefined ? io.stderr : io.stdout).write(`${USAGE}\n`);
        return cmd === undefined ? 2 : 0;
      default:
        throw new Refused(`ray ${cmd}: not available in the tsray image (start, health-check, kuberay-autoscaler, stop, status, job)`);
    }
  } catch (e) {
    if (e instanceof Refused || (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      io.stderr.write(`${(e as Error).message.startsWith("ray") ? "" : `ray ${cmd}: `}${(e as Error).message}\n`);
      return 2;
    }
    throw e;
  }
}
