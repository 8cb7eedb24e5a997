// Invariant 9 (determinism): the same program, seed and cluster give the same trace — the same
// hash — in one process and across processes; a different seed gives a different run: a
// different hash and a different schedule (which node ran which task).
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { simulate } from "../../sim/simulate.ts";
import { hashEvents, type TraceEvent } from "../../spec/trace.ts";
import mapReduce from "../../examples/map-reduce.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const run = promisify(execFile);

/** Which node ran each task, in start order: the schedule the seed chose. */
function schedule(trace: readonly TraceEvent[]): string[] {
  return trace.filter((e) => e.kind === "task.started").map((e) => `${(e as { task: string }).task}@${e.node}`);
}

describe("same seed, same run", () => {
  test("two runs in one process: identical trace and hash", async () => {
    const a = await simulate({ seed: 42, nodes: 4, program: mapReduce });
    const b = await simulate({ seed: 42, nodes: 4, program: mapReduce });
    assert.equal(a.error, undefined);
    assert.equal(a.traceHash, b.traceHash);
    assert.equal(a.traceLength, b.traceLength);
    assert.equal(a.events, b.events);
    assert.equal(a.virtualTimeMs, b.virtualTimeMs);
    assert.deepEqual(a.trace, b.trace);
    // The hash is the hash of the trace it reports.
    assert.equal(hashEvents(a.trace), a.traceHash);
  });

  test("the hash does not depend on keeping the trace in memory", async () => {
    const kept = await simulate({ seed: 7, nodes: 4, program: mapReduce });
    const notKept = await simulate({ seed: 7, nodes: 4, program: mapReduce, config: { keepTrace: false } });
    assert.equal(notKept.trace.length, 0);
    assert.equal(notKept.traceHash, kept.traceHash);
    assert.equal(notKept.traceLength, kept.traceLength);
  });

  test("two separate processes (the CLI) agree with each other and with this process", async () => {
    const args = [fileURLToPath(new URL("../../bin/tsray.js", import.meta.url)), "sim", "examples/map-reduce.ts", "--seed", "42", "--nodes", "4", "--json"];
    const [p1, p2] = await Promise.all([run(process.execPath, args, { cwd: ROOT }), run(process.execPath, args, { cwd: ROOT })]);
    const j1 = JSON.parse(p1.stdout), j2 = JSON.parse(p2.stdout);
    const here = await simulate({ seed: 42, nodes: 4, program: mapReduce });
    assert.equal(j1.traceHash, j2.traceHash);
    assert.equal(j1.traceHash, here.traceHash);
    assert.equal(j1.events, here.events);
    assert.deepEqual(j1.result, here.result);
  });

  test("a second process that imports the simulator directly agrees too", async () => {
    const script = `
      import { simulate } from "./sim/simulate.ts";
      import add from "./examples/add.ts";
      const r = await simulate({ seed: 3, nodes: 3, program: add });
      console.log(r.traceHash);`;
    const { stdout } = await run(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: ROOT });
    const add = (await import("../../examples/add.ts")).default;
    assert.equal(stdout.trim(), (await simulate({ seed: 3, nodes: 3, program: add })).traceHash);
  });
});

describe("different seeds, different runs", () => {
  test("map-reduce on 4 nodes: each seed gives its own trace hash and its own schedule", async () => {
    const seeds = [1, 2, 3, 4];
    const runs = await Promise.all(seeds.map((seed) => simulate({ seed, nodes: 4, program: mapReduce })));
    for (const r of runs) {
      assert.equal(r.error, undefined);
      assert.deepEqual(r.result, runs[0].result, "the answer does not depend on the seed");
    }
    const hashes = new Set(runs.map((r) => r.traceHash));
    assert.equal(hashes.size, seeds.length, `hashes: ${[...hashes].join(" ")}`);
    const schedules = runs.map((r) => schedule(r.trace));
    assert.ok(schedules.every((s) => s.length === schedules[0].length), "every run started the same tasks");
    // The task → node placement itself differs, not just the timing.
    const distinct = new Set(schedules.map((s) => [...s].sort().join(",")));
    assert.ok(distinct.size >= 3, `only ${distinct.size} distinct task→node mappings over ${seeds.length} seeds`);
    // (Two given seeds may agree: the map tasks are SPREAD, a round-robin that does not draw on the seed, as in Ray.)
  });

  test("a different cluster size is a different run", async () => {
    const a = await simulate({ seed: 1, nodes: 2, program: mapReduce });
    const b = await simulate({ seed: 1, nodes: 3, program: mapReduce });
    assert.notEqual(a.traceHash, b.traceHash);
  });

  test("the hash covers every event: changing one field of one event changes it", async () => {
    const r = await simulate({ seed: 1, nodes: 2, program: mapReduce });
    const i = r.trace.findIndex((e) => e.kind === "task.started");
    const tampered = r.trace.map((e, j) => (j === i ? { ...e, node: e.node === "head" ? "node-1" : "head" } : e));
    assert.notEqual(hashEvents(tampered), r.traceHash);
    const shifted = r.trace.map((e, j) => (j === i ? { ...e, t: e.t + 1e-9 } : e));
    assert.notEqual(hashEvents(shifted), r.traceHash);
  });
});
