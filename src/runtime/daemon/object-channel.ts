// The object channel: raylet daemons send each other object `Chunk`s over plain TCP (node:net)
// instead of their gRPC streams. grpc-js moves large messages at ~0.6 GB/s at best on this
// machine (16 KiB HTTP/2 DATA frames, a copy into its framing, reassembly on receipt), and a big
// object on the gRPC stream was also copied into a frame, cut into fragments and joined again.
// Here a chunk's bytes are written from the holder's arena slot as they are, and the kernel
// reads them straight into a slot staged in the puller's arena (a socket's `onread` buffer),
// which the store then adopts: no copy in user space at all.
//
// A driver also connects to its own node's channel, and its store requests (StoreGet,
// StorePeek, StorePut) and their answers travel there as records both ways: a small get is then
// one round trip over plain TCP rather than through grpc-js, whose per-message cost is most of
// a small get's time (as Ray's plasma requests go over their own socket, not gRPC).
//
// The puller connects (only a connecting socket can choose where its reads go): before a
// raylet's `Pull` leaves for another node, its daemon opens (or reuses) a connection to that
// node's object port, says hello with the cluster token, and waits for the answer; the holder
// registers the connection under the puller's node before answering, so the Chunks that answer
// the Pull find it. A holder with no connection from the puller (old peer, refused, broken)
// sends them on gRPC as before. Records written to a connection that breaks are lost: the
// connecting side hears of it (onBroken) and its host has them asked for again (a puller's raylet
// pulls again, a driver resends its unanswered store requests); a holder that died is also
// reported by NodeDead.
//
// Wire (integers little-endian):
//   hello   puller → holder: "TSRAYOBJ" | u8 version | u16 token length | u16 node length | token | node
//   status  holder → puller: u8 0 (ok) or 1 (error) | u16 length | utf-8 text; after an error it closes
//   record  either way: u32 header length | u32 payload count | f64 size per payload |
//           header (a protobuf Frame: from, to, type, body; no payloads) | each payload's bytes
//   keepalive  either way: a record of no header and no payloads (8 zero bytes). The connecting
//           side sends one when it has heard nothing for KEEPALIVE_MS, the listening side answers
//           each with one, and a connecting side that then hears nothing for KEEPALIVE_TIMEOUT_MS
//           more ends the connection as broken: a connection gone silent without a reset (a NAT
//           that forgot it) is noticed as the gRPC streams' keepalive notices theirs.
// Which message types may come in is each side's list: Chunks and store answers to a
// connecting side, store requests to the listening side, and only if it takes them.

import fs from "node:fs";
import net from "node:net";
import type { Msg } from "../../core/messages.ts";
import type { Payload } from "../../core/types.ts";
import { drop, hold } from "../embedded/pins.ts";
import { decodeFrame, decodeMsg, encodeFrame, encodeMsg } from "./wire/frame.ts";
import { tokensEqual, type Logger } from "./transport.ts";
import { ConnectionGuard, DEFAULT_LIMITS, closeHard, type ConnectionLimits } from "./limits.ts";
import { splitHostPort } from "./tcp-connect.ts";

const MAGIC = Buffer.from("TSRAYOBJ");
export const OBJECT_CHANNEL_VERSION = 2;
const HELLO_PREFIX = MAGIC.length + 1 + 2 + 2;
const STATUS_PREFIX = 3;
const RECORD_PREFIX = 8;
/** Largest record header accepted: a Chunk's body is a few hundred bytes. */
export const MAX_HEADER_BYTES = 64 * 1024;
/** Largest payload accepted (a fragmented gRPC frame has the same bound). */
export const MAX_PAYLOAD_BYTES = 4 * 1024 ** 3;
const MAX_PAYLOADS = 16;
const MAX_TOKEN_BYTES = 4096;
const MAX_NODE_BYTES = 1024;
/** A puller waits this long for its hello to be answered (the holder's clock is its ConnectionGuard's). */
const HELLO_TIMEOUT_MS = 10_000;
/** A connecting side that has heard nothing for this long sends a keepalive (as transport.ts's gRPC keepalive time). */
export const KEEPALIVE_MS = 2_000;
/** ...and ends the connection if nothing comes back within this long after it. */
export const KEEPALIVE_TIMEOUT_MS = 2_000;
const KEEPALIVE = Buffer.alloc(RECORD_PREFIX);
/** What a listening side takes when it serves no messages (keepalives only). */
const NO_MESSAGES: ReadonlySet<string> = new Set();
const EMPTY = Buffer.alloc(0);

