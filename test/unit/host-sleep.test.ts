// ray.sleep's timer on every host (src/runtime/sleep.ts): armed once, woken once, and inside a
// task ended by the task's cancel signal with its reason, the timer disarmed.

import assert from "node:assert/strict";
import { test } from "node:test";
import { hostSleep } from "../../src/runtime/sleep.ts";
import { TaskCancelledError } from "../../src/api/errors.ts";

/** A hand-driven timer: `wake` fires it; what was armed and disarmed is recorded. */
function manualTimer() {
  const t = { armed: 0, disarmed: [] as number[], wake: () => {} };
  return {
    t,
    arm: (wake: () => void) => { t.wake = wake; return ++t.armed; },
    disarm: (h: number) => { t.disarmed.push(h); },
  };
}

test("a bad duration is refused by name, before anything is armed", async () => {
  const m = manualTimer();
  for (const ms of [-1, Number.NaN]) {
    await assert.rejects(hostSleep(ms, undefined, m.arm, m.disarm), (e: Error) => e instanceof TypeError && /ray\.sleep: ms must be a number >= 0/.test(e.message));
  }
  assert.equal(m.t.armed, 0);
});

test("without a signal the sleep ends when its timer fires", async () => {
  const m = manualTimer();
  let done = false;
  const p = hostSleep(10, undefined, m.arm, m.disarm).then(() => { done = true; });
  await Promise.resolve();
  assert.equal(done, false);
  m.t.wake();
  await p;
  assert.equal(done, true);
  assert.deepEqual(m.t.disarmed, []);
});

test("a cancel ends the sleep with the signal's reason and disarms its timer", async () => {
  const m = manualTimer();
  const c = new AbortController();
  const p = hostSleep(60_000, c.signal, m.arm, m.disarm);
  const reason = new TaskCancelledError("task t was cancelled");
  c.abort(reason);
  await assert.rejects(p, (e) => e === reason);
  assert.deepEqual(m.t.disarmed, [1], "the armed timer is disarmed");
});

test("a task already cancelled does not sleep at all", async () => {
  const m = manualTimer();
  const c = new AbortController();
  const reason = new TaskCancelledError("task t was cancelled");
  c.abort(reason);
  await assert.rejects(hostSleep(5, c.signal, m.arm, m.disarm), (e) => e === reason);
  assert.equal(m.t.armed, 0);
});

test("a cancel after the sleep ended touches nothing", async () => {
  const m = manualTimer();
  const c = new AbortController();
  const p = hostSleep(5, c.signal, m.arm, m.disarm);
  m.t.wake();
  await p;
  c.abort(new TaskCancelledError("late"));
  assert.deepEqual(m.t.disarmed, [], "the listener went with the sleep");
});
