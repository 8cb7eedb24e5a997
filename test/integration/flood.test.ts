// A head started with `tsray start`, flooded with thousands of idle unauthenticated connections
// on its gRPC port, its dashboard and its raylet's object channel (as an attacker on the
// network could): `tsray status` still answers, a new driver still connects and runs a task,
// the head holds a bounded number of the idle sockets, and its log has a few lines about it,
// not one per connection.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import * as ray from "../../src/index.ts";
import { getStatus } from "../../src/runtime/daemon/transport.ts";
import { parseEndpoint } from "../../src/runtime/daemon/object-channel.ts";
import { DEFAULT_LIMITS } from "../../src/runtime/daemon/limits.ts";
import type { Session } from "../../src/runtime/daemon/session.ts";
import { freePort } from "../../src/runtime/free-port.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BIN = path.join(ROOT, "bin/tsray.js");
const run = promisify(execFile);
/** Idle connections per listener: with three listeners, 7,000 file descriptors in this process. */
const FLOOD = { grpc: 3_000, dashboard: 3_000, objects: 1_000 };

let home: string;
let env: NodeJS.ProcessEnv;
let address: string;
let dashboard: number;
let session: Session;
const flood: net.Socket[] = [];

const tsray = async (...args: string[]) => (await run(process.execPath, [BIN, ...args], { env, cwd: ROOT, timeout: 60_000 })).stdout;

before(async () => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), "tsray-flood-"));
  const port = await freePort();
  dashboard = await freePort();
  address = `127.0.0.1:${port}`;
  env = { ...process.env, TSRAY_HOME: home };
  delete env.TSRAY_ADDRESS;
  delete env.TSRAY_TOKEN;
  await tsray("start", "--head", "--port", String(port), "--dashboard-port", String(dashboard), "--num-cpus", "1", "--temp-dir", path.join(home, "cluster"));
  session = JSON.parse(fs.readFileSync(path.join(home, "sessions", `${port}.json`), "utf8")) as Session;
  env.TSRAY_TOKEN = session.token;
  process.env.TSRAY_TOKEN = session.token;
});

after(async () => {
  for (const s of flood) s.destroy();
  await ray.shutdown();
  await tsray("stop").catch(() => undefined);
  delete process.env.TSRAY_TOKEN;
  fs.rmSync(home, { recursive: true, force: true });
});

/** Opens `n` idle connections (each waits for its connect, or its refusal, before the next batch). */
async function open(port: number, n: number): Promise<net.Socket[]> {
  const out: net.Socket[] = [];
  for (let i = 0; i < n; i += 200) {
    await Promise.all(Array.from({ length: Math.min(200, n - i) }, () => new Promise<void>((resolve) => {
      const s = net.connect({ host: "127.0.0.1", port });
      s.on("error", () => {});
      s.resume();
      s.once("connect", () => resolve());
      s.once("close", () => resolve());
      out.push(s);
    })));
  }
  return out;
}

test("thousands of idle unauthenticated connections stop neither `tsray status` nor a new driver", async () => {
  const status = (await getStatus(address, session.token)) as { nodes: { endpoint: string }[] };
  const objects = Number(parseEndpoint(status.nodes[0].endpoint).objects!.split(":").at(-1));
  const targets = { grpc: Number(address.split(":")[1]), dashboard, objects };
  for (const [name, port] of Object.entries(targets)) flood.push(...await open(port, FLOOD[name as keyof typeof FLOOD]));

  const out = await tsray("status");
  assert.match(out, /1 alive node\(s\)/);
  await ray.init({ address });
  const square = ray.remote((x: number) => x * x);
  assert.deepEqual(await ray.get([1, 2, 3].map((i) => square.remote(i))), [1, 4, 9]);

  // The head let go of all but a bounded number per listener: the rest were reset.
  const bound = 3 * DEFAULT_LIMITS.maxUnauthenticated;
  const deadline = Date.now() + 30_000;
  while (flood.filter((s) => !s.destroyed).length > bound && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const held = flood.filter((s) => !s.destroyed).length;
  assert.ok(held <= bound, `${held} of ${flood.length} idle connections still open; at most ${bound} expected`);

  // A few log lines about it, not 7,000.
  const gcsLog = fs.readFileSync(session.daemons.find((d) => d.role === "gcs")!.log, "utf8");
  const lines = gcsLog.split("\n").filter((l) => /unauthenticated connections open|did not authenticate/.test(l));
  assert.ok(lines.length >= 1 && lines.length <= 40, `${lines.length} log lines:\n${lines.slice(0, 5).join("\n")}`);
});