/**
 * A node's endpoint as it registers it with the GCS (`NodeView.endpoint`, opaque to the models):
 * its gRPC server's host:port, then `;objects=PORT` when it serves the object channel, and
 * `;local=PATH` when the channel also listens on a Unix socket for processes of its machine.
 */
export function formatEndpoint(grpc: string, objectsPort?: number, localPath?: string): string {
  if (objectsPort === undefined) return grpc;
  return localPath === undefined ? `${grpc};objects=${objectsPort}` : `${grpc};objects=${objectsPort};local=${localPath}`;
}

/** The gRPC target, the object channel's host:port and its Unix socket (if any) of an endpoint. */
export function parseEndpoint(endpoint: string): { readonly grpc: string; readonly objects?: string; readonly local?: string } {
  const [grpc, ...rest] = endpoint.split(";");
  const port = rest.find((r) => r.startsWith("objects="))?.slice("objects=".length);
  if (!port || !/^\d+$/.test(port)) return { grpc };
  const local = rest.find((r) => r.startsWith("local=/"))?.slice("local=".length);
  return { grpc, objects: `${grpc.slice(0, grpc.lastIndexOf(":"))}:${port}`, ...(local ? { local } : {}) };
}

/** What a driver sends its node's raylet on the object channel, and what comes back there. */
export const STORE_REQUESTS: ReadonlySet<string> = new Set<Msg["type"]>(["StoreGet", "StorePeek", "StorePut"]);
export const STORE_ANSWERS: ReadonlySet<string> = new Set<Msg["type"]>(["StoreGetReply", "StoreLocal", "StoreAbsent", "StorePutReply"]);

/** A peer broke the protocol: the connection ends with this message. */
class ChannelError extends Error {}

/** Bytes that arrive in pieces; small fixed parts are taken whole. */
class ByteQueue {
  private chunks: Buffer[] = [];
  private at = 0;
  length = 0;

  push(b: Buffer): void {
    this.chunks.push(b);
    this.length += b.length;
  }

  /** The next `n` bytes (the caller checked `length`). */
  take(n: number): Buffer {
    if (n === 0) return EMPTY;
    const first = this.chunks[0];
    if (first.length - this.at >= n) {
      const out = first.subarray(this.at, this.at + n);
      this.skip(n);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    this.copyInto(out, 0, n);
    return out;
  }

  /** Copies up to `max` bytes into `dst` at `pos`; returns how many. */
  copyInto(dst: Uint8Array, pos: number, max: number): number {
    let done = 0;
    while (done < max && this.chunks.length > 0) {
      const c = this.chunks[0];
      const n = Math.min(max - done, c.length - this.at);
      dst.set(c.subarray(this.at, this.at + n), pos + done);
      done += n;
      this.skip(n);
    }
    return done;
  }

  clear(): void {
    this.chunks = [];
    this.at = 0;
    this.length = 0;
  }

  private skip(n: number): void {
    this.length -= n;
    this.at += n;
    if (this.at === this.chunks[0].length) {
      this.chunks.shift();
      this.at = 0;
    }
  }
}

function statusRecord(ok: boolean, text: string): Buffer {
  const t = Buffer.from(text.slice(0, 1000));
  const b = Buffer.allocUnsafe(STATUS_PREFIX + t.length);
  b[0] = ok ? 0 : 1;
  b.writeUInt16LE(t.length, 1);
  t.copy(b, STATUS_PREFIX);
  return b;
}

interface Incoming {
  readonly from: string;
  readonly to: string;
  readonly type: string;
  readonly body: Uint8Array;
  readonly payloads: Uint8Array[];
  readonly sizes: number[];
  /** Bytes of the last payload received. */
  filled: number;
}

interface ReaderOptions {
  /** Where a payload of `size` bytes is read into. */
  readonly alloc: (size: number) => Uint8Array;
  /** Gives back what `alloc` returned for a record that was not delivered. */
  readonly release: (bytes: Uint8Array) => void;
  /** Message types this side takes; any other is a protocol violation. */
  readonly accepts: ReadonlySet<string>;
  readonly deliver: (from: string, to: string, msg: Msg) => void;
  /** A keepalive record came in. */
  readonly keepalive: () => void;
}

/** Cuts records out of a connection's bytes: the header, then each payload into its own buffer. */
class RecordReader {
  private headerBytes = -1;
  private count = 0;
  private rec: Incoming | undefined;
  received = 0;
  bytes = 0;

