// Exploration on worker threads gives the same scenarios, coverage and failure whatever the
// number of threads: the result depends on the seed alone.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { exploreParallel, runJobs, shardSeed } from "../../sim/explore-pool.ts";

describe("exploreParallel", () => {
  it("explores the same scenarios on one thread as on two", { timeout: 120_000 }, async () => {
    const one = await exploreParallel({ runs: 40, seed: 3, shards: 4, threads: 1 });
    const two = await exploreParallel({ runs: 40, seed: 3, shards: 4, threads: 2 });
    assert.equal(one.failure, undefined, one.failure?.problems.join("\n"));
    assert.equal(one.generated, 40);
    assert.equal(two.generated, 40);
    assert.deepEqual(two.coverage, one.coverage);
  });

  it("reports the same shrunk failure of a seeded bug whatever the threads", { timeout: 120_000 }, async () => {
    const runs = { runs: 200, seed: 7, shards: 4, bugs: ["retry-forever" as const] };
    const one = await exploreParallel({ ...runs, threads: 1 });
    const two = await exploreParallel({ ...runs, threads: 2 });
    assert.ok(one.failure, "retry-forever was not caught");
    assert.deepEqual(two.failure?.scenario, one.failure.scenario);
    assert.equal(two.generated, one.generated);
  });

  it("warms every thread up before the first job, and only then calls onReady", { timeout: 120_000 }, async () => {
    const calls: string[] = [];
    let runs = 0;
    const jobs = [{ runs: 3, seed: 1 }, { runs: 4, seed: 2 }];
    let i = 0;
    await runJobs(() => jobs[i++], (job, r) => { calls.push(`done ${job.seed} after ${runs} runs`); assert.equal(r.generated, job.runs); }, {
      threads: 2, warmUp: 5,
      onLoaded: () => calls.push(`loaded after ${runs} runs`),
      onReady: () => calls.push(`ready after ${runs} runs`),
      onRun: () => { runs++; },
    });
    assert.deepEqual(calls.slice(0, 2), ["loaded after 0 runs", "ready after 10 runs"]);
    assert.equal(calls.length, 4);
    assert.equal(runs, 10 + 3 + 4);
  });

  it("gives nearby seeds disjoint shard seeds", () => {
    const seen = new Set<number>();
    for (let seed = 0; seed < 50; seed++) for (let i = 0; i < 8; i++) seen.add(shardSeed(seed, i));
    assert.equal(seen.size, 400);
  });
});
