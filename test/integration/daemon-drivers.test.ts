// Drivers as first-class processes on the daemons: a driver SIGKILLed while it holds leases and
// actors is detected by the GCS through its own stream (not its node's), within the 5 s grace
// period; its leases come back, its actors die, and a task pinned to that node runs again. A
// detached actor outlives its driver; one that borrowed an object of that driver then hears
// OwnerDiedError.

import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import * as ray from "../../src/index.ts";
import { getStatus } from "../../src/runtime/daemon/transport.ts";
import type { Session } from "../../src/runtime/daemon/session.ts";
import { DaemonDriver } from "../../src/runtime/daemon/driver.ts";
import { ROOT, readSession, startHeadCli, tsrayCli, until, stopHeadCli } from "../helpers/cli-cluster.ts";

let home: string;
let env: NodeJS.ProcessEnv;
let address: string;
let session: Session;

const tsray = (...args: string[]) => tsrayCli(env, ...args);

type Status = { nodes: { node: string; total: Record<string, number>; available: Record<string, number> }[]; actors: Record<string, number> };
const status = async () => (await getStatus(address, session.token)) as Status;

/** Runs a driver program to its end, with its standard output. */
function runDriver(script: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", script], { env: { ...env }, cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
    let text = "";
    child.stdout!.on("data", (b: Buffer) => { text += b.toString(); });
    child.on("exit", (c) => (c === 0 ? resolve(text) : reject(new Error(`the driver ${path.basename(script)} exited with ${c}`))));
  });
}

/**
 * Starts a driver process (script `name`) that runs `body` after ray.init and then stays;
 * resolves once `body` is done, with the process (its caller kills it).
 */
async function stayingDriver(name: string, body: string): Promise<ChildProcess> {
  const script = path.join(home, name);
  fs.writeFileSync(script, `
import * as ray from ${JSON.stringify(path.join(ROOT, "src/index.ts"))};
await ray.init({ address: ${JSON.stringify(address)} });
${body}
process.stdout.write("ready\\n");
await new Promise(() => {});
`);
  const child = spawn(process.execPath, ["--import", "tsx", script], { env: { ...env }, cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (b: Buffer) => { if (b.toString().includes("ready")) resolve(); });
    child.on("exit", (c) => reject(new Error(`the driver exited early (${c})`)));
  });
  return child;
}

before(async () => {
  ({ home, env, address, session } = await startHeadCli("tsray-drivers-", 2));
  process.env.TSRAY_TOKEN = session.token;
});

after(() => stopHeadCli({ home, env }));

