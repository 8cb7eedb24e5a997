// A real multi-process cluster on loopback: a head (GCS + raylet) and two worker nodes started
// with `tsray start`, a driver connected with ray.init({ address }). The seed examples run; a
// worker node's raylet is SIGKILLed mid-job and the job still completes; the GCS is killed and
// restarted from its file storage and work goes on; the processes' traces, merged, pass
// `tsray check` (so the API features run here, dead actors included, raise no alarm either).

import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import * as ray from "../../src/index.ts";
import { getStatus } from "../../src/runtime/daemon/transport.ts";
import { OBJECT_CHANNEL_VERSION, parseEndpoint } from "../../src/runtime/daemon/object-channel.ts";
import type { Session } from "../../src/runtime/daemon/session.ts";
import square from "../../examples/square.ts";
import counter from "../../examples/counter.ts";
import add from "../../examples/add.ts";
import mapReduce, { corpus, countLocally, summarize } from "../../examples/map-reduce.ts";
import { freePort } from "../../src/runtime/free-port.ts";
import { EXPECTED_CANCEL, cancelTasks } from "../helpers/api-cancel.ts";
import { EXPECTED_RETURNS, multipleReturns } from "../helpers/api-returns.ts";
import { EXPECTED_STREAMING, streamingGenerators } from "../helpers/api-streaming.ts";
import {
  EXPECTED, EXPECTED_NAMES, actorCallsWithPendingArgs, groupRemoval, nestedRefs, actorExit, asyncActorConcurrency, concurrencyGroups, checkRefusedCalls, clusterInfo, deadActorCalls, errorCauses, getPeek, handleScopes, killWithRestart, pendingCallsLimit, killedOwner, namedActors, refusedCalls, refusedOptions, runtimeContexts,
} from "../helpers/api-features.ts";
import { ROOT, readSession, tsrayCli, until } from "../helpers/cli-cluster.ts";


let home: string;
let dir: string;
let env: NodeJS.ProcessEnv;
let port: number;
let dashboard: number;
let address: string;
let session: Session;
let restartedGcs: ChildProcess | undefined;

const tsray = (...args: string[]) => tsrayCli(env, ...args);


before(async () => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), "tsray-daemons-"));
  dir = path.join(home, "cluster");
  port = await freePort();
  dashboard = await freePort();
  address = `127.0.0.1:${port}`;
  env = { ...process.env, TSRAY_HOME: home };
  delete env.TSRAY_ADDRESS;
  delete env.TSRAY_TOKEN;
  await tsray("start", "--head", "--port", String(port), "--dashboard-port", String(dashboard), "--num-cpus", "1", "--temp-dir", dir);
  session = readSession(home, port);
  env.TSRAY_TOKEN = session.token;
  await tsray("start", "--address", address, "--num-cpus", "2");
  await tsray("start", "--address", address, "--num-cpus", "2");
  session = readSession(home, port);
  process.env.TSRAY_TOKEN = session.token;
});

after(async () => {
  await ray.shutdown();
  restartedGcs?.kill("SIGKILL");
  await tsray("stop").catch(() => undefined);
  delete process.env.TSRAY_TOKEN;
  fs.rmSync(home, { recursive: true, force: true });
});

test("tsray status shows the three nodes alive", async () => {
  const out = await tsray("status");
  assert.match(out, /3 alive node\(s\), 0 dead/);
  for (const n of ["head", "node-1", "node-2"]) assert.match(out, new RegExp(`^${n}\\s+ALIVE`, "m"));
});

test("the seed examples and map-reduce run through ray.init({ address })", async () => {
  const info = await ray.init({ address, traceFile: path.join(dir, "driver.trace.jsonl") });
  assert.deepEqual(info.nodes.map((n) => n.id).sort(), ["head", "node-1", "node-2"]);
  const r = ray.driver();
  assert.deepEqual(await square(r), [0, 1, 4, 9, 16]);
  assert.deepEqual(await counter(r), [1, 2]);
  assert.equal(await add(r), 10);
  assert.deepEqual(await mapReduce(r), summarize(countLocally(corpus())));
});

