// The object channel: raylet daemons send each other object `Chunk`s over plain TCP (node:net)
// instead of their gRPC streams. grpc-js moves large messages at ~0.6 GB/s at best on this
// machine (16 KiB HTTP/2 DATA frames, a copy into its framing, reassembly on receipt), and a big
// object on the gRPC stream was also copied into a frame, cut into fragments and joined again.
// Here a chunk's bytes are written from the holder's arena slot as they are, and the kernel
// reads them straight into a slot staged in the puller's arena (a socket's `onread` buffer),
// which the store then adopts: no copy in user space at all.
//
// The puller connects (only a connecting socket can choose where its reads go): before a
// raylet's `Pull` leaves for another node, its daemon opens (or reuses) a connection to that
// node's object port, says hello with the cluster token, and waits for the answer; the holder
// registers the connection under the puller's node before answering, so the Chunks that answer
// the Pull find it. A holder with no connection from the puller (old peer, refused, broken)
// sends them on gRPC as before. Records written to a connection that breaks are lost, as frames
// on a broken gRPC stream are: the puller's model hears the holder's NodeDead and retries.
//
// Wire (integers little-endian):
//   hello   puller → holder: "TSRAYOBJ" | u8 version | u16 token length | u16 node length | token | node
//   status  holder → puller: u8 0 (ok) or 1 (error) | u16 length | utf-8 text; after an error it closes
//   record  holder → puller: u32 header length | u32 payload count | f64 size per payload |
//           header (a protobuf Frame: from, to, type, body; no payloads) | each payload's bytes

import net from "node:net";
import type { Msg } from "../../core/messages.ts";
import type { Payload } from "../../core/types.ts";
import { drop, hold } from "../embedded/pins.ts";
import { decodeFrame, decodeMsg, encodeFrame, encodeMsg } from "./wire/frame.ts";
import { tokensEqual, type Logger } from "./transport.ts";

const MAGIC = Buffer.from("TSRAYOBJ");
export const OBJECT_CHANNEL_VERSION = 1;
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
/** A connection gets this long to say hello (holder) or to be answered (puller). */
const HELLO_TIMEOUT_MS = 10_000;
const EMPTY = Buffer.alloc(0);

/**
 * A node's endpoint as it registers it with the GCS (`NodeView.endpoint`, opaque to the models):
 * its gRPC server's host:port, then `;objects=PORT` when it serves the object channel.
 */
export function formatEndpoint(grpc: string, objectsPort?: number): string {
  return objectsPort === undefined ? grpc : `${grpc};objects=${objectsPort}`;
}

/** The gRPC target and the object channel's host:port (if any) of an endpoint. */
export function parseEndpoint(endpoint: string): { readonly grpc: string; readonly objects?: string } {
  const [grpc, ...rest] = endpoint.split(";");
  const port = rest.find((r) => r.startsWith("objects="))?.slice("objects=".length);
  if (!port || !/^\d+$/.test(port)) return { grpc };
  return { grpc, objects: `${grpc.slice(0, grpc.lastIndexOf(":"))}:${port}` };
}

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

function splitHostPort(target: string): { host: string; port: number } {
  const i = target.lastIndexOf(":");
  return { host: target.slice(0, i).replace(/^\[|\]$/g, ""), port: Number(target.slice(i + 1)) };
}

// ---------------------------------------------------------------------------------------------
// Holder: accepts pullers' connections and writes chunks on them.

export interface ObjectChannelServerOptions {
  readonly token: string;
  readonly host?: string;
  readonly port?: number;
  readonly log: Logger;
}

interface Outgoing {
  readonly payloads: readonly Payload[];
}

/** One puller's connection, as the holder sees it. */
class PullerConnection {
  private readonly q = new ByteQueue();
  private lens: { token: number; node: number } | undefined;
  node = "";
  authed = false;
  closed = false;
  /** Written, not yet handed to the kernel: their arena slots stay held until then. */
  private readonly inFlight = new Set<Outgoing>();
  private readonly helloTimer: NodeJS.Timeout;

  constructor(readonly socket: net.Socket, private readonly server: ObjectChannelServer) {
    socket.setNoDelay(true);
    this.helloTimer = setTimeout(() => this.fail(new ChannelError(`no hello within ${HELLO_TIMEOUT_MS / 1000} s`)), HELLO_TIMEOUT_MS).unref();
    socket.on("data", (b: Buffer) => {
      if (this.closed) return;
      this.q.push(b);
      try {
        this.hello();
      } catch (e) {
        this.fail(e);
      }
    });
    socket.on("error", () => {}); // "close" follows
    socket.on("close", () => this.close());
  }

  describe(): string {
    return `${this.node || "?"} (${this.socket.remoteAddress}:${this.socket.remotePort})`;
  }

