// Storage that fails or changes behind the GCS (storage/epoch.ts): storage that came back empty
// gets every row written again from the GCS's memory; another cluster's data is refused; lost
// storage makes the GCS stop serving (NOT_SERVING, then closed) and call onStorageLost, which
// the daemon's process turns into an exit. Against memory storage here, and a real redis-server
// (restarted empty, stopped, shared by two clusters) when one is installed.

import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { GcsDaemon } from "../../src/runtime/daemon/gcs-daemon.ts";
import { RayletDaemon } from "../../src/runtime/daemon/raylet-daemon.ts";
import { DaemonDriver } from "../../src/runtime/daemon/driver.ts";
import { getStatus } from "../../src/runtime/daemon/transport.ts";
import { MemoryStorage, RedisStorage } from "../../src/runtime/storage/index.ts";
import { clusterIdOf, defaultNamespace } from "../../src/runtime/storage/epoch.ts";
import { redisMissing, startRedis, type RedisServer } from "../helpers/redis.ts";

const token = "watch-token";
const cleanup: (() => Promise<unknown>)[] = [];
after(async () => { for (const c of cleanup.reverse()) await c().catch(() => {}); });

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await Promise.resolve().then(ok).catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const keys = (s: MemoryStorage) => JSON.stringify(Object.fromEntries(Object.entries(s.data.tables).map(([t, m]) => [t, [...m.entries()].sort()])));
type Status = { nodes: { node: string; alive: boolean }[] };