  constructor(private readonly q: ByteQueue, private readonly o: ReaderOptions) {}

  /** Where the next bytes read should go: the rest of the payload being filled, if nothing is queued ahead of it. */
  target(): Uint8Array | undefined {
    const r = this.rec;
    const cur = r?.payloads.at(-1);
    return cur && r!.filled < cur.byteLength && this.q.length === 0 ? cur.subarray(r!.filled) : undefined;
  }

  /** `n` bytes were read straight into `target()`. */
  filledDirectly(n: number): void {
    this.rec!.filled += n;
  }

  /** Takes every whole record the queue holds; throws ChannelError at a violation. */
  step(): void {
    for (;;) {
      if (this.rec) {
        if (!this.fill()) return;
      } else if (!this.header()) return;
    }
  }

  /** The connection ended: a record half received is given back; true if there was one. */
  abandon(): boolean {
    const r = this.rec;
    this.rec = undefined;
    this.headerBytes = -1;
    if (!r) return false;
    for (const p of r.payloads) this.o.release(p);
    return true;
  }

  private header(): boolean {
    if (this.headerBytes < 0) {
      if (this.q.length < RECORD_PREFIX) return false;
      const p = this.q.take(RECORD_PREFIX);
      this.headerBytes = p.readUInt32LE(0);
      this.count = p.readUInt32LE(4);
      if (this.headerBytes > MAX_HEADER_BYTES) throw new ChannelError(`record header of ${this.headerBytes} bytes exceeds the limit of ${MAX_HEADER_BYTES}`);
      if (this.count > MAX_PAYLOADS) throw new ChannelError(`record of ${this.count} payloads exceeds the limit of ${MAX_PAYLOADS}`);
      if (this.headerBytes === 0 && this.count === 0) {
        this.headerBytes = -1;
        this.o.keepalive();
        return true;
      }
    }
    if (this.q.length < this.count * 8 + this.headerBytes) return false;
    const sizesRaw = this.q.take(this.count * 8);
    const sizes: number[] = [];
    for (let i = 0; i < this.count; i++) {
      const s = sizesRaw.readDoubleLE(i * 8);
      if (!Number.isSafeInteger(s) || s < 0 || s > MAX_PAYLOAD_BYTES) throw new ChannelError(`payload size ${s} is not an integer within ${MAX_PAYLOAD_BYTES}`);
      sizes.push(s);
    }
    let f;
    try {
      f = decodeFrame(this.q.take(this.headerBytes));
    } catch (e) {
      throw new ChannelError((e as Error).message);
    }
    this.headerBytes = -1;
    if (!this.o.accepts.has(f.type)) throw new ChannelError(`a ${f.type} message on the object channel (this side takes ${[...this.o.accepts].join(", ")})`);
    this.rec = { from: f.from, to: f.to, type: f.type, body: f.body, payloads: [], sizes, filled: 0 };
    return true;
  }

