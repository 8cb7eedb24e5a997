// The daemons' transport over @grpc/grpc-js: long-lived bidirectional streams of frame batches
// between processes, with the cluster token, the standard health service, size limits and
// reconnection. It moves frames and knows nothing of what the models do with them; the host
// routes frames to models (docs/protocol.md describes the protocol).
//
// - DaemonServer serves the Gcs, NodeManager and/or CoreWorker services and grpc.health.v1.
//   Each inbound Connect stream is a Peer; its first frame is a Hello naming the addresses the
//   peer hosts, which become routes back to it.
// - PeerLink is the outbound side: one Connect stream to a daemon, reopened with capped
//   backoff whenever it breaks; frames sent while it is down wait in a bounded queue.
// - Both keep a session per pair of process instances across streams (stream-session.ts):
//   what a broken stream did not deliver is resent on the next, unless a process restarted.
//
// Frames queued in one event-loop turn travel as one gRPC message (a Batch): grpc-js
// pays a fixed cost per stream message that would otherwise cap a stream at a few tens of
// thousands of frames a second. Nothing here throws at a caller that sends: messages to a dead
// or unreachable process are dropped (and counted), as the models expect of a network.

import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import net from "node:net";
import * as grpc from "@grpc/grpc-js";
import { ConnectionGuard, DEFAULT_LIMITS, RateLimitedLog, type ConnectionLimits } from "./limits.ts";
import { boundConnects } from "./tcp-connect.ts";
import type { Msg } from "../../core/messages.ts";
import {
  FrameError, HELLO, PROTOCOL_VERSION, fragmentFrame, decodeBatch, decodeHello, decodeMsg, encodeBatch, frameSize, helloFrame, msgFrame,
  type Batch, type Frame, type PayloadHooks,
} from "./wire/frame.ts";
import { StreamSession, newStats, type LinkStats, type QueueOptions } from "./stream-session.ts";
import { HealthCheckRequest, HealthCheckResponse, HealthCheckResponse_ServingStatus as ServingStatus, HealthService } from "./wire/gen/grpc/health/v1/health.ts";
import { CoreWorkerService, GcsService, NodeManagerService, StatusReply, StatusRequest } from "./wire/gen/tsray/v1/daemon.ts";

export { decodeFrame, encodeFrame, type Frame, type PayloadHooks } from "./wire/frame.ts";
export { ServingStatus };
export type { FlushMode, LinkStats, QueueOptions } from "./stream-session.ts";

/**
 * Both ends ping every stream this often, and drop it when a ping goes unanswered this long. A
 * peer whose process dies closes its streams, but one whose machine or pod vanished with its
 * network (a head pod killed and replaced at another address) does not: its streams look open
 * until a ping fails. A restarted GCS gives nodes about 6 s to heartbeat again (daemonTuning's
 * recoveryGracePeriods and heartbeatMissLimit), so a link must notice within a few seconds and
 * dial the new address. With 10 s and 5 s, workers on a busy machine reached a new head's GCS
 * 12 s after the old pod was killed, and had been declared dead (the containers chaos test).
 */
const KEEPALIVE_MS = 2_000;
const KEEPALIVE_TIMEOUT_MS = 2_000;

/**
 * A link whose stream has not heard the daemon's Hello this long after it was opened gives the
 * attempt up and dials again on a new channel (see PeerLink.broken). A live daemon answers
 * within milliseconds.
 */
export const HELLO_TIMEOUT_MS = 5_000;

export type ServiceName = "Gcs" | "NodeManager" | "CoreWorker";

/** Fully qualified names, as health checks and gRPC paths spell them. */
export const SERVICE_NAMES: Readonly<Record<ServiceName, string>> = {
  Gcs: "tsray.v1.Gcs",
  NodeManager: "tsray.v1.NodeManager",
  CoreWorker: "tsray.v1.CoreWorker",
};

/** The call metadata key that carries the cluster token. */
export const TOKEN_METADATA_KEY = "tsray-token";
/** The one call served without a token: Kubernetes' gRPC probes send no metadata. */
export const HEALTH_CHECK_PATH = "/grpc.health.v1.Health/Check";

const MiB = 1024 * 1024;
/** Object-transfer chunk size the daemons use by default. */
export const DEFAULT_CHUNK_BYTES = 8 * MiB;
/** Largest frame accepted by default: a full chunk plus room for its envelope. */
export const DEFAULT_MAX_FRAME_BYTES = DEFAULT_CHUNK_BYTES + MiB;
/** Room a Fragment's envelope needs besides its part. */
const FRAGMENT_SLACK = 64 * 1024;
/** A batch holding one frame of maxFrameBytes is this much larger (tag + length varint). */
const BATCH_SLACK = 16;

/** A fresh cluster token: 24 random bytes, base64url (32 characters). */
export function generateToken(): string {
  return randomBytes(24).toString("base64url");
}

/** Constant-time token comparison (digests first, so lengths leak nothing either). */
export function tokensEqual(a: string, b: string): boolean {
  const da = createHash("sha256").update(a).digest();
  const db = createHash("sha256").update(b).digest();
  return timingSafeEqual(da, db);
}

export type Logger = (line: string) => void;
const defaultLog: Logger = (line) => console.error(`tsray: ${line}`);

/** An inbound frame, with the model message decoded (and validated) from its body. */
export type InboundFrame = Frame & { readonly msg: Msg };

