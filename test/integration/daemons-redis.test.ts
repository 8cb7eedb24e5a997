// The GCS daemon with Redis storage (as Ray and KubeRay run it for fault tolerance), against a
// real redis-server: the GCS goes away and a new one recovers the cluster from Redis while a
// node, a driver and an actor keep going.

import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { GcsDaemon } from "../../src/runtime/daemon/gcs-daemon.ts";
import { RayletDaemon } from "../../src/runtime/daemon/raylet-daemon.ts";
import { DaemonDriver } from "../../src/runtime/daemon/driver.ts";
import { getStatus } from "../../src/runtime/daemon/transport.ts";
import { RedisStorage } from "../../src/runtime/storage/index.ts";
import { freePort, redisMissing, startRedis, type RedisServer } from "../helpers/redis.ts";

const token = "redis-test-token";
let scratch: string;
let redis: RedisServer;
let port: number;
let gcs: GcsDaemon | undefined;
let raylet: RayletDaemon | undefined;
let driver: DaemonDriver | undefined;
const namespace = `tsray-test-${process.pid}`;

const skip = redisMissing();

before(async () => {
  if (skip) return;
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "tsray-redis-gcs-"));
  redis = await startRedis(scratch);
  port = await freePort();
});

after(async () => {
  await driver?.shutdown();
  await raylet?.close();
  await gcs?.close();
  await redis?.stop();
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

async function until(ok: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await ok().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("timed out");
}

test("a GCS restarted from Redis recovers the node and the actors; work goes on", { skip }, async () => {
  gcs = await GcsDaemon.start({ head: "head", token, port, storage: new RedisStorage(redis.url, namespace) });
  const address = `127.0.0.1:${port}`;
  raylet = await RayletDaemon.start({ gcs: address, node: "head", resources: { CPU: 2 }, token });
  driver = await DaemonDriver.connect({ address, token });
  const ray = driver.ray;
  const C = ray.remote(class Counter { n = 0; inc() { return ++this.n; } }, { name: "kept" });
  const c = C.remote();
  assert.equal(await ray.get(c.inc.remote()), 1);

  await gcs.close(); // the GCS process goes away; its tables stay in Redis
  gcs = await GcsDaemon.start({ head: "head", token, port, storage: new RedisStorage(redis.url, namespace) });
  await until(async () => ((await getStatus(address, token, 1000)) as { nodes: { node: string; alive: boolean }[] }).nodes.some((n) => n.node === "head" && n.alive));
  const status = gcs.status() as { actors: Record<string, number> };
  assert.equal(status.actors.ALIVE, 1, "the actor table came back from Redis");

  assert.equal(await ray.get(c.inc.remote(), { timeoutMs: 10_000 }), 2);
  const same = await ray.getActor("kept");
  assert.equal(await ray.get(same.inc.remote(), { timeoutMs: 10_000 }), 3);
  const sq = ray.remote((x: number) => x * x);
  assert.equal(await ray.get(sq.remote(9), { timeoutMs: 10_000 }), 81);
});