  /** Fills the current record's payloads (bytes that came with the header first); delivers it once complete. */
  private fill(): boolean {
    const r = this.rec!;
    for (;;) {
      const cur = r.payloads.at(-1);
      if (cur && r.filled < cur.byteLength) {
        if (this.q.length === 0) return false; // the next reads may go straight into `cur`
        r.filled += this.q.copyInto(cur, r.filled, cur.byteLength - r.filled);
      } else if (r.payloads.length < r.sizes.length) {
        r.payloads.push(this.o.alloc(r.sizes[r.payloads.length]));
        r.filled = 0;
      } else break;
    }
    this.rec = undefined;
    let msg: Msg;
    try {
      msg = decodeMsg(r, { fromWirePayload: (bytes) => bytes });
      if (msg.type !== r.type) throw new ChannelError(`a record typed ${r.type} holds a ${msg.type} message`);
    } catch (e) {
      for (const p of r.payloads) this.o.release(p);
      throw e instanceof ChannelError ? e : new ChannelError((e as Error).message);
    }
    this.received++;
    for (const s of r.sizes) this.bytes += s;
    this.o.deliver(r.from, r.to, msg);
    return true;
  }
}

/** A message as a record: the head (prefix, sizes, Frame header) and the payloads' bytes, written after it as they are. */
function encodeRecord(from: string, to: string, msg: Msg): { head: Buffer; bytes: readonly Uint8Array[]; payloads: readonly Payload[] } {
  const payloads: Payload[] = [];
  const m = encodeMsg(msg, { toWirePayload: (p) => { payloads.push(p); return p.data as Uint8Array; } });
  const header = encodeFrame({ from, to, type: m.type, body: m.body, payloads: [] });
  const head = Buffer.allocUnsafe(RECORD_PREFIX + 8 * m.payloads.length + header.length);
  head.writeUInt32LE(header.length, 0);
  head.writeUInt32LE(m.payloads.length, 4);
  m.payloads.forEach((b, i) => head.writeDoubleLE(b.byteLength, RECORD_PREFIX + 8 * i));
  head.set(header, RECORD_PREFIX + 8 * m.payloads.length);
  return { head, bytes: m.payloads, payloads };
}

/** Records up to this size are copied into one buffer and written at once. */
const SMALL_RECORD_BYTES = 16 * 1024;

/** Records written to one socket whose payloads' arena slots stay held until the kernel has their bytes. */
class RecordWriter {
  private readonly inFlight = new Set<readonly Payload[]>();

  constructor(private readonly socket: net.Socket) {}

  write(r: ReturnType<typeof encodeRecord>): void {
    // A small record (a store request or answer) goes as one buffer in one write(2): cheaper
    // than a writev of its parts, and nothing stays held.
    let small = r.head.byteLength;
    for (const b of r.bytes) small += b.byteLength;
    if (small <= SMALL_RECORD_BYTES) {
      if (r.bytes.length === 0) { this.socket.write(r.head); return; }
      const one = Buffer.allocUnsafe(small);
      one.set(r.head, 0);
      let at = r.head.byteLength;
      for (const b of r.bytes) { one.set(b, at); at += b.byteLength; }
      this.socket.write(one);
      return;
    }
    const held = r.payloads;
    for (const p of held) hold(p);
    this.inFlight.add(held);
    const done = () => { if (this.inFlight.delete(held)) for (const p of held) drop(p); };
    const s = this.socket;
    s.cork();
    s.write(r.head, r.bytes.length === 0 ? done : undefined);
    r.bytes.forEach((b, i) => s.write(Buffer.from(b.buffer, b.byteOffset, b.byteLength), i === r.bytes.length - 1 ? done : undefined));
    s.uncork();
  }

  /** The socket is gone: what it never sent lets go of its slots. */
  close(): void {
    for (const held of this.inFlight) for (const p of held) drop(p);
    this.inFlight.clear();
  }
}

// ---------------------------------------------------------------------------------------------
// Holder: accepts pullers' connections and writes chunks on them.

export interface ObjectChannelServerOptions {
  readonly token: string;
  readonly host?: string;
  readonly port?: number;
  readonly log: Logger;
  /**
   * Messages that connected peers may send on the channel (a node's drivers' store requests),
   * delivered to `onMsg`; without it a peer may send nothing after its hello.
   */
  readonly accepts?: ReadonlySet<string>;
  /** Takes a message a peer sent; false refuses it (not for this side), which ends the connection. */
  readonly onMsg?: (from: string, to: string, msg: Msg) => boolean;
  /**
   * Also listen on this Unix socket, for processes of this machine (its drivers): the same
   * protocol and token, and system calls that skip the TCP stack, as Ray's plasma socket does.
   */
  readonly localPath?: string;
  /** Bounds on connections that have not said hello yet (limits.ts). */
  readonly limits?: Partial<ConnectionLimits>;
}

/** One peer's connection (a puller node, or a driver of this node), as the listening side sees it. */
class PeerConnection {
  private readonly q = new ByteQueue();
  private lens: { token: number; node: number } | undefined;
  /** The peer's name from its hello: a node id, or a driver's address. */
  node = "";
  authed = false;
  closed = false;
  readonly writer: RecordWriter;
  private reader: RecordReader | undefined;

