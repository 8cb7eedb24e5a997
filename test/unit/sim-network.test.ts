// The simulated network keeps order per connection, as a TCP stream does, and no further: two
// connections between the same two nodes (a driver's and its node daemon's, say) may overtake
// each other, as between the real daemons.

import assert from "node:assert/strict";
import { test } from "node:test";
import type { Msg } from "../../src/core/messages.ts";
import { SimNetwork } from "../../sim/network.ts";

const LINKS = { latencyMs: [0.2, 1] as const, localLatencyMs: 0.02, bytesPerMs: 1e6, retransmitMs: 200 };
const MSG: Msg = { type: "Heartbeat", node: "a", incarnation: 1 } as unknown as Msg;

/** `n` messages sent 0.01 ms apart from node 0 to node 1, alternating between connections `conns`; their arrival times by connection. */
function send(conns: readonly [number, number][], n: number): number[][] {
  const net = new SimNetwork(["a", "b"], LINKS, 9);
  const out: number[][] = conns.map(() => []);
  for (let i = 0; i < n; i++) {
    const k = i % conns.length;
    out[k].push(net.arrival(i * 0.01, 0, 1, MSG, conns[k][0], conns[k][1]));
  }
  return out;
}

const sorted = (xs: readonly number[]) => xs.every((x, i) => i === 0 || xs[i - 1] <= x);

test("on one connection nothing overtakes what was sent before it", () => {
  const [times] = send([[0, 1]], 500);
  assert.ok(sorted(times));
});

test("on two connections between the same nodes each keeps its order, and one overtakes the other", () => {
  // The nodes' daemons' connection (0 → 1), and one of a process with its own (index 2, past the nodes) to node 1.
  const [daemons, own] = send([[0, 1], [2, 1]], 500);
  assert.ok(sorted(daemons) && sorted(own), "each connection in order");
  const merged = daemons.flatMap((t, i) => [t, own[i]]);
  assert.ok(!sorted(merged), "a message on one connection arrived before one sent earlier on the other");
});
