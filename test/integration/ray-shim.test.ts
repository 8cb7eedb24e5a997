// The image's `ray` command against real daemons (no container): `ray health-check` says whether
// a GCS serves, and a node started as the image starts it — serving on 0.0.0.0 and advertising
// another address (`--node-ip-address`) — registers that address, and a driver runs tasks there.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import * as ray from "../../src/index.ts";
import { runRayShim } from "../../src/cli/ray-shim.ts";
import { getStatus } from "../../src/runtime/daemon/transport.ts";
import { freePort } from "../../src/runtime/free-port.ts";
import { startHeadCli, tsrayCli, until, stopHeadCli } from "../helpers/cli-cluster.ts";
import type { Session } from "../../src/runtime/daemon/session.ts";

let home = "", address = "";
let env: NodeJS.ProcessEnv = {};
let session: Session;
const out: string[] = [];
const io = { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => out.push(s) } };

before(async () => {
  ({ home, env, address, session } = await startHeadCli("tsray-shim-", 1));
});

after(() => stopHeadCli({ home, env }, { all: true }));

test("ray health-check: 0 while the GCS serves, 1 where none does, 2 for a bad flag", async () => {
  assert.equal(await runRayShim(["health-check", "--address", address], io), 0);
  assert.equal(await runRayShim(["health-check", "--address", `127.0.0.1:${await freePort()}`, "--skip-version-check", "--timeout", "2"], io), 1);
  assert.match(out.join(""), /does not answer/);
  assert.equal(await runRayShim(["health-check", "--frobnicate"], io), 2);
  assert.equal(await runRayShim(["kuberay-autoscaler", "--cluster-name", "c"], io), 2);
  assert.match(out.join(""), /ray kuberay-autoscaler: --cluster-name and --cluster-namespace are required/);
  assert.equal(await runRayShim(["up", "cluster.yaml"], io), 2);
  assert.match(out.join(""), /ray up: not available in the tsray image/);
});

test("a node serving on 0.0.0.0 registers its --node-ip-address, and tasks run on it", async () => {
  // 127.0.0.2 is this machine too (all of 127/8 is loopback), but not the address it serves on.
  await tsrayCli(env, "start", "--address", address, "--node-id", "far", "--num-cpus", "1", "--resources", '{"far":1}',
    "--host", "0.0.0.0", "--node-ip-address", "127.0.0.2");
  const nodes = await until("node far", async () => {
    const s = (await getStatus(address, session.token)) as { nodes: { node: string; alive: boolean; endpoint?: string }[] };
    return s.nodes.some((n) => n.node === "far" && n.alive);
  }).then(async () => ((await getStatus(address, session.token)) as { nodes: { node: string; endpoint?: string }[] }).nodes);
  assert.match(nodes.find((n) => n.node === "far")!.endpoint!, /^127\.0\.0\.2:\d+;/);
  process.env.TSRAY_TOKEN = session.token;
  try {
    await ray.init({ address });
    const where = ray.remote(() => 6 * 7).options({ resources: { far: 1 } });
    assert.equal(await ray.get(where.remote()), 42);
  } finally {
    delete process.env.TSRAY_TOKEN;
  }
});