  constructor(readonly socket: net.Socket, private readonly server: ObjectChannelServer) {
    socket.setNoDelay(true);
    this.writer = new RecordWriter(socket);
    socket.on("data", (b: Buffer) => {
      if (this.closed) return;
      this.q.push(b);
      try {
        if (!this.authed) this.hello();
        if (this.authed && this.q.length > 0) this.reader!.step();
      } catch (e) {
        this.fail(e);
      }
    });
    socket.on("error", () => {}); // "close" follows
    socket.on("close", () => this.close());
  }

  describe(): string {
    return `${this.node || "?"} (${this.socket.remoteAddress === undefined ? "local socket" : `${this.socket.remoteAddress}:${this.socket.remotePort}`})`;
  }

  private hello(): void {
    if (!this.lens) {
      if (this.q.length < HELLO_PREFIX) return;
      const p = this.q.take(HELLO_PREFIX);
      // Judged as soon as the prefix is in: garbage is answered without waiting for more.
      if (!p.subarray(0, MAGIC.length).equals(MAGIC)) throw new ChannelError("not a tsray object channel hello (bad magic)");
      const version = p[MAGIC.length];
      if (version !== OBJECT_CHANNEL_VERSION) throw new ChannelError(`object channel version ${version} is not ${OBJECT_CHANNEL_VERSION}`);
      this.lens = { token: p.readUInt16LE(MAGIC.length + 1), node: p.readUInt16LE(MAGIC.length + 3) };
      if (this.lens.token > MAX_TOKEN_BYTES || this.lens.node > MAX_NODE_BYTES) {
        throw new ChannelError(`oversized hello (token ${this.lens.token} bytes, node ${this.lens.node} bytes; limits ${MAX_TOKEN_BYTES} and ${MAX_NODE_BYTES})`);
      }
    }
    if (this.q.length < this.lens.token + this.lens.node) return;
    const token = this.q.take(this.lens.token).toString("utf8");
    const node = this.q.take(this.lens.node).toString("utf8");
    if (!tokensEqual(token, this.server.token)) throw new ChannelError("wrong cluster token");
    this.server.guard.authenticated(this.socket);
    this.node = node;
    this.authed = true;
    const { accepts, onMsg } = this.server.inbound;
    // Keepalives come from every peer; messages only where this side takes them.
    this.reader = new RecordReader(this.q, {
      accepts: accepts && onMsg ? accepts : NO_MESSAGES, alloc: (size) => Buffer.allocUnsafe(size), release: () => {},
      deliver: (from, to, msg) => {
        // A peer speaks for itself only: a driver's requests come from its own address.
        if (from !== this.node) throw new ChannelError(`a message from ${from} on ${this.node}'s connection`);
        if (!onMsg!(from, to, msg)) throw new ChannelError(`a ${msg.type} for ${to}, which is not served here`);
      },
      keepalive: () => this.socket.write(KEEPALIVE),
    });
    this.server.register(this); // before answering: the peer sends its Pull once answered
    this.socket.write(statusRecord(true, "ok"));
  }

  /** Answers a protocol violation with its reason and closes; the daemon goes on. */
  private fail(e: unknown): void {
    if (this.closed) return;
    const why = e instanceof ChannelError ? e.message : `internal error: ${(e as Error).message}`;
    this.server.stats.rejected++;
    // Rate-limited: a flood of bad hellos writes a few lines and a count, not a line each.
    this.server.guard.refused(this.authed ? "peer" : "hello", `${this.describe()}: ${why}; closing the connection`);
    closeHard(this.socket, statusRecord(false, why));
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.writer.close();
    this.server.unregister(this);
  }
}

/** The listening side: accepts peers' connections, sends them Chunks and store answers, takes their store requests. */
export class ObjectChannelServer {
  private readonly server: net.Server;
  private readonly local: net.Server | undefined;
  private readonly conns = new Set<PeerConnection>();
  /** Each peer's newest authenticated connection, by the name in its hello. */
  private readonly routes = new Map<string, PeerConnection>();
  readonly stats = { sent: 0, bytes: 0, rejected: 0 };
  readonly token: string;
  readonly log: Logger;
  readonly inbound: Pick<ObjectChannelServerOptions, "accepts" | "onMsg">;
  /** Connections that have not said hello yet: bounded, and closed when their time is up. */
  readonly guard: ConnectionGuard;

