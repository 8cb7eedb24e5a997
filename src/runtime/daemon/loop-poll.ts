// Polling a socket instead of sleeping on it, for the daemons' request/answer paths. The same
// fact as the embedded host's worker threads (../spinner.ts): on an idle VM a process sleeping
// in epoll is woken through a halted vCPU, tens of µs, more than the work of a small request.
// A process that expects a message soon (a driver that sent a store request, a raylet that just
// answered one and expects the next) keeps its event loop turning with setImmediate, so libuv
// polls with a zero timeout and sees the bytes the moment they land. The Spinner bounds it:
// each expectation that times out halves the budget, and polling pauses when it keeps missing.

import { Spinner } from "../spinner.ts";

/**
 * How long a store request's two ends poll for the other's next message, at most. A driver's
 * round trip to its raylet takes ~60–100 µs here, and 100–200 µs when the VM is slow; a budget
 * close to that halves itself away on the slow round trips, and polling stops helping.
 */
export const STORE_POLL_MICROS = 500;

export class LoopPoller {
  private readonly spinner: Spinner;
  private until = 0;
  /** An expectation is open: spin until `arrived()` or `until`. */
  private waiting = false;
  private spinning = false;

  constructor(maxMicros: number) {
    this.spinner = new Spinner(maxMicros);
  }

  /** A message is expected soon: poll for it, within the budget. */
  expect(): void {
    const ms = this.spinner.next();
    if (ms <= 0) return;
    this.until = performance.now() + ms;
    this.waiting = true;
    if (!this.spinning) {
      this.spinning = true;
      setImmediate(this.spin);
    }
  }

  /** The expected message came (whether or not the poll was still on). */
  arrived(): void {
    if (!this.waiting) return;
    this.waiting = false;
    this.spinner.hit();
  }

  private readonly spin = (): void => {
    if (this.waiting && performance.now() < this.until) {
      setImmediate(this.spin);
      return;
    }
    this.spinning = false;
    if (this.waiting) {
      this.waiting = false;
      this.spinner.miss();
    }
  };
}
