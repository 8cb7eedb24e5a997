// The seed article's examples, and the map-reduce, on simulated clusters of 1 and 4 nodes:
// each returns the article's output, with no error and no invariant violation — both through
// simulate() and through the CLI (`tsray sim FILE --seed N --nodes K --json`).
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { simulate, type Program } from "../../sim/simulate.ts";
import { formatViolations } from "../../spec/invariants/index.ts";
import { runCli } from "../../src/cli/main.ts";
import square from "../../examples/square.ts";
import counter from "../../examples/counter.ts";
import add from "../../examples/add.ts";
import mapReduce, { corpus, countLocally, summarize, CHUNKS } from "../../examples/map-reduce.ts";
import asyncActor from "../../examples/async-actor.ts";
import streamingGenerator from "../../examples/streaming-generator.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

const seedExamples = [
  { file: "examples/square.ts", program: square, expected: [0, 1, 4, 9, 16] },
  { file: "examples/counter.ts", program: counter, expected: [1, 2] },
  { file: "examples/add.ts", program: add, expected: 10 },
] as const;

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "", err = "";
  const code = await runCli(args, { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, cwd: ROOT });
  return { code, out, err };
}

describe("seed examples", () => {
  for (const ex of seedExamples) {
    for (const nodes of [1, 4]) {
      test(`${ex.file} on ${nodes} node${nodes > 1 ? "s" : ""} returns ${JSON.stringify(ex.expected)}`, async () => {
        for (const seed of [1, 2, 3]) {
          const r = await simulate({ seed, nodes, program: ex.program as Program<unknown> });
          assert.equal(r.error, undefined, `seed ${seed}: ${r.error?.stack}`);
          assert.deepEqual(r.result, ex.expected, `seed ${seed}`);
          assert.deepEqual(r.violations, [], formatViolations(r.violations));
          // The trace is the evidence the checkers judged: the program really ran tasks.
          assert.ok(r.trace.some((e) => e.kind === "task.finished" && e.ok), "no task finished");
          assert.ok(r.trace.some((e) => e.kind === "cluster.quiet"), "the run did not reach a quiet cluster");
        }
      });

      test(`tsray sim ${ex.file} --nodes ${nodes} prints ${JSON.stringify(ex.expected)}`, async () => {
        const { code, out, err } = await cli(["sim", ex.file, "--seed", "5", "--nodes", String(nodes), "--json"]);
        assert.equal(code, 0, err);
        const j = JSON.parse(out);
        assert.deepEqual(j.result, ex.expected);
        assert.equal(j.error, null);
        assert.deepEqual(j.violations, []);
        assert.equal(j.nodes.length, nodes);
      });
    }
  }

  test("the actor example runs both calls on one worker, in order", async () => {
    const r = await simulate({ seed: 9, nodes: 4, program: counter });
    const calls = r.trace.filter((e) => e.kind === "task.started" && e.seq !== undefined); // method calls, not the creation
    assert.equal(calls.length, 2);
    assert.equal(calls[0].kind === "task.started" && calls[0].worker, calls[1].kind === "task.started" && calls[1].worker);
    assert.deepEqual(calls.map((e) => (e.kind === "task.started" ? e.seq : -1)), [0, 1]);
  });

  test("add passes refs as arguments: the outer task depends on both inner results", async () => {
    const r = await simulate({ seed: 1, nodes: 4, program: add });
    const submitted = r.trace.filter((e) => e.kind === "task.submitted");
    assert.equal(submitted.length, 3);
    const outer = submitted[2];
    assert.ok(outer.kind === "task.submitted");
    assert.deepEqual(outer.args, [submitted[0], submitted[1]].map((e) => (e.kind === "task.submitted" ? e.returns : "")));
  });
});