  constructor(private readonly o: ObjectChannelServerOptions) {
    this.token = o.token;
    this.log = o.log;
    this.inbound = { accepts: o.accepts, onMsg: o.onMsg };
    this.guard = new ConnectionGuard("object channel", { ...DEFAULT_LIMITS, ...o.limits }, (line) => o.log(line));
    const accept = (s: net.Socket) => {
      this.guard.admit(s);
      this.conns.add(new PeerConnection(s, this));
    };
    this.server = net.createServer(accept);
    this.server.on("error", (e) => o.log(`object channel server: ${e.message}`));
    if (o.localPath) {
      this.local = net.createServer(accept);
      this.local.on("error", (e) => o.log(`object channel server (${o.localPath}): ${e.message}`));
    }
  }

  /** Listens (on the Unix socket too, if one was asked for); resolves to the bound port. */
  async start(): Promise<number> {
    const listen = (srv: net.Server, at: net.ListenOptions) => new Promise<void>((resolve, reject) => {
      srv.once("error", reject);
      srv.listen(at, () => { srv.off("error", reject); resolve(); });
    });
    await listen(this.server, { port: this.o.port ?? 0, host: this.o.host ?? "127.0.0.1" });
    if (this.local && this.o.localPath) {
      fs.rmSync(this.o.localPath, { force: true }); // left by a killed process
      await listen(this.local, { path: this.o.localPath });
    }
    return (this.server.address() as net.AddressInfo).port;
  }

  /** @internal */ register(c: PeerConnection): void {
    // A reconnect replaces the old connection, which is closed: its peer gave up on it (it went
    // silent, say), and what was written to it would keep its arena slots held until TCP gave up.
    const old = this.routes.get(c.node);
    this.routes.set(c.node, c);
    if (old && old !== c) { old.close(); old.socket.destroy(); }
  }

  /** @internal */ unregister(c: PeerConnection): void {
    this.conns.delete(c);
    if (this.routes.get(c.node) === c) this.routes.delete(c.node);
  }

  /** Sends `msg` on the connection of `peer` (a node id or a driver's address); false if it has none (the caller uses gRPC). */
  send(peer: string, from: string, to: string, msg: Msg): boolean {
    const c = this.routes.get(peer);
    if (!c || c.closed) return false;
    const r = encodeRecord(from, to, msg);
    c.writer.write(r);
    this.stats.sent++;
    for (const b of r.bytes) this.stats.bytes += b.byteLength;
    return true;
  }

