// Limits on what an unauthenticated client can hold of a daemon: every listener (the gRPC
// port, the object channel, the dashboard) hands each accepted socket to a ConnectionGuard
// until the socket has proven it holds the cluster token. Until then the socket is on the
// clock (the handshake timeout) and counts toward a per-listener bound; past the bound the
// oldest unauthenticated socket is closed to make room. A flood of idle connections therefore
// pins at most `maxUnauthenticated` file descriptors per listener, and a real client, which
// authenticates within milliseconds of connecting, still gets in. Sockets are reset, not
// half-closed: a peer that never reads cannot keep one in FIN-WAIT-2. (A reset also closes a
// socket whose handle an HTTP/2 session has taken over, which a plain destroy() does not.)
//
// Rejections are logged through a RateLimitedLog: a flood writes a few lines and a count,
// not a line per connection.

import type net from "node:net";

export interface ConnectionLimits {
  /** Unauthenticated sockets held at once per listener; the oldest goes when one more arrives. */
  readonly maxUnauthenticated: number;
  /** How long a socket may stay unauthenticated (the hello, the first call with the token). */
  readonly handshakeMs: number;
}

export const DEFAULT_LIMITS: ConnectionLimits = { maxUnauthenticated: 256, handshakeMs: 10_000 };

/** Grace for a refusal to be written before the socket is destroyed. */
const REFUSAL_GRACE_MS = 1_000;

/** At most `burst` lines per key and window; what it held back is counted in the next line. */
export class RateLimitedLog {
  private readonly windows = new Map<string, { start: number; lines: number; suppressed: number }>();

  constructor(private readonly log: (line: string) => void, private readonly burst = 5, private readonly windowMs = 10_000, private readonly now: () => number = Date.now) {}

  line(key: string, text: string): void {
    const t = this.now();
    let w = this.windows.get(key);
    if (!w || t - w.start >= this.windowMs) {
      const held = w?.suppressed ?? 0;
      w = { start: t, lines: 0, suppressed: 0 };
      this.windows.set(key, w);
      if (held > 0) {
        w.lines++;
        this.log(`${text} (and ${held} more like it before, not logged)`);
        return;
      }
    }
    if (w.lines < this.burst) {
      w.lines++;
      this.log(text);
    } else w.suppressed++;
  }
}

export interface GuardStats {
  /** Sockets accepted. */
  accepted: number;
  /** Sockets that authenticated. */
  authenticated: number;
  /** Closed because the bound was reached (oldest first). */
  evicted: number;
  /** Closed because they did not authenticate in time. */
  timedOut: number;
}

/** Writes `last` (if any), then destroys the socket once it is flushed or after a grace. */
export function closeHard(socket: net.Socket, last?: Uint8Array): void {
  if (socket.destroyed) return;
  const t = setTimeout(() => socket.destroy(), REFUSAL_GRACE_MS);
  t.unref();
  const done = () => { clearTimeout(t); socket.destroy(); };
  if (last) socket.end(last, done);
  else socket.end(done);
}

/** The unauthenticated sockets of one listener, oldest first. */
export class ConnectionGuard {
  /** Insertion order is age: the first entry is the oldest. */
  private readonly pending = new Map<net.Socket, NodeJS.Timeout>();
  private readonly byRemote = new Map<string, net.Socket>();
  readonly stats: GuardStats = { accepted: 0, authenticated: 0, evicted: 0, timedOut: 0 };
  private readonly log: RateLimitedLog;

  constructor(private readonly name: string, private readonly limits: ConnectionLimits, log: (line: string) => void) {
    if (!(limits.maxUnauthenticated >= 1) || !(limits.handshakeMs > 0)) throw new RangeError(`${name}: connection limits must be positive (got ${JSON.stringify(limits)})`);
    this.log = new RateLimitedLog(log);
  }

  /** Number of sockets waiting to authenticate. */
  get unauthenticated(): number {
    return this.pending.size;
  }

  /** Puts a just-accepted socket on the clock; closes the oldest waiting one if the bound is reached. */
  admit(socket: net.Socket): void {
    this.stats.accepted++;
    while (this.pending.size >= this.limits.maxUnauthenticated) {
      const [oldest] = this.pending.keys();
      this.stats.evicted++;
      this.log.line("evicted", `${this.name}: ${this.limits.maxUnauthenticated} unauthenticated connections open; closing the oldest (${remoteOf(oldest)})`);
      this.drop(oldest);
      oldest.resetAndDestroy();
    }
    const timer = setTimeout(() => {
      this.stats.timedOut++;
      this.log.line("timeout", `${this.name}: ${remoteOf(socket)} did not authenticate within ${this.limits.handshakeMs / 1000} s; closing it`);
      this.drop(socket);
      socket.resetAndDestroy();
    }, this.limits.handshakeMs);
    timer.unref();
    this.pending.set(socket, timer);
    const key = remoteOf(socket);
    if (key !== "local") this.byRemote.set(key, socket);
    socket.once("close", () => this.drop(socket));
  }

  /** The socket proved it holds the token: it is off the clock and no longer counted. */
  authenticated(socket: net.Socket): void {
    if (!this.pending.has(socket)) return;
    this.stats.authenticated++;
    this.drop(socket);
  }

  /** The same, for a socket known by its remote "address:port" (how gRPC names a call's peer). */
  authenticatedRemote(remote: string): void {
    const s = this.byRemote.get(remote);
    if (s) this.authenticated(s);
  }

  /** A refusal worth a log line (wrong token, bad hello), rate-limited per kind. */
  refused(kind: string, text: string): void {
    this.log.line(`refused:${kind}`, `${this.name}: ${text}`);
  }

  /** Destroys every socket still waiting (the listener is closing). */
  close(): void {
    for (const s of [...this.pending.keys()]) {
      this.drop(s);
      s.resetAndDestroy();
    }
  }

  private drop(socket: net.Socket): void {
    const t = this.pending.get(socket);
    if (t === undefined) return;
    clearTimeout(t);
    this.pending.delete(socket);
    const key = remoteOf(socket);
    if (this.byRemote.get(key) === socket) this.byRemote.delete(key);
  }
}

/** "address:port" as gRPC's getPeer() spells it; "local" for a Unix socket. */
export function remoteOf(socket: net.Socket): string {
  return socket.remoteAddress === undefined ? "local" : `${socket.remoteAddress}:${socket.remotePort}`;
}