test("the task and actor API as on the other hosts: async actors, dead actors, error causes, refused options", async () => {
  // address "auto" finds the cluster `tsray start` recorded on this machine.
  await ray.shutdown();
  process.env.TSRAY_HOME = home;
  try {
    const info = await ray.init({ address: "auto", traceFile: path.join(dir, "driver-auto.trace.jsonl") });
    assert.equal(info.address, address);
  } finally {
    delete process.env.TSRAY_HOME;
  }
  await assert.rejects(ray.init({ numCpus: 2 }), /already called/);
  const r = ray.driver();
  assert.deepEqual(await asyncActorConcurrency(r), EXPECTED.concurrency);
  assert.deepEqual(await deadActorCalls(r), EXPECTED.deadActor);
  assert.deepEqual(await killWithRestart(r), EXPECTED.killWithRestart);
  assert.deepEqual(await handleScopes(r), EXPECTED.handleScopes);
  assert.deepEqual(await killedOwner(r), EXPECTED.killedOwner);
  assert.deepEqual(await actorExit(r), EXPECTED.actorExit);
  assert.deepEqual(await concurrencyGroups(r), EXPECTED.concurrencyGroups);
  assert.deepEqual(await actorCallsWithPendingArgs(r), EXPECTED.pendingArgs);
  assert.deepEqual(await runtimeContexts(r), EXPECTED.contexts);
  const c = await errorCauses(r);
  assert.deepEqual([c.causeName, c.causeIsRangeError, c.code, c.customName, c.customField, c.dependentCauseName, c.nestedCause], ["RangeError", true, "E_RANGE", "QuotaError", 5, "RangeError", [true, true]]);
  const refused = await refusedOptions(r);
  EXPECTED.refused.forEach((re, i) => assert.match(refused[i], re));
  checkRefusedCalls(await refusedCalls(r));
  assert.deepEqual(await getPeek(r), EXPECTED.peek);
  assert.deepEqual(await pendingCallsLimit(r), EXPECTED.pendingCalls);
  assert.deepEqual(await namedActors(r), EXPECTED_NAMES);
  assert.deepEqual(await groupRemoval(r), EXPECTED.groupRemoval);
  assert.deepEqual(await nestedRefs(r), EXPECTED.nestedRefs);
  assert.deepEqual(await clusterInfo(r), { alive: 3, fieldsOk: true, totalMatchesNodes: true, cpuTakenSeen: true });
});

test("ray.cancel as on the other hosts: pending, running (signal), forced, recursive, queued actor call", async () => {
  assert.deepEqual(await cancelTasks(ray.driver()), EXPECTED_CANCEL);
});

test("numReturns as on the other hosts: n refs for tasks and actor methods, a wrong length named", async () => {
  assert.deepEqual(await multipleReturns(ray.driver()), EXPECTED_RETURNS);
});

test("streaming generators as on the other hosts: streamed in order, error last, retried after a worker died without duplicates, back-pressure, cancel", async () => {
  assert.deepEqual(await streamingGenerators(ray.driver(), { crash: true }), { ...EXPECTED_STREAMING, crashed: EXPECTED_STREAMING.retried });
});

test("tsray run FILE --address runs the program on the daemons (not on a new embedded cluster)", async () => {
  const actors = async () => [...(/^actors: (.*)$/m.exec(await tsray("status"))?.[1] ?? "").matchAll(/(\d+) \w+/g)].reduce((n, m) => n + Number(m[1]), 0);
  const before = await actors();
  const out = await tsray("run", "examples/async-actor.ts", "--address", "auto", "--json");
  assert.deepEqual(JSON.parse(out), { results: [0, 10, 20, 30], peak: 4 });
  // The actor was created on the daemons: the GCS's actor table has one more.
  assert.equal(await actors(), before + 1);
  await assert.rejects(tsray("run", "examples/add.ts", "--address", address, "--nodes", "2"), /--nodes cannot be given with --address/);
});

