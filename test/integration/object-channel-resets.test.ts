// The object channel reset between live processes (a proxy, a NAT, a kernel: not a death). A GCS,
// two raylet daemons and a driver, in this process, on real sockets: n1 produces objects of
// several MiB and the driver, attached to n2, reads them, so n2 pulls them from n1. Each node
// advertises 127.0.0.2, where a proxy forwards to its ports on 127.0.0.1, and the proxies of the
// object channels reset their connections: n1's in the middle of a transfer, between transfers
// and several times in a row; n2's in the middle of the driver's own store requests. Every
// read must return the right bytes in bounded time, and no staged slot may stay behind. The
// proxies also silence connections without a reset (a NAT that forgot them), in the middle of a
// transfer and of the driver's store requests: the keepalive must notice.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it, type TestContext } from "node:test";
import type { ObjectRef } from "../../src/api/handles.ts";
import { daemonTuning } from "../../src/core/tuning.ts";
import { DaemonDriver } from "../../src/runtime/daemon/driver.ts";
import { GcsDaemon } from "../../src/runtime/daemon/gcs-daemon.ts";
import { generateToken } from "../../src/runtime/daemon/transport.ts";
import { MemoryStorage } from "../../src/runtime/storage/index.ts";
import { proxiedNode } from "../helpers/proxied-node.ts";
import { until } from "../helpers/cli-cluster.ts";

const token = generateToken();
const MiB = 1024 * 1024;
/** Chunked (5 MiB chunks), so one transfer is several records, the last of them 12 MiB long. */
const SIZE = 12 * MiB;
/** A read that recovers is done within a few retries (at most 1 s apart); one that hangs is not. */
const BOUND_MS = 20_000;

interface ChannelStatus { objectChannel: { sent: { sent: number; bytes: number }; received: { records: number; bytes: number; lost: number; broken: number; staged: number } } }

/** The bytes the producing task makes for `seed` (the same loop as in the task, which cannot capture it). */
function expected(seed: number): string {
  const b = new Uint8Array(SIZE);
  for (let i = 0; i < b.length; i++) b[i] = (i * 31 + seed) & 255;
  return createHash("sha256").update(b).digest("hex");
}
const hash = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** A raylet daemon whose object channel (and gRPC port) can be reset, and its status. */
async function node(gcs: string, id: string, resources: Record<string, number>) {
  const n = await proxiedNode(gcs, token, id, resources);
  return { ...n, status: () => n.status<ChannelStatus>() };
}

