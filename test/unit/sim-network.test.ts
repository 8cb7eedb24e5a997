// The simulated network keeps order per connection, as a TCP stream does, and no further: two
// connections between the same two nodes (a driver's and its node daemon's, say) may overtake
// each other, as between the real daemons. A connection ends with either process.

import assert from "node:assert/strict";
import { test } from "node:test";
import type { Msg } from "../../src/core/messages.ts";
import { SimNetwork } from "../../sim/network.ts";
import { simulate } from "../../sim/simulate.ts";
import type { FaultPlan } from "../../sim/faults.ts";

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

test("a message written to a process that restarted before it arrived is lost with its connection", async () => {
  // Nine packets in ten until 300 ms are dropped, once or more (each retry 200 ms later), so the GCS's
  // answer to node-1's first registration is still on its way when node-1 restarts at 101 ms.
  const restartAt = 101;
  const faults: FaultPlan = { schedule: [{ kind: "drop", at: 0, until: 301, rate: 0.9 }, { kind: "restart-node", at: restartAt, node: "node-1" }] };
  const r = await simulate({ seed: 3, nodes: 2, resources: { CPU: 1 }, program: async (ray) => { await ray.sleep(2_000); return 1; }, faults, config: { traceMessages: true } });
  assert.equal(r.error, undefined);
  const toRaylet = r.trace.filter((e) => e.kind === "msg" && e.to === "node-1/raylet" && e.t > restartAt);
  assert.ok(toRaylet.some((e) => e.kind === "msg" && e.type === "NodeRegistered"), "the new raylet registers its own life");
  const stale = toRaylet.filter((e) => e.kind === "msg" && e.sent < restartAt);
  assert.deepEqual(stale.map((e) => e.kind === "msg" && e.type), [], "nothing sent to the old raylet reaches the new one");
  const lives = r.trace.filter((e) => e.kind === "node.registered" && e.id === "node-1").length;
  assert.equal(lives, 2, "the GCS knows both lives");
});
