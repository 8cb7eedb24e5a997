// ray.sleep on every host: a timer the host arms in its own time (virtual in the simulator,
// real elsewhere). Inside a task the task's cancel signal is passed too: ray.cancel ends the
// sleep at once with the signal's reason (a TaskCancelledError) and disarms the timer, as a
// cancelled Ray task's time.sleep or asyncio.sleep is interrupted.

/**
 * Sleeps `ms` on a timer that `arm` starts (calling `wake` when it fires) and `disarm` stops.
 * Rejects at once with a TypeError for a bad `ms`, or with `signal.reason` once it aborts.
 */
export function hostSleep<H>(ms: number, signal: AbortSignal | undefined, arm: (wake: () => void) => H, disarm: (timer: H) => void): Promise<void> {
  if (!(ms >= 0)) return Promise.reject(new TypeError(`ray.sleep: ms must be a number >= 0, got ${ms}`));
  if (signal === undefined) return new Promise((resolve) => { arm(resolve); });
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const cancelled = () => { disarm(timer); reject(signal.reason); };
    const timer = arm(() => { signal.removeEventListener("abort", cancelled); resolve(); });
    signal.addEventListener("abort", cancelled, { once: true });
  });
}

/** ray.sleep on a real host (the embedded and daemon drivers, worker threads): a Node timer. */
export function realSleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return hostSleep(ms, signal, (wake) => setTimeout(wake, ms), clearTimeout);
}