  close(): Promise<void> {
    for (const c of this.conns) { c.close(); c.socket.destroy(); }
    this.guard.close();
    const closed = (srv: net.Server | undefined) => new Promise<void>((resolve) => (srv ? srv.close(() => resolve()) : resolve()));
    return Promise.all([closed(this.server), closed(this.local)]).then(() => undefined); // closing removes the socket file
  }
}

// ---------------------------------------------------------------------------------------------
// Puller: one connection to a holder, read straight into arena slots.

export interface ObjectLinkOptions {
  /** host:port of the other side's object channel, or the path of its Unix socket. */
  readonly target: string;
  readonly token: string;
  /** Who this side is, named in the hello: its node (a puller) or its address (a driver). */
  readonly node: string;
  /** Where a payload of `size` bytes is read into (a staged arena slot, or heap memory). */
  readonly alloc: (size: number) => Uint8Array;
  /** Gives back what `alloc` returned for a record that was not delivered. */
  readonly release: (bytes: Uint8Array) => void;
  /** A whole record arrived: its message, payload data being what `alloc` returned. */
  readonly onMsg: (from: string, to: string, msg: Msg) => void;
  /** Message types this side takes (default: Chunks). */
  readonly accepts?: ReadonlySet<string>;
  /**
   * A connection broke after it was made (a reset, the other side's process ending), not by
   * `close()` nor by a refusal of the hello: what was on it either way is lost (the other side
   * routes to a connection from the moment it reads the hello). The next use reconnects.
   */
  readonly onBroken?: () => void;
  /** How long to wait for the answer to the hello (default HELLO_TIMEOUT_MS). */
  readonly helloTimeoutMs?: number;
  readonly log: Logger;
}

type LinkState = "idle" | "connecting" | "open" | "closed";

const CHUNKS_ONLY: ReadonlySet<string> = new Set(["Chunk"]);

/** A connection to another node's object channel, opened on demand. */
export class ObjectLink {
  private socket: net.Socket | undefined;
  private writer: RecordWriter | undefined;
  private state: LinkState = "idle";
  /** Called once the connection is answered (or failed): the Pulls waiting for it go out. */
  private waiting: (() => void)[] = [];
  private readonly q = new ByteQueue();
  private readonly reader: RecordReader;
  private readonly scratch = Buffer.allocUnsafe(64 * 1024);
  private status: Buffer | undefined;
  private answered = false;
  /** Whether the socket connected: the other side may have taken the hello, and routed records to it. */
  private connected = false;
  private lastError = "";
  /** A keepalive went out and nothing came in since; the timer ends the connection unless something does. */
  private pinged = false;
  private keepalive: NodeJS.Timeout | undefined;
  /** broken: connections that ended as onBroken says. */
  readonly stats = { received: 0, bytes: 0, lost: 0, broken: 0 };

  constructor(private readonly o: ObjectLinkOptions) {
    this.reader = new RecordReader(this.q, {
      alloc: o.alloc, release: o.release, accepts: o.accepts ?? CHUNKS_ONLY,
      keepalive: () => {}, // its arrival was heard (onRead)
      deliver: (from, to, msg) => {
        this.stats.received++;
        if (msg.type === "Chunk") this.stats.bytes += msg.size;
        try {
          this.o.onMsg(from, to, msg);
        } catch (e) {
          this.o.log(`object channel: delivering a ${msg.type} from ${this.o.target} threw: ${(e as Error).stack ?? e}`);
        }
      },
    });
  }

  /** Whether the other side has answered the hello and the connection is up. */
  get open(): boolean { return this.state === "open"; }

  /** Runs `then` once the other side has answered this side's hello (at once if it has; also if it cannot). */
  whenReady(then: () => void): void {
    if (this.state === "open" || this.state === "closed") return then();
    this.waiting.push(then);
    if (this.state === "idle") this.connect();
  }

  /** Sends `msg` as a record; false if the connection is not open (the caller takes another way, and it reconnects meanwhile). */
  send(from: string, to: string, msg: Msg): boolean {
    if (this.state === "idle") this.connect();
    if (this.state !== "open" || !this.writer) return false;
    this.writer.write(encodeRecord(from, to, msg));
    return true;
  }

  private connect(): void {
    this.state = "connecting";
    this.answered = false;
    this.connected = false;
    const s: net.Socket = net.connect({
      ...(this.o.target.startsWith("/") ? { path: this.o.target } : splitHostPort(this.o.target)),
      // Payload bytes go from the kernel straight into their slot; the rest through a scratch buffer.
      onread: { buffer: () => this.reader.target() ?? this.scratch, callback: (n: number, buf: Uint8Array): boolean => this.onRead(s, n, buf) },
    });
    this.socket = s;
    this.writer = new RecordWriter(s);
    s.setNoDelay(true);
    s.setTimeout(this.o.helloTimeoutMs ?? HELLO_TIMEOUT_MS, () => {
      if (this.answered) return;
      // Once connected, the other side may have taken the hello and routed records here, which
      // are lost: reported as a break. Not connected, nothing was routed: as a refusal.
      this.broken(s, "no answer to the hello", !this.connected);
      s.destroy();
    });
    s.once("connect", () => { if (this.socket === s) this.connected = true; });
    const token = Buffer.from(this.o.token);
    const node = Buffer.from(this.o.node);
    const hello = Buffer.allocUnsafe(HELLO_PREFIX);
    MAGIC.copy(hello);
    hello[MAGIC.length] = OBJECT_CHANNEL_VERSION;
    hello.writeUInt16LE(token.length, MAGIC.length + 1);
    hello.writeUInt16LE(node.length, MAGIC.length + 3);
    s.write(Buffer.concat([hello, token, node]));
    s.on("error", (e) => this.broken(s, e.message));
    s.on("close", () => this.broken(s, "connection closed"));
  }

