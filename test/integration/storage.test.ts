// GCS storage: the file (log + snapshot), Redis and memory backends behind one interface.
// Round trips, order and deletes, group commit and concurrent flushes for every backend; crash
// recovery, torn lines, corruption, snapshots and the directory lock for the file backend; a
// real redis-server (started here, on a free loopback port) for the Redis backend; and a GCS
// model that recovers its nodes and actors from each backend after a restart. Prints the
// committed writes/s of each durable backend.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createConnection } from "node:net";
import { appendFileSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { NO_BUGS } from "../../src/core/bugs.ts";
import { Gcs, type GcsEffects } from "../../src/core/gcs.ts";
import type { Msg } from "../../src/core/messages.ts";
import { nodeOf, type ActorSpec } from "../../src/core/types.ts";
import {
  FileStorage, MemoryStorage, RedisStorage, openStorage, parseRedisUrl, type BatchedStorage, type GcsStorage, type GcsTables,
} from "../../src/runtime/storage/index.ts";
import { fromStored, toStored } from "../../src/runtime/storage/codec.ts";
import { startProxy } from "../helpers/reset-proxy.ts";
import { freePort, redisMissing, startRedis, type RedisServer } from "../helpers/redis.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), "tsray-storage-"));
let dirs = 0;
const freshDir = (): string => join(scratch, `d${++dirs}`);
after(() => rmSync(scratch, { recursive: true, force: true }));

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
const plain = (t: GcsTables | undefined) =>
  t && Object.fromEntries(Object.entries(t).map(([name, rows]) => [name, Object.fromEntries(rows as ReadonlyMap<string, unknown>)]));

// ---- the backends under one set of tests --------------------------------------------------

interface Backend {
  readonly name: string;
  /** A new, empty storage. */
  make(): GcsStorage;
  /** What a restarted GCS opens, after `prev` was closed (clean stop) or just dropped (crash). */
  reopen(prev: GcsStorage, crashed: boolean): GcsStorage;
}

let redis: RedisServer | undefined;
let namespaces = 0;
const opened: GcsStorage[] = [];
const track = <S extends GcsStorage>(s: S): S => { opened.push(s); return s; };

const backends: Backend[] = [
  {
    name: "memory",
    make: () => new MemoryStorage(),
    reopen: (prev) => (prev as MemoryStorage).reopen(),
  },
  {
    name: "file",
    make: () => new FileStorage(freshDir(), { warn: () => {} }),
    reopen: (prev, crashed) => {
      const dir = (prev as FileStorage).dir;
      if (!crashed) return new FileStorage(dir, { warn: () => {} });
      // A crash: the disk as it is now (the process, and with it the lock, is gone).
      const image = freshDir();
      cpSync(dir, image, { recursive: true, filter: (src) => !src.endsWith("gcs.lock") });
      return new FileStorage(image, { warn: () => {} });
    },
  },
  {
    name: "redis",
    make: () => track(new RedisStorage(redis!.url, `test${++namespaces}`)),
    reopen: (prev) => track(new RedisStorage(redis!.url, (prev as RedisStorage).namespace)),
  },
];

// Started once, by the first suite that needs it; suites that need it are skipped, with the
// reason printed, on a machine without redis-server (and fail instead in CI: TSRAY_REQUIRE).
let redisStarting: Promise<RedisServer> | undefined;
const needRedis = () => before(async () => { redis = await (redisStarting ??= startRedis(scratch)); });
after(async () => {
  for (const s of opened) await s.close().catch(() => {});
  await redis?.stop();
});

// A GCS model driven by hand: effects are recorded, persist goes to storage.
function gcsWith(storage: GcsStorage, tables?: GcsTables) {
  const sent: { to: string; m: Msg }[] = [];
  const fx: GcsEffects = {
    send: (to, m) => { sent.push({ to, m }); },
    setTimer: () => {},
    cancelTimer: () => {},
    trace: () => {},
    now: () => 0,
    random: () => 0.5,
    persist: (table, key, value) => storage.write(table, key, value),
  };
  const gcs = new Gcs("head/gcs", { head: "head", viewPeriodMs: 1000, heartbeatMissLimit: 5, recoveryGracePeriods: 30, deadNodesKept: 1000, deadActorsKept: 100_000, deadWorkersKept: 1024, removedGroupsKept: 10_000, bugs: NO_BUGS }, fx, tables);
  gcs.start();
  return { gcs, sent };
}

for (const b of backends) {
  describe(`${b.name} storage`, { skip: b.name === "redis" && redisMissing() }, () => {
    if (b.name === "redis") needRedis();
    it("round-trips rows of every table through close and reopen", async () => {
      const s = b.make();
      assert.equal(await s.load(), undefined, "a fresh storage has nothing");
      const bytes = new Uint8Array([0, 1, 2, 250, 255]);
      s.write("nodes", "n1", { state: "ALIVE", incarnation: 3, total: { CPU: 4, GPU: 0 } });
      s.write("actors", "a1", { spec: { args: [{ v: { size: 5, hash: "h", data: bytes } }] }, subscribers: ["n1/driver"], $weird: 1 });
      s.write("functions", "f:1", { id: "f:1", source: "(x) => x * 2\n// ünïcødé \u2028 \"quoted\"" });
      s.write("meta", "incarnation", 7);
      s.write("meta", "inf", { n: Infinity, m: -Infinity, nan: NaN, nothing: undefined, list: [1, undefined] });
      await s.close();
      const r = b.reopen(s, false);
      const t = await r.load();
      assert.ok(t);
      assert.deepEqual(t.nodes.get("n1"), { state: "ALIVE", incarnation: 3, total: { CPU: 4, GPU: 0 } });
      const a = t.actors.get("a1") as { spec: { args: { v: { data: Uint8Array } }[] }; $weird: number };
      assert.ok(a.spec.args[0].v.data instanceof Uint8Array);
      assert.deepEqual([...a.spec.args[0].v.data], [...bytes]);
      assert.equal(a.$weird, 1);
      assert.deepEqual(t.functions.get("f:1"), { id: "f:1", source: "(x) => x * 2\n// ünïcødé \u2028 \"quoted\"" });
      assert.equal(t.meta.get("incarnation"), 7);
      assert.deepEqual(t.meta.get("inf"), { n: Infinity, m: -Infinity, nan: NaN, list: [1, null] });
      await r.close();
    });

    it("applies puts and deletes in issue order, within a turn and across turns", async () => {
      const s = b.make();
      await s.load();
      s.write("nodes", "k", { v: 1 });
      s.write("nodes", "k", { v: 2 });
      s.write("nodes", "gone", { v: 1 });
      s.write("nodes", "gone", undefined);
      s.write("nodes", "back", { v: 1 });
      s.write("nodes", "back", undefined);
      s.write("nodes", "back", { v: 3 });
      s.write("actors", "x", { v: 1 });
      await turn();
      s.write("actors", "x", undefined);
      await turn();
      s.write("actors", "x", { v: 9 });
      s.write("actors", "y", { v: 1 });
      s.write("actors", "y", undefined); // deleting a row that was never durable
      s.write("meta", "never", undefined); // deleting a row that never existed
      const mutable = { v: 1 };
      s.write("meta", "copied", mutable);
      mutable.v = 2; // the model mutates its object after persisting: storage kept the value as written
      await s.flush();
      const r = b.reopen(s, true);
      const t = await r.load();
      assert.deepEqual(plain(t), {
        nodes: { k: { v: 2 }, back: { v: 3 } },
        actors: { x: { v: 9 } },
        functions: {},
        meta: { copied: { v: 1 } },
      });
      await r.close();
      await s.close();
    });

    it("commits all writes of one turn as one batch, and resolves concurrent flushes in order", async () => {
      const s = b.make() as GcsStorage & BatchedStorage;
      await s.load();
      for (let i = 0; i < 500; i++) s.write("meta", `k${i}`, i);
      await Promise.all([s.flush(), s.flush(), s.flush()]);
      assert.equal(s.stats.commits, 1, "500 writes in one turn: one commit");
      assert.equal(s.stats.durable, 500);
      // Flushes issued between writes, in several turns: each resolves once its writes are durable.
      const order: number[] = [];
      const pending: Promise<void>[] = [];
      for (let round = 0; round < 5; round++) {
        for (let i = 0; i < 20; i++) {
          s.write("meta", `r${round}`, i);
          const upTo = s.stats.writes;
          const n = pending.length;
          pending.push(s.flush().then(() => {
            assert.ok(s.stats.durable >= upTo, `flush ${n} resolved before its writes were durable`);
            order.push(n);
          }));
        }
        if (round % 2 === 0) await turn();
      }
      pending.push(s.flush().then(() => { order.push(pending.length - 1); }));
      await Promise.all(pending);
      assert.deepEqual(order, [...order].sort((x, y) => x - y), "flushes resolve in the order they were asked");
      assert.equal(s.stats.durable, s.stats.writes);
      await s.flush(); // nothing pending: resolves at once
      await s.close();
      await s.close(); // idempotent
    });

    it("refuses rows it cannot store, and writes outside the life cycle", async () => {
      const s = b.make();
      assert.throws(() => s.write("meta", "early", 1), /before load\(\)/);
      await s.load();
      assert.throws(() => s.write("meta", "m", { table: new Map() }), /cannot store a Map at meta\/m\.table/);
      assert.throws(() => s.write("meta", "b", { n: 1n }), /BigInt at meta\/b\.n/);
      const cyc: Record<string, unknown> = {};
      cyc.self = cyc;
      assert.throws(() => s.write("meta", "c", cyc), /cycle/);
      assert.throws(() => s.write("jobs" as never, "x", 1), /unknown GCS table "jobs"/);
      await s.close();
      assert.throws(() => s.write("meta", "late", 1), /after close\(\)/);
    });

    it("a restarted GCS model recovers its nodes and actors", async () => {
      const s = b.make();
      const tables0 = await s.load();
      const { gcs, sent } = gcsWith(s, tables0);
      gcs.step({ kind: "message", from: "head/raylet", msg: { type: "RegisterNode", node: "head", incarnation: 1, resources: { CPU: 4 }, endpoint: "127.0.0.1:7001" } });
      gcs.step({ kind: "message", from: "n2/raylet", msg: { type: "RegisterNode", node: "n2", incarnation: 2, resources: { CPU: 2, GPU: 1 } } });
      const spec: ActorSpec = {
        actorId: "a1", fn: "cls1", className: "Counter", args: [{ v: { size: 3, hash: "h3", data: new Uint8Array([7, 8, 9]) } }],
        owner: "head/driver", job: "head/driver", resources: { CPU: 1 }, strategy: "DEFAULT", maxRestarts: 2, maxTaskRetries: 1, name: "counter",
      };
      gcs.step({ kind: "message", from: "head/driver", msg: { type: "RegisterFunction", fn: { id: "cls1", name: "Counter", kind: "class", source: "class Counter {}" } } });
      gcs.step({ kind: "message", from: "head/driver", msg: { type: "CreateActor", spec } });
      const asked = sent.find((x) => x.m.type === "RequestLease")!;
      const lease = asked.m as Extract<Msg, { type: "RequestLease" }>;
      const placed = nodeOf(asked.to);
      const worker = `${placed}/w1-1`;
      gcs.step({ kind: "message", from: asked.to, msg: { type: "LeaseGranted", reqId: lease.reqId, leaseId: "L1", worker } });
      gcs.step({ kind: "message", from: worker, msg: { type: "TaskReply", taskId: "a1:create:0", returnId: "a1:create:0.r", attempt: 0, result: { kind: "inline", payload: { size: 1, hash: "u", data: null } } } });
      gcs.step({ kind: "message", from: "head/driver", msg: { type: "CreateActor", spec: { ...spec, actorId: "a2", name: undefined, resources: { GPU: 8 } } } }); // infeasible: stays pending
      assert.equal(gcs.actors.get("a1")!.state, "ALIVE");
      await s.flush(); // what the daemon awaits before it replies

      const r = b.reopen(s, true); // killed: no close
      const tables = await r.load();
      assert.ok(tables, "a killed GCS left its tables behind");
      const { gcs: g2 } = gcsWith(r, tables);
      assert.deepEqual([...g2.nodes.keys()].sort(), ["head", "n2"]);
      assert.equal(g2.nodes.get("n2")!.incarnation, 2);
      assert.deepEqual(g2.nodes.get("n2")!.total, { CPU: 2, GPU: 1 });
      assert.equal(g2.nodes.get("head")!.endpoint, "127.0.0.1:7001");
      const a1 = g2.actors.get("a1")!;
      assert.equal(a1.state, "ALIVE");
      assert.equal(a1.address, worker);
      assert.equal(a1.node, placed);
      assert.equal(a1.restartsLeft, 2);
      assert.deepEqual([...(a1.spec.args[0] as { v: { data: Uint8Array } }).v.data], [7, 8, 9]);
      assert.deepEqual([...a1.subscribers], ["head/driver"]);
      assert.equal(g2.actors.get("a2")!.state, "PENDING_CREATION");
      assert.equal(tables.meta.get("incarnation"), 1);
      await r.flush();
      await r.close();
      // The second life bumped the incarnation durably.
      const r2 = b.reopen(r, false);
      assert.equal((await r2.load())!.meta.get("incarnation"), 2);
      await r2.close();
      await s.close();
    });
  });
}

// ---- the file backend ----------------------------------------------------------------------

describe("file storage: recovery, snapshots, lock", () => {
  it("recovers everything flushed after a SIGKILL mid-run, ignoring a torn last line", async () => {
    const dir = freshDir();
    // A child process writes, flushes, reports, and keeps writing until it is killed.
    const script = join(scratch, "crash-child.mts");
    writeFileSync(script, `
      import { FileStorage } from ${JSON.stringify(join(ROOT, "src/runtime/storage/index.ts"))};
      const s = new FileStorage(${JSON.stringify(dir)});
      await s.load();
      for (let i = 0; i < 1000; i++) s.write("actors", "a" + i, { state: "ALIVE", epoch: i });
      for (let i = 0; i < 1000; i += 2) s.write("actors", "a" + i, undefined);
      s.write("meta", "incarnation", 1);
      await s.flush();
      process.stdout.write("FLUSHED\\n");
      for (let i = 0; ; i++) { s.write("meta", "extra" + (i % 50), i); await new Promise((r) => setImmediate(r)); }
    `);
    const child = spawn(process.execPath, ["--import", "tsx", script], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((resolve, reject) => {
      let out = "";
      child.stdout!.on("data", (d) => { out += d; if (out.includes("FLUSHED")) resolve(); });
      child.once("exit", (code) => reject(new Error(`child exited (${code}) before flushing`)));
    });
    await new Promise((r) => setTimeout(r, 50)); // let it append a few more batches
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    assert.ok(existsSync(join(dir, "gcs.lock")), "the killed process left its lock behind");
    appendFileSync(join(dir, "gcs.log"), '{"t":"actors","k":"torn","v":{"sta'); // a crash mid-append

    const warnings: string[] = [];
    const s = new FileStorage(dir, { warn: (m) => warnings.push(m) });
    const t = await s.load();
    assert.ok(t);
    assert.equal(t.actors.size, 500);
    for (let i = 1; i < 1000; i += 2) assert.deepEqual(t.actors.get(`a${i}`), { state: "ALIVE", epoch: i });
    assert.equal(t.actors.has("torn"), false);
    assert.equal(t.meta.get("incarnation"), 1);
    assert.ok(warnings.some((w) => /stale lock/.test(w) && /is not running/.test(w)), warnings.join("\n"));
    assert.ok(warnings.some((w) => /gcs\.log:\d+: ignoring a torn last line/.test(w)), warnings.join("\n"));
    // The torn bytes were cut off: new entries start on a line of their own. (The log may be
    // empty: a fast child can pass the snapshot threshold before it is killed.)
    const log = readFileSync(join(dir, "gcs.log"), "utf8");
    assert.ok(log === "" || log.endsWith("\n"), JSON.stringify(log.slice(-80)));
    s.write("actors", "after", { ok: true });
    await s.flush();
    const image = freshDir();
    cpSync(dir, image, { recursive: true, filter: (src) => !src.endsWith("gcs.lock") });
    const again = new FileStorage(image, { warn: (m) => assert.fail(`unexpected warning: ${m}`) });
    assert.deepEqual((await again.load())!.actors.get("after"), { ok: true });
    await again.close();
    await s.close();
  });

  it("reports any other corruption with the file and line, and refuses to start", async () => {
    const dir = freshDir();
    const s = new FileStorage(dir, { warn: () => {} });
    await s.load();
    s.write("nodes", "n1", { a: 1 });
    s.write("nodes", "n2", { a: 2 });
    await s.flush();
    s.write("nodes", "n3", { a: 3 });
    await s.flush();
    const image = freshDir();
    cpSync(dir, image, { recursive: true, filter: (src) => !src.endsWith("gcs.lock") });
    await s.close();
    const log = join(image, "gcs.log");
    const lines = readFileSync(log, "utf8").split("\n");
    lines[1] = '{"t":"nodes","k":"n2","v":{"a":2}'; // a complete line (it has its newline) that does not parse
    writeFileSync(log, lines.join("\n"));
    await assert.rejects(new FileStorage(image).load(), (e: Error) => e.message.includes(`${log}:2: corrupt GCS log entry`));
    assert.equal(existsSync(join(image, "gcs.lock")), false, "a failed load releases the lock");
    writeFileSync(log, '{"t":"jobs","k":"j1","v":1}\n');
    await assert.rejects(new FileStorage(image).load(), new RegExp(`gcs\\.log:1: corrupt GCS log entry: unknown table "jobs"`));
    writeFileSync(log, "");
    writeFileSync(join(image, "snapshot.json"), '{"format":"tsray-gcs-snapshot","version":1,"tables":{"nodes":{');
    await assert.rejects(new FileStorage(image).load(), /snapshot\.json: corrupt GCS snapshot/);
  });

  it("snapshots past N log entries, and loads snapshot + log (also after a crash between rename and truncate)", async () => {
    const dir = freshDir();
    const s = new FileStorage(dir, { snapshotEvery: 100 });
    await s.load();
    for (let batch = 0; batch < 7; batch++) {
      for (let i = 0; i < 30; i++) s.write("actors", `a${batch * 30 + i}`, { batch });
      await s.flush();
    }
    // 210 writes in batches of 30: a snapshot after the 4th batch (120 > 100) and the log restarted.
    assert.equal(s.fileStats.snapshots, 1);
    assert.equal(s.fileStats.logEntries, 90);
    for (let i = 0; i < 200; i += 10) s.write("actors", `a${i}`, undefined); // deletes of rows in the snapshot and in the log
    s.write("actors", "a5", { batch: "rewritten" });
    await s.flush();
    const snap = JSON.parse(readFileSync(join(dir, "snapshot.json"), "utf8"));
    assert.equal(Object.keys(snap.tables.actors).length, 120);
    assert.equal(readFileSync(join(dir, "gcs.log"), "utf8").split("\n").length - 1, 111);

    const expected = new Map<string, unknown>();
    for (let i = 0; i < 210; i++) if (i % 10 !== 0 || i >= 200) expected.set(`a${i}`, { batch: Math.floor(i / 30) });
    expected.set("a5", { batch: "rewritten" });
    const image = freshDir();
    cpSync(dir, image, { recursive: true, filter: (src) => !src.endsWith("gcs.lock") });
    const r = new FileStorage(image);
    assert.deepEqual(Object.fromEntries((await r.load())!.actors), Object.fromEntries(expected));
    await r.close();

    // A crash after the snapshot's rename but before the log's truncation: the log replays over
    // a snapshot that already holds it, which changes nothing.
    const torn = freshDir();
    cpSync(dir, torn, { recursive: true, filter: (src) => !src.endsWith("gcs.lock") });
    const fullLog = readFileSync(join(torn, "gcs.log"));
    const c = new FileStorage(torn);
    await c.load();
    await c.close(); // snapshots everything and truncates the log
    assert.equal(readFileSync(join(torn, "gcs.log")).length, 0);
    writeFileSync(join(torn, "gcs.log"), fullLog); // …as if the truncation never happened
    writeFileSync(join(torn, "snapshot.json.tmp"), "half a snapsh"); // and an interrupted later snapshot
    const d = new FileStorage(torn);
    assert.deepEqual(Object.fromEntries((await d.load())!.actors), Object.fromEntries(expected));
    assert.equal(existsSync(join(torn, "snapshot.json.tmp")), false);
    await d.close();

    // close() snapshots: the log is empty and the snapshot alone holds everything.
    await s.close();
    assert.equal(readFileSync(join(dir, "gcs.log")).length, 0);
    const e = new FileStorage(dir);
    assert.deepEqual(Object.fromEntries((await e.load())!.actors), Object.fromEntries(expected));
    await e.close();
  });

  it("locks the directory against a second GCS, and takes over a stale lock", async () => {
    const dir = freshDir();
    const first = new FileStorage(dir);
    await first.load();
    assert.equal(readFileSync(join(dir, "gcs.lock"), "utf8").trim(), String(process.pid));
    await assert.rejects(new FileStorage(dir).load(), (e: Error) =>
      e.message.includes("in use by this process") && e.message.includes(join(dir, "gcs.lock")));
    first.write("meta", "x", 1);
    await first.close();
    assert.equal(existsSync(join(dir, "gcs.lock")), false, "close releases the lock");

    // A live process holds the lock: refused, naming the pid.
    const sleeper = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
    try {
      writeFileSync(join(dir, "gcs.lock"), `${sleeper.pid}\n`);
      await assert.rejects(new FileStorage(dir).load(), new RegExp(`in use by process ${sleeper.pid}`));
    } finally {
      sleeper.kill("SIGKILL");
      await new Promise((r) => sleeper.once("exit", r));
    }
    // …and once it is gone, its lock is stale and taken over.
    const warnings: string[] = [];
    const second = new FileStorage(dir, { warn: (m) => warnings.push(m) });
    assert.equal((await second.load())!.meta.get("x"), 1);
    assert.match(warnings.join("\n"), new RegExp(`taking over a stale lock \\(pid ${sleeper.pid} is not running\\)`));
    assert.equal(readFileSync(join(dir, "gcs.lock"), "utf8").trim(), String(process.pid));
    await second.close();
  });

  it("a failed commit breaks the storage: flush rejects, write throws", async () => {
    const s = new FileStorage(freshDir());
    await s.load();
    s.write("meta", "ok", 1);
    await s.flush();
    await (s as unknown as { log: { close(): Promise<void> } }).log.close(); // the disk goes away under it
    s.write("meta", "lost", 1);
    await assert.rejects(s.flush(), /commit failed, the GCS must stop/);
    assert.throws(() => s.write("meta", "more", 1), /commit failed/);
    await assert.rejects(s.close(), /commit failed/);
  });
});

// ---- the Redis backend ---------------------------------------------------------------------

describe("redis storage: URLs and connection errors", { skip: redisMissing() }, () => {
  needRedis();

  it("keeps one hash per table under its namespace", async () => {
    const a = track(new RedisStorage(redis!.url, "nsA"));
    const b = track(new RedisStorage(redis!.url, "nsB"));
    await a.load();
    await b.load();
    a.write("nodes", "n1", { who: "a" });
    b.write("nodes", "n1", { who: "b" });
    await Promise.all([a.flush(), b.flush()]);
    assert.equal(a.key("nodes"), "nsA:nodes");
    const raw = await rawRedis(redis!.port, "HGET", "nsA:nodes", "n1");
    assert.equal(raw, '{"who":"a"}');
    await a.close();
    await b.close();
  });

  it("parses redis://host:port[/db] and rejects anything else", () => {
    assert.deepEqual(parseRedisUrl("redis://127.0.0.1:6380/2"), { host: "127.0.0.1", port: 6380, db: 2, redacted: "redis://127.0.0.1:6380/2" });
    assert.equal(parseRedisUrl("redis://redis.svc").port, 6379);
    assert.equal(parseRedisUrl("redis://:s3cret@h:1/0").redacted, "redis://:***@h:1/0");
    assert.throws(() => parseRedisUrl("redis://h:1/x"), /database "x" is not a number/);
    assert.throws(() => parseRedisUrl("http://h:1"), /scheme http: is not redis:/);
    assert.throws(() => new RedisStorage("redis://:s3cret@h:1/x"), (e: Error) => !e.message.includes("s3cret"));
    assert.throws(() => new RedisStorage("redis://h:1", "ns", { commandTimeoutMs: 0 }), /commandTimeoutMs must be a positive number of milliseconds, not 0/);
    assert.throws(() => new RedisStorage("redis://h:1", "ns", { reconnectForMs: Number.NaN }), /reconnectForMs must be a positive number/);
  });

  it("uses the database in the URL", async () => {
    const s = track(new RedisStorage(redis!.url.replace(/\/0$/, "/3"), "dbtest"));
    await s.load();
    s.write("meta", "m", 1);
    await s.flush();
    assert.equal(await rawRedis(redis!.port, "SELECT", "3", "HGET", "dbtest:meta", "m"), "1");
    assert.equal(await rawRedis(redis!.port, "HGET", "dbtest:meta", "m"), null);
    await s.close();
  });

  it("names the URL when it cannot connect, and when Redis goes away", async () => {
    const port = await freePort(); // nothing listens there
    await assert.rejects(new RedisStorage(`redis://127.0.0.1:${port}/0`).load(),
      new RegExp(`redis://127\\.0\\.0\\.1:${port}/0 \\(namespace tsray\\): cannot connect to Redis: .*ECONNREFUSED`));
    await assert.rejects(new RedisStorage("redis://:pw@127.0.0.1:" + port).load(), (e: Error) => !e.message.includes(":pw@"));

    const own = await startRedis(scratch);
    const s = new RedisStorage(own.url, "gone", { reconnectForMs: 300 });
    await s.load();
    s.write("meta", "before", 1);
    await s.flush();
    await own.stop();
    s.write("meta", "after", 1);
    await assert.rejects(s.flush(), new RegExp(`${own.url.replace(/[./]/g, "\\$&")} \\(namespace gone\\)`));
    await s.close().catch(() => {});
  });

  // Bounded: without the command timeout, the flush would wait for good.
  it("fails a commit that a connection gone silent (no error, no answer) never answers, naming the URL", { timeout: 20_000 }, async () => {
    const proxy = await startProxy(redis!.port);
    const url = `redis://${proxy.target}/0`;
    const s = new RedisStorage(url, "silent", { commandTimeoutMs: 300 });
    try {
      await s.load();
      s.write("meta", "before", 1);
      await s.flush();
      proxy.silenceAfter(1); // the next command's first bytes go through, then nothing either way
      s.write("meta", "after", 1);
      await assert.rejects(s.flush(), new RegExp(`${url.replace(/[./]/g, "\\$&")} \\(namespace silent\\): .*Command timed out`));
      assert.equal(proxy.silenced, 1);
    } finally {
      await s.close().catch(() => {});
      await proxy.close();
    }
  });
});

/** One command (or SELECT + command) over a raw socket, to look at what was stored. */
async function rawRedis(port: number, ...args: string[]): Promise<string | null> {
  const cmds = args[0] === "SELECT" ? [args.slice(0, 2), args.slice(2)] : [args];
  const wire = cmds.map((c) => `*${c.length}\r\n${c.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`).join("");
  const reply = await new Promise<string>((resolve, reject) => {
    const sock = createConnection({ host: "127.0.0.1", port });
    let buf = "";
    sock.on("error", reject);
    sock.on("connect", () => sock.write(wire));
    sock.on("data", (d) => {
      buf += d;
      const lines = buf.split("\r\n");
      // Enough when the last reply is complete: a null bulk, or a bulk with its body.
      const last = cmds.length === 2 ? lines.slice(1) : lines;
      if (last[0] === "$-1" || (last[0]?.startsWith("$") && last.length >= 3)) { sock.end(); resolve(buf); }
    });
  });
  const lines = reply.split("\r\n");
  const last = cmds.length === 2 ? lines.slice(1) : lines;
  return last[0] === "$-1" ? null : last[1];
}

// ---- openStorage ---------------------------------------------------------------------------

describe("openStorage", () => {
  it("maps each accepted form to its backend, and names the forms otherwise", async () => {
    assert.ok(openStorage("memory") instanceof MemoryStorage);
    const f = openStorage(`file:${freshDir()}`);
    assert.ok(f instanceof FileStorage);
    assert.match(f.describe, /^file:\//);
    assert.ok(openStorage("file:relative/dir") instanceof FileStorage);
    assert.equal((openStorage("file:///tmp/x") as FileStorage).dir, "/tmp/x");
    const r = openStorage("redis://127.0.0.1:6379/1", { namespace: "c1" });
    assert.ok(r instanceof RedisStorage);
    assert.equal(r.describe, "redis://127.0.0.1:6379/1 (namespace c1)");
    for (const bad of ["", "mem", "file:", "postgres://h/db", "/var/lib/gcs"]) {
      assert.throws(() => openStorage(bad), /expected .*file:PATH, redis:\/\/HOST:PORT\[\/DB\], memory/);
    }
    assert.throws(() => openStorage("redis://h:1/nope"), /not a number/);
  });

  it("codec: stored rows never alias the model's objects, and $-keys survive", () => {
    const row = { a: { b: [1, 2] }, $bytes: "not a tag", $$x: 1 };
    const stored = toStored(row, "meta/x");
    row.a.b.push(3);
    assert.deepEqual(fromStored(JSON.parse(JSON.stringify(stored))), { a: { b: [1, 2] }, $bytes: "not a tag", $$x: 1 });
    assert.deepEqual(fromStored(toStored(Buffer.from("hi"), "x")), Buffer.from("hi"));
    assert.deepEqual(fromStored(toStored(new Float64Array([1.5, -2]), "x")), new Float64Array([1.5, -2]));
    assert.equal(fromStored(toStored(new Date(0), "x")), "1970-01-01T00:00:00.000Z");
  });
});

// ---- figures -------------------------------------------------------------------------------

async function committedWritesPerSecond(s: GcsStorage, total: number, batch: number): Promise<number> {
  const row = { state: "ALIVE", epoch: 1, address: "n1/w1-3", node: "n1", subscribers: ["n1/driver"], spec: { className: "Counter", resources: { CPU: 1 } } };
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < total; i += batch) {
    for (let j = 0; j < batch; j++) s.write("actors", `a${(i + j) % 1000}`, row);
    await s.flush();
  }
  return total / (Number(process.hrtime.bigint() - t0) / 1e9);
}

/** The figures' writes were committed: the 1,000 rows they cycle through are all there, whole. */
async function assertBenchRows(s: GcsStorage): Promise<void> {
  const tables = await s.load();
  const actors = tables!.actors;
  assert.equal(actors.size, 1_000);
  for (let i = 0; i < 1_000; i++) assert.deepEqual((actors.get(`a${i}`) as { state: string }).state, "ALIVE");
  await s.close();
}

const fmt = (n: number) => `${Math.round(n).toLocaleString("en-US")} writes/s`;

describe("throughput (committed = flushed)", () => {
  it("file storage, group commit: every committed write is there after a reopen", async (t) => {
    const dir = freshDir();
    const file = new FileStorage(dir);
    await file.load();
    await committedWritesPerSecond(file, 1_000, 100); // warm-up
    t.diagnostic(`file, 10,000 writes in batches of 100 (one write + fdatasync each): ${fmt(await committedWritesPerSecond(file, 10_000, 100))}`);
    t.diagnostic(`file, 1,000 writes each flushed alone (one write + fdatasync each): ${fmt(await committedWritesPerSecond(file, 1_000, 1))}`);
    await file.close();
    await assertBenchRows(new FileStorage(dir));
  });

  describe("redis", { skip: redisMissing() }, () => {
    needRedis();
    it("redis storage, one MULTI/EXEC per batch: every committed write is there after a reopen", async (t) => {
      const r = track(new RedisStorage(redis!.url, "bench"));
      await r.load();
      await committedWritesPerSecond(r, 1_000, 100); // warm-up
      t.diagnostic(`redis, 10,000 writes in batches of 100 (one MULTI/EXEC each): ${fmt(await committedWritesPerSecond(r, 10_000, 100))}`);
      t.diagnostic(`redis, 1,000 writes each flushed alone (one MULTI/EXEC each): ${fmt(await committedWritesPerSecond(r, 1_000, 1))}`);
      await r.close();
      await assertBenchRows(track(new RedisStorage(redis!.url, "bench")));
    });
  });
});
