// Whether the GCS is healthy, as `/api/gcs_healthz` answers it: it must be running and its
// storage must take a write (a probe row in the `meta` table, overwritten each time) in time. A
// GCS whose storage is gone is not healthy, even while nothing else writes to it.

import type { GcsDaemon } from "../daemon/gcs-daemon.ts";

/** How long a probe's answer is reused: probes need no token, so they must not flood storage. */
const REUSE_MS = 1_000;

/** Returns `problem()`: why the GCS is not healthy, or undefined when it is. */
export function gcsHealth(gcs: GcsDaemon, timeoutMs: number): () => Promise<string | undefined> {
  let last: { at: number; pending: boolean; answer: Promise<string | undefined> } | undefined;
  return () => {
    if (last && (last.pending || Date.now() - last.at < REUSE_MS)) return last.answer;
    const probe = { at: Date.now(), pending: true, answer: probeOnce(gcs, timeoutMs) };
    last = probe;
    void probe.answer.then(() => { probe.pending = false; probe.at = Date.now(); });
    return probe.answer;
  };
}

async function probeOnce(gcs: GcsDaemon, timeoutMs: number): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      gcs.putRow("health-probe", Date.now()),
      new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`storage did not answer in ${timeoutMs} ms`)), timeoutMs); }),
    ]);
    return undefined;
  } catch (e) {
    return `the GCS is not healthy: its storage (${gcs.storageDescription}) does not take writes: ${(e as Error).message}`;
  } finally {
    clearTimeout(timer);
  }
}
