// Real parallelism: the same CPU-bound tasks on one CPU and then on every core of this machine,
// in one run; the ratio of the two wall times shows the worker threads run at the same time.
import assert from "node:assert/strict";
import os from "node:os";
import { describe, it } from "node:test";
import * as ray from "../../src/index.ts";

const spin = ray.remote(function spin(ms: number) {
  // Busy work, not a sleep: only real threads on real cores overlap it.
  const end = performance.now() + ms;
  let x = 0;
  while (performance.now() < end) x = (x * 1103515245 + 12345) % 2147483647;
  return x >= 0;
});

async function wallTime(numCpus: number, tasks: number, ms: number): Promise<number> {
  await ray.init({ numCpus });
  try {
    await ray.get(Array.from({ length: numCpus }, () => spin.remote(1))); // threads warm
    const t0 = performance.now();
    const done = await ray.get(Array.from({ length: tasks }, () => spin.remote(ms)));
    assert.ok(done.every(Boolean));
    return performance.now() - t0;
  } finally {
    await ray.shutdown();
  }
}

describe("embedded cluster: parallel speed-up", () => {
  const cores = os.availableParallelism();
  it(`CPU-bound tasks run faster on ${cores} cores than on one`, { skip: cores < 2 ? "needs two cores" : false }, async () => {
    const tasks = 2 * cores, ms = 150;
    const one = await wallTime(1, tasks, ms);
    const all = await wallTime(cores, tasks, ms);
    const ratio = one / all;
    console.log(`${tasks} tasks × ${ms} ms: 1 CPU ${one.toFixed(0)} ms, ${cores} CPUs ${all.toFixed(0)} ms, speed-up ${ratio.toFixed(2)}×`);
    assert.ok(one >= tasks * ms * 0.95, `one CPU runs them one at a time (${one.toFixed(0)} ms)`);
    assert.ok(ratio > 1.3, `speed-up ${ratio.toFixed(2)}× on ${cores} cores`);
  });
});
