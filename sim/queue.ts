// The event queue: a binary min-heap ordered by (time, sequence). The sequence number makes
// events at the same instant run in the order they were scheduled, so order never depends on
// anything but the inputs.

/**
 * One scheduled event. Hot kinds (a message delivery, a task run) are subclasses that carry
 * their data as fields: a closure and its context per message would cost as much again.
 */
export abstract class SimEvent {
  t = 0;
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

/**
 * The heap keeps each entry's time and sequence in typed arrays beside the events: sifting
 * compares numbers laid out together instead of reading two fields of an event object
 * scattered over the heap, which was most of what a pop cost with thousands of events queued.
 */
export class EventQueue {
  private events: (SimEvent | undefined)[] = [];
  // Room for a 100-node cluster's boot (every registration sends the view to every node) without growing.
  private times = new Float64Array(8192);
  private seqs = new Float64Array(8192);
  private n = 0;
  private seq = 0;
  /** Scheduled, not cancelled, not periodic: work that keeps a simulation going. */
  pendingWork = 0;

  get size(): number { return this.n; }

  push(t: number, run: () => void, periodic = false): SimEvent {
    return this.add(t, new Callback(run), periodic);
  }

  /** Schedules an event object at `t`. */
  add<E extends SimEvent>(t: number, e: E, periodic = false): E {
    const s = this.seq++;
    e.t = t;
    e.periodic = periodic;
    if (!periodic) this.pendingWork++;
    if (this.n === this.times.length) this.grow();
    const times = this.times, seqs = this.seqs, evs = this.events;
    let i = this.n++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const tp = times[p];
      if (tp < t || (tp === t && seqs[p] < s)) break;
      times[i] = tp;
      seqs[i] = seqs[p];
      evs[i] = evs[p];
      i = p;
    }
    times[i] = t;
    seqs[i] = s;
    evs[i] = e;
    return e;
  }

  cancel(e: SimEvent): void {
    if (e.cancelled) return;
    e.cancelled = true;
    if (!e.periodic) this.pendingWork--;
  }

  /** Removes and returns the next live event (skipping cancelled ones). */
  pop(): SimEvent | undefined {
    const times = this.times, seqs = this.seqs, evs = this.events;
    while (this.n > 0) {
      const top = evs[0]!;
      const n = --this.n;
      // The last entry moves down from the root to its place.
      const lt = times[n], ls = seqs[n], le = evs[n];
      evs[n] = undefined;
      if (n > 0) {
        let i = 0;
        for (;;) {
          const l = 2 * i + 1;
          if (l >= n) break;
          const r = l + 1;
          const c = r < n && (times[r] < times[l] || (times[r] === times[l] && seqs[r] < seqs[l])) ? r : l;
          if (lt < times[c] || (lt === times[c] && ls < seqs[c])) break;
          times[i] = times[c];
          seqs[i] = seqs[c];
          evs[i] = evs[c];
          i = c;
        }
        times[i] = lt;
        seqs[i] = ls;
        evs[i] = le;
      }
      if (top.cancelled) continue;
      if (!top.periodic) this.pendingWork--;
      return top;
    }
    return undefined;
  }

  private grow(): void {
    const times = new Float64Array(this.times.length * 2);
    times.set(this.times);
    const seqs = new Float64Array(this.seqs.length * 2);
    seqs.set(this.seqs);
    this.times = times;
    this.seqs = seqs;
  }
}
