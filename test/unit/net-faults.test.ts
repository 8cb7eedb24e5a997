// The daemons' network fault layer (src/runtime/daemon/net-faults.ts): each fault as the
// simulator models it (delay, loss as a retransmission, duplicates, partitions held until lifted,
// one-way too), FIFO links, nothing between a node's own processes, and the authenticated
// control call that switches it at run time.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it, mock } from "node:test";
import type { Msg } from "../../src/core/messages.ts";
import { NetFaults, RETRANSMIT_MS, parseNetFaultSpec, setNetFaults, NET_FAULTS_SERVICE, netFaultsImplementation } from "../../src/runtime/daemon/net-faults.ts";
import { DaemonServer, generateToken } from "../../src/runtime/daemon/transport.ts";

const ping: Msg = { type: "GcsRestarted" };
const chunk = { type: "Chunk", id: "o", index: 0, total: 1, size: 1 } as unknown as Msg;

/** A layer on a mocked clock, with `random` answering from a list (then 0.99: no loss, no duplicate). */
function layer(randoms: number[] = []) {
  const faults = new NetFaults("node-1", { now: () => Date.now(), random: () => randoms.shift() ?? 0.99 });
  const got: string[] = [];
  const send = (dir: "out" | "in", peer: string, label: string, m: Msg = ping) =>
    (dir === "out" ? faults.outbound : faults.inbound).call(faults, peer, m, () => got.push(label));
  return { faults, got, send };
}

describe("network fault layer", () => {
  beforeEach(() => mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_000 }));
  afterEach(() => mock.timers.reset());

  it("is off by default: every message goes at once", () => {
    const { faults, got, send } = layer();
    assert.equal(faults.active, false);
    send("out", "head", "a");
    send("in", "head", "b");
    assert.deepEqual(got, ["a", "b"]);
  });

  it("delays messages to the chosen peers only, and never those between the node's own processes", () => {
    const { faults, got, send } = layer();
    faults.set({ rules: [{ direction: "to", peers: ["head"], delayMs: 100 }] });
    send("out", "head", "late");
    send("out", "node-2", "other peer");
    send("out", "node-1", "own node");
    send("in", "head", "inbound");
    assert.deepEqual(got, ["other peer", "own node", "inbound"]);
    mock.timers.tick(99);
    assert.deepEqual(got.length, 3);
    mock.timers.tick(1);
    assert.deepEqual(got, ["other peer", "own node", "inbound", "late"]);
  });

  it("keeps a link FIFO under jitter", () => {
    // First message +150 (jitter +50), second +50 (jitter -50): the second waits for the first.
    const { faults, got, send } = layer([1, 0]);
    faults.set({ rules: [{ direction: "both", delayMs: 100, jitterMs: 50 }] });
    send("out", "head", "first");
    send("out", "head", "second");
    mock.timers.tick(60);
    assert.deepEqual(got, []);
    mock.timers.tick(90);
    assert.deepEqual(got, ["first", "second"]);
  });

  it("turns a loss into a retransmission, which holds up what follows", () => {
    // Lost twice, then through; the next message is not lost but comes after it.
    const { faults, got, send } = layer([0.1, 0.1, 0.9, 0.9]);
    faults.set({ rules: [{ direction: "from", loss: 0.5 }] });
    send("in", "node-2", "lost twice");
    send("in", "node-2", "behind it");
    assert.deepEqual(got, []);
    mock.timers.tick(2 * RETRANSMIT_MS - 1);
    assert.deepEqual(got, []);
    mock.timers.tick(1);
    assert.deepEqual(got, ["lost twice", "behind it"]);
    assert.equal(faults.stats.lost, 2);
  });

  it("duplicates messages, but never an object Chunk", () => {
    const { faults, got, send } = layer([0, 0]);
    faults.set({ rules: [{ direction: "to", duplicate: 0.5 }] });
    send("out", "head", "twice");
    send("out", "head", "chunk", chunk);
    assert.deepEqual(got, ["twice", "twice", "chunk"]);
  });

  it("holds a one-way partition's messages until it is lifted, then delivers them in order", () => {
    const { faults, got, send } = layer();
    faults.set({ rules: [{ direction: "to", peers: ["head"], partition: true }] });
    send("out", "head", "1");
    send("out", "head", "2");
    send("in", "head", "the other way");
    mock.timers.tick(60_000);
    assert.deepEqual(got, ["the other way"]);
    assert.equal(faults.waiting, 2);
    faults.set({ rules: [{ direction: "to", peers: ["head"], delayMs: 10 }] });
    assert.deepEqual(got, ["the other way", "1", "2"]);
    send("out", "head", "3");
    mock.timers.tick(10);
    assert.deepEqual(got, ["the other way", "1", "2", "3"]);
  });

  it("switched off, lets everything waiting go at once", () => {
    const { faults, got, send } = layer();
    faults.set({ rules: [{ direction: "both", delayMs: 5_000 }] });
    send("out", "head", "a");
    faults.set({ rules: [] });
    assert.deepEqual(got, ["a"]);
    assert.equal(faults.active, false);
  });

  it("keeps an outbound message's payload while it waits, and lets go once it is sent", () => {
    const held: string[] = [];
    const faults = new NetFaults("node-1", { now: () => Date.now(), retain: () => { held.push("hold"); return () => held.push("drop"); } });
    faults.set({ rules: [{ direction: "to", delayMs: 10 }] });
    faults.outbound("head", chunk, () => held.push("sent"));
    assert.deepEqual(held, ["hold"]);
    mock.timers.tick(10);
    assert.deepEqual(held, ["hold", "sent", "drop"]);
  });
});

