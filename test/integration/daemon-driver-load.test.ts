// The lease leak under load (issue 11) on the daemons: several drivers at once, each its own
// process running many short tasks on a head and a worker node. Once they have all exited,
// every CPU is free again within seconds, the GCS has forgotten every driver, and a task pinned
// to the head runs. (test/soak-drivers.ts runs the full 20 drivers × 2,000 tasks.)

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import * as ray from "../../src/index.ts";
import type { Session } from "../../src/runtime/daemon/session.ts";
import { startHeadCli, tsrayCli, until, stopHeadCli } from "../helpers/cli-cluster.ts";
import { cpusInUse, gcsStatus, runDriverLoad } from "../helpers/driver-load.ts";

let home: string;
let env: NodeJS.ProcessEnv;
let address: string;
let session: Session;

before(async () => {
  ({ home, env, address, session } = await startHeadCli("tsray-load-", 2));
  await tsrayCli(env, "start", "--address", address, "--num-cpus", "2");
  await until("the worker node registered", async () => (await gcsStatus(address, session.token)).nodes.length === 2);
});

after(() => stopHeadCli({ home, env }));

test("4 drivers × 500 short tasks at once: then every CPU is free, no driver is remembered, a task pinned to the head runs", { timeout: 300_000 }, async () => {
  const sums = await runDriverLoad({ address, token: session.token, env, dir: home, drivers: 4, tasksPerDriver: 500 });
  assert.equal(sums.length, 4);
  let last = await gcsStatus(address, session.token);
  // A driver's leases come back as it ends (or, if it did not say goodbye, after the GCS's 5 s
  // grace period for its stream): a few seconds, never a leak.
  await until("every CPU free again", async () => {
    last = await gcsStatus(address, session.token);
    return cpusInUse(last).length === 0;
  }, 20_000).catch((e: Error) => { throw new Error(`${e.message}: still in use ${cpusInUse(last).join(", ")}`); });
  await until("the GCS forgot every driver", async () => ((await gcsStatus(address, session.token)).drivers ?? ["missing"]).length === 0, 20_000);
  process.env.TSRAY_TOKEN = session.token;
  await ray.init({ address });
  const pinned = ray.remote(() => 42, { schedulingStrategy: { nodeId: "head", soft: false } });
  assert.equal(await ray.get(pinned.remote(), { timeoutMs: 30_000 }), 42);
});