  private hello(): void {
    if (this.authed) throw new ChannelError("unexpected bytes after the hello");
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
    if (this.q.length > 0) throw new ChannelError("unexpected bytes after the hello");
    clearTimeout(this.helloTimer);
    this.node = node;
    this.authed = true;
    this.server.register(this); // before answering: the puller sends its Pull once answered
    this.socket.write(statusRecord(true, "ok"));
  }

  write(head: Buffer, bytes: readonly Uint8Array[], payloads: readonly Payload[]): void {
    const r: Outgoing = { payloads };
    for (const p of payloads) hold(p); // the kernel reads the slot later
    this.inFlight.add(r);
    const done = () => { if (this.inFlight.delete(r)) release(r); };
    const s = this.socket;
    s.cork();
    s.write(head, bytes.length === 0 ? done : undefined);
    bytes.forEach((b, i) => s.write(Buffer.from(b.buffer, b.byteOffset, b.byteLength), i === bytes.length - 1 ? done : undefined));
    s.uncork();
  }

  /** Answers a protocol violation with its reason and closes; the daemon goes on. */
  private fail(e: unknown): void {
    if (this.closed) return;
    const why = e instanceof ChannelError ? e.message : `internal error: ${(e as Error).message}`;
    this.server.stats.rejected++;
    this.server.log(`object channel: ${this.describe()}: ${why}; closing the connection`);
    this.socket.end(statusRecord(false, why));
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.helloTimer);
    for (const r of this.inFlight) release(r);
    this.inFlight.clear();
    this.server.unregister(this);
  }
}

function release(r: Outgoing): void {
  for (const p of r.payloads) drop(p);
}

/** The holder's side: accepts pullers' connections and sends Chunks on them. */
export class ObjectChannelServer {
  private readonly server: net.Server;
  private readonly conns = new Set<PullerConnection>();
  /** Each puller node's newest authenticated connection. */
  private readonly routes = new Map<string, PullerConnection>();
  readonly stats = { sent: 0, bytes: 0, rejected: 0 };
  readonly token: string;
  readonly log: Logger;

  constructor(private readonly o: ObjectChannelServerOptions) {
    this.token = o.token;
    this.log = o.log;
    this.server = net.createServer((s) => { this.conns.add(new PullerConnection(s, this)); });
    this.server.on("error", (e) => o.log(`object channel server: ${e.message}`));
  }

