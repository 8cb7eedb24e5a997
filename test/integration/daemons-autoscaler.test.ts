// Issue 13's acceptance on real daemons: `tsray start --head --autoscaling-config FILE` runs the
// autoscaler next to the GCS with the local provider (raylet processes on this machine). Under
// load it starts worker nodes up to maxReplicas, shown by `tsray status`; once idle past the
// timeout it drains and stops them. Kept small: 0 → 2 workers of one CPU each.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import * as ray from "../../src/index.ts";
import { getStatus } from "../../src/runtime/daemon/transport.ts";
import { startHeadCli, tsrayCli, until, stopHeadCli } from "../helpers/cli-cluster.ts";

let home: string;
let env: NodeJS.ProcessEnv;
let address: string;
let token: string;
const config = {
  enableInTreeAutoscaling: true,
  autoscalerOptions: { idleTimeoutSeconds: 3, periodSeconds: 0.5 },
  workerGroupSpecs: [{ groupName: "cpu", minReplicas: 0, maxReplicas: 2, resources: { CPU: 1 } }],
};

const workers = async () => ((await getStatus(address, token)) as { nodes: { node: string; alive: boolean }[] }).nodes.filter((n) => n.alive && n.node !== "head").map((n) => n.node);

before(async () => {
  const file = path.join(fs.mkdtempSync(path.join((await import("node:os")).tmpdir(), "tsray-as-")), "autoscaling.json");
  fs.writeFileSync(file, JSON.stringify(config));
  let session;
  ({ home, env, address, session } = await startHeadCli("tsray-autoscale-", 0, ["--autoscaling-config", file]));
  token = session.token;
  process.env.TSRAY_TOKEN = token;
  await ray.init({ address });
});

after(() => stopHeadCli({ home, env }));

test("a bad autoscaling configuration is refused, naming the field", async () => {
  const file = path.join(home, "bad.json");
  fs.writeFileSync(file, JSON.stringify({ ...config, workerGroupSpecs: [{ groupName: "cpu", minReplicas: 3, maxReplicas: 2, resources: { CPU: 1 } }] }));
  await assert.rejects(tsrayCli(env, "start", "--head", "--port", "1", "--autoscaling-config", file), /workerGroupSpecs\.0\.minReplicas: 3 is more than maxReplicas 2/);
});

test("the local provider scales 0 → 2 workers under load and back to 0 when they are idle", async () => {
  // The tasks hold their nodes until the test has seen the scale-up (a file appears), so that
  // what is checked does not depend on how fast this machine is.
  const gate = path.join(home, "gate");
  const slow = ray.remote(async (x: number, file: string) => {
    const fs = await import("node:fs");
    while (!fs.existsSync(file)) await new Promise((r) => setTimeout(r, 50));
    return x * 10;
  });
  const refs = [1, 2, 3, 4, 5, 6].map((x) => slow.remote(x, gate));
  let most = 0;
  const watch = setInterval(() => { void workers().then((w) => { most = Math.max(most, w.length); }, () => {}); }, 200);
  try {
    await until("two workers started", async () => (await workers()).length === 2, 60_000);
    assert.match(await tsrayCli(env, "status"), /Autoscaler:\n {2}cpu: 2 running, 0 pending \(minReplicas 0, maxReplicas 2\)/);
    fs.writeFileSync(gate, "");
    assert.deepEqual(await ray.get(refs, { timeoutMs: 60_000 }), [10, 20, 30, 40, 50, 60]);
    await until("both workers removed after the idle timeout", async () => (await workers()).length === 0, 60_000);
  } finally {
    clearInterval(watch);
  }
  assert.equal(most, 2, "never more than maxReplicas");
  // The autoscaler's own account: both nodes terminated, no launch failed.
  await until("both terminated", async () => {
    const a = ((await getStatus(address, token)) as { autoscaler: { groups: { running: number; pending: number }[]; recentFailures: unknown[] } }).autoscaler;
    return a.groups[0].running === 0 && a.groups[0].pending === 0 && a.recentFailures.length === 0;
  });
});

test("this head's own autoscaler wins: a remote one (ray kuberay-autoscaler) is refused, told why", async () => {
  const { RemoteGcs } = await import("../../src/runtime/daemon/autoscaling-service.ts");
  const remote = new RemoteGcs(address, token);
  try {
    await assert.rejects(remote.state(), /FAILED_PRECONDITION: this head runs its own autoscaler \(tsray start --head --autoscaling-config\), which wins/);
  } finally {
    remote.close();
  }
});
