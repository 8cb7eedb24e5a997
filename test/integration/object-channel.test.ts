// The raylet daemons' object channel (plain TCP beside gRPC): chunks go from an arena slot to a
// slot staged in the puller's arena, in order; a wrong token, garbage and an oversized hello are
// answered with a clear error while the holder keeps serving; a holder that sends an oversized
// record header, or dies in the middle of a record, costs the puller that record and nothing
// else (its staged slot is given back). A driver's store requests go to its node's raylet on the
// channel and are answered there; a record of another type, from another address or for
// another node is refused with a clear error, and the listening side goes on. A connection
// gone silent without a reset is noticed by keepalive; one whose keepalives are answered is kept.
import assert from "node:assert/strict";
import path from "node:path";
import os from "node:os";
import fs from "node:fs";
import net from "node:net";
import { after, describe, it } from "node:test";
import type { Msg } from "../../src/core/messages.ts";
import { Arena } from "../../src/runtime/embedded/arena.ts";
import { KEEPALIVE_MS, KEEPALIVE_TIMEOUT_MS, MAX_HEADER_BYTES, OBJECT_CHANNEL_VERSION, ObjectChannelServer, ObjectLink, STORE_ANSWERS, STORE_REQUESTS, formatEndpoint, parseEndpoint } from "../../src/runtime/daemon/object-channel.ts";
import { encodeFrame, encodeMsg } from "../../src/runtime/daemon/wire/frame.ts";
import { generateToken } from "../../src/runtime/daemon/transport.ts";

const TOKEN = generateToken();
const MiB = 1024 * 1024;

interface Got { from: string; to: string; msg: Msg }

function puller(port: number, arena: Arena, token = TOKEN) {
  const got: Got[] = [];
  const logs: string[] = [];
  const link = new ObjectLink({
    target: `127.0.0.1:${port}`, token, node: "n2", log: (l) => logs.push(l),
    alloc: (size) => arena.stage(size) ?? Buffer.allocUnsafe(size),
    release: (b) => arena.unstage(b),
    onMsg: (from, to, msg) => got.push({ from, to, msg }),
  });
  const ready = () => new Promise<void>((r) => link.whenReady(r));
  return { link, got, logs, ready };
}

async function until(what: string, ok: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Writes `bytes` to the holder's port raw and returns the status records it answered before closing, one per line. */
function raw(port: number, bytes: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: "127.0.0.1" }, () => s.write(bytes));
    const parts: Buffer[] = [];
    s.on("data", (b) => parts.push(b));
    s.on("error", reject);
    s.on("close", () => {
      const all = Buffer.concat(parts);
      const out: string[] = [];
      for (let at = 0; at + 3 <= all.length; at += 3 + all.readUInt16LE(at + 1)) {
        out.push(`${all[at] === 0 ? "ok" : "error"}: ${all.subarray(at + 3, at + 3 + all.readUInt16LE(at + 1)).toString()}`);
      }
      resolve(out.length > 0 ? out.join("\n") : "(nothing)");
    });
  });
}

function hello(token: string, node: string, tokenLen = Buffer.byteLength(token)): Buffer {
  const h = Buffer.alloc(13);
  h.write("TSRAYOBJ");
  h[8] = OBJECT_CHANNEL_VERSION;
  h.writeUInt16LE(tokenLen, 9);
  h.writeUInt16LE(Buffer.byteLength(node), 11);
  return Buffer.concat([h, Buffer.from(token), Buffer.from(node)]);
}

