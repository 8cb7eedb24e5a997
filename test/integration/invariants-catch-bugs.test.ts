// The invariant checkers catch a deliberately broken model. Each test runs a real simulation
// twice: once as is (no violation, the right answer) and once with one bug injected into a
// model by patching its class for the duration of the run — and the checker for that
// invariant must report it. Nothing in src/core is edited: the patches wrap or replace one
// method on the prototype and are always restored.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { simulate, type Program, type SimResult } from "../../sim/simulate.ts";
import { formatViolations } from "../../spec/invariants/index.ts";
import { Raylet } from "../../src/core/raylet.ts";
import { DEFAULT_GROUP } from "../../src/core/worker/actor-scheduling.ts";
import { CoreWorker } from "../../src/core/core-worker.ts";
import { ObjectStore } from "../../src/core/object-store.ts";
import { add } from "../../src/core/resources.ts";
import type { Ray } from "../../src/api/ray.ts";
import { NO_BUGS, type Bugs } from "../../src/core/bugs.ts";

type AnyFn = (this: any, ...args: any[]) => any;

/** Replaces `proto[name]` (given the original) while `body` runs. */
async function withPatch<T>(proto: object, name: string, patch: (original: AnyFn) => AnyFn, body: () => Promise<T>): Promise<T> {
  const target = proto as Record<string, AnyFn>;
  const original = target[name];
  assert.equal(typeof original, "function", `${proto.constructor.name}.${name} is not a method any more: update this test`);
  target[name] = patch(original);
  try {
    return await body();
  } finally {
    target[name] = original;
  }
}

/** Runs `program` clean, then with the bug; returns both runs after checking the clean one. */
async function cleanThenBuggy<T>(opts: { nodes: number | { id: string; resources: Record<string, number> }[]; program: Program<T>; expected: T },
  inject: (run: () => Promise<SimResult<T>>) => Promise<SimResult<T>>): Promise<SimResult<T>> {
  const run = () => simulate({ seed: 11, nodes: opts.nodes as never, program: opts.program });
  const clean = await run();
  assert.equal(clean.error, undefined, clean.error?.stack);
  assert.deepEqual(clean.result, opts.expected);
  assert.deepEqual(clean.violations, [], `clean run: ${formatViolations(clean.violations)}`);
  return inject(run);
}

function expectViolation(r: SimResult<unknown>, invariant: string, message: RegExp): void {
  const v = r.violations.filter((x) => x.invariant === invariant);
  assert.ok(v.length > 0, `expected a "${invariant}" violation; got ${r.violations.length ? formatViolations(r.violations) : "none"}${r.error ? ` (program error: ${r.error.message})` : ""}`);
  assert.ok(v.some((x) => message.test(x.message)), `no "${invariant}" violation matches ${message}:\n${formatViolations(v)}`);
  for (const x of v) assert.equal(typeof x.t, "number", "a violation points at its event's time");
}