// ---------------------------------------------------------------------------------------------
// The Connect method definitions: the generated ones, with serializers that neither copy the
// encoded batch again nor throw into grpc-js (which would answer INTERNAL) on malformed input.

/** What a deserializer hands over for bytes that are not a Batch. */
class MalformedBatch {
  constructor(readonly reason: string) {}
}

function serializeBatch(b: Batch): Buffer {
  return encodeBatch(b.frames);
}

function deserializeBatch(bytes: Buffer): Batch | MalformedBatch {
  try {
    return decodeBatch(bytes);
  } catch (e) {
    return new MalformedBatch((e as Error).message);
  }
}

type AnyMethod = grpc.MethodDefinition<any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function connectMethod(m: AnyMethod): AnyMethod {
  return { ...m, requestSerialize: serializeBatch, responseSerialize: serializeBatch, requestDeserialize: deserializeBatch, responseDeserialize: deserializeBatch };
}

const SERVICE_DEFS: Readonly<Record<ServiceName, Record<string, AnyMethod>>> = {
  Gcs: { connect: connectMethod(GcsService.connect) },
  NodeManager: { connect: connectMethod(NodeManagerService.connect), getStatus: NodeManagerService.getStatus },
  CoreWorker: { connect: connectMethod(CoreWorkerService.connect) },
};

const clientCtors = new Map<ServiceName, grpc.ServiceClientConstructor>();
function clientCtor(service: ServiceName): grpc.ServiceClientConstructor {
  let c = clientCtors.get(service);
  if (!c) {
    c = grpc.makeGenericClientConstructor(SERVICE_DEFS[service], SERVICE_NAMES[service]);
    clientCtors.set(service, c);
  }
  return c;
}

function sizeOptions(maxFrameBytes: number): grpc.ChannelOptions {
  return {
    "grpc.max_receive_message_length": maxFrameBytes + BATCH_SLACK,
    "grpc.max_send_message_length": maxFrameBytes + BATCH_SLACK,
  };
}

function tokenMetadata(token: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set(TOKEN_METADATA_KEY, token);
  return md;
}

function statusName(code: number): string {
  return grpc.status[code] ?? String(code);
}

// ---------------------------------------------------------------------------------------------
// Server

/**
 * An inbound Connect stream (opaque to hosts beyond these read-only facts). Once its stream
 * ended, a Peer still takes frames (for its process's next stream) while its session lives.
 */
export class Peer {
  /** Addresses the peer hosts (from its Hello). */
  addrs: readonly string[] = [];
  /** The peer's Hello instance id (changes when that process restarts). */
  instance = "";
  /** @internal The session with the peer's instance; set by its first Hello. */ session: ServerSession | undefined;
  /** @internal */ closed = false;
  /** @internal */ helloDone = false;
  constructor(
    readonly id: number,
    readonly service: ServiceName,
    /** The remote socket address as gRPC reports it. */
    readonly remote: string,
    /** @internal */ readonly call: grpc.ServerDuplexStream<Batch, Batch>,
  ) {}
  toString(): string { return `${this.service} peer #${this.id} (${this.remote}${this.addrs.length ? ` ${this.addrs.join(",")}` : ""})`; }
}

/** A client instance's session, across its streams: given up when none returns within SESSION_GRACE_MS. */
interface ServerSession {
  readonly s: StreamSession;
  /** Its newest stream. */
  peer: Peer;
  timer: NodeJS.Timeout | undefined;
  gone: boolean;
}

/**
 * How long a client's session outlives its stream. A live client reconnects within a few
 * seconds (a broken stream is noticed within 4 s by keepalive, and links retry at most 2 s
 * apart); by then the cluster has declared a silent driver (5 s) or node (~6 s) dead. Until
 * then, frames for it wait (within the queue bounds) for its next stream.
 */
export const SESSION_GRACE_MS = 30_000;

export interface DaemonServerOptions extends QueueOptions {
  readonly token: string;
  /** Interface to bind (default 127.0.0.1). */
  readonly host?: string;
  /** Port (default 0: any free port; start() returns the bound one). */
  readonly port?: number;
  /** Largest frame accepted or sent (default DEFAULT_MAX_FRAME_BYTES). */
  readonly maxFrameBytes?: number;
  readonly services: readonly ServiceName[];
  /** Addresses this daemon hosts, sent back in the server's Hello. */
  readonly addrs?: readonly string[];
  /** A frame arrived (already validated and decoded). */
  readonly onFrame: (frame: InboundFrame, peer: Peer) => void;
  /** A peer said hello (again, if it changed its addresses). */
  readonly onPeer?: (peer: Peer, addrs: readonly string[]) => void;
  /** A peer's stream ended, for whatever reason. */
  readonly onPeerGone?: (peer: Peer, reason: string) => void;
  /** The status object NodeManager.GetStatus returns as JSON. */
  readonly status?: () => object;
  readonly hooks?: PayloadHooks;
  readonly log?: Logger;
  /** Bounds on unauthenticated connections (limits.ts). */
  readonly limits?: Partial<ConnectionLimits>;
  /** More services to serve behind the token check (the network fault layer's control call). */
  readonly extraServices?: readonly { readonly definition: grpc.ServiceDefinition; readonly implementation: grpc.UntypedServiceImplementation }[];
}

/** An authenticated connection with no call open this long is closed (links keep a stream open). */
const IDLE_CONNECTION_MS = 5 * 60_000;

