// Session-level reliability over the Connect streams (docs/protocol.md, "Sessions"). A stream
// can break while both processes live (a connection reset): frames written to it and not yet
// read would be lost, and the models count on losing messages only when a process dies. So each
// direction numbers its data frames (every frame but Hello and Ack; fragments count) within the
// session of (this instance, the remote instance); the receiver acknowledges them cumulatively,
// and the sender keeps what it wrote until it is acknowledged. On a reconnect between the same
// two instances each side's Hello says how many frames it received, and the other resends the
// rest, in order, before anything new. Numbers are implicit: the k-th data frame written on a
// stream that resumed at r is frame r + k, so the envelope is unchanged.

import { ACK, FRAGMENT, FrameError, Reassembler, fragmentHeader, ackFrame, batchEntrySize, decodeAck, frameSize, type Frame, type Batch } from "./wire/frame.ts";

const MiB = 1024 * 1024;
/** Bytes of one session's fragmented messages in flight at once (one large object, with room). */
const MAX_FRAGMENTED_BYTES = 4 * 1024 * MiB;
/** A receiver acknowledges after this many data frames, so a busy sender's buffer stays small ... */
const ACK_EVERY_FRAMES = 256;
/** ... and at most this long after a data frame arrived, so a quiet one's empties too. */
const ACK_DELAY_MS = 20;

export interface LinkStats {
  /** Frames handed to gRPC (resent ones again). */
  sent: number;
  /** Frames resent on a new stream: written to one that broke before they were acknowledged. */
  resent: number;
  /** Frames received and delivered. */
  received: number;
  /**
   * Frames dropped: queue overflow, oversized, sent to a peer that is gone, or unacknowledged
   * when the remote process restarted or its session was given up.
   */
  dropped: number;
  /** Streams opened after the first (PeerLink). */
  reconnects: number;
}

export function newStats(): LinkStats {
  return { sent: 0, resent: 0, received: 0, dropped: 0, reconnects: 0 };
}

/** How queued frames are flushed: after the current turn (setImmediate) or after the current job (microtask). */
export type FlushMode = "immediate" | "microtask";

export interface QueueOptions {
  /** Frames waiting to be written (while disconnected or under backpressure); beyond it the oldest are dropped. */
  readonly maxQueuedFrames?: number;
  /** The same bound in bytes. */
  readonly maxQueuedBytes?: number;
  /**
   * Default "immediate": what the turn sent goes out at its end. grpc-js hands over each
   * received message in a callback of its own, so flushing per job ("microtask") sent one
   * frame per batch (a stream of task replies became a stream of single pushes); per turn,
   * the answers to what one read brought in share a batch, ~6 frames each in the tasks
   * benchmark. A request/response pays only for the rest of the turn (the check phase comes
   * right after the poll phase): sequential calls measured no slower.
   */
  readonly flush?: FlushMode;
}

export interface Writable {
  write(b: Batch): boolean;
  once(event: "drain", fn: () => void): unknown;
}

/** Frames with their encoded sizes, oldest first; shift is O(1) (the array is compacted now and then). */
class FrameQueue {
  frames: Frame[] = [];
  sizes: number[] = [];
  head = 0;
  bytes = 0;

  get length(): number { return this.frames.length - this.head; }

  push(f: Frame, size: number): void {
    this.frames.push(f);
    this.sizes.push(size);
    this.bytes += size;
  }

  shift(): void {
    this.bytes -= this.sizes[this.head];
    this.frames[this.head] = undefined as unknown as Frame;
    this.head++;
    if (this.head === this.frames.length) this.clear();
    else if (this.head > 4096 && this.head * 2 > this.frames.length) {
      this.frames = this.frames.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
  }

  /** Removes and returns the frames from index `from` (relative to the head) on. */
  splice(from: number): FrameQueue {
    const out = new FrameQueue();
    for (let i = this.head + from; i < this.frames.length; i++) out.push(this.frames[i], this.sizes[i]);
    this.frames.length = this.head + from;
    this.sizes.length = this.head + from;
    this.bytes -= out.bytes;
    return out;
  }

  /** Puts `q`'s frames before this queue's. */
  prepend(q: FrameQueue): void {
    this.frames = [...q.frames.slice(q.head), ...this.frames.slice(this.head)];
    this.sizes = [...q.sizes.slice(q.head), ...this.sizes.slice(this.head)];
    this.head = 0;
    this.bytes += q.bytes;
  }

  clear(): void {
    this.frames = [];
    this.sizes = [];
    this.head = 0;
    this.bytes = 0;
  }
}

/** Is `f` a part of a fragmented message other than its first? */
function continuesFragment(f: Frame): boolean {
  return f.type === FRAGMENT && (fragmentHeader(f)?.[1] ?? 0) !== 0;
}

/**
 * One side of a session: the frames waiting for a stream, written as batches of at most
 * `maxBatchBytes` respecting the stream's backpressure (bounded: past the bounds the oldest are
 * dropped), the frames written and not yet acknowledged, and what was received.
 */
export class StreamSession {
  /** The remote instance this session is with ("" until a Hello arrived). */
  remote = "";
  /** Data frames received in this session (what Acks and Hellos report). */
  received = 0;
  private reassembler = new Reassembler(MAX_FRAGMENTED_BYTES);
  private readonly queue = new FrameQueue();
  /** Written, not yet acknowledged: frames `base` .. `base + unacked.length - 1` of the session. */
  private readonly unacked = new FrameQueue();
  private base = 0;
  private ackedReceived = 0;
  private ackTimer: NodeJS.Timeout | undefined;
  private stream: Writable | undefined;
  private blocked = false;
  private scheduled = false;
  private readonly maxFrames: number;
  private readonly maxBytes: number;
  private readonly flushMode: FlushMode;
  private readonly flushFn = () => { this.scheduled = false; this.flush(); };