describe("network fault specs", () => {
  const cases: [string, unknown, RegExp][] = [
    ["no rules field", {}, /rules: Required/],
    ["a rule that does nothing", { rules: [{ direction: "to" }] }, /at least one of/],
    ["a bad direction", { rules: [{ direction: "sideways", delayMs: 1 }] }, /rules\.0\.direction/],
    ["a loss rate of 1", { rules: [{ direction: "to", loss: 1 }] }, /rules\.0\.loss/],
    ["an unknown field", { rules: [{ direction: "to", delayMs: 1, latency: 3 }] }, /latency/],
    ["jitter without delay", { rules: [{ direction: "to", loss: 0.1, jitterMs: 3 }] }, /jitterMs needs delayMs/],
  ];
  for (const [what, spec, expected] of cases) {
    it(`refuses ${what}`, () => assert.throws(() => parseNetFaultSpec(spec), expected));
  }
});

describe("the control call", () => {
  it("sets a daemon's rules with the cluster token, and refuses a wrong token or a bad spec", async () => {
    const token = generateToken();
    const faults = new NetFaults("node-1");
    const logged: string[] = [];
    const server = new DaemonServer({
      token, services: ["NodeManager"], onFrame: () => {},
      extraServices: [{ definition: NET_FAULTS_SERVICE, implementation: netFaultsImplementation(faults, (l) => logged.push(l)) }],
    });
    const port = await server.start();
    const target = `127.0.0.1:${port}`;
    try {
      await assert.rejects(setNetFaults(target, "wrong", { rules: [] }), /UNAUTHENTICATED|wrong cluster token/);
      await assert.rejects(setNetFaults(target, token, { rules: [{ direction: "up" }] } as never), /INVALID_ARGUMENT.*direction/);
      assert.equal(faults.active, false);
      const reply = await setNetFaults(target, token, { rules: [{ direction: "both", peers: ["head"], partition: true }] });
      assert.deepEqual(reply, { node: "node-1", rules: [{ direction: "both", peers: ["head"], partition: true }] });
      assert.equal(faults.active, true);
      assert.match(logged.join("\n"), /network faults on node node-1/);
      await setNetFaults(target, token, { rules: [] });
      assert.equal(faults.active, false);
    } finally {
      await server.close();
    }
  });
});
