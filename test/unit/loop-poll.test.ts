// The daemons' loop poller: while it expects a message the event loop keeps turning (it never
// sleeps in epoll), and it stops when the message came or its budget ran out.

import assert from "node:assert/strict";
import { test } from "node:test";
import { LoopPoller } from "../../src/runtime/daemon/loop-poll.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Share of the next `ms` the event loop spent outside epoll (1: never slept). */
async function busyShare(ms: number): Promise<number> {
  const e0 = performance.eventLoopUtilization();
  await sleep(ms);
  return performance.eventLoopUtilization(e0).utilization;
}

test("an expected message keeps the loop polling until it arrives", async () => {
  const p = new LoopPoller(200_000); // a budget far longer than the test
  p.expect();
  assert.ok(await busyShare(30) > 0.8, "the loop polls while the message is expected");
  p.arrived();
  await sleep(5);
  assert.ok(await busyShare(30) < 0.5, "the loop sleeps again once it came");
});

test("polling stops when the budget runs out", async () => {
  const p = new LoopPoller(10_000); // 10 ms
  p.expect();
  await sleep(20);
  assert.ok(await busyShare(30) < 0.5, "the loop sleeps after the budget");
});

test("a budget of 0 never polls", async () => {
  const p = new LoopPoller(0);
  p.expect();
  assert.ok(await busyShare(30) < 0.5);
});