  constructor(private readonly maxBatchBytes: number, private readonly stats: LinkStats, q: QueueOptions) {
    this.maxFrames = q.maxQueuedFrames ?? 100_000;
    this.maxBytes = q.maxQueuedBytes ?? 512 * MiB;
    this.flushMode = q.flush ?? "immediate";
  }

  /** Frames waiting to be written. */
  get length(): number { return this.queue.length; }

  /** What this side's Hello says of the session. */
  hello(): { peer: string; received: number } {
    return { peer: this.remote, received: this.received };
  }

  push(f: Frame, size: number): void {
    this.queue.push(f, size);
    while (this.queue.length > this.maxFrames || (this.queue.bytes > this.maxBytes && this.queue.length > 1)) {
      this.queue.shift();
      this.stats.dropped++;
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.stream && !this.blocked && !this.scheduled) {
      this.scheduled = true;
      if (this.flushMode === "microtask") queueMicrotask(this.flushFn);
      else setImmediate(this.flushFn);
    }
  }

  /**
   * The remote said it received `received` of our frames in this session: they are let go of,
   * and the rest will be written again first. FrameError if that is more than was written or
   * fewer than it acknowledged before.
   */
  resume(received: number): void {
    this.ack(received);
    this.stats.resent += this.unacked.length;
    this.queue.prepend(this.unacked.splice(0));
  }

  /**
   * A session with a new remote instance (or the old one forgot ours): what was unacknowledged
   * went to a process that is gone, and so does a half-delivered fragmented message.
   */
  restart(remote: string): void {
    this.stats.dropped += this.unacked.length;
    this.unacked.clear();
    this.base = 0;
    while (this.queue.length > 0 && continuesFragment(this.queue.frames[this.queue.head])) {
      this.queue.shift();
      this.stats.dropped++;
    }
    this.remote = remote;
    this.received = 0;
    this.ackedReceived = 0;
    this.reassembler = new Reassembler(MAX_FRAGMENTED_BYTES);
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
  }


  private ack(n: number): void {
    const written = this.base + this.unacked.length;
    if (n < this.base || n > written) throw new FrameError(`${n} frames acknowledged, but ${this.base} were before and ${written} written`);
    for (; this.base < n; this.base++) this.unacked.shift();
  }

  /**
   * A frame after the Hello arrived. An Ack lets go of what it acknowledges; a data frame is
   * counted and an Ack scheduled. Returns the frame to deliver: undefined for an Ack, or while
   * a fragmented message is incomplete. FrameError on a malformed or out-of-range Ack, or a bad
   * fragment.
   */
  receive(f: Frame): Frame | undefined {
    if (f.type === ACK) {
      this.ack(decodeAck(f));
      return undefined;
    }
    this.received++;
    if (this.received - this.ackedReceived >= ACK_EVERY_FRAMES) this.schedule();
    else this.ackTimer ??= setTimeout(() => { this.ackTimer = undefined; this.flush(); }, ACK_DELAY_MS).unref();
    return f.type === FRAGMENT ? this.reassembler.add(f) : f;
  }

  /** Starts writing to `s` (frames waiting so far go first). */
  attach(s: Writable): void {
    this.stream = s;
    this.blocked = false;
    this.ackedReceived = this.received; // the Hello on `s` said as much
    this.flush();
  }

  /** The stream broke: keep what was not acknowledged. */
  detach(): void {
    this.stream = undefined;
    this.blocked = false;
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
  }

  /**
   * Hands over every whole frame not yet written, oldest first, and empties the queue. Fragments
   * are dropped (counted): the first parts of their message may have gone out already.
   */
  take(): Frame[] {
    const q = this.queue;
    const out = q.frames.slice(q.head).filter((f) => f.type !== FRAGMENT);
    this.stats.dropped += q.length - out.length;
    q.clear();
    return out;
  }

  /** Drops everything waiting or unacknowledged (a peer that is gone). */
  clear(): void {
    this.stats.dropped += this.unacked.length;
    this.unacked.clear();
    this.end();
  }

  /** The session ends with a stream closed in good order: what was written went with it; what waits is dropped. */
  end(): void {
    this.stats.dropped += this.queue.length;
    this.queue.clear();
    this.unacked.clear();
    this.detach();
  }

  flush(): void {
    const s = this.stream;
    while (s && !this.blocked && (this.queue.length > 0 || this.received > this.ackedReceived)) {
      const batch: Frame[] = [];
      let bytes = 0;
      // What we received rides along: one Ack per batch, when there is news.
      const acking = this.received > this.ackedReceived;
      if (acking) {
        const ack = ackFrame(this.received);
        batch.push(ack);
        bytes += batchEntrySize(frameSize(ack));
        this.ackedReceived = this.received;
        clearTimeout(this.ackTimer);
        this.ackTimer = undefined;
      }
      const q = this.queue;
      while (q.length > 0) {
        const size = batchEntrySize(q.sizes[q.head]);
        if (batch.length > 0 && bytes + size > this.maxBatchBytes) break;
        const f = q.frames[q.head];
        batch.push(f);
        this.unacked.push(f, q.sizes[q.head]);
        q.shift();
        bytes += size;
      }
      this.stats.sent += acking ? batch.length - 1 : batch.length;
      if (!s.write({ frames: batch })) {
        this.blocked = true;
        s.once("drain", () => {
          if (this.stream !== s) return;
          this.blocked = false;
          this.flush();
        });
      }
    }
  }
}