describe("the checkers catch broken models", () => {
  test("resources: a raylet that credits a returned lease twice over-commits its node", async () => {
    // Waves of tasks: between waves every lease is returned, so a double credit shows up as
    // more concurrent leases than the node has CPUs in the next wave.
    const program = async (ray: Ray) => {
      const work = ray.remote(async function work(i: number) { await ray.sleep(10); return i; });
      let sum = 0;
      for (let wave = 0; wave < 3; wave++) {
        const got = await ray.get([0, 1, 2, 3, 4, 5].map((i) => work.remote(wave * 10 + i)));
        sum += got.reduce((a, b) => a + b, 0);
      }
      return sum;
    };
    const buggy = await cleanThenBuggy({ nodes: [{ id: "head", resources: { CPU: 2 } }], program, expected: 15 + 75 + 135 },
      (run) => withPatch(Raylet.prototype, "returnLease", (original) => function (this: any, leaseId: string, ...rest: unknown[]) {
        const lease = this.leases.get(leaseId);
        original.call(this, leaseId, ...rest);
        if (lease) this.available = add(this.available, lease.resources); // the bug: a second credit
        // The raylet's own resource check would stop the run at once: off, so the trace checker must catch it.
      }, () => withPatch(Raylet.prototype, "setAvailable", () => function (this: any, next: unknown) { this.available = next; }, run)));
    expectViolation(buggy, "resources", /node head over capacity after lease .*: CPU in use [3-9]\d* > capacity 2/);
  });

  test("results: an object store that returns the wrong entry is caught reading a value it never created", async () => {
    const program = async (ray: Ray) => {
      const a = await ray.put({ name: "a", values: [1, 2, 3] });
      const b = await ray.put("the second object");
      return Promise.all([ray.get(a), ray.get(b)]);
    };
    const buggy = await cleanThenBuggy({ nodes: 2, program, expected: [{ name: "a", values: [1, 2, 3] }, "the second object"] },
      (run) => withPatch(ObjectStore.prototype, "read", (original) => function (this: any, id: string) {
        const hit = original.call(this, id);
        if (hit === undefined) return hit;
        // The bug: an off-by-one slot lookup that answers with the oldest entry in memory.
        const oldest = this.mem.values().next().value;
        return oldest.payload;
      }, run));
    expectViolation(buggy, "results", /read with hash \S+ but was created with hash/);
  });

  test("actor order: an actor that runs queued calls last-in-first-out", async () => {
    const program = async (ray: Ray) => {
      const Log = ray.remote(class Log {
        entries: number[] = [];
        async append(x: number) { await ray.sleep(2); this.entries.push(x); return this.entries.length; }
        read() { return this.entries; }
      }, { maxConcurrency: 1 }); // async methods: one call at a time, so calls queue (as Ray's max_concurrency=1)
      const log = Log.remote();
      await ray.get([1, 2, 3, 4, 5].map((x) => log.append.remote(x)));
      return ray.get(log.read.remote());
    };
    const buggy = await cleanThenBuggy({ nodes: 2, program, expected: [1, 2, 3, 4, 5] },
      (run) => withPatch(CoreWorker.prototype, "step", (original) => function (this: any, input: unknown) {
        // The bug: the actor takes its next call from the wrong end of its (default group's) run
        // queue (pop() where shift() belongs). Works whatever queue type the model uses (array or Fifo).
        const h = this.state.actor;
        if (!h) return original.call(this, input);
        const q = h.groups.get(DEFAULT_GROUP).runnable;
        q.shift = () => {
          const all: unknown[] = typeof q.drain === "function" ? q.drain() : q.splice(0);
          const newest = all.pop();
          for (const x of all) q.push(x);
          return newest;
        };
        try {
          return original.call(this, input);
        } finally {
          delete q.shift; // back to the prototype's shift
        }
      }, run));
    expectViolation(buggy, "actor-order", /call seq \d+ from \S+ started after seq \d+ \(out of order\)/);
  });

  // Both reference bugs need an object copied between nodes: a value the driver put on the
  // head, read by a task pinned to node-1.
  const copyProgram = async (ray: Ray) => {
    const data = await ray.put(Array.from({ length: 1000 }, (_, i) => i));
    const sum = ray.remote((xs: number[]) => xs.reduce((a, b) => a + b, 0))
      .options({ schedulingStrategy: { nodeId: "node-1", soft: false } });
    return ray.get(sum.remote(data));
  };

  test("references: an object manager that moves a copy instead of copying it frees a referenced object", async () => {
    const buggy = await cleanThenBuggy({ nodes: 2, program: copyProgram, expected: 499500 },
      (run) => withPatch(Raylet.prototype, "step", (original) => function (this: any, input: any) {
        original.call(this, input);
        // The bug: the sender drops its copy once sent.
        if (input.kind === "message" && input.msg.type === "Pull") original.call(this, { kind: "message", from: input.from, msg: { type: "FreeObjects", ids: [input.msg.id] } });
      }, run));
    expectViolation(buggy, "references", /object \S+ freed while referenced \(on node head\)/);
  });

  test("references: an owner that ignores new copies leaks them past the end of the program", async () => {
    const buggy = await cleanThenBuggy({ nodes: 2, program: copyProgram, expected: 499500 },
      (run) => withPatch(CoreWorker.prototype, "receive", (original) => function (this: any, from: string, m: { type: string }) {
        if (m.type === "AddLocation") return; // the bug: the owner never learns of the copy
        return original.call(this, from, m);
      }, run));
    assert.equal(buggy.result, 499500, "the program itself still works");
    expectViolation(buggy, "references", /leak: object \S+ still in node node-1's store/);
  });

  test("jobs: a raylet that leases one job's idle worker to another job's task (seeded bug shared-workers)", async () => {
    // Each job's task reads what its worker's globals hold, then leaves its own mark there: a
    // second job (another driver) must find none of the first job's on the one node.
    const program: Program<string[]> = async (ray, host) => {
      const mark = (job: string) => {
        const g = globalThis as { jobMark?: string };
        const before = g.jobMark ?? "none";
        g.jobMark = job;
        return before;
      };
      const first = [await ray.get(ray.remote(mark).remote("first")), await ray.get(ray.remote(mark).remote("first"))];
      const second = await host.runJob((other) => other.get(other.remote(mark).remote("second")));
      return [...first, second, await ray.get(ray.remote(mark).remote("first"))];
    };
    const run = (bugs: Bugs) => simulate({ seed: 11, nodes: [{ id: "head", resources: { CPU: 1 } }], program, config: { bugs } });
    const clean = await run(NO_BUGS);
    assert.equal(clean.error, undefined, clean.error?.stack);
    assert.deepEqual(clean.result, ["none", "first", "none", "first"], "a job's task saw another job's globals, or its own worker was not reused");
    assert.deepEqual(clean.violations, [], formatViolations(clean.violations));
    assert.ok(clean.trace.some((e) => e.kind === "job.ended" && e.job === "head/driver-2"), "the second job's worker outlived its job");
    const buggy = await run(new Set(["shared-workers"]));
    assert.deepEqual(buggy.result?.slice(2, 3), ["first"]);
    expectViolation(buggy, "jobs", /worker head\/w1-1 of job head\/driver was granted lease \S+ of job head\/driver-2/);
  });

  test("patches are undone: a run after the tests above is clean again", async () => {
    const r = await simulate({ seed: 11, nodes: 2, program: copyProgram });
    assert.equal(r.result, 499500);
    assert.deepEqual(r.violations, []);
  });
});