test("a driver SIGKILLed while holding leases and actors: its CPUs come back, its actors die, a pinned task runs", { timeout: 120_000 }, async () => {
  const child = await stayingDriver("victim.mts", `
class Holder { ping() { return 1; } }
const h = ray.remote(Holder).options({ numCpus: 1 }).remote();
await ray.get(h.ping.remote());
// A task that holds the other CPU for far longer than the test runs.
ray.remote(async () => { await ray.sleep(600_000); return 0; }, { schedulingStrategy: { nodeId: "head", soft: false } }).remote();
`);
  try {
    await until("both CPUs in use", async () => (await status()).nodes[0].available.CPU === 0, 20_000);
    assert.equal((await status()).actors.ALIVE, 1);
    child.kill("SIGKILL");
    // The bound: the GCS's 5 s grace period for a driver's stream, then one round to the raylet.
    await until("every CPU free again", async () => {
      const n = (await status()).nodes[0];
      return n.available.CPU === n.total.CPU;
    }, 15_000);
    const s = await status();
    assert.equal(s.actors.ALIVE ?? 0, 0, JSON.stringify(s.actors));
    assert.ok((s.actors.DEAD ?? 0) >= 1, JSON.stringify(s.actors));
    assert.match(await tsray("status"), /CPU/);
    await ray.init({ address });
    const pinned = ray.remote(() => 42, { schedulingStrategy: { nodeId: "head", soft: false } });
    assert.equal(await ray.get(pinned.remote(), { timeoutMs: 30_000 }), 42);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
});

test("a detached actor outlives the driver that made it: a second driver in its namespace finds and calls it", { timeout: 120_000 }, async () => {
  await ray.shutdown();
  const script = path.join(home, "first-driver.mts");
  fs.writeFileSync(script, `
import * as ray from ${JSON.stringify(path.join(ROOT, "src/index.ts"))};
await ray.init({ address: ${JSON.stringify(address)}, namespace: "shared" });
class Counter { n = 0; inc() { return ++this.n; } }
const C = ray.remote(Counter);
const keeper = await C.options({ name: "keeper", lifetime: "detached" }).remote();
const temp = await C.options({ name: "temp" }).remote();
process.stdout.write(JSON.stringify(await ray.get([keeper.inc.remote(), temp.inc.remote()])) + "\\n");
await ray.shutdown();
`);
  const out = await runDriver(script);
  assert.equal(out.trim(), "[1,1]");
  await ray.init({ address, namespace: "shared" });
  // The first driver is gone: its non-detached actor dies with it, its detached one lives on.
  await until("the non-detached actor died with its driver", async () => {
    try { await ray.getActor("temp"); return false; } catch (e) { return (e as Error).name === "ValueError"; }
  }, 20_000);
  const keeper = await ray.getActor<{ inc(): number }>("keeper");
  assert.equal(await ray.get(keeper.inc.remote(), { timeoutMs: 30_000 }), 2);
  await assert.rejects(ray.getActor("keeper", { namespace: "elsewhere" }), /no live actor named "keeper" in the namespace "elsewhere"/);
  assert.ok(ray.getRuntimeContext().namespace === "shared");
  // Only ray.kill ends it; its name is then free again.
  ray.kill(keeper);
  await until("the detached actor is gone after ray.kill", async () => {
    try { await ray.getActor("keeper"); return false; } catch (e) { return (e as Error).name === "ValueError"; }
  }, 20_000);
  const nodes = await ray.nodes();
  assert.deepEqual(nodes.filter((n) => n.alive).map((n) => n.nodeId), ["head"]);
  assert.ok(nodes.every((n) => typeof n.nodeManagerAddress === "string" && Number.isInteger(n.nodeManagerPort)), JSON.stringify(nodes));
  assert.equal((await ray.clusterResources()).CPU, nodes.filter((n) => n.alive).reduce((s, n) => s + (n.resources.CPU ?? 0), 0));
});

test("a borrower outside the job hears OwnerDiedError once the object's owner, a driver, has exited", { timeout: 120_000 }, async () => {
  await ray.shutdown();
  const script = path.join(home, "owner-driver.mts");
  fs.writeFileSync(script, `
import * as ray from ${JSON.stringify(path.join(ROOT, "src/index.ts"))};
await ray.init({ address: ${JSON.stringify(address)}, namespace: "borrow" });
class Keeper {
  kept = undefined;
  keep(box) { this.kept = box.r; return 1; }
  async read() { try { return String((await ray.get(this.kept, { timeoutMs: 20000 }))[0]); } catch (e) { return e.name; } }
}
const k = await ray.remote(Keeper).options({ name: "keeper", lifetime: "detached" }).remote();
// Stored in the object store (not inline), owned by this driver, borrowed by the detached actor.
const ref = await ray.put(new Float64Array(50000).fill(7));
await ray.get(k.keep.remote({ r: ref }));
process.stdout.write(await ray.get(k.read.remote()) + "\\n");
await ray.shutdown();
`);
  // While its owner lives, the borrower reads the object.
  assert.equal((await runDriver(script)).trim(), "7");
  await ray.init({ address, namespace: "borrow" });
  const keeper = await ray.getActor<{ read(): string }>("keeper");
  try {
    // The owner is gone with its job, and its objects with it: the borrower is told so (Ray's
    // OwnerDiedError), never a hang and never the stale value.
    await until("the borrower hears OwnerDiedError", async () => (await ray.get(keeper.read.remote(), { timeoutMs: 30_000 })) === "OwnerDiedError", 30_000);
  } finally {
    ray.kill(keeper);
  }
});

test("a second job's tasks never run on a worker where the first job's tasks left their globals", { timeout: 120_000 }, async () => {
  await ray.shutdown();
  // Two at once, so both of the head's CPUs get a worker of the first job, left idle and marked.
  const child = await stayingDriver("marking-driver.mts", `
const mark = ray.remote(async () => { globalThis.jobMark = "first"; await ray.sleep(300); return 1; }, { schedulingStrategy: { nodeId: "head", soft: false } });
await ray.get([mark.remote(), mark.remote()]);
`);
  try {
    // The first job lives on, its workers idle: this driver's job must get workers of its own.
    await ray.init({ address });
    const peek = ray.remote(async () => { const seen = String((globalThis as { jobMark?: string }).jobMark ?? "none"); await ray.sleep(300); return seen; },
      { schedulingStrategy: { nodeId: "head", soft: false } });
    assert.deepEqual(await ray.get([peek.remote(), peek.remote()], { timeoutMs: 30_000 }), ["none", "none"]);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
});

test("a driver frozen past its grace period is declared dead; thawed, it hears so and fails its calls instead of hanging", { timeout: 120_000 }, async () => {
  await ray.shutdown();
  const script = path.join(home, "frozen.mts");
  fs.writeFileSync(script, `
import * as ray from ${JSON.stringify(path.join(ROOT, "src/index.ts"))};
await ray.init({ address: ${JSON.stringify(address)} });
const slow = ray.remote(async () => { await ray.sleep(600_000); return 0; }, { schedulingStrategy: { nodeId: "head", soft: false } });
const ref = slow.remote();
process.stdout.write("ready\\n");
try { await ray.get(ref); process.stdout.write("GOT\\n"); } catch (e) { process.stdout.write("WAITING " + e.message + "\\n"); }
try { await ray.get(ray.remote(() => 1).remote()); process.stdout.write("GOT\\n"); } catch (e) { process.stdout.write("LATER " + e.message + "\\n"); }
process.exit(0);
`);
  const child = spawn(process.execPath, ["--import", "tsx", script], { env: { ...env }, cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout!.on("data", (b: Buffer) => { out += b.toString(); });
  child.stderr!.on("data", (b: Buffer) => { err += b.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
  try {
    await until("the driver's task holds a CPU", async () => out.includes("ready") && (await status()).nodes[0].available.CPU! < (await status()).nodes[0].total.CPU!, 20_000);
    // Frozen, it answers no keepalive: the GCS drops its stream, waits out the grace period and
    // declares it dead, and its lease comes back.
    child.kill("SIGSTOP");
    await until("the frozen driver's CPU comes back", async () => {
      const n = (await status()).nodes[0];
      return n.available.CPU === n.total.CPU;
    }, 30_000);
    child.kill("SIGCONT");
    assert.equal(await exited, 0, err);
    const dead = /the GCS declared this driver \(head\/driver-[^)]+\) dead: its connection to the GCS was lost for longer than the grace period/;
    assert.match(out, new RegExp(`WAITING ${dead.source}`), out);
    assert.match(out, new RegExp(`LATER ${dead.source}`), out);
    assert.match(err, dead, "it says so on its standard error too");
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
});

test("a driver's direct link to another node's raylet is closed once that process is declared dead (its address is of no more use)", { timeout: 120_000 }, async () => {
  await ray.shutdown();
  await tsray("start", "--address", address, "--node-id", "side", "--num-cpus", "1");
  const side = readSession(home, session.name).daemons.find((d) => d.node === "side")!;
  const d = await DaemonDriver.connect({ address, token: session.token });
  try {
    const direct = () => d.linkStates().slice(2);
    await until("a direct link to side", async () => direct().length === 1 && direct()[0]!.state === "open");
    process.kill(side.pid, "SIGKILL");
    await until("side declared dead and its link dropped", async () => direct().length === 0, 30_000);
    // The driver goes on: its work reaches the live nodes through its own.
    assert.equal(await d.ray.get(d.ray.remote(() => 7).remote(), { timeoutMs: 30_000 }), 7);
  } finally {
    await d.shutdown();
  }
});