export class DaemonServer {
  private readonly server: grpc.Server;
  private readonly maxFrameBytes: number;
  private readonly log: Logger;
  /** Refusals (bad streams) logged at a bounded rate: a misbehaving client cannot fill the log. */
  private readonly refusals: RateLimitedLog;
  /** The listening socket: accepted connections go through the guard, then to grpc-js. */
  private listener: net.Server | undefined;
  /** Unauthenticated connections of the listener (limits.ts). */
  readonly guard: ConnectionGuard;
  private readonly peerSet = new Set<Peer>();
  private readonly routes = new Map<string, Peer>();
  /** By client instance. */
  private readonly sessions = new Map<string, ServerSession>();
  private readonly health = new Map<string, ServingStatus>();
  private readonly watchers = new Set<{ service: string; call: grpc.ServerWritableStream<HealthCheckRequest, HealthCheckResponse> }>();
  private nextPeerId = 1;
  private started = false;
  private closing: Promise<void> | undefined;
  /** This process start, as Hello replies tell it. */
  readonly instance = randomBytes(8).toString("hex");
  /** Totals over all peers (current and gone). */
  readonly stats: LinkStats = newStats();
  /** Streams ended because of a bad request, by gRPC status name. */
  readonly rejected: Record<string, number> = {};

  constructor(private readonly opts: DaemonServerOptions) {
    if (typeof opts.token !== "string" || opts.token.length === 0) throw new TypeError("DaemonServer needs a non-empty cluster token");
    if (opts.services.length === 0) throw new TypeError("DaemonServer needs at least one service");
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.log = opts.log ?? defaultLog;
    this.refusals = new RateLimitedLog(this.log);
    this.guard = new ConnectionGuard(`gRPC ${opts.services.join("+")}`, { ...DEFAULT_LIMITS, ...opts.limits }, this.log);
    this.server = new grpc.Server({
      ...sizeOptions(this.maxFrameBytes),
      "grpc.keepalive_time_ms": KEEPALIVE_MS,
      "grpc.keepalive_timeout_ms": KEEPALIVE_TIMEOUT_MS,
      "grpc.max_connection_idle_ms": IDLE_CONNECTION_MS,
      interceptors: [this.authInterceptor()],
    });
    for (const s of new Set(opts.services)) {
      const impl: grpc.UntypedServiceImplementation = { connect: (call: grpc.ServerDuplexStream<Batch, Batch>) => this.connect(s, call) };
      if (s === "NodeManager") impl.getStatus = (call: grpc.ServerUnaryCall<StatusRequest, StatusReply>, cb: grpc.sendUnaryData<StatusReply>) => this.getStatus(call, cb);
      this.server.addService(SERVICE_DEFS[s], impl);
    }
    for (const x of opts.extraServices ?? []) this.server.addService(x.definition, x.implementation);
    this.server.addService(HealthService, {
      check: (call: grpc.ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>, cb: grpc.sendUnaryData<HealthCheckResponse>) => this.check(call, cb),
      watch: (call: grpc.ServerWritableStream<HealthCheckRequest, HealthCheckResponse>) => this.watch(call),
    });
  }

  /**
   * Binds and serves; resolves to the bound port. The socket is this class's own, not grpc-js's:
   * each connection is admitted by the guard (bounded, on a handshake clock until it makes a
   * call with the token) before grpc-js sees it.
   */
  start(): Promise<number> {
    if (this.started) return Promise.reject(new Error("DaemonServer already started"));
    this.started = true;
    const injector = this.server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    // No Nagle delay: a small batch (a task reply) goes out at once.
    const listener = net.createServer({ noDelay: true }, (socket) => {
      this.guard.admit(socket);
      injector.injectConnection(socket);
    });
    this.listener = listener;
    return new Promise((resolve, reject) => {
      listener.once("error", reject);
      listener.listen({ host: this.opts.host ?? "127.0.0.1", port: this.opts.port ?? 0 }, () => {
        listener.off("error", reject);
        listener.on("error", (e) => this.log(`gRPC listener: ${e.message}`));
        this.setServing("", true);
        for (const s of this.opts.services) this.setServing(SERVICE_NAMES[s], true);
        resolve((listener.address() as net.AddressInfo).port);
      });
    });
  }

  /** Sets a health status ("" is the server as a whole); Watch callers hear of the change. */
  setServing(service: string, serving: boolean): void {
    const st = serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
    if (this.health.get(service) === st) return;
    this.health.set(service, st);
    for (const w of this.watchers) if (w.service === service) w.call.write({ status: st });
  }

  /**
   * Queues `frame` for `peer` (for its next stream, if this one ended and its session waits);
   * false (and counted as dropped) if its session was given up.
   */
  send(peer: Peer, frame: Frame): boolean {
    const ss = peer.session;
    if (!ss || ss.gone) {
      this.stats.dropped++;
      return false;
    }
    const size = frameSize(frame);
    if (size > this.maxFrameBytes) {
      for (const part of fragmentFrame(frame, this.maxFrameBytes - FRAGMENT_SLACK)) ss.s.push(part, frameSize(part));
      return true;
    }
    ss.s.push(frame, size);
    return true;
  }

  /** Encodes `msg` and sends it to `peer` (see send). */
  sendMsg(peer: Peer, from: string, to: string, msg: Msg): boolean {
    return this.send(peer, msgFrame(from, to, msg, this.opts.hooks));
  }

