// The event queue: a binary min-heap ordered by (time, sequence). The sequence number makes
// events at the same instant run in the order they were scheduled, so order never depends on
// anything but the inputs.

/**
 * One scheduled event. Hot kinds (a message delivery, a task run) are subclasses that carry
 * their data as fields: a closure and its context per message would cost as much again.
 */
export abstract class SimEvent {
  t = 0;
  seq = 0;
  /** Housekeeping (heartbeats, health checks) that does not count as pending work. */
  periodic = false;
  cancelled = false;
  abstract run(): void;
}

/** An event that runs a callback. */
class Callback extends SimEvent {
  constructor(private readonly fn: () => void) { super(); }
  run(): void { this.fn(); }
}

export class EventQueue {
  private readonly heap: SimEvent[] = [];
  private seq = 0;
  /** Scheduled, not cancelled, not periodic: work that keeps a simulation going. */
  pendingWork = 0;

  get size(): number { return this.heap.length; }

  push(t: number, run: () => void, periodic = false): SimEvent {
    return this.add(t, new Callback(run), periodic);
  }

  /** Schedules an event object at `t`. */
  add<E extends SimEvent>(t: number, e: E, periodic = false): E {
    e.t = t;
    e.seq = this.seq++;
    e.periodic = periodic;
    if (!periodic) this.pendingWork++;
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(e, h[p])) break;
      h[i] = h[p];
      i = p;
    }
    h[i] = e;
    return e;
  }

  cancel(e: SimEvent): void {
    if (e.cancelled) return;
    e.cancelled = true;
    if (!e.periodic) this.pendingWork--;
  }

  /** Removes and returns the next live event (skipping cancelled ones). */
  pop(): SimEvent | undefined {
    const h = this.heap;
    while (h.length > 0) {
      const top = h[0];
      const last = h.pop()!;
      if (h.length > 0) {
        let i = 0;
        const n = h.length;
        for (;;) {
          const l = 2 * i + 1;
          if (l >= n) break;
          const r = l + 1;
          const c = r < n && before(h[r], h[l]) ? r : l;
          if (!before(h[c], last)) break;
          h[i] = h[c];
          i = c;
        }
        h[i] = last;
      }
      if (top.cancelled) continue;
      if (!top.periodic) this.pendingWork--;
      return top;
    }
    return undefined;
  }
}

function before(a: SimEvent, b: SimEvent): boolean {
  return a.t < b.t || (a.t === b.t && a.seq < b.seq);
}
