// Session-level reliability of the Connect streams (src/runtime/daemon/stream-session.ts): a
// TCP proxy sits between a PeerLink and a DaemonServer and resets the connection while frames
// are in flight; both sides must still get every message exactly once, in order. A server
// replaced by a new process gets nothing of what was unacknowledged to the old one.

import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { Msg } from "../../src/core/messages.ts";
import { DaemonServer, PeerLink, generateToken, type InboundFrame, type Peer } from "../../src/runtime/daemon/transport.ts";
import { startProxy } from "../helpers/reset-proxy.ts";
import { until } from "../helpers/until.ts";

const TOKEN = generateToken();
const quiet = (): void => {};
const MiB = 1024 * 1024;

const hb = (i: number): Msg => ({ type: "Heartbeat", node: `n${i}`, available: {} as never });
/** A message's number (Heartbeat) or "chunk". */
const label = (f: InboundFrame): string => (f.msg.type === "Heartbeat" ? f.msg.node : f.msg.type);
const labels = (from: number, to: number): string[] => Array.from({ length: to - from }, (_, i) => `n${from + i}`);

/** A server that keeps the newest Peer that said hello (a stream that ended still takes frames, for the next). */
async function startServer(port = 0, maxFrameBytes?: number) {
  const got: InboundFrame[] = [];
  let peer: Peer | undefined;
  const server = new DaemonServer({
    token: TOKEN, port, services: ["NodeManager"], addrs: ["head"], maxFrameBytes, log: quiet,
    onFrame: (f) => got.push(f), onPeer: (p) => { peer = p; },
  });
  const send = (m: Msg) => server.sendMsg(peer!, "head/raylet", "n1/raylet", m);
  return { server, got, send, port: await server.start() };
}

describe("stream sessions", () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  after(async () => { for (const c of cleanup.reverse()) await c(); });

  it("connection resets while both sides stream: every message arrives once, in order, both ways", async () => {
    const s = await startServer();
    const proxy = await startProxy(s.port);
    cleanup.push(() => s.server.close(), () => proxy.close());
    const back: InboundFrame[] = [];
    const link = new PeerLink({ target: proxy.target, service: "NodeManager", token: TOKEN, addrs: ["n1"], log: quiet, backoff: { initialMs: 20, maxMs: 100 }, onFrame: (f) => back.push(f) });
    cleanup.push(() => link.close());
    await until(() => link.connected, 5_000, "connect");
    const N = 30_000;
    for (let i = 0; i < N;) {
      for (const end = i + 300; i < end; i++) {
        link.sendMsg("n1/raylet", "head/raylet", hb(i));
        s.send(hb(i)); // to the Peer of a stream that may have ended: its session takes it
      }
      if (i % 7_500 === 0 && i < N) proxy.cutAfter(64 * 1024); // mid-stream, three times
      await new Promise((r) => setTimeout(r, 1));
    }
    await until(() => s.got.length >= N && back.length >= N, 20_000, `all frames (server ${s.got.length}, link ${back.length} of ${N})`);
    await new Promise((r) => setTimeout(r, 100)); // no duplicates trailing
    assert.deepEqual(s.got.map(label), labels(0, N));
    assert.deepEqual(back.map(label), labels(0, N));
    assert.ok(link.stats.reconnects >= 3, `reconnected ${link.stats.reconnects} times`);
    assert.ok(link.stats.resent + s.server.stats.resent > 0, "the resets caught frames in flight");
    assert.equal(link.stats.dropped + s.server.stats.dropped, 0);
  });

  it("a fragmented message cut by a reset arrives whole, between the messages around it", async () => {
    const s = await startServer(0, MiB);
    const proxy = await startProxy(s.port);
    cleanup.push(() => s.server.close(), () => proxy.close());
    const back: InboundFrame[] = [];
    const link = new PeerLink({ target: proxy.target, service: "NodeManager", token: TOKEN, addrs: ["n1"], log: quiet, maxFrameBytes: MiB, backoff: { initialMs: 20, maxMs: 100 }, onFrame: (f) => back.push(f) });
    cleanup.push(() => link.close());
    await until(() => link.connected, 5_000, "connect");
    const data = new Uint8Array(5 * MiB + 123);
    for (let i = 0; i < data.length; i += 4093) data[i] = i & 255;
    const chunk: Msg = { type: "Chunk", id: "big", index: 0, total: 1, size: data.length, payload: { size: data.length, hash: "h", data } };
    const expected = [...labels(0, 100), "Chunk", ...labels(100, 200)];
    const check = (got: InboundFrame[]) => {
      assert.deepEqual(got.map(label), expected);
      const c = got[100].msg as Extract<Msg, { type: "Chunk" }>;
      assert.equal(Buffer.compare(Buffer.from(c.payload!.data as Uint8Array), Buffer.from(data)), 0);
    };
    // Link to server: reset when half the chunk has gone through.
    for (let i = 0; i < 100; i++) link.sendMsg("n1/raylet", "head/raylet", hb(i));
    proxy.cutAfter(2.5 * MiB);
    link.sendMsg("n1/raylet", "head/raylet", chunk);
    for (let i = 100; i < 200; i++) link.sendMsg("n1/raylet", "head/raylet", hb(i));
    await until(() => s.got.length >= 201, 20_000, "the link's messages");
    const reconnects = link.stats.reconnects;
    assert.ok(reconnects >= 1);
    check(s.got);
    // Server to link, the same.
    await until(() => link.connected, 5_000, "reconnect");
    for (let i = 0; i < 100; i++) s.send(hb(i));
    proxy.cutAfter(2.5 * MiB);
    s.send(chunk);
    for (let i = 100; i < 200; i++) s.send(hb(i));
    await until(() => back.length >= 201, 20_000, "the server's messages");
    assert.ok(link.stats.reconnects > reconnects);
    await new Promise((r) => setTimeout(r, 100));
    check(back);
    assert.ok(link.stats.resent > 0 && s.server.stats.resent > 0, `resent: link ${link.stats.resent}, server ${s.server.stats.resent}`);
  });

  it("a server replaced by a new process is not sent what the old one did not acknowledge", async () => {
    const s1 = await startServer();
    const proxy = await startProxy(s1.port);
    cleanup.push(() => proxy.close());
    const link = new PeerLink({ target: proxy.target, service: "NodeManager", token: TOKEN, addrs: ["n1"], log: quiet, backoff: { initialMs: 20, maxMs: 100 } });
    cleanup.push(() => link.close());
    link.sendMsg("n1/raylet", "head/raylet", hb(0));
    await until(() => s1.got.length === 1, 5_000, "the first message");
    await new Promise((r) => setTimeout(r, 100)); // and its Ack
    // Written to the stream, never read by s1: they wait in the proxy's sockets when it dies.
    proxy.hold();
    for (let i = 1; i <= 100; i++) link.sendMsg("n1/raylet", "head/raylet", hb(i));
    await until(() => link.queued === 0, 5_000, "written");
    await s1.server.close(0);
    proxy.cut();
    const s2 = await startServer(s1.port);
    cleanup.push(() => s2.server.close());
    await until(() => link.connected && link.remote?.instance === s2.server.instance, 10_000, "the new server");
    link.sendMsg("n1/raylet", "head/raylet", hb(101));
    await until(() => s2.got.length >= 1, 5_000, "the new message");
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(s2.got.map(label), ["n101"]);
    assert.equal(link.stats.resent, 0);
    assert.equal(link.stats.dropped, 100, "the unacknowledged frames are dropped and counted");
  });
});