  /** Listens; resolves to the bound port. */
  start(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.o.port ?? 0, this.o.host ?? "127.0.0.1", () => {
        this.server.off("error", reject);
        resolve((this.server.address() as net.AddressInfo).port);
      });
    });
  }

  /** @internal */ register(c: PullerConnection): void {
    this.routes.set(c.node, c); // a reconnect replaces the old connection
  }

  /** @internal */ unregister(c: PullerConnection): void {
    this.conns.delete(c);
    if (this.routes.get(c.node) === c) this.routes.delete(c.node);
  }

  /** Sends `msg` on `node`'s connection; false if it has none (the caller uses gRPC). */
  send(node: string, from: string, to: string, msg: Msg): boolean {
    const c = this.routes.get(node);
    if (!c || c.closed) return false;
    const payloads: Payload[] = [];
    const m = encodeMsg(msg, { toWirePayload: (p) => { payloads.push(p); return p.data as Uint8Array; } });
    const header = encodeFrame({ from, to, type: m.type, body: m.body, payloads: [] });
    const head = Buffer.allocUnsafe(RECORD_PREFIX + 8 * m.payloads.length + header.length);
    head.writeUInt32LE(header.length, 0);
    head.writeUInt32LE(m.payloads.length, 4);
    m.payloads.forEach((b, i) => head.writeDoubleLE(b.byteLength, RECORD_PREFIX + 8 * i));
    head.set(header, RECORD_PREFIX + 8 * m.payloads.length);
    c.write(head, m.payloads, payloads);
    this.stats.sent++;
    for (const b of m.payloads) this.stats.bytes += b.byteLength;
    return true;
  }

  close(): Promise<void> {
    for (const c of this.conns) { c.close(); c.socket.destroy(); }
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

// ---------------------------------------------------------------------------------------------
// Puller: one connection to a holder, read straight into arena slots.

export interface ObjectLinkOptions {
  /** host:port of the holder's object channel. */
  readonly target: string;
  readonly token: string;
  /** This daemon's node, named in the hello. */
  readonly node: string;
  /** Where a payload of `size` bytes is read into (a staged arena slot, or heap memory). */
  readonly alloc: (size: number) => Uint8Array;
  /** Gives back what `alloc` returned for a record that was not delivered. */
  readonly release: (bytes: Uint8Array) => void;
  /** A whole record arrived: its message, payload data being what `alloc` returned. */
  readonly onMsg: (from: string, to: string, msg: Msg) => void;
  readonly log: Logger;
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

type LinkState = "idle" | "connecting" | "open" | "closed";

/** The puller's connection to one holder, opened on demand. */
export class ObjectLink {
  private socket: net.Socket | undefined;
  private state: LinkState = "idle";
  /** Called once the connection is answered (or failed): the Pulls waiting for it go out. */
  private waiting: (() => void)[] = [];
  private readonly q = new ByteQueue();
  private readonly scratch = Buffer.allocUnsafe(64 * 1024);
  private status: Buffer | undefined;
  private answered = false;
  private headerBytes = -1;
  private count = 0;
  private rec: Incoming | undefined;
  private lastError = "";
  readonly stats = { received: 0, bytes: 0, lost: 0 };

  constructor(private readonly o: ObjectLinkOptions) {}

  /** Runs `then` once the holder has answered this side's hello (at once if it has; also if it cannot). */
  whenReady(then: () => void): void {
    if (this.state === "open" || this.state === "closed") return then();
    this.waiting.push(then);
    if (this.state === "idle") this.connect();
  }

  private connect(): void {
    this.state = "connecting";
    this.answered = false;
    const s: net.Socket = net.connect({
      ...splitHostPort(this.o.target),
      // Payload bytes go from the kernel straight into their slot; the rest through a scratch buffer.
      onread: { buffer: () => this.nextBuffer(), callback: (n: number, buf: Uint8Array): boolean => this.onRead(s, n, buf) },
    });
    this.socket = s;
    s.setNoDelay(true);
    s.setTimeout(HELLO_TIMEOUT_MS, () => { if (!this.answered) this.broken(s, "no answer to the hello"); });
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

  private nextBuffer(): Uint8Array {
    const cur = this.rec?.payloads.at(-1);
    if (cur && this.rec!.filled < cur.byteLength && this.q.length === 0) return cur.subarray(this.rec!.filled);
    return this.scratch;
  }

  private onRead(s: net.Socket, n: number, buf: Uint8Array): boolean {
    if (this.socket !== s) return false;
    try {
      if (buf === this.scratch) this.q.push(Buffer.from(this.scratch.subarray(0, n)));
      else this.rec!.filled += n;
      this.step();
    } catch (e) {
      const why = e instanceof ChannelError ? e.message : `internal error: ${(e as Error).message}`;
      this.broken(s, why);
      s.destroy();
    }
    return true;
  }

  private step(): void {
    for (;;) {
      if (!this.answered) {
        if (!this.readStatus()) return;
      } else if (this.rec) {
        if (!this.fill()) return;
      } else if (!this.header()) return;
    }
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
    this.socket?.setTimeout(0);
    this.flushWaiting();
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
    this.rec = { from: f.from, to: f.to, type: f.type, body: f.body, payloads: [], sizes, filled: 0 };
    return true;
  }

  /** Fills the current record's payloads (bytes that came with the header first); delivers it once complete. */
  private fill(): boolean {
    const r = this.rec!;
    for (;;) {
      const cur = r.payloads.at(-1);
      if (cur && r.filled < cur.byteLength) {
        if (this.q.length === 0) return false; // the next reads go straight into `cur`
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
      if (msg.type !== "Chunk") throw new ChannelError(`a ${msg.type} message on the object channel (only Chunks travel here)`);
    } catch (e) {
      for (const p of r.payloads) this.o.release(p);
      throw e instanceof ChannelError ? e : new ChannelError((e as Error).message);
    }
    this.stats.received++;
    for (const s of r.sizes) this.stats.bytes += s;
    try {
      this.o.onMsg(r.from, r.to, msg);
    } catch (e) {
      this.o.log(`object channel: delivering a Chunk from ${this.o.target} threw: ${(e as Error).stack ?? e}`);
    }
    return true;
  }

  private flushWaiting(): void {
    const w = this.waiting;
    this.waiting = [];
    for (const f of w) f();
  }

  /** The connection ended: a record half received is lost; the next Pull reconnects. */
  private broken(s: net.Socket, why: string): void {
    if (this.socket !== s) return;
    this.socket = undefined;
    if (this.rec) {
      this.stats.lost++;
      for (const p of this.rec.payloads) this.o.release(p);
      this.o.log(`object channel from ${this.o.target}: ${why} in the middle of a record; it is lost`);
    } else if (why !== this.lastError && why !== "connection closed" && why !== "closed") this.o.log(`object channel from ${this.o.target}: ${why}`);
    this.lastError = why;
    this.rec = undefined;
    this.headerBytes = -1;
    this.status = undefined;
    this.q.clear();
    if (this.state !== "closed") this.state = "idle";
    // Pulls waiting for this connection go anyway: the holder answers them on gRPC.
    this.flushWaiting();
  }

  /** Ends the connection (the holder's node is gone, or this daemon is closing). */
  close(): void {
    this.state = "closed";
    const s = this.socket;
    if (s) { this.broken(s, "closed"); s.destroy(); }
    this.flushWaiting();
  }
}
