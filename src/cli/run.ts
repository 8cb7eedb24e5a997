// `tsray run FILE`: runs a program module — its default export, `async (ray) => value` — on an
// embedded cluster in this process, prints what it returned, and shuts the cluster down.

import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { inspect, parseArgs } from "node:util";
import { checkTrace, formatViolations } from "../../spec/invariants/index.ts";
import type { Ray } from "../api/ray.ts";
import { EmbeddedCluster } from "../runtime/embedded/cluster.ts";
import { embeddedConfig, type InitOptions } from "../runtime/embedded/index.ts";
import { envAddress } from "../runtime/daemon/session.ts";

export const USAGE = `usage: tsray run FILE [--num-cpus N] [--num-gpus N] [--nodes K] [--store-bytes B] [--trace OUT.jsonl] [--check] [--json]
       tsray run FILE --address HOST:PORT|auto [--trace OUT.jsonl] [--json]

Runs FILE's default export, async (ray) => value, on an embedded cluster in this process (real
time, worker threads, shared-memory object store) and prints the value it returns. With
--address (or $TSRAY_ADDRESS, set for a job's entrypoint, or KubeRay's $RAY_ADDRESS) it runs as a driver of the daemons of
\`tsray start\` instead.

Options:
  --address A        the GCS of running daemons (host:port, or auto: $TSRAY_ADDRESS, then this
                     machine's session); the token comes from $TSRAY_TOKEN or the session
  --num-cpus N       CPUs of the node (default: this machine's cores)
  --num-gpus N       GPUs of the node (a resource count; nothing is attached)
  --nodes K          K logical nodes (head, node-1, …), each with --num-cpus CPUs
  --store-bytes B    object store capacity per node, in bytes
  --trace OUT.jsonl  write the trace (wall-clock stamped, the simulator's schema); with
                     --address on the session's machine the default is
                     SESSION_DIR/driver-PID.trace.jsonl, beside the daemons' traces
  --check            run the invariant checkers on the trace; exit 1 on a violation
  --json             print the result as JSON`;

export interface LoadedProgram {
  readonly program: (ray: Ray) => unknown;
  readonly file: string;
}

/** Imports a program module; throws an Error with a user-facing message if it is not one. */
export async function loadProgram(file: string, cwd = process.cwd()): Promise<LoadedProgram> {
  const path = resolve(cwd, file);
  if (!existsSync(path)) throw new UsageError(`no such file: ${file}`);
  const mod = (await import(pathToFileURL(path).href)) as { default?: unknown };
  if (typeof mod.default !== "function") {
    throw new UsageError(`${file} must default-export a program: export default async (ray) => value`);
  }
  return { program: mod.default as (ray: Ray) => unknown, file: path };
}

export class UsageError extends Error {}

function count(name: string, v: string | undefined, integer: boolean): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n))) throw new UsageError(`--${name} must be a ${integer ? "non-negative integer" : "number >= 0"}, got ${v}`);
  return n;
}

