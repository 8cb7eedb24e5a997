// The calls a port onto a core worker has open (gets, waits, a generator's next item, ...), by
// id. Both ports keep one: the one calling the model in its own thread (model-client.ts) and
// the one in a worker thread, whose model lives on the main thread (embedded/worker-entry.ts).
// A call settles once: by its answer, by `settleAll` (the cluster going away), or by the abort
// of the signal it was made with (a cancelled task's blocked call), which withdraws it from
// the core worker and rejects with the signal's reason.

import { toError } from "../api/errors.ts";
import type { CallResult } from "../core/effects.ts";

export class PendingCalls {
  private lastId = 0;
  private readonly open = new Map<number, (r: CallResult) => void>();

  /**
   * Opens a call: `send(id)` makes it, and its answer is mapped by `map` (an error answer
   * rejects). If `signal` aborts first, `withdraw(id)` tells the core worker to forget it.
   */
  start<T>(send: (id: number) => void, map: (r: CallResult) => T, signal: AbortSignal | undefined, withdraw: (id: number) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const id = ++this.lastId;
      const onAbort = signal && (() => {
        if (!this.open.delete(id)) return;
        withdraw(id);
        reject(signal.reason);
      });
      this.open.set(id, (r) => {
        if (onAbort) signal!.removeEventListener("abort", onAbort);
        if (r.kind === "error") reject(toError(r.error));
        else resolve(map(r));
      });
      if (onAbort) signal!.addEventListener("abort", onAbort, { once: true });
      try {
        send(id);
      } catch (e) {
        // Not made (the port is closed, say): nothing will answer it.
        this.open.delete(id);
        if (onAbort) signal!.removeEventListener("abort", onAbort);
        reject(e);
      }
    });
  }

  /** Closes call `id`, giving what settles it with its answer; undefined if it is not open (withdrawn, or settled already). */
  take(id: number): ((r: CallResult) => void) | undefined {
    const cb = this.open.get(id);
    if (cb) this.open.delete(id);
    return cb;
  }

  /** Settles every open call with `r`; how many there were. */
  settleAll(r: CallResult): number {
    const pending = [...this.open.values()];
    this.open.clear();
    for (const cb of pending) cb(r);
    return pending.length;
  }
}