  /** Whether `addr` has a stream of its own (not one routed through its node's daemon). */
  hasOwnRoute(addr: string): boolean {
    return this.routes.has(addr);
  }

  /**
   * The peer whose stream is up that said hello with `addr`, or else with `addr`'s node (the
   * part before "/"). None while the stream is down: hosts have their own ways around that (the
   * GCS holds frames until the Hello, a raylet dials the node, which follows it to a new port).
   */
  route(addr: string): Peer | undefined {
    const p = this.routes.get(addr);
    if (p) return p;
    const i = addr.indexOf("/");
    return i < 0 ? undefined : this.routes.get(addr.slice(0, i));
  }

  /**
   * Like `route`, and while that peer's stream is down, the peer its session waits for: what is
   * sent there goes out, in order, when the same process is back. A host with one path to an
   * address uses this, so that a reset never lets something sent later by another path overtake
   * what this one resends.
   */
  sessionRoute(addr: string): Peer | undefined {
    const up = this.route(addr);
    if (up) return up;
    const i = addr.indexOf("/");
    const node = i < 0 ? addr : addr.slice(0, i);
    for (const ss of this.sessions.values()) {
      if (!ss.gone && ss.peer.closed && (ss.peer.addrs.includes(addr) || ss.peer.addrs.includes(node))) return ss.peer;
    }
    return undefined;
  }

  peers(): Peer[] {
    return [...this.peerSet];
  }

  /** Stops serving: health goes NOT_SERVING, streams end, then the server shuts down (forced after `graceMs`). */
  close(graceMs = 2_000): Promise<void> {
    this.closing ??= this.doClose(graceMs);
    return this.closing;
  }