test("a large object moves between nodes on the object channel, which turns away strangers", async () => {
  const nodes = ((await getStatus(address, session.token)) as { nodes: { node: string; endpoint: string }[] }).nodes;
  const at = (id: string) => parseEndpoint(nodes.find((n) => n.node === id)!.endpoint);
  const objects = at("node-2").objects!;
  assert.ok(objects, "node-2 advertises its object channel");
  // Garbage and a wrong token are answered with an error; the daemon goes on.
  const answer = (bytes: Buffer) => new Promise<string>((resolve) => {
    const [host, p] = [objects.slice(0, objects.lastIndexOf(":")), Number(objects.slice(objects.lastIndexOf(":") + 1))];
    const s = net.connect({ host, port: p }, () => s.write(bytes));
    const parts: Buffer[] = [];
    s.on("data", (b) => parts.push(b));
    s.on("error", () => {});
    s.on("close", () => resolve(Buffer.concat(parts).subarray(3).toString()));
  });
  assert.equal(await answer(Buffer.from("\x16\x03\x01 definitely not a hello")), "not a tsray object channel hello (bad magic)");
  const hello = Buffer.alloc(13);
  hello.write("TSRAYOBJ");
  hello[8] = OBJECT_CHANNEL_VERSION;
  hello.writeUInt16LE(5, 9);
  hello.writeUInt16LE(1, 11);
  assert.equal(await answer(Buffer.concat([hello, Buffer.from("wrongx")])), "wrong cluster token");
  const make = ray.remote((n: number) => new Float64Array(n).fill(2), { schedulingStrategy: { nodeId: "node-1", soft: false } });
  const sum = ray.remote((a: Float64Array) => a.reduce((x, y) => x + y, 0), { schedulingStrategy: { nodeId: "node-2", soft: false } });
  const N = 3 * 1024 * 1024; // 24 MiB
  assert.equal(await ray.get(sum.remote(make.remote(N)), { timeoutMs: 60_000 }), 2 * N);
  const st = (await getStatus(at("node-2").grpc, session.token)) as { objectChannel: { received: { bytes: number } } };
  assert.ok(st.objectChannel.received.bytes >= N * 8, JSON.stringify(st.objectChannel));
});

test("a worker node's raylet is SIGKILLed mid-job: the job still gets every result", async () => {
  const slow = ray.remote(async (i: number) => { await ray.sleep(150); return i * 2; }, { schedulingStrategy: "SPREAD" });
  const refs = Array.from({ length: 24 }, (_, i) => slow.remote(i));
  await new Promise((r) => setTimeout(r, 250));
  const victim = session.daemons.find((d) => d.role === "raylet" && d.node === "node-1")!;
  process.kill(victim.pid, "SIGKILL");
  assert.deepEqual(await ray.get(refs, { timeoutMs: 30_000 }), Array.from({ length: 24 }, (_, i) => i * 2));
  await until("node-1 declared dead", async () => ((await getStatus(address, session.token)) as { nodes: { node: string; alive: boolean }[] }).nodes.some((n) => n.node === "node-1" && !n.alive));
});

