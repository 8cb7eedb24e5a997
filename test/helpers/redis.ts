// A real redis-server for tests, on a free loopback port, without persistence. Suites that need
// one pass `{ skip: redisMissing() }`: on a machine without redis-server they are skipped with
// the reason printed; CI (.ci/run) installs it and sets TSRAY_REQUIRE=redis-server, and there a
// missing one fails instead (test/helpers/system.ts).

import { spawn, type ChildProcess } from "node:child_process";
import { createConnection } from "node:net";
import { freePort } from "../../src/runtime/free-port.ts";
import { skipWithout } from "./system.ts";
export { freePort };

const bin = () => process.env.TSRAY_REDIS_SERVER ?? "redis-server";
let missing: string | false | undefined;

/** For node:test's `skip`: false when redis-server runs here, else why the suite is skipped (throws under TSRAY_REQUIRE). */
export function redisMissing(): string | false {
  missing ??= skipWithout("redis-server", { bin: bin(), install: "apt-get install redis-server; .ci/run does this" });
  return missing;
}

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

/** Starts `redis-server` with no persistence on `port` (default a free loopback port); call it only when redisMissing() is false. */
export async function startRedis(scratch: string, port?: number): Promise<RedisServer> {
  const missingReason = redisMissing();
  if (missingReason) throw new Error(missingReason);
  port ??= await freePort();
  const proc: ChildProcess = spawn(bin(), ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", scratch, "--logfile", ""], {
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