describe("storage watch (memory storage)", () => {
  it("storage that came back empty gets its rows written again, and its marker", async () => {
    const storage = new MemoryStorage();
    const gcs = await GcsDaemon.start({ head: "head", token, storage, storageCheckMs: 50, log: () => {} });
    cleanup.push(() => gcs.close());
    const raylet = await RayletDaemon.start({ gcs: `127.0.0.1:${gcs.port}`, node: "n1", resources: { CPU: 1 }, token, objectSocket: false, log: () => {} });
    cleanup.push(() => raylet.close());
    await until("n1 stored", () => storage.data.tables.nodes.has("n1"));
    const before = keys(storage);
    assert.equal(storage.data.marker, clusterIdOf(token));
    for (const m of Object.values(storage.data.tables)) m.clear(); // storage restarted empty
    storage.data.marker = undefined;
    await until("the rows written again", () => storage.data.marker === clusterIdOf(token) && keys(storage) === before);
    assert.ok(gcs.storageHealthy);
  });

  it("refuses another cluster's data", async () => {
    const storage = new MemoryStorage();
    storage.data.marker = clusterIdOf("another cluster's token");
    await assert.rejects(GcsDaemon.start({ head: "head", token, storage, log: () => {} }), /holds another cluster's data .*--storage-namespace/);
  });

  it("lost storage: the GCS stops serving and says so once", async () => {
    class Failing extends MemoryStorage {
      broken = false;
      override async readMarker(): Promise<string | undefined> {
        if (this.broken) throw new Error("connection lost");
        return super.readMarker();
      }
    }
    const storage = new Failing();
    const lost: Error[] = [];
    const gcs = await GcsDaemon.start({ head: "head", token, storage, storageCheckMs: 50, log: () => {}, onStorageLost: (e) => lost.push(e) });
    cleanup.push(() => gcs.close());
    await getStatus(`127.0.0.1:${gcs.port}`, token);
    storage.broken = true;
    await until("the loss", () => lost.length > 0);
    assert.equal(lost.length, 1);
    assert.match(lost[0].message, /connection lost/);
    assert.equal(gcs.storageHealthy, false);
    await until("the GCS gone", async () => { try { await getStatus(`127.0.0.1:${gcs.port}`, token, 500); return false; } catch { return true; } });
  });
});

describe("storage watch (Redis)", { skip: redisMissing() }, () => {
  let scratch: string;
  let redis: RedisServer;
  const rstorage = (ns: string) => new RedisStorage(redis.url, ns, { reconnectForMs: 1_000 });

  it("Redis restarted empty: detected, the tables come back, and a restarted GCS finds the named actor", async () => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), "tsray-watch-"));
    cleanup.push(async () => fs.rmSync(scratch, { recursive: true, force: true }));
    redis = await startRedis(scratch);
    cleanup.push(() => redis.stop());
    const ns = defaultNamespace(token);
    const logs: string[] = [];
    const lost: Error[] = [];
    let gcs = await GcsDaemon.start({ head: "head", token, storage: new RedisStorage(redis.url, ns, { reconnectForMs: 10_000 }), storageCheckMs: 100, log: (l) => logs.push(l), onStorageLost: (e) => lost.push(e) });
    cleanup.push(() => gcs.close());
    const address = `127.0.0.1:${gcs.port}`;
    const raylet = await RayletDaemon.start({ gcs: address, node: "head", resources: { CPU: 1 }, token, objectSocket: false, log: () => {} });
    cleanup.push(() => raylet.close());
    const driver = await DaemonDriver.connect({ address, token });
    cleanup.push(() => driver.shutdown());
    const C = driver.ray.remote(class Kept { n = 0; inc() { return ++this.n; } }, { name: "kept" });
    const c = C.remote();
    assert.equal(await driver.ray.get(c.inc.remote()), 1);

    await redis.stop();
    redis = await startRedis(scratch, redis.port); // the same address, nothing in it
    await until("the GCS to notice", () => logs.some((l) => /came back empty/.test(l)) || lost.length > 0);
    assert.deepEqual(lost, []);
    const stored = async () => {
      const s = rstorage(ns);
      try {
        const t = await s.load();
        return (await s.readMarker()) === clusterIdOf(token) && t?.actors.size === 1 && t.nodes.has("head");
      } finally {
        await s.close();
      }
    };
    await until("the tables written again", stored);

    // The next GCS starts from what was written again: the named actor is there.
    const port = gcs.port;
    await gcs.close();
    gcs = await GcsDaemon.start({ head: "head", token, port, storage: rstorage(ns), log: () => {} });
    await until("the node back", async () => ((await getStatus(address, token, 1000)) as Status).nodes.some((n) => n.node === "head" && n.alive));
    const same = await driver.ray.getActor("kept");
    assert.equal(await driver.ray.get(same.inc.remote(), { timeoutMs: 10_000 }), 2);
    await driver.shutdown();
    await raylet.close();
    await gcs.close();
  });

  it("two clusters share one Redis: each in its own namespace, neither touches the other's nodes", async () => {
    const tokens = ["cluster-a-token", "cluster-b-token"];
    const gcss = await Promise.all(tokens.map((t) => GcsDaemon.start({ head: "head", token: t, storage: rstorage(defaultNamespace(t)), log: () => {} })));
    for (const g of gcss) cleanup.push(() => g.close());
    const raylets = await Promise.all(tokens.map((t, i) => RayletDaemon.start({ gcs: `127.0.0.1:${gcss[i].port}`, node: `n-${i}`, resources: { CPU: 1 }, token: t, objectSocket: false, log: () => {} })));
    for (const r of raylets) cleanup.push(() => r.close());
    for (const [i, t] of tokens.entries()) {
      await until(`cluster ${i}'s node`, async () => ((await getStatus(`127.0.0.1:${gcss[i].port}`, t)) as Status).nodes.some((n) => n.alive));
    }
    // Each GCS restarted from Redis sees only its own node, alive.
    for (const [i, t] of tokens.entries()) {
      const port = gcss[i].port;
      await gcss[i].close();
      gcss[i] = await GcsDaemon.start({ head: "head", token: t, port, storage: rstorage(defaultNamespace(t)), log: () => {} });
      await until(`cluster ${i} back`, async () => {
        const s = (await getStatus(`127.0.0.1:${port}`, t)) as Status;
        return JSON.stringify(s.nodes.map((n) => [n.node, n.alive])) === JSON.stringify([[`n-${i}`, true]]);
      });
    }
    // The same namespace given to a second cluster is refused, not shared.
    await assert.rejects(GcsDaemon.start({ head: "head", token: tokens[1], storage: rstorage(defaultNamespace(tokens[0])), log: () => {} }), /another cluster's data/);
    for (const r of raylets) await r.close();
    for (const g of gcss) await g.close();
  });

  it("Redis down: the GCS stops serving and asks to exit", async () => {
    const own = await startRedis(scratch);
    cleanup.push(() => own.stop());
    const lost: Error[] = [];
    const gcs = await GcsDaemon.start({ head: "head", token, storage: new RedisStorage(own.url, "down", { reconnectForMs: 500 }), storageCheckMs: 100, log: () => {}, onStorageLost: (e) => lost.push(e) });
    cleanup.push(() => gcs.close());
    await getStatus(`127.0.0.1:${gcs.port}`, token);
    await own.stop();
    await until("the loss", () => lost.length === 1);
    assert.match(lost[0].message, /redis:\/\/127\.0\.0\.1:\d+\/0 \(namespace down\)/);
    assert.equal(gcs.storageHealthy, false);
    await until("the GCS gone", async () => { try { await getStatus(`127.0.0.1:${gcs.port}`, token, 500); return false; } catch { return true; } });
  });
});