  private async doClose(graceMs: number): Promise<void> {
    for (const s of this.health.keys()) this.setServing(s, false);
    for (const w of this.watchers) w.call.end();
    this.watchers.clear();
    for (const p of [...this.peerSet]) {
      p.session?.s.flush();
      this.endPeer(p, "server closing");
      p.call.end();
    }
    for (const ss of [...this.sessions.values()]) this.giveUp(ss, true);
    if (!this.started) return;
    this.listener?.close();
    this.guard.close();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => { this.server.forceShutdown(); resolve(); }, graceMs);
      this.server.tryShutdown(() => { clearTimeout(timer); resolve(); });
    });
  }

  private authInterceptor(): grpc.ServerInterceptor {
    const token = this.opts.token;
    return (method, call) => new grpc.ServerInterceptingCall(call, {
      start: (next) => next({
        onReceiveMetadata: (md, mdNext) => {
          if (method.path === HEALTH_CHECK_PATH) return mdNext(md);
          const given = md.get(TOKEN_METADATA_KEY)[0];
          if (given === undefined) {
            this.count("UNAUTHENTICATED");
            call.sendStatus({ code: grpc.status.UNAUTHENTICATED, details: `missing cluster token: send it in the '${TOKEN_METADATA_KEY}' metadata (TSRAY_TOKEN)`, metadata: new grpc.Metadata() });
          } else if (!tokensEqual(typeof given === "string" ? given : given.toString("utf8"), token)) {
            this.count("UNAUTHENTICATED");
            this.guard.refused("token", `a call to ${method.path} from ${call.getPeer()} with a wrong cluster token`);
            call.sendStatus({ code: grpc.status.UNAUTHENTICATED, details: "wrong cluster token", metadata: new grpc.Metadata() });
          } else {
            this.guard.authenticatedRemote(call.getPeer());
            mdNext(md);
          }
        },
      }),
    });
  }

  private count(code: string): void {
    this.rejected[code] = (this.rejected[code] ?? 0) + 1;
  }

  private connect(service: ServiceName, call: grpc.ServerDuplexStream<Batch, Batch>): void {
    const peer = new Peer(this.nextPeerId++, service, safe(() => call.getPeer(), "?"), call);
    if (this.closing) {
      call.emit("error", { code: grpc.status.UNAVAILABLE, details: "server closing" });
      return;
    }
    this.peerSet.add(peer);
    call.on("data", (b: Batch | MalformedBatch) => {
      try {
        this.onBatch(peer, b);
      } catch (e) {
        this.reject(peer, grpc.status.INTERNAL, `internal error: ${(e as Error).message}`);
      }
    });
    call.on("end", () => { // the peer half-closed: finish our side too
      if (peer.closed) return;
      peer.session?.s.flush();
      this.endPeer(peer, "closed by peer");
      call.end();
    });
    call.on("cancelled", () => this.endPeer(peer, "cancelled"));
    call.on("error", (e: Error) => this.endPeer(peer, e.message));
    call.on("close", () => this.endPeer(peer, "closed"));
  }

  private onBatch(peer: Peer, b: Batch | MalformedBatch): void {
    if (peer.closed) return;
    if (b instanceof MalformedBatch) return this.reject(peer, grpc.status.INVALID_ARGUMENT, b.reason);
    for (let f of b.frames) {
      const size = frameSize(f);
      if (size > this.maxFrameBytes) return this.reject(peer, grpc.status.RESOURCE_EXHAUSTED, `frame of ${size} bytes exceeds the limit of ${this.maxFrameBytes}`);
      const ss = peer.session;
      if (!ss || f.type === HELLO) {
        let hello;
        try {
          hello = decodeHello(f);
        } catch (e) {
          return this.reject(peer, grpc.status.INVALID_ARGUMENT, (e as Error).message);
        }
        if (hello.protocol !== PROTOCOL_VERSION) return this.reject(peer, grpc.status.FAILED_PRECONDITION, `protocol version ${hello.protocol} is not ${PROTOCOL_VERSION}`);
        if (!ss) {
          try {
            this.join(peer, hello.instance, hello.peer, hello.received);
          } catch (e) {
            return this.reject(peer, grpc.status.INVALID_ARGUMENT, (e as Error).message);
          }
        }
        this.hello(peer, hello.addrs, hello.instance);
        continue;
      }
      let msg: Msg;
      try {
        const whole = ss.s.receive(f);
        if (!whole) continue;
        f = whole;
        msg = decodeMsg(f, this.opts.hooks);
      } catch (e) {
        if (e instanceof FrameError) return this.reject(peer, grpc.status.INVALID_ARGUMENT, e.message);
        throw e; // a hook threw: the host's bug
      }
      (f as { msg?: Msg }).msg = msg;
      this.stats.received++;
      try {
        this.opts.onFrame(f as InboundFrame, peer);
      } catch (e) {
        this.log(`onFrame threw on a ${f.type} frame from ${peer}: ${(e as Error).stack ?? e}`);
      }
    }
  }

  /**
   * A client's first Hello on a stream: it continues the session with its instance if both
   * sides still have it (the client names this server's instance), else both start afresh. The
   * session's previous stream, if the server has not noticed it broke, is ended: what it still
   * brings would come after the count this Hello answers with. FrameError if the client claims
   * more of our frames than were sent.
   */
  private join(peer: Peer, instance: string, claimed: string, received: number): void {
    let ss = this.sessions.get(instance);
    if (ss && claimed === this.instance) {
      const old = ss.peer;
      if (!old.closed) {
        this.endPeer(old, "replaced by a new stream from the same process");
        old.call.emit("error", { code: grpc.status.CANCELLED, details: "replaced by a new stream" });
      }
      clearTimeout(ss.timer);
      try {
        ss.s.resume(received);
      } catch (e) {
        this.giveUp(ss); // its next stream starts afresh
        throw e;
      }
    } else {
      if (ss) this.giveUp(ss);
      ss = { s: new StreamSession(this.maxFrameBytes + BATCH_SLACK, this.stats, this.opts), peer, timer: undefined, gone: false };
      ss.s.restart(instance);
      this.sessions.set(instance, ss);
      claimed = "";
    }
    ss.peer = peer;
    peer.session = ss;
    peer.call.write({ frames: [helloFrame(this.opts.addrs ?? [], this.instance, { peer: claimed === "" ? "" : instance, received: ss.s.received })] });
    ss.s.attach(peer.call);
  }

  private hello(peer: Peer, addrs: readonly string[], instance: string): void {
    for (const a of peer.addrs) if (this.routes.get(a) === peer) this.routes.delete(a);
    peer.addrs = addrs;
    peer.instance = instance;
    peer.helloDone = true;
    for (const a of addrs) this.routes.set(a, peer); // the newest stream for an address wins
    // Another process that took the addresses of one whose stream is down replaced it.
    for (const ss of this.sessions.values()) {
      if (ss !== peer.session && ss.peer.closed && ss.peer.addrs.some((a) => addrs.includes(a))) this.giveUp(ss);
    }
    safeCall(this.log, "onPeer", () => this.opts.onPeer?.(peer, addrs));
  }

  /**
   * Ends `peer`'s stream with an error status: it sent something it must not. Its session
   * goes too, so that a reconnect does not resend the same frames into the same refusal.
   */
  private reject(peer: Peer, code: grpc.status, details: string): void {
    if (peer.closed) return;
    this.count(statusName(code));
    this.refusals.line(statusName(code), `${peer}: ${details}; ending its stream with ${statusName(code)}`);
    this.endPeer(peer, details);
    if (peer.session?.peer === peer) this.giveUp(peer.session);
    peer.call.emit("error", { code, details });
  }

  private endPeer(peer: Peer, reason: string): void {
    if (peer.closed) return;
    peer.closed = true;
    this.peerSet.delete(peer);
    for (const a of peer.addrs) if (this.routes.get(a) === peer) this.routes.delete(a);
    const ss = peer.session;
    if (ss && ss.peer === peer && !ss.gone) {
      ss.s.detach();
      ss.timer = setTimeout(() => this.giveUp(ss), SESSION_GRACE_MS).unref();
    }
    if (peer.helloDone) safeCall(this.log, "onPeerGone", () => this.opts.onPeerGone?.(peer, reason));
  }

  /**
   * No stream of the session's process came back, or another process took its place: its
   * frames are dropped, and its stream (if still up) ends. `closed`: this server closes, after
   * a flush.
   */
  private giveUp(ss: ServerSession, closed = false): void {
    if (ss.gone) return;
    ss.gone = true;
    clearTimeout(ss.timer);
    if (closed) ss.s.end();
    else ss.s.clear();
    if (this.sessions.get(ss.s.remote) === ss) this.sessions.delete(ss.s.remote);
    if (!ss.peer.closed) {
      this.endPeer(ss.peer, "its session was given up");
      ss.peer.call.emit("error", { code: grpc.status.CANCELLED, details: "session given up" });
    }
  }

  private getStatus(_call: grpc.ServerUnaryCall<StatusRequest, StatusReply>, cb: grpc.sendUnaryData<StatusReply>): void {
    try {
      cb(null, { json: JSON.stringify(this.opts.status?.() ?? {}) });
    } catch (e) {
      this.log(`status callback threw: ${(e as Error).message}`);
      cb({ code: grpc.status.INTERNAL, details: `status unavailable: ${(e as Error).message}` });
    }
  }

  private check(call: grpc.ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>, cb: grpc.sendUnaryData<HealthCheckResponse>): void {
    const st = this.health.get(call.request?.service ?? "");
    if (st === undefined) cb({ code: grpc.status.NOT_FOUND, details: `unknown service ${JSON.stringify(call.request?.service)}` });
    else cb(null, { status: st });
  }

  private watch(call: grpc.ServerWritableStream<HealthCheckRequest, HealthCheckResponse>): void {
    const service = call.request?.service ?? "";
    if (this.closing) {
      call.write({ status: ServingStatus.NOT_SERVING });
      call.end();
      return;
    }
    const w = { service, call };
    this.watchers.add(w);
    call.write({ status: this.health.get(service) ?? ServingStatus.SERVICE_UNKNOWN });
    const done = () => this.watchers.delete(w);
    call.on("cancelled", done);
    call.on("error", done);
    call.on("close", done);
  }
}

