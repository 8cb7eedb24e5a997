// The executor's cancellation signal: made only when the task's code reads it or a cancel
// arrives, yet a cancel that comes before the code looks still shows as aborted, and a cancel
// for a task that already returned reaches nothing.

import assert from "node:assert/strict";
import { test } from "node:test";
import { TaskCancelledError } from "../../src/api/errors.ts";
import type { FunctionDescriptor, Payload, TaskSpec } from "../../src/core/types.ts";
import { Executor, currentExecution, type Codec } from "../../src/runtime/executor.ts";

const codec: Codec = { encode: (v) => ({ size: 8, hash: "h", data: v }), decode: (p: Payload) => p.data };
const spec = (taskId: string): TaskSpec => ({
  taskId, kind: "normal", fn: "fn", name: "f", args: [], returnId: `${taskId}.r`, owner: "head/driver", job: "head/driver",
  resources: {}, strategy: "DEFAULT", maxRetries: 0, retryExceptions: false, attempt: 0, namespace: "ns",
});
/** No streaming generators here: nothing may report an item. */
const items = { reportItem: () => { throw new Error("no generator runs in these tests"); } };
const fn = (source: string): FunctionDescriptor => ({ id: source, name: "f", kind: "function", source });

test("a cancel reaches a running async task whose code reads the signal only afterwards", async () => {
  const ex = new Executor(undefined, codec, items);
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  (globalThis as { __gate?: Promise<void> }).__gate = gate;
  const out = ex.run(spec("t1"), fn("async () => { const read = () => globalThis.__readSignal(); await globalThis.__gate; return read(); }"), []);
  let seen: AbortSignal | undefined;
  (globalThis as { __readSignal?: () => string }).__readSignal = () => {
    seen = currentExecution()?.signal;
    return seen?.aborted ? "aborted" : "running";
  };
  assert.ok(out instanceof Promise, "an async task's outcome is a promise");
  ex.interrupt("t1");
  release();
  const o = await out;
  assert.deepEqual(o.ok && o.payload.data, "aborted");
  assert.ok(seen?.reason instanceof TaskCancelledError, "the signal's reason is a TaskCancelledError");
  delete (globalThis as { __gate?: unknown }).__gate;
  delete (globalThis as { __readSignal?: unknown }).__readSignal;
});

test("the context names the task and its namespace; a signal read and never cancelled stays live", () => {
  const ex = new Executor(undefined, codec, items);
  let ctx: { taskId: string; namespace?: string; aborted: boolean } | undefined;
  (globalThis as { __look?: () => number }).__look = () => {
    const c = currentExecution()!;
    ctx = { taskId: c.taskId, namespace: c.namespace, aborted: c.signal.aborted };
    return 1;
  };
  const o = ex.run(spec("t2"), fn("() => globalThis.__look()"), []);
  assert.ok(!(o instanceof Promise) && o.ok);
  assert.deepEqual(ctx, { taskId: "t2", namespace: "ns", aborted: false });
  // It returned: a cancel that comes now reaches nothing (and does not throw).
  ex.interrupt("t2");
  assert.equal(currentExecution(), undefined, "no context outside a task");
  delete (globalThis as { __look?: unknown }).__look;
});
