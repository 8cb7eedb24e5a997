// A real redis-server for tests, on a free loopback port, without persistence. It fails (never
// skips) when redis-server is missing: .ci/run installs it.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createConnection } from "node:net";
import { freePort } from "../../src/runtime/free-port.ts";
export { freePort };

export interface RedisServer { readonly url: string; readonly port: number; stop(): Promise<void> }

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: "127.0.0.1", port });
    let buf = "";
    sock.setTimeout(500, () => { sock.destroy(); resolve(false); });
    sock.on("error", () => resolve(false));
    sock.on("connect", () => sock.write("PING\r\n"));
    sock.on("data", (d) => { buf += d; if (buf.includes("\r\n")) { sock.end(); resolve(buf.startsWith("+PONG")); } });
  });
}

/** Starts `redis-server` with no persistence on a free loopback port. Fails (never skips) if it is not installed. */
export async function startRedis(scratch: string): Promise<RedisServer> {
  const bin = process.env.TSRAY_REDIS_SERVER ?? "redis-server";
  const probe = spawnSync(bin, ["--version"], { encoding: "utf8" });
  if (probe.error || probe.status !== 0) {
    throw new Error(`${bin} is not installed or does not run (${probe.error?.message ?? probe.stderr}): the Redis storage tests need a real ` +
      `redis-server (apt-get install redis-server; .ci/run installs it)`);
  }
  const port = await freePort();
  const proc: ChildProcess = spawn(bin, ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", scratch, "--logfile", ""], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  proc.stdout!.on("data", (d) => { output += d; });
  proc.stderr!.on("data", (d) => { output += d; });
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  const deadline = Date.now() + 10_000;
  while (!(await ping(port))) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`redis-server did not answer PING on port ${port}:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `redis://127.0.0.1:${port}/0`,
    port,
    async stop() {
      if (proc.exitCode !== null) return;
      proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), 3_000);
      await exited;
      clearTimeout(t);
    },
  };
}

