// gRPC streams reset between live daemons (a proxy, a NAT, a kernel: not a death). Each
// destination has one path, whose session keeps what is sent while its stream is down and sends
// it again, in order, once the stream is back. A GCS, two raylet daemons behind reset proxies
// (test/helpers/proxied-node.ts) and a driver attached to n2, in this process, on real sockets:
// the proxies reset the streams while task replies flow to the driver. Every task must return
// its value, and no daemon may drop a message.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { daemonTuning } from "../../src/core/tuning.ts";
import { DaemonDriver } from "../../src/runtime/daemon/driver.ts";
import { GcsDaemon } from "../../src/runtime/daemon/gcs-daemon.ts";
import { generateToken } from "../../src/runtime/daemon/transport.ts";
import { MemoryStorage } from "../../src/runtime/storage/index.ts";
import { until } from "../helpers/cli-cluster.ts";
import { proxiedNode, type ProxiedNode } from "../helpers/proxied-node.ts";
import type { ResetProxy } from "../helpers/reset-proxy.ts";

const token = generateToken();
const TASKS = 2_000;
/** Tasks that all return are done in seconds even through resets; lost replies never return. */
const BOUND_MS = 30_000;

interface RayletStatus { dropped: number }

describe("gRPC stream resets between live daemons", () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  let n1: ProxiedNode;
  let n2: ProxiedNode;
  let driver: DaemonDriver;

  before(async () => {
    const gcs = await GcsDaemon.start({ head: "head", token, storage: new MemoryStorage(), tuning: daemonTuning, log: () => {} });
    cleanup.push(() => gcs.close());
    const address = `127.0.0.1:${gcs.port}`;
    n1 = await proxiedNode(address, token, "n1", { CPU: 2, far: 2 });
    cleanup.push(() => n1.close());
    n2 = await proxiedNode(address, token, "n2", { CPU: 2, near: 2 });
    cleanup.push(() => n2.close());
    await until("both nodes registered", async () => n1.daemon.view?.alive === true && n2.daemon.view?.alive === true);
    driver = await DaemonDriver.connect({ address, token, node: "n2" });
    cleanup.push(() => driver.shutdown());
  });

  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  /**
   * Runs TASKS small tasks on the node with `resource` while `proxy` resets its connections
   * three times, after `bytes` of traffic each: every task returns its value, the resets
   * happened, and `node` dropped nothing.
   */
  async function tasksThroughResets(resource: string, proxy: ResetProxy, node: ProxiedNode, bytes: number): Promise<void> {
    const inc = driver.ray.remote((x: number) => x + 1).options({ resources: { [resource]: 1 } });
    // A first round trip: the workers are up, so the resets hit the flow of replies.
    assert.equal(await driver.ray.get(inc.remote(0), { timeoutMs: BOUND_MS }), 1);
    const dropped = (await node.status<RayletStatus>()).dropped;
    const resets = proxy.resets;
    proxy.cutAfter(bytes, 3);
    const refs = Array.from({ length: TASKS }, (_, i) => inc.remote(i));
    const values = await driver.ray.get(refs, { timeoutMs: BOUND_MS });
    assert.deepEqual(values, Array.from({ length: TASKS }, (_, i) => i + 1));
    assert.equal(proxy.resets, resets + 3, "the streams were reset while the tasks ran");
    assert.equal((await node.status<RayletStatus>()).dropped, dropped, `${node.daemon.view?.node} dropped messages`);
  }

  // The driver's stream to its own raylet carries its pushes to that node's workers and their
  // replies; a reply sent while the stream is down waits in the driver's session there (it was
  // dropped before: the raylet had no other way to a driver of its own node).
  it("the driver's stream to its own node's raylet, reset while its tasks there reply", () => tasksThroughResets("near", n2.grpc, n2, 100_000));

  // The driver's direct stream to n1 (and n2's link to n1) reset: n1 answers the driver on the
  // driver's own stream, its session holding the replies until the stream is back (before, they
  // went round through n2 meanwhile, and a resent one could follow a later one).
  it("the driver's direct stream to another node, reset while its tasks there reply", () => tasksThroughResets("far", n1.grpc, n1, 100_000));
});
