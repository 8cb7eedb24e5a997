// The CLI lifecycle with several clusters on one machine: each `tsray start --head` is a session
// of its own (by --name or port), stopped alone; a port in use is refused with one line and
// leaves nothing behind; --gcs-only starts a dead GCS again and `tsray stop` then stops it too,
// as it stops one started again by hand (found by its port);
// --object-port is honoured; --block stops on SIGTERM and says how; files are 0600 in 0700 dirs.

import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { getStatus } from "../../src/runtime/daemon/transport.ts";
import { parseEndpoint } from "../../src/runtime/daemon/object-channel.ts";
import type { Session } from "../../src/runtime/daemon/session.ts";
import { isRunning } from "../../src/runtime/process.ts";
import { freePort } from "../../src/runtime/free-port.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BIN = path.join(ROOT, "bin/tsray.js");
const run = promisify(execFile);
let home: string;
let env: NodeJS.ProcessEnv;

before(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), "tsray-cli-"));
  env = { ...process.env, TSRAY_HOME: home };
  delete env.TSRAY_ADDRESS;
  delete env.TSRAY_TOKEN;
});

after(async () => {
  await tsray("stop", "--all").catch(() => undefined);
  fs.rmSync(home, { recursive: true, force: true });
});

/** Runs the CLI; resolves to its exit code and output (never rejects on a non-zero exit). */
async function tsray(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { env, cwd: ROOT, timeout: 60_000 });
    return { code: 0, out: stdout, err: stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

const session = (name: string): Session => JSON.parse(fs.readFileSync(path.join(home, "sessions", `${name}.json`), "utf8")) as Session;
const mode = (p: string) => (fs.statSync(p).mode & 0o777).toString(8);
const up = async (s: Session) => getStatus(s.address, s.token, 2_000).then(() => true, () => false);

test("two clusters on one machine are started and stopped independently", async () => {
  const [pa, pb, da, db, objects] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  const a = await tsray("start", "--head", "--name", "a", "--port", String(pa), "--dashboard-port", String(da), "--num-cpus", "1", "--object-port", String(objects));
  assert.equal(a.code, 0, a.err);
  const b = await tsray("start", "--head", "--port", String(pb), "--dashboard-port", String(db), "--num-cpus", "1");
  assert.equal(b.code, 0, b.err);
  const sa = session("a");
  const sb = session(String(pb));
  assert.notEqual(sa.token, sb.token);
  assert.ok((await up(sa)) && (await up(sb)));

  // --object-port is where the head's object channel listens.
  const nodes = ((await getStatus(sa.address, sa.token)) as { nodes: { endpoint: string }[] }).nodes;
  assert.equal(parseEndpoint(nodes[0].endpoint).objects, `127.0.0.1:${objects}`);

  // Files 0600, directories 0700.
  assert.equal(mode(path.join(home, "sessions")), "700");
  assert.equal(mode(path.join(home, "sessions", "a.json")), "600");
  assert.equal(mode(sa.dir), "700");
  for (const f of fs.readdirSync(sa.dir)) if (fs.statSync(path.join(sa.dir, f)).isFile()) assert.equal(mode(path.join(sa.dir, f)), "600", f);

  // Without a name, stop does not guess.
  const ambiguous = await tsray("stop");
  assert.equal(ambiguous.code, 1);
  assert.match(ambiguous.err, /2 clusters were started here: .*--name NAME/);
  assert.ok((await up(sa)) && (await up(sb)));

  const stopA = await tsray("stop", "--name", "a");
  assert.equal(stopA.code, 0, stopA.err);
  assert.match(stopA.out, /cluster a \(127\.0\.0\.1:\d+\): stopped 2 daemon\(s\) \(raylet head, gcs head\)/);
  assert.ok(sa.daemons.every((d) => !isRunning(d.pid)));
  assert.ok(await up(sb), "the other cluster runs on");

  // The GCS dies; --gcs-only starts it again, and stop then stops the new one too.
  const gcs = sb.daemons.find((d) => d.role === "gcs")!;
  process.kill(gcs.pid, "SIGKILL");
  const again = await tsray("start", "--head", "--gcs-only", "--port", String(pb));
  assert.equal(again.code, 0, again.err);
  assert.match(again.out, /started the GCS of cluster \d+ again/);
  assert.ok(await up(sb));
  const restarted = session(String(pb)).daemons.find((d) => d.role === "gcs")!;
  assert.notEqual(restarted.pid, gcs.pid);
  // It dies again, and this time is started by hand, as its session recorded it: stop finds it by its port.
  process.kill(restarted.pid, "SIGKILL");
  const byHand = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "src/runtime/daemon/main.ts"), "gcs", ...session(String(pb)).gcsArgs!],
    { cwd: ROOT, env: { ...env, TSRAY_TOKEN: sb.token }, stdio: "ignore" });
  const byHandExit = new Promise((r) => byHand.once("exit", r));
  const deadline = Date.now() + 20_000;
  while (!(await up(sb)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const stopB = await tsray("stop");
  assert.match(stopB.out, new RegExp(`stopped 2 daemon\\(s\\) \\(raylet head, gcs head\\); 1 had already exited \\(gcs head\\); the GCS \\(pid ${byHand.pid}\\) was one started by hand`));
  await byHandExit;
  assert.ok(!isRunning(restarted.pid));
  assert.ok(!fs.existsSync(path.join(home, "sessions", `${pb}.json`)));
});

test("a port in use is refused with one line, leaving no session behind", async () => {
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", () => r()));
  const port = (blocker.address() as net.AddressInfo).port;
  const before = fs.readdirSync(home);
  const r = await tsray("start", "--head", "--port", String(port), "--dashboard-port", String(await freePort()));
  blocker.close();
  assert.equal(r.code, 1);
  assert.equal(r.err.trim().split("\n").length, 1, r.err);
  assert.match(r.err, new RegExp(`^tsray start: port ${port} on 127\\.0\\.0\\.1 is in use`));
  assert.deepEqual(fs.readdirSync(home), before);
});

test("--block: the daemons stop on SIGTERM, and the head says so", async () => {
  const port = await freePort();
  const p = spawn(process.execPath, [BIN, "start", "--head", "--block", "--port", String(port), "--dashboard-port", String(await freePort()), "--num-cpus", "1"], { env, cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  p.stdout!.on("data", (d) => { out += d; });
  p.stderr!.on("data", (d) => { out += d; });
  const exited = new Promise<number | null>((r) => p.once("exit", (c) => r(c)));
  const deadline = Date.now() + 30_000;
  while (!/serving on .* with/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.match(out, new RegExp(`stop: +Ctrl-C, or SIGTERM to this process \\(pid ${p.pid}\\)`));
  p.kill("SIGTERM");
  assert.equal(await exited, 0);
  assert.match(out, /SIGTERM: shutting down/);
});
