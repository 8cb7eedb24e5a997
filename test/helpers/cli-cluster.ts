// For tests that drive a real cluster through the `tsray` command line: running the CLI with a
// test's environment, reading the session `tsray start --head` wrote, and waiting for a condition.
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import * as ray from "../../src/index.ts";
import type { Session } from "../../src/runtime/daemon/session.ts";
import { freePort } from "../../src/runtime/free-port.ts";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const BIN = path.join(ROOT, "bin/tsray.js");
const run = promisify(execFile);

/** Runs `tsray ARGS…` with `env` (TSRAY_HOME among it) and returns its standard output. */
export async function tsrayCli(env: NodeJS.ProcessEnv, ...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [BIN, ...args], { env, cwd: ROOT, timeout: 60_000 });
  return stdout;
}

/** The session of the cluster whose GCS listens on `port`, as `tsray start --head` recorded it in `home`. */
export function readSession(home: string, port: number | string): Session {
  return JSON.parse(fs.readFileSync(path.join(home, "sessions", `${port}.json`), "utf8")) as Session;
}

/** Polls `ok` until it holds (an exception counts as not yet), failing after `ms`. */
export async function until(what: string, ok: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await ok().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * Starts a head with `tsray start --head` in a fresh TSRAY_HOME (named after `prefix`), on free
 * ports, and returns what a test needs to drive it: the environment (with the cluster token),
 * the GCS address, its port and the recorded session.
 */
export async function startHeadCli(
  prefix: string, numCpus: number, extraArgs: readonly string[] = [], extraEnv: NodeJS.ProcessEnv = {},
): Promise<{ home: string; env: NodeJS.ProcessEnv; address: string; port: number; session: Session }> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, ...extraEnv, TSRAY_HOME: home };
  delete env.TSRAY_ADDRESS;
  delete env.TSRAY_TOKEN;
  await tsrayCli(env, "start", "--head", "--port", String(port), "--dashboard-port", String(await freePort()), "--num-cpus", String(numCpus), "--temp-dir", path.join(home, "cluster"), ...extraArgs);
  const session = readSession(home, port);
  env.TSRAY_TOKEN = session.token;
  return { home, env, address: `127.0.0.1:${port}`, port, session };
}

/**
 * Ends what a test began with `startHeadCli`: this process's driver (if it connected), every
 * node of the cluster (`tsray stop`, or `stop --all` where the test started clusters of its
 * own), the token the test exported, and the TSRAY_HOME.
 */
export async function stopHeadCli(c: { home: string; env: NodeJS.ProcessEnv }, opts: { all?: boolean } = {}): Promise<void> {
  await ray.shutdown();
  await tsrayCli(c.env, "stop", ...(opts.all ? ["--all"] : [])).catch(() => undefined);
  delete process.env.TSRAY_TOKEN;
  fs.rmSync(c.home, { recursive: true, force: true });
}
