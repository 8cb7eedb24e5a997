// The daemons' gRPC transport: frames both ways in order, pipelined throughput, reconnect after a
// daemon restarts, token auth, the health service, and bad requests (garbage, unknown types,
// oversized frames, missing hello) each answered with the right gRPC status while the server
// keeps serving others. Also: the frame codec (Payload hooks, validation) and the generated code
// being up to date with spec/proto.
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import diagnostics from "node:diagnostics_channel";
import net from "node:net";
import v8 from "node:v8";
import * as grpc from "@grpc/grpc-js";
import type { Msg, MsgType } from "../../src/core/messages.ts";
import type { Payload } from "../../src/core/types.ts";
import {
  DaemonServer, PeerLink, ServingStatus, TOKEN_METADATA_KEY, decodeFrame, encodeFrame, generateToken, getStatus, healthCheck,
  tokensEqual, type InboundFrame, type Peer,
} from "../../src/runtime/daemon/transport.ts";
import {
  ACK, Batch, FrameError, HELLO, Hello, MSG_TYPES, PROTOCOL_VERSION, ackFrame, decodeMsg, encodeBatch, encodeMsg, frameSize, helloFrame, msgFrame, type Frame,
} from "../../src/runtime/daemon/wire/frame.ts";
import { until } from "../helpers/until.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const TOKEN = generateToken();
const quiet = (): void => {};

// Type-level: MSG_TYPES is exactly Msg["type"] (both directions).
type Listed = (typeof MSG_TYPES)[number];
const _listedCoversMsg: [Exclude<MsgType, Listed>] extends [never] ? true : false = true;
const _msgCoversListed: [Exclude<Listed, MsgType>] extends [never] ? true : false = true;
void _listedCoversMsg; void _msgCoversListed;

const bytes = (n: number, fill = 7): Uint8Array => new Uint8Array(n).fill(fill);
const payload = (data: unknown, size = 3): Payload => ({ size, hash: `h${size}`, data });
const pushTask: Msg = {
  type: "PushTask",
  spec: { taskId: "t1", kind: "normal", fn: "f", name: "f", args: [{ v: payload(bytes(64), 64) }], returnId: "t1.r", owner: "x/driver", job: "head/driver", resources: { CPU: 1 }, strategy: "DEFAULT", maxRetries: 3, retryExceptions: false, attempt: 0 },
};
const hb = (i: number): Msg => ({ type: "Heartbeat", node: `n${i}`, available: { CPU: i } as never });

/** Starts a server; frames it receives are echoed back to the sender when `echo` is set. */
async function startServer(opts: Partial<ConstructorParameters<typeof DaemonServer>[0]> & { echo?: boolean } = {}) {
  const got: InboundFrame[] = [];
  const peers: Peer[] = [];
  const logs: string[] = [];
  let server!: DaemonServer;
  server = new DaemonServer({
    token: TOKEN,
    services: ["Gcs", "NodeManager", "CoreWorker"],
    addrs: ["head/gcs"],
    log: (l) => logs.push(l),
    ...opts,
    onFrame: (f, peer) => {
      got.push(f);
      if (opts.echo) server.send(peer, { from: f.to, to: f.from, type: f.type, body: f.body, payloads: f.payloads });
      opts.onFrame?.(f, peer);
    },
    onPeer: (p, addrs) => { peers.push(p); opts.onPeer?.(p, addrs); },
  });
  const port = await server.start();
  return { server, port, got, peers, logs, target: `127.0.0.1:${port}` };
}


/** A good client: one link, one frame there and back. */
async function roundTrip(target: string, service: "Gcs" | "NodeManager" | "CoreWorker" = "Gcs"): Promise<void> {
  const back: InboundFrame[] = [];
  const link = new PeerLink({ target, service, token: TOKEN, addrs: ["probe/driver"], log: quiet, onFrame: (f) => back.push(f) });
  link.sendMsg("probe/driver", "head/gcs", hb(42));
  await until(() => back.length === 1, 10_000, "echo");
  assert.equal(back[0].msg.type, "Heartbeat");
  await link.close();
}

// A raw client that sends whatever bytes it is given on a Connect stream.
const identity = (b: Buffer): Buffer => b;
function rawConnect(target: string, md: grpc.Metadata, service = "tsray.v1.Gcs", maxSend = 64 * 1024 * 1024) {
  const def = {
    connect: {
      path: `/${service}/Connect`, requestStream: true, responseStream: true,
      requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity,
    },
  };
  const Ctor = grpc.makeGenericClientConstructor(def as never, service);
  const client = new Ctor(target, grpc.credentials.createInsecure(), { "grpc.max_send_message_length": maxSend });
  const call = (client as unknown as { connect(md: grpc.Metadata): grpc.ClientDuplexStream<Buffer, Buffer> }).connect(md);
  const received: Buffer[] = [];
  call.on("data", (b: Buffer) => received.push(b));
  const status = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
  call.on("error", () => {});
  return { call, received, status: status.finally(() => client.close()), client };
}