function safe<T>(fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch {
    return fallback;
  }
}

function safeCall(log: Logger, what: string, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    log(`${what} threw: ${(e as Error).stack ?? e}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Client

export interface PeerLinkOptions extends QueueOptions {
  /** How long an attempt may wait for the daemon's Hello (default HELLO_TIMEOUT_MS). */
  readonly helloTimeoutMs?: number;
  /** "host:port" of the daemon. */
  readonly target: string;
  readonly service: ServiceName;
  readonly token: string;
  /** Addresses this side hosts, announced in the Hello (routes for frames coming back). */
  readonly addrs: readonly string[];
  readonly maxFrameBytes?: number;
  /** Reconnect delay: starts at initialMs (default 50), doubles per failure up to maxMs (default 2000), ±20% jitter. */
  readonly backoff?: { readonly initialMs?: number; readonly maxMs?: number };
  readonly onFrame?: (frame: InboundFrame) => void;
  /** The stream is up (the daemon answered the Hello). `restarted`: its instance changed since the last stream. */
  readonly onConnect?: (info: { readonly addrs: readonly string[]; readonly instance: string; readonly restarted: boolean }) => void;
  /** The stream broke (it will be reopened unless closed). */
  readonly onDisconnect?: (reason: string) => void;
  readonly hooks?: PayloadHooks;
  readonly log?: Logger;
}

type LinkState = "connecting" | "open" | "waiting" | "closed";

/** An outbound stream to one daemon's service, reopened whenever it breaks. */
export class PeerLink {
  private client: grpc.Client;
  private readonly maxFrameBytes: number;
  private readonly log: Logger;
  /** The session with the daemon's instance: the queue, what awaits acknowledgement, what was received. */
  private readonly session: StreamSession;
  private call: grpc.ClientDuplexStream<Batch, Batch> | undefined;
  private stateValue: LinkState = "connecting";
  private timer: NodeJS.Timeout | undefined;
  /** The current attempt's clock for the Hello, and how long it runs. */
  private helloTimer: NodeJS.Timeout | undefined;
  private readonly helloMs: number;
  private delayMs: number;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private addrsValue: readonly string[];
  private lastError = "";
  /** When the stream last broke (for the line that says it is back). */
  private brokeAt = 0;
  /** When the link last took a new channel (or its stream last broke). */
  private renewedAt = Date.now();
  private opened = 0;
  private closePromise: Promise<void> | undefined;
  /** Ends the bound on this link's TCP connects (tcp-connect.ts). */
  private readonly unboundConnects: () => void;
  /** The daemon's Hello on the current (or last) stream. */
  remote: { readonly addrs: readonly string[]; readonly instance: string } | undefined;
  readonly stats: LinkStats = newStats();
  /** This side's Hello instance id. */
  readonly instance = randomBytes(8).toString("hex");
  onFrame: ((frame: InboundFrame) => void) | undefined;

  constructor(private readonly opts: PeerLinkOptions) {
    if (typeof opts.token !== "string" || opts.token.length === 0) throw new TypeError("PeerLink needs a non-empty cluster token");
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.helloMs = opts.helloTimeoutMs ?? HELLO_TIMEOUT_MS;
    this.log = opts.log ?? defaultLog;
    this.initialMs = opts.backoff?.initialMs ?? 50;
    this.maxMs = Math.max(this.initialMs, opts.backoff?.maxMs ?? 2_000);
    this.delayMs = this.initialMs;
    this.addrsValue = [...opts.addrs];
    this.onFrame = opts.onFrame;
    this.session = new StreamSession(this.maxFrameBytes + BATCH_SLACK, this.stats, opts);
    // A connect gets as long as the whole attempt (connect and Hello): a SYN into a dead
    // address is dropped with its socket, not left to the kernel's two minutes.
    this.unboundConnects = boundConnects(opts.target, this.helloMs);
    this.client = this.newClient();
    this.open();
  }

  /** A channel of its own (a local subchannel pool): dropping it drops its connections. */
  private newClient(): grpc.Client {
    const opts = this.opts;
    const Ctor = clientCtor(opts.service);
    return new Ctor(opts.target, grpc.credentials.createInsecure(), {
      ...sizeOptions(this.maxFrameBytes),
      "grpc.initial_reconnect_backoff_ms": this.initialMs,
      "grpc.max_reconnect_backoff_ms": this.maxMs,
      // A target named by DNS (a Kubernetes Service, a network alias) may come back at another
      // address: a head pod killed and started again. grpc-js re-resolves a failing name at most
      // every 30 s by default, longer than the GCS waits for a node's heartbeats.
      "grpc.dns_min_time_between_resolutions_ms": 500,
      "grpc.keepalive_time_ms": KEEPALIVE_MS,
      "grpc.keepalive_timeout_ms": KEEPALIVE_TIMEOUT_MS,
      "grpc.keepalive_permit_without_calls": 1,
      "grpc.use_local_subchannel_pool": 1,
      "grpc.enable_retries": 0,
      "grpc-node.flow_control_window": 32 * MiB,
    });
  }

  get state(): LinkState { return this.stateValue; }
  get connected(): boolean { return this.stateValue === "open"; }
  /** Whether a daemon ever answered this link's Hello (it may be reconnecting now). */
  get everConnected(): boolean { return this.remote !== undefined; }
  /** What it dials, as its log lines name it: "Gcs at host:port". */
  get target(): string { return `${this.opts.service} at ${this.opts.target}`; }
  /** Frames waiting to be written. */
  get queued(): number { return this.session.length; }

  /** Queues `frame`; it goes out when the stream is up. Never throws; oversized frames are dropped. */
  send(frame: Frame): void {
    if (this.stateValue === "closed") {
      this.stats.dropped++;
      return;
    }
    const size = frameSize(frame);
    if (size > this.maxFrameBytes) {
      for (const part of fragmentFrame(frame, this.maxFrameBytes - FRAGMENT_SLACK)) this.session.push(part, frameSize(part));
      return;
    }
    this.session.push(frame, size);
  }

  /** Encodes `msg` and sends it (see send). */
  sendMsg(from: string, to: string, msg: Msg): void {
    this.send(msgFrame(from, to, msg, this.opts.hooks));
  }

  /**
   * Takes back the frames still waiting to be written (oldest first), for another link to send:
   * the peer moved to another address, and what waited for the old one is for the new one.
   */
  takeQueued(): Frame[] {
    return this.session.take();
  }

  /** Announces a new set of hosted addresses (now, and in the Hello of every later stream). */
  setAddrs(addrs: readonly string[]): void {
    this.addrsValue = [...addrs];
    if (this.call && this.stateValue !== "closed") this.call.write({ frames: [helloFrame(this.addrsValue, this.instance, this.session.hello())] });
  }

  /** Flushes what is queued (while connected), ends the stream and the channel. */
  close(graceMs = 1_000): Promise<void> {
    this.closePromise ??= this.doClose(graceMs);
    return this.closePromise;
  }

  private async doClose(graceMs: number): Promise<void> {
    const call = this.call;
    const wasOpen = this.stateValue === "open";
    this.stateValue = "closed";
    if (this.timer) clearTimeout(this.timer);
    clearTimeout(this.helloTimer);
    if (call && wasOpen) {
      this.session.flush();
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => { call.cancel(); resolve(); }, graceMs);
        call.on("status", () => { clearTimeout(t); resolve(); });
        call.end();
      });
    } else call?.cancel();
    this.call = undefined;
    this.session.end();
    this.client.close();
    this.unboundConnects();
  }

  private open(): void {
    if (this.stateValue === "closed") return;
    this.stateValue = "connecting";
    if (this.opened++ > 0) this.stats.reconnects++;
    let call: grpc.ClientDuplexStream<Batch, Batch>;
    try {
      call = (this.client as unknown as { connect(md: grpc.Metadata): grpc.ClientDuplexStream<Batch, Batch> }).connect(tokenMetadata(this.opts.token));
    } catch (e) {
      return this.broken(undefined, `could not start a stream: ${(e as Error).message}`);
    }
    this.call = call;
    let helloSeen = false;
    clearTimeout(this.helloTimer);
    this.helloTimer = setTimeout(() => {
      if (this.call !== call || helloSeen) return;
      this.broken(call, `no Hello from the daemon within ${this.helloMs / 1000} s`);
      call.cancel();
    }, this.helloMs);
    call.on("data", (b: Batch | MalformedBatch) => {
      if (this.call !== call) return;
      if (b instanceof MalformedBatch) return this.refuse(call, b.reason);
      for (let f of b.frames) {
        if (!helloSeen || f.type === HELLO) {
          try {
            const h = decodeHello(f);
            const restarted = this.remote !== undefined && this.remote.instance !== h.instance;
            this.remote = { addrs: h.addrs, instance: h.instance };
            if (!helloSeen) {
              // The daemon resumed our session (it names us, and is the process we had it with) or not.
              if (h.peer === this.instance && h.instance === this.session.remote) this.session.resume(h.received);
              else this.session.restart(h.instance);
              helloSeen = true;
              clearTimeout(this.helloTimer);
              this.stateValue = "open";
              this.delayMs = this.initialMs;
              if (this.lastError !== "") this.log(`link to ${this.opts.service} at ${this.opts.target}: connected after ${((Date.now() - this.brokeAt) / 1000).toFixed(1)} s of retrying`);
              this.lastError = "";
              this.session.attach(call);
              safeCall(this.log, "onConnect", () => this.opts.onConnect?.({ addrs: h.addrs, instance: h.instance, restarted }));
            }
          } catch (e) {
            return this.refuse(call, (e as Error).message);
          }
          continue;
        }
        try {
          const whole = this.session.receive(f);
          if (!whole) continue;
          f = whole;
        } catch (e) {
          return this.refuse(call, (e as Error).message);
        }
        let msg: Msg;
        try {
          msg = decodeMsg(f, this.opts.hooks);
        } catch (e) {
          this.stats.dropped++;
          this.log(`${this.opts.target}: dropped a frame: ${(e as Error).message}`);
          continue;
        }
        (f as { msg?: Msg }).msg = msg;
        this.stats.received++;
        try {
          this.onFrame?.(f as InboundFrame);
        } catch (e) {
          this.log(`onFrame threw on a ${f.type} frame from ${this.opts.target}: ${(e as Error).stack ?? e}`);
        }
      }
    });
    call.on("error", () => {}); // the status event says it all
    call.on("status", (st: grpc.StatusObject) => {
      if (this.call !== call) return;
      this.broken(call, st.code === grpc.status.OK ? "stream ended by the daemon" : `${statusName(st.code)}: ${st.details}`);
    });
    call.write({ frames: [helloFrame(this.addrsValue, this.instance, this.session.hello())] });
  }

  /**
   * The daemon broke the protocol on `call`: reopen the stream, with a new session, lest the
   * daemon resend into it what it was refused for.
   */
  private refuse(call: grpc.ClientDuplexStream<Batch, Batch>, why: string): void {
    this.log(`${this.opts.target}: ${why}; reopening the stream`);
    this.session.restart("");
    call.cancel();
  }

  private broken(call: grpc.ClientDuplexStream<Batch, Batch> | undefined, reason: string): void {
    if (call && this.call !== call) return;
    this.call = undefined;
    this.session.detach();
    if (this.stateValue === "closed") return;
    const wasOpen = this.stateValue === "open";
    if (wasOpen || this.brokeAt === 0) this.brokeAt = Date.now();
    this.stateValue = "waiting";
    // A link that keeps failing dials on a new channel, at most once per Hello timeout. A grpc-js
    // channel whose connection attempt hangs (accepted and then silent, or a SYN into a dead
    // pod's address) has no connect timeout: it answers every call with its last error until
    // that attempt ends, so a link that kept it kept failing while fresh channels to the same
    // address got through. In the containers chaos test a driver so failed to reach a restarted
    // head's GCS for 90 s (once for 35 s: the GCS's guard closed the silent connection after
    // 10 s), past its grace period. Not on every failure: a channel is not free, and an attempt
    // hung on its SYN is ended by the connect bound (tcp-connect.ts) whichever channel made it.
    const now = Date.now();
    if (wasOpen) this.renewedAt = now;
    else if (now - this.renewedAt >= this.helloMs) {
      this.renewedAt = now;
      this.client.close();
      this.client = this.newClient();
    }
    if (reason !== this.lastError) {
      this.log(`link to ${this.opts.service} at ${this.opts.target}: ${reason}; retrying`);
      this.lastError = reason;
    }
    if (wasOpen) safeCall(this.log, "onDisconnect", () => this.opts.onDisconnect?.(reason));
    const jitter = 0.8 + 0.4 * Math.random();
    const delay = Math.round(this.delayMs * jitter);
    this.delayMs = Math.min(this.maxMs, this.delayMs * 2);
    this.timer = setTimeout(() => { this.timer = undefined; this.open(); }, delay);
  }
}

// ---------------------------------------------------------------------------------------------
// One-shot calls, for the CLI and probes.

/** NodeManager.GetStatus: the daemon's status object. */
export function getStatus(target: string, token: string, timeoutMs = 5_000): Promise<unknown> {
  const unbound = boundConnects(target, timeoutMs);
  const client = new (clientCtor("NodeManager"))(target, grpc.credentials.createInsecure());
  return new Promise<unknown>((resolve, reject) => {
    (client as unknown as { getStatus(r: StatusRequest, md: grpc.Metadata, o: grpc.CallOptions, cb: grpc.requestCallback<StatusReply>): void })
      .getStatus({}, tokenMetadata(token), { deadline: Date.now() + timeoutMs }, (err, reply) => {
        client.close();
        unbound();
        if (err) return reject(err);
        try {
          resolve(JSON.parse(reply?.json ?? "null"));
        } catch (e) {
          reject(e);
        }
      });
  });
}

/** grpc.health.v1.Health.Check (no token, as a probe would call it). */
export function healthCheck(target: string, service = "", timeoutMs = 5_000): Promise<ServingStatus> {
  const unbound = boundConnects(target, timeoutMs);
  const client = new (grpc.makeGenericClientConstructor(HealthService, "grpc.health.v1.Health"))(target, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) => {
    (client as unknown as { check(r: HealthCheckRequest, o: grpc.CallOptions, cb: grpc.requestCallback<HealthCheckResponse>): void })
      .check({ service }, { deadline: Date.now() + timeoutMs }, (err, reply) => {
        client.close();
        unbound();
        if (err) reject(err);
        else resolve(reply?.status ?? ServingStatus.UNKNOWN);
      });
  });
}
