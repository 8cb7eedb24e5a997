// Pending demands on real daemons (issue 13): a task needing { special: 1 } submitted while no
// node has it waits (shown by `tsray status` under Demands) and runs once such a node joins; an
// object made there is re-made after that node dies and comes back. Placement groups, and
// captureChildTasks, on the same two nodes.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import * as ray from "../../src/index.ts";
import { getStatus } from "../../src/runtime/daemon/transport.ts";
import type { Session } from "../../src/runtime/daemon/session.ts";
import { readSession, startHeadCli, tsrayCli, until, stopHeadCli } from "../helpers/cli-cluster.ts";
import { captureFamily } from "../helpers/capture-family.ts";
import type { Ray } from "../../src/api/ray.ts";

const BIG = 50_000; // stored in the node's object store, so it dies with the node

let home: string;
let env: NodeJS.ProcessEnv;
let address: string;
let port: number;
let session: Session;

const tsray = (...args: string[]) => tsrayCli(env, ...args);
const status = async () => (await getStatus(address, session.token)) as { nodes: { node: string; alive: boolean }[]; pendingDemands: { resources: Record<string, number>; count: number }[] };

before(async () => {
  ({ home, env, address, port, session } = await startHeadCli("tsray-demands-", 1));
  process.env.TSRAY_TOKEN = session.token;
  await ray.init({ address });
});

after(() => stopHeadCli({ home, env }));

test("a task needing { special: 1 } waits, shows under Demands, and runs once a node with it joins", async () => {
  const f = ray.remote(() => "ran").options({ resources: { special: 1 } });
  const ref = f.remote();
  await assert.rejects(ray.get(ref, { timeoutMs: 1_000 }), (e: Error) => e.name === "GetTimeoutError");
  await until("the demand in the GCS's table", async () => (await status()).pendingDemands.some((d) => d.resources.special === 1 && d.count === 1));
  assert.match(await tsray("status"), /Demands:\n {2}\{"special":1,"CPU":1\}: 1 pending task\(s\)\/actor\(s\), waiting [\d.]+ s/);
  await tsray("start", "--address", address, "--node-id", "special", "--num-cpus", "1", "--resources", '{"special":1}');
  assert.equal(await ray.get(ref, { timeoutMs: 30_000 }), "ran");
  await until("the demand gone", async () => (await status()).pendingDemands.length === 0);
});

test("an object made on the only node with { special: 1 } is re-made after that node dies and returns", async () => {
  const make = ray.remote((n: number) => new Float64Array(n).fill(5)).options({ resources: { special: 1 } });
  const ref = make.remote(BIG);
  await ray.wait([ref], { timeoutMs: 30_000, fetchLocal: false }); // its only copy stays on the special node
  session = readSession(home, port);
  process.kill(session.daemons.find((d) => d.role === "raylet" && d.node === "special")!.pid, "SIGKILL");
  await until("special declared dead", async () => (await status()).nodes.some((n) => n.node === "special" && !n.alive));
  const value = ray.get(ref, { timeoutMs: 60_000 });
  // The re-run waits as a demand while the node is down (it was refused outright before).
  await until("the reconstruction waiting as a demand", async () => (await status()).pendingDemands.some((d) => d.resources.special === 1));
  await tsray("start", "--address", address, "--node-id", "special", "--num-cpus", "1", "--resources", '{"special":1}');
  const v = await value;
  assert.deepEqual([v.length, v[0]], [BIG, 5]);
});

test("placement groups on daemons: STRICT_SPREAD bundles land on distinct nodes and their tasks run there", async () => {
  const pg = ray.placementGroup({ bundles: [{ CPU: 0.5 }, { CPU: 0.5 }], strategy: "STRICT_SPREAD" });
  assert.equal(await ray.get(pg.ready(), { timeoutMs: 30_000 }), true);
  const where = ray.remote(() => ray.context.nodeId);
  const nodes = await ray.get([0, 1].map((i) => where.options({ placementGroup: pg, bundleIndex: i, numCpus: 0.5 }).remote()), { timeoutMs: 30_000 });
  assert.deepEqual([...nodes].sort(), ["head", "special"]);
  ray.removePlacementGroup(pg);
});

test("captureChildTasks on daemons: children, grandchildren and actors naming no strategy run in the parent's group; opt-outs do not", async () => {
  // Two nodes of one CPU each: the group's one bundle takes its node's CPU, so only captured work runs there.
  const f = await captureFamily(ray as unknown as Ray, true, 1);
  assert.deepEqual([f.child, f.grandchild, f.actor], [f.parent, f.parent, f.parent], JSON.stringify(f));
  assert.ok(f.named !== f.parent && f.none !== f.parent, `the opt-outs run on the other node: ${JSON.stringify(f)}`);
});