const tokenMd = (t = TOKEN): grpc.Metadata => {
  const md = new grpc.Metadata();
  md.set(TOKEN_METADATA_KEY, t);
  return md;
};
const batchBytes = (frames: Frame[]): Buffer => Buffer.from(Batch.encode({ frames }).finish());
const hello = (): Frame => helloFrame(["raw/client"], "raw");

describe("frame codec", () => {
  it("lists every Msg type once", () => {
    assert.equal(new Set(MSG_TYPES).size, MSG_TYPES.length);
  });

  it("round-trips messages, payloads anywhere in them, through the hooks", () => {
    const msgs: Msg[] = [
      hb(1),
      { type: "StorePut", reqId: 1, id: "o1", payload: payload(bytes(3)), owner: "a/driver" },
      { type: "StoreGetReply", reqId: 2, values: [payload(bytes(5, 1), 5), { type: "ObjectLostError", message: "gone" } as never] },
      { type: "TaskReply", taskId: "t", returnId: "t.r", attempt: 1, result: { kind: "inline", payload: payload(bytes(2, 9), 2) } },
      { type: "Chunk", id: "o2", index: 0, total: 2, size: 8 },
      { type: "Locations", id: "o3", status: { kind: "unknown" } },
      { type: "GcsRestarted" },
    ];
    for (const m of msgs) {
      const back = decodeMsg(encodeMsg(m));
      assert.deepEqual(back, m);
    }
    // The bytes travel beside the body, one entry per payload in the order met.
    const enc = encodeMsg({ type: "StoreGetReply", reqId: 2, values: [payload(bytes(10_000), 10_000), payload(bytes(1), 1)] });
    assert.deepEqual(enc.payloads.map((p) => p.length), [10_000, 1]);
    assert.ok(enc.body.length < 200, `body of ${enc.body.length} bytes`);
    // A host whose data is not bytes (an arena slot, say) maps it both ways; the model's message is not touched.
    const slots = new Map<number, Uint8Array>([[1, bytes(4, 3)]]);
    const m: Msg = { type: "StoreGetReply", reqId: 3, values: [payload({ slot: 1 }, 4)] };
    const body = encodeMsg(m, { toWirePayload: (p) => slots.get((p.data as { slot: number }).slot)! });
    assert.deepEqual((m.values[0] as Payload).data, { slot: 1 });
    const got = decodeMsg(body, { fromWirePayload: (b) => ({ copied: Array.from(b) }) }) as Extract<Msg, { type: "StoreGetReply" }>;
    assert.deepEqual((got.values[0] as Payload).data, { copied: [3, 3, 3, 3] });
    assert.throws(() => encodeMsg(m), /must be a Uint8Array/);
    // Arriving bytes: a view when they are most of the received buffer, a copy when a small part of it.
    const big = new Uint8Array(1000);
    const put = (data: Uint8Array) => decodeMsg({ ...encodeMsg({ type: "StorePut", reqId: 1, id: "o", owner: "a/driver", payload: payload(bytes(1)) }), payloads: [data] }) as Extract<Msg, { type: "StorePut" }>;
    assert.equal((put(big.subarray(0, 900)).payload.data as Uint8Array).buffer, big.buffer);
    assert.notEqual((put(big.subarray(0, 10)).payload.data as Uint8Array).buffer, big.buffer);
  });

  it("rejects bodies that are not an object of the declared, known type", () => {
    const raw = (type: string, body: Uint8Array, payloads: Uint8Array[] = []) => decodeMsg({ type, body, payloads });
    assert.throws(() => raw("Nope", encodeMsg(hb(1)).body), FrameError);
    assert.throws(() => raw("Heartbeat", new Uint8Array([1, 2, 3, 4])), FrameError);
    assert.throws(() => raw("Heartbeat", new Uint8Array(0)), FrameError);
    assert.throws(() => raw("GcsRestarted", encodeMsg(hb(1)).body), /its type is "Heartbeat"/);
    const ser = (v: unknown) => new Uint8Array(v8.serialize(v));
    assert.throws(() => raw("Heartbeat", ser([1, 2])), /not an object/);
    assert.throws(() => raw("Heartbeat", ser("Heartbeat")), /not an object/);
    const put = (data: unknown) => ser({ type: "StorePut", reqId: 1, id: "o", owner: "a/driver", payload: { size: 1, hash: "x", data } });
    assert.throws(() => raw("StorePut", put("text"), [bytes(1)]), /malformed StorePut: payload\.data: .*expected number, received string/i);
    assert.throws(() => raw("StorePut", put(1), [bytes(1)]), /payload data 1 is not an index into its 1 payloads/);
    assert.throws(() => raw("StorePut", put(0), [bytes(1), bytes(1)]), /2 payloads for 1 in the body/);
    assert.equal((raw("StorePut", put(0), [bytes(1)]) as { payload: Payload }).payload.data instanceof Uint8Array, true);
  });

  it("frame envelope: generated encode/decode, exact size, one-pass batch encoding, garbage rejected", () => {
    const f = msgFrame("a/raylet", "b/raylet", { type: "StorePut", reqId: 1, id: "o", owner: "a/driver", payload: payload(bytes(300), 300) });
    const enc = encodeFrame(f);
    assert.equal(enc.length, frameSize(f));
    const dec = decodeFrame(enc);
    const plain = (x: Frame) => ({ ...x, body: Array.from(x.body), payloads: x.payloads.map((p) => Array.from(p)) });
    assert.deepEqual(plain(dec), plain(f));
    assert.equal(frameSize({ from: "é", to: "", type: "", body: new Uint8Array(200), payloads: [new Uint8Array(0)] }), 2 + 2 + 1 + 2 + 200 + 2);
    // encodeBatch writes exactly what the generated encoder writes.
    const frames: Frame[] = [f, helloFrame(["x"], "i"), { from: "", to: "", type: "", body: new Uint8Array(0), payloads: [] },
      { from: "ü/w", to: "z", type: "Chunk", body: bytes(200_000), payloads: [bytes(0), bytes(130)] }];
    assert.deepEqual(encodeBatch(frames), Buffer.from(Batch.encode({ frames }).finish()));
    assert.throws(() => decodeFrame(new Uint8Array([0x22, 0xff, 0xff, 0xff, 0x0f])), FrameError);
  });

  it("tokens: random, and compared in constant time", () => {
    const a = generateToken();
    assert.match(a, /^[A-Za-z0-9_-]{32}$/);
    assert.notEqual(a, generateToken());
    assert.ok(tokensEqual(a, a));
    assert.ok(!tokensEqual(a, a.slice(1)));
    assert.ok(!tokensEqual(a, ""));
  });
});