/** A fake holder that answers ok and then writes `then(socket)`. */
async function fakeHolder(then: (s: net.Socket) => void): Promise<{ port: number; close: () => void }> {
  const server = net.createServer((s) => {
    s.once("data", () => { s.write(Buffer.from([0, 2, 0, 0x6f, 0x6b])); then(s); });
    s.on("error", () => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}

describe("object channel", () => {
  const cleanup: (() => unknown)[] = [];
  after(async () => { for (const c of cleanup.reverse()) await c(); });

  async function holder(): Promise<{ server: ObjectChannelServer; port: number; logs: string[] }> {
    const logs: string[] = [];
    const server = new ObjectChannelServer({ token: TOKEN, log: (l) => logs.push(l) });
    const port = await server.start();
    cleanup.push(() => server.close());
    return { server, port, logs };
  }

  it("endpoints carry the object port beside the gRPC address", () => {
    assert.equal(formatEndpoint("10.0.0.1:7000", 7001), "10.0.0.1:7000;objects=7001");
    assert.deepEqual(parseEndpoint("10.0.0.1:7000;objects=7001"), { grpc: "10.0.0.1:7000", objects: "10.0.0.1:7001" });
    assert.deepEqual(parseEndpoint("10.0.0.1:7000"), { grpc: "10.0.0.1:7000" });
    assert.deepEqual(parseEndpoint("[::1]:7000;objects=x"), { grpc: "[::1]:7000" });
    assert.equal(formatEndpoint("10.0.0.1:7000", 7001, "/tmp/r.sock"), "10.0.0.1:7000;objects=7001;local=/tmp/r.sock");
    assert.deepEqual(parseEndpoint("10.0.0.1:7000;objects=7001;local=/tmp/r.sock"), { grpc: "10.0.0.1:7000", objects: "10.0.0.1:7001", local: "/tmp/r.sock" });
  });

  it("chunks go in order from an arena slot straight into a staged slot of the puller's arena", async () => {
    const { server, port } = await holder();
    const src = new Arena(16 * MiB);
    const dst = new Arena(16 * MiB);
    const p = puller(port, dst);
    cleanup.push(() => p.link.close());
    await p.ready();
    const slot = src.copyIn(new Uint8Array(5 * MiB).map((_, i) => i % 251))!;
    const last: Msg = { type: "Chunk", id: "o1", index: 2, total: 3, size: MiB, payload: { size: slot.byteLength, hash: "h", data: slot } };
    for (let i = 0; i < 2; i++) assert.ok(server.send("n2", "n1/raylet", "n2/raylet", { type: "Chunk", id: "o1", index: i, total: 3, size: 2 * MiB }));
    assert.ok(server.send("n2", "n1/raylet", "n2/raylet", last));
    assert.equal(server.send("n3", "n1/raylet", "n3/raylet", last), false, "no connection from n3: the caller uses gRPC");
    await until("three chunks", () => p.got.length === 3);
    assert.deepEqual(p.got.map((g) => (g.msg as { index: number }).index), [0, 1, 2]);
    assert.equal(p.got[2].from, "n1/raylet");
    const data = (p.got[2].msg as { payload: { data: Uint8Array } }).payload.data;
    assert.equal(data.buffer, dst.sab, "read straight into the puller's arena");
    assert.ok(dst.adopt(data), "a staged slot, for the store to adopt");
    assert.deepEqual(Buffer.from(data), Buffer.from(slot));
    assert.equal(p.link.stats.bytes, 5 * MiB);
  });

  it("a wrong token, garbage and an oversized hello get a clear error; the holder goes on serving", async () => {
    const { server, port, logs } = await holder();
    assert.equal(await raw(port, Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n")), "error: not a tsray object channel hello (bad magic)");
    assert.equal(await raw(port, hello("nope", "n9")), "error: wrong cluster token");
    assert.match(await raw(port, hello("", "n9", 60_000)), /^error: oversized hello/);
    assert.equal(server.stats.rejected, 3);
    assert.equal(logs.length, 3);
    // A puller with the wrong token is told so, and its Pull goes anyway (on gRPC).
    const bad = puller(port, new Arena(MiB), "wrong");
    await bad.ready();
    assert.ok(bad.logs.some((l) => /rejected: wrong cluster token/.test(l)), bad.logs.join("\n"));
    bad.link.close();
    const good = puller(port, new Arena(MiB));
    cleanup.push(() => good.link.close());
    await good.ready();
    assert.ok(server.send("n2", "n1/raylet", "n2/raylet", { type: "Chunk", id: "o", index: 0, total: 1, size: 0, payload: { size: 3, hash: "h", data: new Uint8Array([1, 2, 3]) } }));
    await until("the chunk", () => good.got.length === 1);
  });

  it("a holder that sends an oversized record header loses the connection, not the puller", async () => {
    const fake = await fakeHolder((s) => { const b = Buffer.alloc(8); b.writeUInt32LE(MAX_HEADER_BYTES + 1, 0); s.write(b); });
    cleanup.push(fake.close);
    const p = puller(fake.port, new Arena(MiB));
    await p.ready();
    await until("the error", () => p.logs.some((l) => l.includes(`record header of ${MAX_HEADER_BYTES + 1} bytes exceeds the limit`)));
    p.link.close();
  });

  /** A raylet's side that takes store requests for n1/raylet and records them. */
  async function storeSide(localPath?: string) {
    const logs: string[] = [];
    const requests: Got[] = [];
    const server = new ObjectChannelServer({
      token: TOKEN, log: (l) => logs.push(l), accepts: STORE_REQUESTS, localPath,
      onMsg: (from, to, msg) => { if (to !== "n1/raylet") return false; requests.push({ from, to, msg }); return true; },
    });
    const port = await server.start();
    cleanup.push(() => server.close());
    return { server, port, logs, requests };
  }

  function driverLink(port: number | string) {
    const got: Got[] = [];
    const link = new ObjectLink({
      target: typeof port === "string" ? port : `127.0.0.1:${port}`, token: TOKEN, node: "n1/driver", accepts: STORE_ANSWERS, log: () => {},
      alloc: (size) => Buffer.allocUnsafe(size), release: () => {}, onMsg: (from, to, msg) => got.push({ from, to, msg }),
    });
    cleanup.push(() => link.close());
    return { link, got, ready: () => new Promise<void>((r) => link.whenReady(r)) };
  }

  it("a driver's store requests go to its raylet on the channel, and the answers come back on it", async () => {
    const side = await storeSide();
    const d = driverLink(side.port);
    assert.equal(d.link.send("n1/driver", "n1/raylet", { type: "StoreGet", reqId: 1, ids: [] }), false, "not open yet: the caller uses gRPC");
    await d.ready();
    const payload = { size: 3, hash: "h", data: new Uint8Array([7, 8, 9]) };
    assert.ok(d.link.send("n1/driver", "n1/raylet", { type: "StorePut", reqId: 2, id: "n1/driver#1", payload, owner: "n1/driver" }));
    await until("the put", () => side.requests.length === 1);
    const put = side.requests[0].msg as { type: string; payload: { data: Uint8Array } };
    assert.equal(put.type, "StorePut");
    assert.deepEqual([...put.payload.data], [7, 8, 9]);
    assert.ok(side.server.send("n1/driver", "n1/raylet", "n1/driver", { type: "StoreGetReply", reqId: 3, values: [payload] }));
    await until("the answer", () => d.got.length === 1);
    assert.deepEqual([...(d.got[0].msg as unknown as { values: { data: Uint8Array }[] }).values[0].data], [7, 8, 9]);
  });

  it("a driver on the raylet's machine reaches it on its Unix socket too, with the same token and protocol", async () => {
    const sock = path.join(os.tmpdir(), `tsray-test-${process.pid}-${Date.now()}.sock`);
    const side = await storeSide(sock);
    assert.ok(fs.existsSync(sock), "the socket file exists while the server listens");
    const d = driverLink(sock);
    await d.ready();
    assert.ok(d.link.send("n1/driver", "n1/raylet", { type: "StoreGet", reqId: 1, ids: [] }));
    await until("the request", () => side.requests.length === 1);
    assert.ok(side.server.send("n1/driver", "n1/raylet", "n1/driver", { type: "StoreGetReply", reqId: 1, values: [] }));
    await until("the answer", () => d.got.length === 1);
    // A stranger on the socket is turned away as on TCP.
    const wrong = new ObjectLink({
      target: sock, token: "not the token", node: "n1/driver", accepts: STORE_ANSWERS, log: () => {},
      alloc: (size) => Buffer.allocUnsafe(size), release: () => {}, onMsg: () => {},
    });
    cleanup.push(() => wrong.close());
    wrong.whenReady(() => {}); // connects on demand
    await until("the refusal", () => side.logs.some((l) => l.includes("wrong cluster token")));
    d.link.close();
    wrong.close();
    await side.server.close();
    assert.ok(!fs.existsSync(sock), "closing removes the socket file");
  });

  it("the listening side refuses a record of another type, from another address or for another node, and goes on", async () => {
    const side = await storeSide();
    const send = (from: string, to: string, msg: Msg) => {
      const m = encodeMsg(msg);
      const header = encodeFrame({ from, to, type: m.type, body: m.body, payloads: [] });
      const pre = Buffer.alloc(8);
      pre.writeUInt32LE(header.length, 0);
      return raw(side.port, Buffer.concat([hello(TOKEN, "n1/driver"), pre, header]));
    };
    const get: Msg = { type: "StoreGet", reqId: 1, ids: [] };
    assert.match(await send("n1/driver", "n1/raylet", { type: "FreeObjects", ids: ["x"] }), /error: a FreeObjects message on the object channel \(this side takes StoreGet, StorePeek, StorePut\)/);
    assert.match(await send("n1/w1-1", "n1/raylet", get), /error: a message from n1\/w1-1 on n1\/driver's connection/);
    assert.match(await send("n1/driver", "n2/raylet", get), /error: a StoreGet for n2\/raylet, which is not served here/);
    const huge = Buffer.alloc(8);
    huge.writeUInt32LE(MAX_HEADER_BYTES + 1, 0);
    assert.match(await raw(side.port, Buffer.concat([hello(TOKEN, "n1/driver"), huge])), /record header of \d+ bytes exceeds the limit/);
    assert.equal(side.requests.length, 0);
    assert.equal(side.server.stats.rejected, 4);
    const d = driverLink(side.port);
    await d.ready();
    assert.ok(d.link.send("n1/driver", "n1/raylet", get));
    await until("a good request after the bad ones", () => side.requests.length === 1);
  });

  it("a connection reset once made is reported (onBroken), even before its answer, and so is a hello never answered; a refused hello, a refused connect and close() are not", async () => {
    let reports = 0;
    const link = (port: number, token = TOKEN, helloTimeoutMs?: number) => new ObjectLink({
      target: `127.0.0.1:${port}`, token, node: "n2", log: () => {}, onBroken: () => reports++, helloTimeoutMs,
      alloc: (size) => Buffer.allocUnsafe(size), release: () => {}, onMsg: () => {},
    });
    const ready = (l: ObjectLink) => new Promise<void>((r) => l.whenReady(r));
    const { port } = await holder();
    await ready(link(port, "wrong")); // refused: its Pulls go on gRPC, and nothing was routed to it
    const free = net.createServer();
    await new Promise<void>((r) => free.listen(0, "127.0.0.1", r));
    const closedPort = (free.address() as net.AddressInfo).port;
    await new Promise((r) => free.close(r));
    await ready(link(closedPort)); // nothing listens
    const open = link(port);
    await ready(open);
    open.close();
    assert.equal(reports, 0);
    // A holder reads the hello (and may route records to the connection), then it is reset.
    const resetting = await fakeHolder((s) => s.resetAndDestroy());
    cleanup.push(resetting.close);
    const r = link(resetting.port);
    await ready(r);
    await until("the report", () => reports === 1);
    assert.equal(r.stats.broken, 1);
    const unanswered = net.createServer((s) => s.once("data", () => s.resetAndDestroy()));
    await new Promise<void>((res) => unanswered.listen(0, "127.0.0.1", res));
    cleanup.push(() => unanswered.close());
    await ready(link((unanswered.address() as net.AddressInfo).port));
    await until("the second report", () => reports === 2);
    // A holder that takes the hello and never answers may have routed records to the connection
    // (and may answer just as the puller gives up): reported, and the connection closed.
    let closed = false;
    const mute = net.createServer((s) => { s.on("data", () => {}); s.on("close", () => { closed = true; }); });
    await new Promise<void>((res) => mute.listen(0, "127.0.0.1", res));
    cleanup.push(() => mute.close());
    await ready(link((mute.address() as net.AddressInfo).port, TOKEN, 200));
    await until("the third report", () => reports === 3);
    await until("the unanswered connection closed", () => closed);
  });

  it("a holder answers keepalives, a server that takes no messages too", async () => {
    const { port } = await holder();
    const s = net.connect({ port, host: "127.0.0.1" });
    cleanup.push(() => s.destroy());
    let got = Buffer.alloc(0);
    s.on("data", (b) => { got = Buffer.concat([got, b]); });
    s.write(Buffer.concat([hello(TOKEN, "n2"), Buffer.alloc(8), Buffer.alloc(8)]));
    await until("the status and two keepalives back", () => got.length >= 5 + 16);
    assert.equal(got.subarray(0, 5).toString("latin1"), "\x00\x02\x00ok");
    assert.deepEqual([...got.subarray(5)], new Array(16).fill(0));
    assert.equal(s.destroyed, false, "the connection stays open");
  });

  it("a connection gone silent without a reset is noticed by keepalive and reported; one whose keepalives are answered stays open", async () => {
    let reports = 0;
    const link = (port: number) => new ObjectLink({
      target: `127.0.0.1:${port}`, token: TOKEN, node: "n2", log: () => {}, onBroken: () => reports++,
      alloc: (size) => Buffer.allocUnsafe(size), release: () => {}, onMsg: () => {},
    });
    const ready = (l: ObjectLink) => new Promise<void>((r) => l.whenReady(r));
    // One holder answers the hello, then takes in everything and answers nothing (a NAT dropping
    // all that follows); the other answers each keepalive.
    let unanswered = 0;
    const silent = await fakeHolder((s) => s.on("data", (b) => { unanswered += b.length / 8; }));
    cleanup.push(silent.close);
    let answered = 0;
    const live = await fakeHolder((s) => s.on("data", (b) => { answered += b.length / 8; s.write(Buffer.alloc(b.length)); }));
    cleanup.push(live.close);
    const quiet = link(silent.port);
    const kept = link(live.port);
    cleanup.push(() => quiet.close(), () => kept.close());
    await Promise.all([ready(quiet), ready(kept)]);
    const bound = 3 * (KEEPALIVE_MS + KEEPALIVE_TIMEOUT_MS);
    await until("the silent connection reported broken", () => reports === 1, bound);
    assert.equal(quiet.stats.broken, 1);
    assert.equal(unanswered, 1, "one keepalive, unanswered");
    // Three keepalives answered take longer than an unanswered one takes to end a connection.
    await until("three keepalives answered", () => answered >= 3, bound);
    assert.equal(kept.stats.broken, 0);
    assert.ok(kept.open);
    assert.equal(reports, 1);
  });

  it("a holder dying in the middle of a record: the record is lost and its staged slot given back", async () => {
    const m = encodeMsg({ type: "Chunk", id: "o", index: 0, total: 1, size: MiB, payload: { size: MiB, hash: "h", data: new Uint8Array(0) } });
    const header = encodeFrame({ from: "n1/raylet", to: "n2/raylet", type: m.type, body: m.body, payloads: [] });
    const fake = await fakeHolder((s) => {
      const pre = Buffer.alloc(16);
      pre.writeUInt32LE(header.length, 0);
      pre.writeUInt32LE(1, 4);
      pre.writeDoubleLE(MiB, 8);
      s.write(Buffer.concat([pre, header, Buffer.alloc(MiB / 2)]), () => setTimeout(() => s.destroy(), 20));
    });
    cleanup.push(fake.close);
    const arena = new Arena(4 * MiB);
    const p = puller(fake.port, arena);
    await p.ready();
    await until("the loss", () => p.link.stats.lost === 1);
    assert.equal(p.got.length, 0);
    assert.equal(arena.stats().usedBytes, 0, "the staged slot is free again");
    assert.ok(p.logs.some((l) => /in the middle of a record; it is lost/.test(l)), p.logs.join("\n"));
    p.link.close();
  });
});