describe("object channel resets between live daemons", () => {
  const cleanup: (() => Promise<unknown> | unknown)[] = [];
  let n1: Awaited<ReturnType<typeof node>>;
  let n2: Awaited<ReturnType<typeof node>>;
  let driver: DaemonDriver;
  let seed = 0;

  before(async () => {
    const gcs = await GcsDaemon.start({ head: "head", token, storage: new MemoryStorage(), tuning: daemonTuning, log: () => {} });
    cleanup.push(() => gcs.close());
    const address = `127.0.0.1:${gcs.port}`;
    n1 = await node(address, "n1", { CPU: 1, holder: 1 });
    cleanup.push(() => n1.close());
    n2 = await node(address, "n2", { CPU: 1 });
    cleanup.push(() => n2.close());
    await until("both nodes registered", async () => n1.daemon.view?.alive === true && n2.daemon.view?.alive === true);
    driver = await DaemonDriver.connect({ address, token, node: "n2" });
    cleanup.push(() => driver.shutdown());
    // A first pull opens n2's connection to n1's channel, for the resets to hit.
    const first = await onN1();
    assert.equal((await read(first.ref)).got, first.want);
  });

  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  /** A fresh object of SIZE bytes, made on n1 and sealed there (not read yet), and its expected hash. */
  async function onN1(): Promise<{ ref: ObjectRef<Uint8Array>; want: string }> {
    const s = ++seed;
    const make = driver.ray.remote((seed: number, size: number) => {
      const b = new Uint8Array(size);
      for (let i = 0; i < b.length; i++) b[i] = (i * 31 + seed) & 255;
      return b;
    }).options({ resources: { holder: 1 } });
    const ref = make.remote(s, SIZE) as ObjectRef<Uint8Array>;
    await driver.ray.wait([ref], { fetchLocal: false });
    return { ref, want: expected(s) };
  }

  /** Reads `ref` through the driver (n2 pulls it from n1), bounded; returns the bytes' hash and how long it took. */
  async function read(ref: ObjectRef<Uint8Array>): Promise<{ got: string; ms: number }> {
    const t0 = performance.now();
    const v = await driver.ray.get(ref, { timeoutMs: BOUND_MS });
    return { got: hash(v), ms: Math.round(performance.now() - t0) };
  }

  /** Nothing left staged on n2 (a record cut in the middle gives its slot back). */
  const noStagedSlots = () => until("n2's staged slots adopted or given back", async () => (await n2.status()).objectChannel.received.staged === 0, 5_000);

  /**
   * Reads a fresh object while n1's channel proxy resets the transfer `times` times, `bytes` into
   * each connection: every reset cuts the 12 MiB record, each one is pulled again on a new
   * connection, and the bytes are right.
   */
  async function readThroughResets(t: TestContext, bytes: number, times: number): Promise<void> {
    const { ref, want } = await onN1();
    const before = (await n2.status()).objectChannel.received;
    const accepted = n1.objects.accepted;
    n1.objects.cutAfter(bytes, times);
    const r = await read(ref);
    t.diagnostic(`read in ${r.ms} ms despite ${times} reset(s)`);
    assert.equal(r.got, want);
    const after = (await n2.status()).objectChannel.received;
    assert.equal(after.lost - before.lost, times, "each reset cut a record in the middle");
    assert.equal(after.broken - before.broken, times);
    assert.equal(n1.objects.accepted, accepted + times, "pulled again on a new connection each time");
    await noStagedSlots();
  }

  it("a transfer reset in the middle of a record is pulled again, and the bytes are right", (t) => readThroughResets(t, 4 * MiB, 1));

  it("after a reset between transfers, the next pull reconnects and takes the channel again", async () => {
    const { ref, want } = await onN1();
    const accepted = n1.objects.accepted;
    const { broken } = (await n2.status()).objectChannel.received;
    n1.objects.cut();
    // Read once n2 has seen the reset (else the pull could go out before, and the reset hit it).
    await until("n2 to see the reset", async () => (await n2.status()).objectChannel.received.broken > broken);
    const sent = (await n1.status()).objectChannel.sent.bytes;
    assert.equal((await read(ref)).got, want);
    assert.ok(n1.objects.accepted > accepted, "n2 connected to n1's channel again");
    assert.ok((await n1.status()).objectChannel.sent.bytes - sent >= SIZE, "the object went on the channel, not on gRPC");
    await noStagedSlots();
  });

  it("several resets in a row in the middle of one transfer", (t) => readThroughResets(t, 2 * MiB, 3));

  it("a transfer whose connection goes silent without a reset (a NAT forgetting it) is noticed by keepalive and pulled again", async (t) => {
    const { ref, want } = await onN1();
    const before = (await n2.status()).objectChannel.received;
    const accepted = n1.objects.accepted;
    n1.objects.silenceAfter(4 * MiB);
    const r = await read(ref);
    t.diagnostic(`read in ${r.ms} ms despite a connection gone silent`);
    assert.equal(r.got, want);
    assert.equal(n1.objects.silenced, 1);
    const after = (await n2.status()).objectChannel.received;
    assert.equal(after.lost - before.lost, 1, "the record cut by the silence is lost");
    assert.equal(after.broken - before.broken, 1, "n2 ended the silent connection");
    assert.equal(n1.objects.accepted, accepted + 1, "and pulled again on a new one");
    await noStagedSlots();
  });

  /**
   * The driver's store requests on its node's channel, stopped by `stop` (a reset or a silence
   * of n2's proxy, which `stops` counts) 4 MiB in: a get whose answer stops, then a put stopped
   * in the middle of its record on the way to n2. Both complete, with the right bytes.
   */
  async function storeRequestsThrough(stop: (bytes: number) => void, stops: () => number): Promise<void> {
    const { ref, want } = await onN1();
    assert.equal((await read(ref)).got, want); // now in n2's store: the next get is one StoreGet
    const before = stops();
    stop(4 * MiB);
    assert.equal((await read(ref)).got, want);
    assert.equal(stops(), before + 1, "the answer was stopped");
    const big = new Uint8Array(SIZE).fill(++seed & 255);
    stop(4 * MiB);
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error("the put hung")), BOUND_MS); });
    const put = await Promise.race([driver.ray.put(big), hung]).finally(() => clearTimeout(timer));
    assert.equal(stops(), before + 2, "the put was stopped");
    assert.equal(hash(await driver.ray.get(put, { timeoutMs: BOUND_MS })), hash(big));
  }

  it("the driver's store requests on its node's channel: a get whose answer is cut, and a put cut in the middle",
    () => storeRequestsThrough((bytes) => n2.objects.cutAfter(bytes), () => n2.objects.resets));

  // A silent put: this side's write stalls, which counts as silence, and the keepalive goes unanswered.
  it("the driver's store requests on a connection gone silent: a get whose answer stops, and a put stopped in the middle",
    () => storeRequestsThrough((bytes) => n2.objects.silenceAfter(bytes), () => n2.objects.silenced));
});