describe("daemon transport", () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  after(async () => { for (const c of cleanup.reverse()) await c(); });

  it("two daemons exchange frames both ways, in order, and route by hello", async () => {
    const a = await startServer({ services: ["Gcs"], addrs: ["head/gcs"] });
    const b = await startServer({ services: ["NodeManager"], addrs: ["n1/raylet"] });
    cleanup.push(() => a.server.close(), () => b.server.close());
    const fromA: InboundFrame[] = [];
    const fromB: InboundFrame[] = [];
    let connected: { addrs: readonly string[] } | undefined;
    // b's side dials a (as a raylet dials the GCS); a's side dials b (as the GCS would a raylet).
    const toA = new PeerLink({ target: a.target, service: "Gcs", token: TOKEN, addrs: ["n1"], log: quiet, onFrame: (f) => fromA.push(f), onConnect: (i) => { connected = i; } });
    const toB = new PeerLink({ target: b.target, service: "NodeManager", token: TOKEN, addrs: ["head"], log: quiet, onFrame: (f) => fromB.push(f) });
    cleanup.push(() => toA.close(), () => toB.close());
    const N = 500;
    for (let i = 0; i < N; i++) {
      toA.sendMsg("n1/raylet", "head/gcs", hb(i));
      toB.sendMsg("head/gcs", "n1/raylet", hb(i));
    }
    await until(() => a.got.length === N && b.got.length === N, 10_000, "frames at both servers");
    assert.deepEqual(a.got.map((f) => (f.msg as { node: string }).node), Array.from({ length: N }, (_, i) => `n${i}`));
    assert.deepEqual(b.got.map((f) => f.from), Array(N).fill("head/gcs"));
    assert.deepEqual(connected?.addrs, ["head/gcs"]);
    // Servers answer down the inbound streams, found by the addresses in the hello.
    const peer = a.server.route("n1/raylet");
    assert.ok(peer, "route by node of the address");
    assert.deepEqual(peer.addrs, ["n1"]);
    for (let i = 0; i < N; i++) a.server.sendMsg(peer, "head/gcs", "n1/raylet", hb(i));
    for (let i = 0; i < N; i++) b.server.sendMsg(b.server.route("head/gcs")!, "n1/raylet", "head/gcs", hb(i));
    await until(() => fromA.length === N && fromB.length === N, 10_000, "frames back");
    assert.deepEqual(fromA.map((f) => (f.msg as { node: string }).node), Array.from({ length: N }, (_, i) => `n${i}`));
    assert.equal(fromB.length, N);
    // A new hello replaces the routes.
    toA.setAddrs(["n1", "n1/w1-1"]);
    await until(() => a.server.route("n1/w1-1") !== undefined, 5_000, "re-hello");
    assert.equal(a.server.stats.dropped, 0);
  });

  it("pipelines 10,000 frames each way (frames/s)", async () => {
    const s = await startServer({ echo: true });
    cleanup.push(() => s.server.close());
    let back = 0;
    const link = new PeerLink({ target: s.target, service: "CoreWorker", token: TOKEN, addrs: ["x/driver"], log: quiet, onFrame: () => { back++; } });
    cleanup.push(() => link.close());
    await until(() => link.connected, 5_000, "connect");
    const N = 10_000;
    const t0 = performance.now();
    for (let i = 0; i < N; i++) link.sendMsg("x/driver", "n1/w1-1", pushTask);
    await until(() => s.got.length === N, 30_000, "one way");
    const t1 = performance.now();
    await until(() => back === N, 30_000, "echoes");
    const t2 = performance.now();
    const oneWay = N / ((t1 - t0) / 1000);
    const roundTrips = N / ((t2 - t0) / 1000);
    console.log(`# daemon transport, in-process, PushTask frames: ${Math.round(oneWay)} frames/s one way, ${Math.round(roundTrips)} echoed round trips/s (encode+decode included)`);
    assert.ok(s.got.every((f) => f.msg.type === "PushTask"));
  });

  it("reconnects after the server restarts on the same port, delivering what was queued", async () => {
    const s1 = await startServer();
    const events: string[] = [];
    const logs: string[] = [];
    const link = new PeerLink({
      target: s1.target, service: "Gcs", token: TOKEN, addrs: ["n2"], log: (l) => logs.push(l), backoff: { initialMs: 20, maxMs: 200 },
      onConnect: (i) => events.push(i.restarted ? "connect(restarted)" : "connect"), onDisconnect: () => events.push("disconnect"),
    });
    cleanup.push(() => link.close());
    link.sendMsg("n2/raylet", "head/gcs", hb(1));
    await until(() => s1.got.length === 1, 5_000, "first frame");
    await s1.server.close();
    await until(() => !link.connected, 5_000, "link notices");
    for (let i = 2; i <= 50; i++) link.sendMsg("n2/raylet", "head/gcs", hb(i)); // queued while down
    assert.ok(link.queued > 0);
    const s2 = await startServer({ port: s1.port });
    cleanup.push(() => s2.server.close());
    await until(() => s2.got.length === 49, 15_000, "queued frames after reconnect");
    assert.deepEqual(s2.got.map((f) => (f.msg as { node: string }).node), Array.from({ length: 49 }, (_, i) => `n${i + 2}`));
    assert.deepEqual(events, ["connect", "disconnect", "connect(restarted)"]);
    assert.ok(link.stats.reconnects >= 1);
    assert.ok(s2.server.route("n2/raylet"), "the hello was sent again");
    // The log says when it broke and when it was back, with how long it took (what a chaos run's reader needs).
    assert.match(logs[0]!, /^link to Gcs at .*; retrying$/);
    assert.match(logs.at(-1)!, /^link to Gcs at .*: connected after \d+\.\d s of retrying$/);
  });

  it("an attempt that hears no Hello is given up and dialed again on a new connection, until a daemon answers", async () => {
    // A listener that accepts and never speaks: the link must not sit on its connection.
    const silent: net.Socket[] = [];
    const mute = net.createServer((sock) => { silent.push(sock); });
    await new Promise<void>((r) => mute.listen(0, "127.0.0.1", r));
    cleanup.push(() => new Promise<void>((r) => { for (const sock of silent) sock.destroy(); if (!mute.listening) return r(); mute.close(() => r()); }));
    const port = (mute.address() as net.AddressInfo).port;
    const logs: string[] = [];
    const link = new PeerLink({ target: `127.0.0.1:${port}`, service: "Gcs", token: TOKEN, addrs: ["n2"], log: (l) => logs.push(l), backoff: { initialMs: 20, maxMs: 50 }, helloTimeoutMs: 300 });
    cleanup.push(() => link.close());
    link.sendMsg("n2/raylet", "head/gcs", hb(1));
    await until(() => silent.length >= 3, 10_000, "three connections, one per attempt");
    assert.match(logs[0]!, /no Hello from the daemon within 0\.3 s; retrying$/);
    for (const sock of silent) sock.destroy();
    await new Promise<void>((r) => mute.close(() => r()));
    const s2 = await startServer({ port });
    cleanup.push(() => s2.server.close());
    await until(() => s2.got.length === 1, 10_000, "the queued frame, once a daemon answers");
    assert.ok(link.connected);
  });

  it("a TCP connect nobody answers is dropped after the link's bound, not left to the kernel's two minutes", async () => {
    // A SYN into a dead address, made here: a listener with a backlog of one in a stopped
    // process. Once its accept queue is full, the kernel drops every new SYN.
    const child = spawn(process.execPath, ["-e", "const s = require('net').createServer().listen({ port: 0, host: '0.0.0.0', backlog: 1 }, () => console.log(s.address().port))"], { stdio: ["ignore", "pipe", "inherit"] });
    cleanup.push(async () => { child.kill("SIGKILL"); });
    const port = await new Promise<number>((r) => child.stdout!.once("data", (d) => r(Number(String(d).trim()))));
    process.kill(child.pid!, "SIGSTOP");
    const fillers: net.Socket[] = [];
    cleanup.push(async () => { for (const s of fillers) s.destroy(); });
    for (let full = false; !full && fillers.length < 16;) {
      const s = net.connect(port, "127.0.0.1");
      s.on("error", () => {});
      fillers.push(s);
      full = await new Promise<boolean>((r) => { s.once("connect", () => r(false)); setTimeout(() => r(true), 500); });
    }
    assert.ok(fillers.at(-1)!.connecting, "the accept queue is full: a new SYN goes unanswered");
    // Every socket this process opens to that port from now on.
    const dialed: net.Socket[] = [];
    const watch = (m: unknown): void => {
      const s = (m as { socket: net.Socket }).socket;
      s.once("connectionAttempt", (ip: string, p: number) => { if (p === port && ip === "127.0.0.1") dialed.push(s); });
    };
    diagnostics.subscribe("net.client.socket", watch);
    cleanup.push(async () => { diagnostics.unsubscribe("net.client.socket", watch); });
    const link = new PeerLink({ target: `127.0.0.1:${port}`, service: "Gcs", token: TOKEN, addrs: ["n2"], log: quiet, backoff: { initialMs: 20, maxMs: 50 }, helloTimeoutMs: 300 });
    await until(() => dialed.length >= 2, 10_000, "two attempts");
    // The program's own socket to the same port at another address is not tsray's to drop.
    const own = net.connect(port, "127.0.0.2");
    own.on("error", () => {});
    cleanup.push(async () => { own.destroy(); });
    await link.close();
    await assert.rejects(getStatus(`127.0.0.1:${port}`, TOKEN, 300));
    const stuck = dialed.length;
    await until(() => dialed.every((s) => s.destroyed), 10_000, "every attempt's socket destroyed");
    assert.ok(stuck >= 3, `${stuck} sockets: the link's attempts and the one-shot call's`);
    assert.ok(own.connecting && !own.destroyed, "a socket to an address no link dials is left alone");
  });

  it("frames queued for a peer that moved are taken back in order and reach it at its new address", async () => {
    const gone = await startServer();
    await gone.server.close();
    const old = new PeerLink({ target: gone.target, service: "Gcs", token: TOKEN, addrs: ["n2"], log: quiet, backoff: { initialMs: 20, maxMs: 50 }, maxFrameBytes: 1024 * 1024 });
    cleanup.push(() => old.close());
    for (let i = 1; i <= 20; i++) old.sendMsg("n2/raylet", "head/gcs", hb(i));
    const big = { from: "n2/raylet", to: "head/gcs", type: "StorePut", body: new Uint8Array(3 * 1024 * 1024), payloads: [] };
    old.send(big); // fragments: not handed over (their first parts could have gone out before)
    const dropped = old.stats.dropped;
    const waiting = old.takeQueued();
    assert.equal(waiting.length, 20);
    assert.equal(old.queued, 0);
    assert.ok(old.stats.dropped > dropped, "the fragments count as dropped");
    const moved = await startServer();
    cleanup.push(() => moved.server.close());
    const link = new PeerLink({ target: moved.target, service: "Gcs", token: TOKEN, addrs: ["n2"], log: quiet });
    cleanup.push(() => link.close());
    for (const f of waiting) link.send(f);
    await until(() => moved.got.length === 20, 10_000, "the moved frames");
    assert.deepEqual(moved.got.map((f) => (f.msg as { node: string }).node), Array.from({ length: 20 }, (_, i) => `n${i + 1}`));
  });

  it("a host that throws in onFrame is logged, and the stream goes on", async () => {
    let n = 0;
    const s = await startServer({ onFrame: () => { if (++n === 2) throw new Error("host bug"); } });
    cleanup.push(() => s.server.close());
    const link = new PeerLink({ target: s.target, service: "Gcs", token: TOKEN, addrs: ["n3"], log: quiet });
    cleanup.push(() => link.close());
    for (let i = 0; i < 5; i++) link.sendMsg("n3/raylet", "head/gcs", hb(i));
    await until(() => s.got.length === 5, 5_000, "all five");
    assert.equal(s.logs.filter((l) => /onFrame threw on a Heartbeat frame/.test(l)).length, 1);
    assert.ok(link.connected);
  });

  it("a message larger than a frame travels as fragments, both ways, and arrives whole", async () => {
    const s = await startServer({ echo: true, maxFrameBytes: 1024 * 1024 });
    const back: InboundFrame[] = [];
    const link = new PeerLink({ target: s.target, service: "NodeManager", token: TOKEN, addrs: ["n2"], log: quiet, maxFrameBytes: 1024 * 1024, onFrame: (f) => back.push(f) });
    const data = new Uint8Array(5 * 1024 * 1024 + 123);
    for (let i = 0; i < data.length; i += 4093) data[i] = i & 255;
    const chunk: Msg = { type: "Chunk", id: "big", index: 0, total: 1, size: data.length, payload: { size: data.length, hash: "h", data } };
    link.sendMsg("n2/raylet", "head/raylet", chunk);
    await until(() => back.length === 1, 10_000, "the echoed chunk");
    const got = back[0].msg as Extract<Msg, { type: "Chunk" }>;
    assert.equal(s.got.length, 1, "the server saw one frame, not its fragments");
    assert.deepEqual(Buffer.compare(Buffer.from(got.payload!.data as Uint8Array), Buffer.from(data)), 0);
    await link.close();
    await s.server.close();
  });

  it("a link's queue is bounded: the oldest frames are dropped and counted", async () => {
    const link = new PeerLink({ target: "127.0.0.1:1", service: "Gcs", token: TOKEN, addrs: [], log: quiet, maxQueuedFrames: 10, backoff: { initialMs: 1_000 } });
    for (let i = 0; i < 25; i++) link.sendMsg("a", "b", hb(i));
    assert.equal(link.queued, 10);
    assert.equal(link.stats.dropped, 15);
    // Over maxFrameBytes: sent as fragments (two parts here), which displace the oldest frames.
    link.send({ from: "a", to: "b", type: "Heartbeat", body: new Uint8Array(10 * 1024 * 1024), payloads: [] });
    assert.equal(link.queued, 10);
    assert.equal(link.stats.dropped, 17);
    await link.close();
    link.sendMsg("a", "b", hb(0)); // after close: dropped, never thrown
  });

  describe("bad requests get a gRPC error and the server keeps serving", () => {
    let s: Awaited<ReturnType<typeof startServer>>;
    const expectStatus = async (call: ReturnType<typeof rawConnect>, code: grpc.status, detail: RegExp) => {
      const st = await call.status;
      assert.equal(grpc.status[st.code], grpc.status[code], `status (${st.details})`);
      assert.match(st.details, detail);
      await roundTrip(s.target); // a good client afterwards
    };
    before(async () => {
      s = await startServer({ echo: true, maxFrameBytes: 1024 * 1024 });
      cleanup.push(() => s.server.close());
    });

    it("garbage body → INVALID_ARGUMENT", async () => {
      const c = rawConnect(s.target, tokenMd());
      c.call.write(batchBytes([hello(), { from: "x", to: "y", type: "PushTask", body: new Uint8Array([0xde, 0xad, 0xbe, 0xef]), payloads: [] }]));
      await expectStatus(c, grpc.status.INVALID_ARGUMENT, /malformed PushTask body/);
    });

    it("a body of another type → INVALID_ARGUMENT", async () => {
      const c = rawConnect(s.target, tokenMd());
      c.call.write(batchBytes([hello(), { from: "x", to: "y", type: "KillActor", body: encodeMsg(hb(1)).body, payloads: [] }]));
      await expectStatus(c, grpc.status.INVALID_ARGUMENT, /its type is "Heartbeat"/);
    });

    it("unknown frame type → INVALID_ARGUMENT", async () => {
      const c = rawConnect(s.target, tokenMd());
      c.call.write(batchBytes([hello(), { from: "x", to: "y", type: "DropTables", body: encodeMsg(hb(1)).body, payloads: [] }]));
      await expectStatus(c, grpc.status.INVALID_ARGUMENT, /unknown frame type "DropTables"/);
    });

    it("a malformed Ack, an Ack of frames never sent, a Hello resuming past them → INVALID_ARGUMENT", async () => {
      const c = rawConnect(s.target, tokenMd());
      c.call.write(batchBytes([hello(), { from: "", to: "", type: ACK, body: new Uint8Array([0x08, 0xff]), payloads: [] }]));
      await expectStatus(c, grpc.status.INVALID_ARGUMENT, /malformed Ack/);
      const c2 = rawConnect(s.target, tokenMd());
      c2.call.write(batchBytes([hello(), ackFrame(5)]));
      await expectStatus(c2, grpc.status.INVALID_ARGUMENT, /5 frames acknowledged, but 0 were before and 0 written/);
      // A stream that opened a session, then one resuming it that claims more than was sent.
      const c3 = rawConnect(s.target, tokenMd());
      c3.call.write(batchBytes([helloFrame(["raw/client"], "raw3")]));
      await until(() => c3.received.length > 0, 5_000, "the server's Hello");
      const server = Hello.decode(Batch.decode(c3.received[0]).frames[0].body).instance;
      const c4 = rawConnect(s.target, tokenMd());
      c4.call.write(batchBytes([helloFrame(["raw/client"], "raw3", { peer: server, received: 7 })]));
      await expectStatus(c4, grpc.status.INVALID_ARGUMENT, /7 frames acknowledged/);
      c3.call.cancel();
    });

    it("bytes that are not a Batch → INVALID_ARGUMENT", async () => {
      const c = rawConnect(s.target, tokenMd());
      c.call.write(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2]));
      await expectStatus(c, grpc.status.INVALID_ARGUMENT, /malformed Batch/);
    });

    it("no hello first → INVALID_ARGUMENT; wrong protocol → FAILED_PRECONDITION", async () => {
      const c = rawConnect(s.target, tokenMd());
      c.call.write(batchBytes([msgFrame("x", "y", hb(1))]));
      await expectStatus(c, grpc.status.INVALID_ARGUMENT, /expected a Hello frame first/);
      const c2 = rawConnect(s.target, tokenMd());
      c2.call.write(batchBytes([{ from: "", to: "", type: HELLO, body: Hello.encode({ addrs: [], protocol: PROTOCOL_VERSION + 1, instance: "", peer: "", received: 0 }).finish(), payloads: [] }]));
      await expectStatus(c2, grpc.status.FAILED_PRECONDITION, /protocol version/);
    });

    it("wrong token → UNAUTHENTICATED", async () => {
      const c = rawConnect(s.target, tokenMd("not-the-token"));
      c.call.write(batchBytes([hello()]));
      await expectStatus(c, grpc.status.UNAUTHENTICATED, /wrong cluster token/);
    });

    it("missing token → UNAUTHENTICATED (streams, GetStatus and Health.Watch alike)", async () => {
      const c = rawConnect(s.target, new grpc.Metadata());
      c.call.write(batchBytes([hello()]));
      await expectStatus(c, grpc.status.UNAUTHENTICATED, /missing cluster token/);
      await assert.rejects(getStatus(s.target, ""), (e: grpc.ServiceError) => e.code === grpc.status.UNAUTHENTICATED);
      await assert.rejects(getStatus(s.target, "nope"), (e: grpc.ServiceError) => e.code === grpc.status.UNAUTHENTICATED);
      const { HealthService } = await import("../../src/runtime/daemon/wire/gen/grpc/health/v1/health.ts");
      const hc = new (grpc.makeGenericClientConstructor(HealthService, "grpc.health.v1.Health"))(s.target, grpc.credentials.createInsecure());
      const watch = (hc as unknown as { watch(r: object): grpc.ClientReadableStream<unknown> }).watch({ service: "" });
      const st = await new Promise<grpc.StatusObject>((resolve) => { watch.on("status", resolve); watch.on("error", () => {}); });
      hc.close();
      assert.equal(st.code, grpc.status.UNAUTHENTICATED);
      assert.ok((s.server.rejected.UNAUTHENTICATED ?? 0) >= 4);
    });

    it("a link with the wrong token keeps retrying without throwing, and logs the reason once", async () => {
      const logs: string[] = [];
      const link = new PeerLink({ target: s.target, service: "Gcs", token: "wrong", addrs: [], log: (l) => logs.push(l), backoff: { initialMs: 5, maxMs: 20 } });
      link.sendMsg("a", "b", hb(1));
      await until(() => link.stats.reconnects >= 3, 5_000, "retries");
      await link.close();
      assert.equal(logs.length, 1);
      assert.match(logs[0], /UNAUTHENTICATED: wrong cluster token/);
      await roundTrip(s.target);
    });

    it("oversized frame (> maxFrameBytes) → RESOURCE_EXHAUSTED", async () => {
      const big = { from: "x", to: "y", type: "StorePut", body: new Uint8Array(2 * 1024 * 1024), payloads: [] };
      const c = rawConnect(s.target, tokenMd());
      c.call.write(batchBytes([hello(), big]));
      await expectStatus(c, grpc.status.RESOURCE_EXHAUSTED, /larger than max|exceeds the limit/);
      // Just over the limit, inside what gRPC itself lets through: the frame check catches it.
      const edge = { from: "", to: "", type: "", body: new Uint8Array(1024 * 1024 - 2), payloads: [] };
      assert.equal(frameSize(edge), 1024 * 1024 + 2);
      const c2 = rawConnect(s.target, tokenMd());
      c2.call.write(batchBytes([hello()]));
      c2.call.write(batchBytes([edge]));
      await expectStatus(c2, grpc.status.RESOURCE_EXHAUSTED, /frame of 1048578 bytes exceeds the limit of 1048576/);
    });

    it("every service, and NodeManager.GetStatus, still answer", async () => {
      await roundTrip(s.target, "NodeManager");
      await roundTrip(s.target, "CoreWorker");
      assert.ok((s.server.rejected.INVALID_ARGUMENT ?? 0) >= 5);
      assert.ok(s.logs.some((l) => /ending its stream with INVALID_ARGUMENT/.test(l)));
    });
  });

  it("health Check needs no token and reports SERVING; Watch follows changes; GetStatus returns the host's JSON", async () => {
    const s = await startServer({ services: ["NodeManager"], status: () => ({ nodes: [{ node: "head", alive: true }] }) });
    cleanup.push(() => s.server.close());
    assert.equal(await healthCheck(s.target), ServingStatus.SERVING);
    assert.equal(await healthCheck(s.target, "tsray.v1.NodeManager"), ServingStatus.SERVING);
    await assert.rejects(healthCheck(s.target, "tsray.v1.Gcs"), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);
    assert.deepEqual(await getStatus(s.target, TOKEN), { nodes: [{ node: "head", alive: true }] });

    const { HealthService } = await import("../../src/runtime/daemon/wire/gen/grpc/health/v1/health.ts");
    const hc = new (grpc.makeGenericClientConstructor(HealthService, "grpc.health.v1.Health"))(s.target, grpc.credentials.createInsecure());
    const seen: number[] = [];
    const watch = (hc as unknown as { watch(r: object, md: grpc.Metadata): grpc.ClientReadableStream<{ status: number }> }).watch({ service: "tsray.v1.NodeManager" }, tokenMd());
    watch.on("data", (r) => seen.push(r.status));
    watch.on("error", () => {});
    await until(() => seen.length === 1, 5_000, "watch");
    s.server.setServing("tsray.v1.NodeManager", false);
    await until(() => seen.length === 2, 5_000, "watch change");
    assert.deepEqual(seen, [ServingStatus.SERVING, ServingStatus.NOT_SERVING]);
    assert.equal(await healthCheck(s.target, "tsray.v1.NodeManager"), ServingStatus.NOT_SERVING);
    await s.server.close(); // ends the watch too
    hc.close();
  });

  it("between two processes: 10,000 pipelined frames (frames/s) and a 64 MiB object as 8 MiB Chunk frames (MB/s)", async () => {
    // The child serves NodeManager, echoes PushTask frames and, on a Pull, streams the object back as Chunk frames.
    const child = `
      import { DaemonServer } from ${JSON.stringify(join(ROOT, "src/runtime/daemon/transport.ts"))};
      const CHUNK = 8 * 1024 * 1024, TOTAL = 64 * 1024 * 1024, n = TOTAL / CHUNK;
      const data = new Uint8Array(CHUNK).fill(5);
      const server = new DaemonServer({ token: process.env.T, services: ["NodeManager"], addrs: ["n2/raylet"],
        onFrame: (f, peer) => {
          if (f.msg.type === "PushTask") server.send(peer, { from: f.to, to: f.from, type: f.type, body: f.body, payloads: f.payloads });
          if (f.msg.type !== "Pull") return;
          for (let i = 0; i < n; i++)
            server.sendMsg(peer, "n2/raylet", f.from, { type: "Chunk", id: f.msg.id, index: i, total: n, size: CHUNK, payload: { size: CHUNK, hash: "h", data } });
        } });
      const port = await server.start();
      console.log("PORT " + port);
      process.stdin.on("end", () => server.close().then(() => process.exit(0)));
      process.stdin.resume();
    `;
    const proc = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", child], { cwd: ROOT, env: { ...process.env, T: TOKEN }, stdio: ["pipe", "pipe", "inherit"] });
    cleanup.push(() => { proc.stdin?.end(); });
    const port = await new Promise<number>((resolve, reject) => {
      let out = "";
      proc.stdout!.on("data", (d) => { out += d; const m = /PORT (\d+)/.exec(out); if (m) resolve(Number(m[1])); });
      proc.on("exit", (c) => reject(new Error(`child exited ${c}`)));
    });
    let bytesIn = 0, chunks = 0, echoes = 0;
    const link = new PeerLink({ target: `127.0.0.1:${port}`, service: "NodeManager", token: TOKEN, addrs: ["n1"], log: quiet,
      onFrame: (f) => {
        if (f.msg.type === "PushTask") echoes++;
        if (f.msg.type === "Chunk") { chunks++; bytesIn += (f.msg.payload!.data as Uint8Array).byteLength; }
      } });
    cleanup.push(() => link.close());
    await until(() => link.connected, 10_000, "connect");
    const N = 10_000;
    for (let round = 0; round < 2; round++) { // the first round warms up
      echoes = 0;
      const t0 = performance.now();
      for (let i = 0; i < N; i++) link.sendMsg("n1/driver", "n2/w1-1", pushTask);
      await until(() => echoes === N, 60_000, "echoes");
      if (round === 1) console.log(`# daemon transport, two processes, PushTask frames: ${Math.round(N / ((performance.now() - t0) / 1000))} echoed round trips/s (10,000 pipelined)`);
    }
    const rates: number[] = [];
    for (let round = 0; round < 3; round++) {
      chunks = 0; bytesIn = 0;
      const t0 = performance.now();
      link.sendMsg("n1/raylet", "n2/raylet", { type: "Pull", id: `o${round}` });
      await until(() => chunks === 8, 60_000, "chunks");
      const dt = (performance.now() - t0) / 1000;
      assert.equal(bytesIn, 64 * 1024 * 1024);
      rates.push(64 * 1024 * 1024 / 1e6 / dt);
    }
    rates.sort((x, y) => x - y);
    console.log(`# daemon transport, two processes, 64 MiB as 8 MiB Chunk frames: ${rates.map((r) => r.toFixed(0)).join(", ")} MB/s (median ${rates[1].toFixed(0)} MB/s)`);
    await link.close();
    proc.stdin!.end();
    await new Promise((r) => proc.once("exit", r));
  });

  it("the generated code is what `buf generate` makes from spec/proto now", () => {
    const dir = mkdtempSync(join(tmpdir(), "tsray-proto-"));
    try {
      const template = readFileSync(join(ROOT, "buf.gen.yaml"), "utf8").replace(/out: src\/runtime\/daemon\/wire\/gen/, `out: ${join(dir, "gen")}`);
      assert.ok(template.includes(dir), "buf.gen.yaml has the expected out: line");
      writeFileSync(join(dir, "buf.gen.yaml"), template);
      execFileSync(join(ROOT, "node_modules/.bin/buf"), ["generate", "--template", join(dir, "buf.gen.yaml")], { cwd: ROOT, stdio: "pipe" });
      const list = (root: string): string[] => {
        const out: string[] = [];
        const walk = (d: string) => { for (const e of readdirSync(d)) { const p = join(d, e); if (statSync(p).isDirectory()) walk(p); else out.push(relative(root, p)); } };
        walk(root);
        return out.sort();
      };
      const committed = join(ROOT, "src/runtime/daemon/wire/gen");
      const fresh = join(dir, "gen");
      assert.deepEqual(list(committed), list(fresh), "the same generated files (run `npm run proto`)");
      for (const f of list(fresh)) assert.equal(readFileSync(join(committed, f), "utf8"), readFileSync(join(fresh, f), "utf8"), `${f} is stale: run \`npm run proto\``);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