describe("async actor", () => {
  const expected = { results: [0, 10, 20, 30], peak: 4 };
  for (const nodes of [1, 4]) {
    test(`four calls wait together on a signal a fifth call sets (${nodes} node${nodes > 1 ? "s" : ""})`, async () => {
      for (const seed of [1, 2]) {
        const r = await simulate({ seed, nodes, program: asyncActor as Program<unknown> });
        assert.equal(r.error, undefined, r.error?.stack);
        assert.deepEqual(r.result, expected);
        assert.deepEqual(r.violations, [], formatViolations(r.violations));
      }
    });
  }

  test("tsray sim examples/async-actor.ts", async () => {
    const { code, out, err } = await cli(["sim", "examples/async-actor.ts", "--seed", "3", "--nodes", "2", "--json"]);
    assert.equal(code, 0, err);
    assert.deepEqual(JSON.parse(out).result, expected);
  });
});

describe("streaming generator", () => {
  const expected = { squares: [0, 1, 4, 9, 16], firstBeforeLast: true, failing: ["ok", "error: bad chunk"] };
  for (const nodes of [1, 3]) {
    test(`items stream as they are yielded, under back-pressure, the error last (${nodes} node${nodes > 1 ? "s" : ""})`, async () => {
      for (const seed of [1, 2]) {
        const r = await simulate({ seed, nodes, program: streamingGenerator as Program<unknown> });
        assert.equal(r.error, undefined, r.error?.stack);
        assert.deepEqual(r.result, expected);
        assert.deepEqual(r.violations, [], formatViolations(r.violations));
        assert.ok(r.trace.some((e) => e.kind === "generator.paused"), "the back-pressure bound held the producer");
      }
    });
  }

  test("tsray sim examples/streaming-generator.ts", async () => {
    const { code, out, err } = await cli(["sim", "examples/streaming-generator.ts", "--seed", "3", "--nodes", "2", "--json"]);
    assert.equal(code, 0, err);
    assert.deepEqual(JSON.parse(out).result, expected);
  });
});

describe("map-reduce", () => {
  const expected = summarize(countLocally(corpus()));

  test("the expected answer is not trivial", () => {
    assert.equal(expected.total, CHUNKS * 200);
    assert.ok(expected.distinct > 5 && expected.top[0][1] > expected.top[4][1]);
  });

  for (const nodes of [1, 4]) {
    test(`word count on ${nodes} node${nodes > 1 ? "s" : ""} matches a local count`, async () => {
      for (const seed of [1, 2]) {
        const r = await simulate({ seed, nodes, program: mapReduce });
        assert.equal(r.error, undefined, r.error?.stack);
        assert.deepEqual(r.result, expected);
        assert.deepEqual(r.violations, [], formatViolations(r.violations));
      }
    });
  }

  test("on 4 nodes the work spreads over the cluster and objects move between nodes", async () => {
    const r = await simulate({ seed: 1, nodes: 4, program: mapReduce });
    const started = r.trace.filter((e) => e.kind === "task.started");
    assert.equal(started.length, CHUNKS * 2 - 1, "one map task per chunk and CHUNKS-1 merges");
    const nodesUsed = new Set(started.map((e) => e.node));
    assert.ok(nodesUsed.size >= 3, `tasks ran on ${[...nodesUsed].join(", ")} only`);
    assert.ok(r.trace.some((e) => e.kind === "object.transferred"), "no object moved between nodes");
    // Every merge took two refs as arguments.
    const merges = r.trace.filter((e) => e.kind === "task.submitted" && e.fn === "merge");
    assert.equal(merges.length, CHUNKS - 1);
    for (const m of merges) assert.ok(m.kind === "task.submitted" && m.args.length === 2);
  });

  test("tsray sim examples/map-reduce.ts --nodes 4", async () => {
    const { code, out, err } = await cli(["sim", "examples/map-reduce.ts", "--seed", "3", "--nodes", "4", "--json"]);
    assert.equal(code, 0, err);
    assert.deepEqual(JSON.parse(out).result, expected);
  });
});