test("the killed node rejoins under its id on a new port: the other daemons reach it there", async () => {
  const before = (await getStatus(address, session.token)) as { nodes: { node: string; endpoint: string; incarnation: number }[] };
  const old = before.nodes.find((n) => n.node === "node-1")!.endpoint;
  const oldLife = before.nodes.find((n) => n.node === "node-1")!.incarnation;
  await tsray("start", "--address", address, "--node-id", "node-1", "--num-cpus", "2");
  await until("node-1 alive again", async () => ((await getStatus(address, session.token)) as { nodes: { node: string; alive: boolean }[] }).nodes.some((n) => n.node === "node-1" && n.alive));
  const row = ((await getStatus(address, session.token)) as { nodes: { node: string; endpoint: string; incarnation: number }[] }).nodes.find((n) => n.node === "node-1")!;
  const now = row.endpoint;
  assert.notEqual(parseEndpoint(now).grpc, parseEndpoint(old).grpc, "the new raylet listens on another port");
  // Its new life follows the one the GCS's node table recorded (no clock involved).
  assert.equal(row.incarnation, oldLife + 1);
  // A task on node-2 submits one pinned to node-1: node-2's daemon (which knew node-1's old
  // port) must reach the new one. The killed run's trace and log are kept beside the new ones.
  const onOne = ray.remote((x: number) => x + 1, { schedulingStrategy: { nodeId: "node-1", soft: false } });
  const viaTwo = ray.remote(async (f: typeof onOne, x: number) => ray.get(f.remote(x)), { schedulingStrategy: { nodeId: "node-2", soft: false } });
  assert.equal(await ray.get(viaTwo.remote(onOne, 41), { timeoutMs: 20_000 }), 42);
  assert.equal(await ray.get(onOne.remote(1), { timeoutMs: 20_000 }), 2);
  assert.ok(fs.existsSync(path.join(dir, "node-1.trace.jsonl")) && fs.existsSync(path.join(dir, "node-1.2.trace.jsonl")), fs.readdirSync(dir).join(", "));
  session = readSession(home, port);
});

test("the GCS is killed and restarted from its storage; actors and tasks keep working", async () => {
  const Counter = ray.remote(class Counter { n = 0; inc() { return ++this.n; } }, { name: "survivor" });
  const c = Counter.remote();
  assert.equal(await ray.get(c.inc.remote()), 1);
  const gcs = session.daemons.find((d) => d.role === "gcs")!;
  process.kill(gcs.pid, "SIGKILL");
  // Calls go straight to the actor's worker: they do not need the GCS.
  assert.equal(await ray.get(c.inc.remote()), 2);
  restartedGcs = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "src/runtime/daemon/main.ts"), "gcs",
    "--port", String(port), "--storage", `file:${path.join(dir, "gcs")}`, "--dashboard-port=-1", "--trace", path.join(dir, "gcs-restarted.trace.jsonl")],
  { cwd: ROOT, env: { ...env, TSRAY_TOKEN: session.token }, stdio: ["ignore", fs.openSync(path.join(dir, "gcs-restarted.log"), "w"), "inherit"] });
  try {
    await until("the restarted GCS to see head and node-2 alive again", async () => {
      const s = (await getStatus(address, session.token, 1000)) as { nodes: { node: string; alive: boolean }[] };
      return ["head", "node-2"].every((id) => s.nodes.some((n) => n.node === id && n.alive));
    });
  } catch (e) {
    const s = await getStatus(address, session.token, 1000).catch((err) => String(err));
    throw new Error(`${(e as Error).message}; status: ${JSON.stringify(s)}; log: ${fs.readFileSync(path.join(dir, "gcs-restarted.log"), "utf8")}`);
  }
  const sq = ray.remote((x: number) => x * x);
  assert.deepEqual(await ray.get([sq.remote(6), c.inc.remote()], { timeoutMs: 20_000 }), [36, 3]);
  const again = await ray.getActor("survivor");
  assert.equal(await ray.get(again.inc.remote(), { timeoutMs: 20_000 }), 4);
  const Fresh = ray.remote(class Fresh { hi() { return "hi"; } });
  assert.equal(await ray.get(Fresh.remote().hi.remote(), { timeoutMs: 20_000 }), "hi");
});

test("the processes' traces, merged, pass tsray check", async () => {
  await ray.shutdown();
  await new Promise((r) => setTimeout(r, 300)); // frees reach the stores
  const traces = fs.readdirSync(dir).filter((f) => f.endsWith(".trace.jsonl")).map((f) => path.join(dir, f));
  assert.ok(traces.length >= 5, `traces: ${traces.join(", ")}`);
  // Daemons buffer their traces: stop them (gracefully) so everything is on disk.
  restartedGcs?.kill("SIGTERM");
  await tsray("stop");
  await new Promise((r) => setTimeout(r, 500));
  const out = await tsray("check", ...traces).catch((e: { stdout?: string; message: string }) => e.stdout ?? e.message);
  assert.match(out, /^ok: \d+ events, no violations$/m, out.slice(0, 3000));
});