  private onRead(s: net.Socket, n: number, buf: Uint8Array): boolean {
    if (this.socket !== s) return false;
    this.pinged = false;
    try {
      if (buf === this.scratch) this.q.push(Buffer.from(this.scratch.subarray(0, n)));
      else this.reader.filledDirectly(n);
      if (!this.answered && !this.readStatus()) return true;
      this.reader.step();
    } catch (e) {
      const why = e instanceof ChannelError ? e.message : `internal error: ${(e as Error).message}`;
      this.broken(s, why, !this.answered); // before the answer: the hello was refused
      s.destroy();
    }
    return true;
  }

  private readStatus(): boolean {
    if (!this.status) {
      if (this.q.length < STATUS_PREFIX) return false;
      this.status = this.q.take(STATUS_PREFIX);
    }
    const len = this.status.readUInt16LE(1);
    if (this.q.length < len) return false;
    const ok = this.status[0] === 0;
    this.status = undefined;
    const text = this.q.take(len).toString("utf8");
    if (!ok) throw new ChannelError(`rejected: ${text}`);
    this.answered = true;
    this.state = "open";
    this.lastError = "";
    // Node's socket timeout counts a read, and a write still moving into the kernel, as activity:
    // a big record this side is writing keeps the connection alive while the peer takes it in.
    const s = this.socket!;
    s.setTimeout(KEEPALIVE_MS);
    s.on("timeout", () => this.idle(s));
    this.flushWaiting();
    return true;
  }

  /** Nothing came in, and nothing went out, for KEEPALIVE_MS: a keepalive, which must be answered. */
  private idle(s: net.Socket): void {
    if (this.socket !== s || this.pinged) return;
    this.pinged = true;
    s.write(KEEPALIVE);
    clearTimeout(this.keepalive);
    this.keepalive = setTimeout(() => {
      if (this.socket !== s || !this.pinged) return;
      this.broken(s, `silent for ${KEEPALIVE_MS + KEEPALIVE_TIMEOUT_MS} ms, a keepalive unanswered`);
      s.destroy();
    }, KEEPALIVE_TIMEOUT_MS).unref();
  }

  private flushWaiting(): void {
    const w = this.waiting;
    this.waiting = [];
    for (const f of w) f();
  }

  /** The connection ended (`refused`: its hello was); a record half received is lost; the next use reconnects. */
  private broken(s: net.Socket, why: string, refused = false): void {
    if (this.socket !== s) return;
    const lost = this.connected && !refused && this.state !== "closed";
    this.socket = undefined;
    clearTimeout(this.keepalive);
    this.pinged = false;
    this.writer?.close();
    this.writer = undefined;
    if (this.reader.abandon()) {
      this.stats.lost++;
      this.o.log(`object channel from ${this.o.target}: ${why} in the middle of a record; it is lost`);
    } else if (why !== this.lastError && why !== "connection closed" && why !== "closed") this.o.log(`object channel from ${this.o.target}: ${why}`);
    this.lastError = why;
    this.status = undefined;
    this.q.clear();
    if (this.state !== "closed") this.state = "idle";
    // Pulls waiting for this connection go anyway: the holder answers them on gRPC.
    this.flushWaiting();
    if (!lost) return;
    this.stats.broken++;
    this.o.onBroken?.();
  }

  /** Ends the connection (the other node is gone, or this daemon is closing). */
  close(): void {
    this.state = "closed";
    const s = this.socket;
    if (s) { this.broken(s, "closed"); s.destroy(); }
    this.flushWaiting();
  }
}
