// Connection limits on every listener (limits.ts): a socket that does not authenticate in time
// is really closed (the server destroys it; nothing waits on the client), the oldest
// unauthenticated socket makes room past the bound, an authenticated one is off the clock, and
// refusals are logged at a bounded rate.

import assert from "node:assert/strict";
import net from "node:net";
import { after, describe, it } from "node:test";
import { DaemonServer, PeerLink } from "../../src/runtime/daemon/transport.ts";
import { OBJECT_CHANNEL_VERSION, ObjectChannelServer } from "../../src/runtime/daemon/object-channel.ts";
import http from "node:http";
import { guardServer, listen } from "../../src/runtime/head/http.ts";
import { RateLimitedLog } from "../../src/runtime/daemon/limits.ts";

const token = "limits-token";
const cleanup: (() => Promise<unknown>)[] = [];
after(async () => { for (const c of cleanup.reverse()) await c(); });

/** An idle client socket, and a promise that resolves when the other side closes it. */
async function idle(port: number): Promise<{ socket: net.Socket; closed: Promise<void> }> {
  const socket = net.connect({ host: "127.0.0.1", port });
  socket.on("error", () => {});
  socket.resume(); // read, so that a FIN is seen
  await new Promise<void>((r) => socket.once("connect", () => r()));
  return { socket, closed: new Promise((r) => socket.once("close", () => r())) };
}

async function listeners(limits: { maxUnauthenticated: number; handshakeMs: number }) {
  const logs: string[] = [];
  const log = (l: string) => logs.push(l);
  const grpc = new DaemonServer({ token, services: ["Gcs"], onFrame: () => {}, log, limits });
  const grpcPort = await grpc.start();
  const objects = new ObjectChannelServer({ token, log, limits });
  const objectsPort = await objects.start();
  // The HTTP listeners (dashboard, agent, metrics) share guardServer; the dashboard's own wiring
  // is exercised end to end by flood.test.ts.
  const server = http.createServer((req, res) => {
    if (req.headers.authorization === `Bearer ${token}`) guard.authenticated(req.socket);
    res.end("ok");
  });
  const guard = guardServer(server, "dashboard", limits, log);
  const dash = await listen(server, "127.0.0.1", 0);
  cleanup.push(() => grpc.close(), () => objects.close(), () => dash.close());
  return { logs, grpc, objects, ports: { grpc: grpcPort, objects: objectsPort, dashboard: dash.port } };
}

describe("connection limits", () => {
  it("closes a socket that never authenticates, on every listener (the server destroys it)", async () => {
    const l = await listeners({ maxUnauthenticated: 100, handshakeMs: 300 });
    for (const port of Object.values(l.ports)) {
      const c = await idle(port);
      await c.closed; // resolves only because the server closed it
      assert.ok(c.socket.destroyed);
    }
    assert.equal(l.grpc.guard.stats.timedOut, 1);
    assert.equal(l.objects.guard.stats.timedOut, 1);
  });

  it("past the bound, the oldest unauthenticated socket is closed to make room", async () => {
    const l = await listeners({ maxUnauthenticated: 3, handshakeMs: 60_000 });
    for (const [name, port] of Object.entries(l.ports)) {
      const socks = [];
      for (let i = 0; i < 5; i++) socks.push(await idle(port));
      await Promise.all([socks[0].closed, socks[1].closed]);
      // The three newest are still open.
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(socks.map((s) => s.socket.destroyed), [true, true, false, false, false], name);
      for (const s of socks) s.socket.destroy();
    }
    assert.equal(l.grpc.guard.stats.evicted, 2);
    assert.equal(l.objects.guard.stats.evicted, 2);
  });

  it("an authenticated gRPC connection is off the clock and not counted", async () => {
    const l = await listeners({ maxUnauthenticated: 3, handshakeMs: 60_000 });
    const link = new PeerLink({ target: `127.0.0.1:${l.ports.grpc}`, service: "Gcs", token, addrs: ["n1/raylet"], log: () => {} });
    cleanup.push(() => link.close());
    while (!link.connected) await new Promise((r) => setTimeout(r, 20));
    assert.equal(l.grpc.guard.stats.authenticated, 1);
    assert.equal(l.grpc.guard.unauthenticated, 0);
  });

  it("a wrong token is refused, and a flood of refusals writes a few lines, not one each", async () => {
    const l = await listeners({ maxUnauthenticated: 1000, handshakeMs: 60_000 });
    const hello = Buffer.concat([Buffer.from("TSRAYOBJ"), Buffer.from([OBJECT_CHANNEL_VERSION, 5, 0, 2, 0]), Buffer.from("wrongn1")]);
    const closes = [];
    for (let i = 0; i < 50; i++) {
      const c = await idle(l.ports.objects);
      c.socket.write(hello);
      closes.push(c.closed);
    }
    await Promise.all(closes);
    assert.equal(l.objects.stats.rejected, 50);
    const lines = l.logs.filter((x) => /wrong cluster token/.test(x));
    assert.ok(lines.length >= 1 && lines.length <= 5, lines.join("\n"));
  });
});

describe("RateLimitedLog", () => {
  it("logs a burst per key and window, then says how many it held back", () => {
    let now = 0;
    const out: string[] = [];
    const log = new RateLimitedLog((l) => out.push(l), 2, 1_000, () => now);
    for (let i = 0; i < 10; i++) log.line("a", `a${i}`);
    log.line("b", "b0");
    assert.deepEqual(out, ["a0", "a1", "b0"]);
    now = 1_000;
    log.line("a", "a10");
    assert.deepEqual(out.at(-1), "a10 (and 8 more like it before, not logged)");
  });
});
