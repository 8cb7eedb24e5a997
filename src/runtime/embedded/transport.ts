// The in-process transport: every model lives on the main thread and talks through one FIFO
// queue. `send` only appends; the queue is drained later (never inside the send, so a model is
// never re-entered mid-step), in one batch, by a microtask or by setImmediate. One queue for
// everything keeps every link FIFO, as a TCP stream would be. Timers are real timers whose
// expiries go through the same queue.
//
// Messages that carry arena slots (StoreGetReply, Chunk) hold them while in flight: the sender's
// store may release a copy before the message is delivered, and the slot must not be reused
// under it (see pins.ts).

import type { Msg } from "../../core/messages.ts";
import type { Addr } from "../../core/types.ts";
import type { Hosted } from "../kernel.ts";
import { drop, hold } from "./pins.ts";

/** A model as the transport delivers to it (the kernel's hosted model). */
export type Component = Pick<Hosted, "message">;

/** How the queue is drained: measured in bench/embedded.ts (microtasks are faster). */
export type DrainMode = "microtask" | "immediate";

export class Transport {
  private readonly procs = new Map<Addr, Component>();
  /** Flat triples (to, from, msg); a local job is (fn, undefined, undefined). */
  private q: unknown[] = [];
  private scheduled = false;
  private draining = false;
  /** Messages delivered (for benchmarks and debugging). */
  delivered = 0;
  /** Called after each drain, when the queue is empty (the host flushes thread batches). */
  afterDrain: () => void = () => {};
  /**
   * Where messages for addresses not hosted here go (daemon hosts: a gRPC link). It must encode
   * the message before returning: arena slots the message holds are released right after.
   */
  remote: ((from: Addr, to: Addr, m: Msg) => void) | undefined;
  /** A model threw: a bug, reported once per drain rather than breaking the loop. */
  onError: (e: unknown, where: string) => void = (e, where) => { console.error(`tsray: ${where} threw`, e); };
  private readonly drainFn = () => this.drain();
  private readonly immediateFn = () => this.drain();
  /**
   * Drain by setImmediate whatever the mode, so that the event loop gets a turn between drains.
   * Microtasks keep a burst within one turn (faster), but a program whose awaits all resolve
   * here (a driver's loop of puts) would then give the loop no turn for as long as it runs:
   * the host sets this while it needs turns (see EmbeddedCluster.collectEverywhere).
   */
  yieldEachDrain = false;

  constructor(readonly mode: DrainMode = "microtask") {}

  register(addr: Addr, comp: Component): void { this.procs.set(addr, comp); }
  unregister(addr: Addr): void { this.procs.delete(addr); }
  has(addr: Addr): boolean { return this.procs.has(addr); }

  get idle(): boolean { return this.q.length === 0 && !this.draining; }

  send(from: Addr, to: Addr, m: Msg): void {
    if (m.type === "StoreGetReply" || m.type === "Chunk") holdSlots(m, hold);
    this.q.push(to, from, m);
    if (!this.scheduled) this.schedule();
  }

  /** Runs `fn` from the queue (an input that is not a message: a timer, a thread's report). */
  post(fn: () => void): void {
    this.q.push(fn, undefined, undefined);
    if (!this.scheduled) this.schedule();
  }

  private schedule(): void {
    this.scheduled = true;
    if (this.draining) return; // the running drain will get to it
    if (this.mode === "microtask" && !this.yieldEachDrain) queueMicrotask(this.drainFn);
    else setImmediate(this.immediateFn);
  }

  /** Delivers until the queue is empty (deliveries may queue more). */
  drain(): void {
    if (this.draining) return;
    this.draining = true;
    const procs = this.procs;
    try {
      for (;;) {
        const q = this.q;
        if (q.length === 0) break;
        this.q = [];
        for (let i = 0; i < q.length; i += 3) {
          const to = q[i];
          try {
            if (typeof to === "function") (to as () => void)();
            else {
              const p = procs.get(to as Addr);
              const m = q[i + 2] as Msg;
              try {
                if (p !== undefined) {
                  this.delivered++;
                  p.message(q[i + 1] as Addr, m);
                } else this.remote?.(q[i + 1] as Addr, to as Addr, m);
              } finally {
                if (m.type === "StoreGetReply" || m.type === "Chunk") holdSlots(m, drop);
              }
            }
          } catch (e) {
            this.onError(e, typeof to === "function" ? "a host job" : `${to as string} receiving ${(q[i + 2] as Msg).type}`);
          }
        }
      }
    } finally {
      this.scheduled = false;
      this.draining = false;
    }
    this.afterDrain();
    // afterDrain may have queued more (a thread batch answered synchronously never does, but be safe)
    if (this.q.length > 0 && !this.scheduled) this.schedule();
  }

  clear(): void {
    this.q = [];
    this.procs.clear();
  }
}

function holdSlots(m: Msg, f: (p: unknown) => unknown): void {
  if (m.type === "StoreGetReply") for (const v of m.values) f(v);
  else if (m.type === "Chunk" && m.payload) f(m.payload);
}

/**
 * The scheduling port of one process, on real timers whose expiries are queued on the transport
 * (the kernel keeps each model's timers by key on top of it).
 */
export class Timers {
  private readonly live = new Set<NodeJS.Timeout>();

  constructor(private readonly transport: Transport, private readonly pending: Set<NodeJS.Timeout>) {}

  schedule(delayMs: number, fire: () => void, periodic: boolean): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.live.delete(t);
      this.pending.delete(t);
      this.transport.post(fire);
    }, Math.max(0, delayMs));
    // Housekeeping (heartbeats, health checks) never keeps the process alive, nor counts as work.
    if (periodic) t.unref();
    else this.pending.add(t);
    this.live.add(t);
    return t;
  }

  cancel(t: NodeJS.Timeout): void {
    clearTimeout(t);
    this.pending.delete(t);
    this.live.delete(t);
  }

  clearAll(): void {
    for (const t of this.live) { clearTimeout(t); this.pending.delete(t); }
    this.live.clear();
  }
}
