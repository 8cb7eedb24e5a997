// The simulator's event queue: events come out in (time, scheduling order), cancelled ones are
// skipped, and only non-periodic live events count as pending work — across the heap's growth
// past its first typed arrays.
import { test } from "node:test";
import assert from "node:assert/strict";
import { EventQueue, type SimEvent } from "../../sim/queue.ts";
import { Prng } from "../../sim/prng.ts";

test("events run in time order, and in scheduling order at the same time", () => {
  const q = new EventQueue();
  const rng = new Prng(42, "queue-test");
  const ran: number[] = [];
  const at: number[] = [];
  const n = 20_000; // past the first 8192 slots: the heap grows
  for (let i = 0; i < n; i++) {
    const t = Math.floor(rng.next() * 50); // many events share an instant
    at.push(t);
    q.push(t, () => ran.push(i));
  }
  assert.equal(q.size, n);
  assert.equal(q.pendingWork, n);
  for (let e = q.pop(); e; e = q.pop()) e.run();
  const expected = Array.from({ length: n }, (_, i) => i).sort((a, b) => at[a] - at[b] || a - b);
  assert.deepEqual(ran, expected);
  assert.equal(q.size, 0);
  assert.equal(q.pendingWork, 0);
});

test("a cancelled event never runs, and stops counting as pending work", () => {
  const q = new EventQueue();
  const ran: string[] = [];
  const a = q.push(1, () => ran.push("a"));
  q.push(2, () => ran.push("b"));
  const c = q.push(3, () => ran.push("c"), true);
  q.push(0.5, () => ran.push("first"));
  assert.equal(q.pendingWork, 3, "the periodic event is not pending work");
  q.cancel(a);
  q.cancel(a); // twice: counted once
  q.cancel(c);
  assert.equal(q.pendingWork, 2);
  for (let e = q.pop(); e; e = q.pop()) e.run();
  assert.deepEqual(ran, ["first", "b"]);
  assert.equal(q.pendingWork, 0);
});

test("events added while others run keep the order", () => {
  const q = new EventQueue();
  const ran: number[] = [];
  const events: SimEvent[] = [];
  for (let i = 0; i < 10; i++) {
    events.push(q.push(i, () => {
      ran.push(i);
      // Each schedules one at its own instant: after it, before the next instant's event.
      q.push(i, () => ran.push(100 + i));
    }));
  }
  for (let e = q.pop(); e; e = q.pop()) e.run();
  const expected: number[] = [];
  for (let i = 0; i < 10; i++) expected.push(i, 100 + i);
  assert.deepEqual(ran, expected);
  assert.equal(events.every((e) => !e.cancelled), true);
});
