// Real parallelism: CPU-bound tasks on worker threads overlap in time when the node has two
// CPUs, and never when it has one. Judged by the tasks' own start and end times (what ran at
// the same time), not by a speed-up, which a shared, noisy machine cannot promise.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as ray from "../../src/index.ts";

const spin = ray.remote(function spin(ms: number) {
  // Busy work, not a sleep: a thread that computes, start and end in the process's clock.
  const start = performance.timeOrigin + performance.now();
  const end = start + ms;
  let x = 0;
  while (performance.timeOrigin + performance.now() < end) x = (x * 1103515245 + 12345) % 2147483647;
  return [start, performance.timeOrigin + performance.now(), x] as const;
});

/** The most tasks that ran at one instant. */
function peakOverlap(intervals: readonly (readonly [number, number, number])[]): number {
  const edges = intervals.flatMap(([s, e]) => [[s, 1], [e, -1]] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0, peak = 0;
  for (const [, d] of edges) peak = Math.max(peak, (now += d));
  return peak;
}

async function peak(numCpus: number, tasks: number, ms: number): Promise<number> {
  await ray.init({ numCpus });
  try {
    return peakOverlap(await ray.get(Array.from({ length: tasks }, () => spin.remote(ms))));
  } finally {
    await ray.shutdown();
  }
}

describe("embedded cluster: tasks run in parallel on worker threads", () => {
  it("two CPUs run two CPU-bound tasks at the same time", async () => {
    assert.equal(await peak(2, 4, 100), 2);
  });
  it("one CPU runs them one at a time", async () => {
    assert.equal(await peak(1, 4, 30), 1);
  });
});