export async function main(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv, allowPositionals: true, strict: true,
      options: {
        "num-cpus": { type: "string" }, "num-gpus": { type: "string" }, nodes: { type: "string" }, "store-bytes": { type: "string" },
        trace: { type: "string" }, check: { type: "boolean" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" },
        address: { type: "string" },
      },
    }));
  } catch (e) {
    process.stderr.write(`tsray run: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) { process.stdout.write(`${USAGE}\n`); return 0; }
  if (positionals.length !== 1) {
    process.stderr.write(`tsray run: expected one FILE, got ${positionals.length}\n${USAGE}\n`);
    return 2;
  }

  let address: string | undefined;
  try {
    address = (values.address as string | undefined) ?? envAddress();
  } catch (e) {
    process.stderr.write(`tsray run: ${(e as Error).message}\n`);
    return 2;
  }
  if (address !== undefined) return runOnDaemons(address, positionals[0], values);

  let opts: InitOptions;
  let loaded: LoadedProgram;
  try {
    const cpus = count("num-cpus", values["num-cpus"] as string | undefined, false);
    const gpus = count("num-gpus", values["num-gpus"] as string | undefined, false);
    const nodes = count("nodes", values.nodes as string | undefined, true);
    const store = count("store-bytes", values["store-bytes"] as string | undefined, true);
    if (nodes !== undefined && nodes < 1) throw new UsageError("--nodes must be at least 1");
    opts = { storeCapacity: store, traceFile: values.trace as string | undefined, keepTrace: values.check === true };
    if (nodes !== undefined && nodes > 1) {
      const resources: Record<string, number> = { CPU: cpus ?? 1, ...(gpus ? { GPU: gpus } : {}) };
      opts.nodes = Array.from({ length: nodes }, (_, i) => ({ id: i === 0 ? "head" : `node-${i}`, resources }));
    } else {
      opts.numCpus = cpus;
      opts.numGpus = gpus;
    }
    embeddedConfig(opts); // validates
    loaded = await loadProgram(positionals[0]);
  } catch (e) {
    if (e instanceof UsageError || e instanceof TypeError) {
      process.stderr.write(`tsray run: ${(e as Error).message}\n`);
      return 2;
    }
    throw e;
  }

  const cluster = await EmbeddedCluster.start(embeddedConfig(opts));
  const t0 = performance.now();
  let result: unknown;
  let error: unknown;
  let failed = false;
  try {
    result = await loaded.program(cluster.ray);
  } catch (e) {
    failed = true;
    error = e;
  }
  const ms = performance.now() - t0;
  const { quiet } = await cluster.shutdown({ ok: !failed });

  if (failed) {
    const e = error as Error;
    process.stderr.write(`tsray run: the program failed: ${e?.stack ?? String(error)}\n`);
  } else if (values.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    process.stdout.write(`${inspect(result, { depth: 6, colors: false })}\n`);
  }
  const notes: string[] = [`${ms.toFixed(0)} ms`];
  if (values.trace) notes.push(`trace: ${resolve(values.trace as string)} (${cluster.sink.count} events)`);
  if (!quiet) notes.push("the cluster was still busy at shutdown (running tasks were stopped)");
  process.stderr.write(`tsray run: ${notes.join("; ")}\n`);
  if (values.check) {
    const v = checkTrace(cluster.trace);
    if (v.length > 0) {
      process.stderr.write(`tsray run: ${v.length} invariant violation(s):\n${formatViolations(v)}\n`);
      return 1;
    }
    process.stderr.write("tsray run: invariants hold on the trace\n");
  }
  return failed ? 1 : 0;
}

/** `tsray run FILE --address A`: the program's driver connects to running daemons. */
async function runOnDaemons(address: string, file: string, values: Record<string, string | boolean | undefined>): Promise<number> {
  const embeddedOnly = ["num-cpus", "num-gpus", "nodes", "store-bytes", "check"].filter((k) => values[k] !== undefined);
  if (embeddedOnly.length > 0) {
    const why = "the cluster's nodes are the daemons' own (for --check, merge the daemons' traces and run `tsray check`)";
    process.stderr.write(`tsray run: ${embeddedOnly.map((k) => `--${k}`).join(", ")} cannot be given with --address: ${why}\n`);
    return 2;
  }
  const { resolveAddress, resolveToken, findSession } = await import("../runtime/daemon/session.ts");
  const fromEnv = envAddress();
  const gcs = address === "auto" ? resolveAddress(fromEnv === "auto" ? undefined : fromEnv) : address;
  if (gcs === undefined || gcs === "auto") {
    process.stderr.write("tsray run: --address auto found no running cluster: set TSRAY_ADDRESS or start one with `tsray start --head`\n");
    return 2;
  }
  const token = resolveToken(undefined, gcs);
  if (!token) {
    process.stderr.write(`tsray run: no cluster token for ${gcs}: set TSRAY_TOKEN (\`tsray start --head\` printed it)\n`);
    return 2;
  }
  let loaded: LoadedProgram;
  try {
    loaded = await loadProgram(file);
  } catch (e) {
    if (e instanceof UsageError) { process.stderr.write(`tsray run: ${e.message}\n`); return 2; }
    throw e;
  }
  const { DaemonDriver } = await import("../runtime/daemon/driver.ts");
  const traceFile = (values.trace as string | undefined) ?? sessionDriverTrace(gcs, findSession);
  let driver: Awaited<ReturnType<typeof DaemonDriver.connect>>;
  try {
    driver = await DaemonDriver.connect({ address: gcs, token, traceFile });
  } catch (e) {
    process.stderr.write(`tsray run: ${(e as Error).message}\n`);
    return 1;
  }
  const t0 = performance.now();
  let result: unknown, error: unknown, failed = false;
  try {
    result = await loaded.program(driver.ray);
  } catch (e) {
    failed = true;
    error = e;
  }
  const ms = performance.now() - t0;
  await driver.shutdown();
  if (failed) process.stderr.write(`tsray run: the program failed: ${(error as Error)?.stack ?? String(error)}\n`);
  else process.stdout.write(values.json ? `${JSON.stringify(result)}\n` : `${inspect(result, { depth: 6, colors: false })}\n`);
  process.stderr.write(`tsray run: ${ms.toFixed(0)} ms on the cluster at ${gcs}${traceFile ? `; trace: ${resolve(traceFile)}` : ""}\n`);
  return failed ? 1 : 0;
}

/**
 * Where a driver of a cluster started on this machine writes its trace when not told: beside the
 * daemons' traces in the session directory, so that `tsray check DIR/*.trace.jsonl` sees the owner
 * side of every task (without it, every task looks submitted by nobody). Ray keeps its drivers'
 * logs in the session directory too. A driver of a cluster started elsewhere writes none.
 */
function sessionDriverTrace(gcs: string, find: (sel: { address: string }) => { dir: string } | undefined): string | undefined {
  const session = find({ address: gcs });
  return session && existsSync(session.dir) ? join(session.dir, `driver-${process.pid}.trace.jsonl`) : undefined;
}
