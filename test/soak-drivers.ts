// `npx tsx test/soak-drivers.ts [--drivers 20] [--tasks 2000] [--nodes 2] [--cpus 2]`: the lease
// leak under load at full size (issue 11), not part of `npm test` (a few minutes of CPU): starts
// a head and `nodes - 1` worker nodes with `tsray start`, runs `drivers` driver processes at once,
// each with `tasks` short tasks, and once all have exited waits for every CPU to be free again
// and the GCS to have forgotten every driver, then runs a task pinned to the head. Prints what it
// measured; exits 1 on a leak, a wrong result or a hang.
import fs from "node:fs";
import { parseArgs } from "node:util";
import * as ray from "../src/index.ts";
import { startHeadCli, tsrayCli, until } from "./helpers/cli-cluster.ts";
import { cpusInUse, gcsStatus, runDriverLoad, type GcsStatus } from "./helpers/driver-load.ts";

const { values } = parseArgs({
  options: { drivers: { type: "string", default: "20" }, tasks: { type: "string", default: "2000" }, nodes: { type: "string", default: "2" }, cpus: { type: "string", default: "2" } },
  strict: true,
});
const count = (name: keyof typeof values) => {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < 1) throw new TypeError(`--${name} must be a positive integer, got ${values[name]}`);
  return n;
};
const [drivers, tasks, nodes, cpus] = [count("drivers"), count("tasks"), count("nodes"), count("cpus")];

const { home, env, address, session } = await startHeadCli("tsray-soak-drivers-", cpus);
let failed = false;
try {
  for (let i = 1; i < nodes; i++) await tsrayCli(env, "start", "--address", address, "--num-cpus", String(cpus));
  await until("every node registered", async () => (await gcsStatus(address, session.token)).nodes.length === nodes, 60_000);
  const t0 = Date.now();
  await runDriverLoad({ address, token: session.token, env, dir: home, drivers, tasksPerDriver: tasks });
  const ran = Date.now() - t0;
  console.log(`${drivers} drivers × ${tasks} tasks on ${nodes} node(s) of ${cpus} CPU(s): every result right, in ${(ran / 1000).toFixed(1)} s`);
  let last: GcsStatus = await gcsStatus(address, session.token);
  const t1 = Date.now();
  await until("every CPU free again", async () => { last = await gcsStatus(address, session.token); return cpusInUse(last).length === 0; }, 60_000)
    .catch((e: Error) => { throw new Error(`${e.message}: still in use ${cpusInUse(last).join(", ")}`); });
  console.log(`every CPU free ${((Date.now() - t1) / 1000).toFixed(1)} s after the last driver exited`);
  await until("the GCS forgot every driver", async () => { last = await gcsStatus(address, session.token); return (last.drivers ?? ["missing"]).length === 0; }, 60_000)
    .catch((e: Error) => { throw new Error(`${e.message}: it lists ${JSON.stringify(last.drivers)}`); });
  console.log("the GCS lists no driver");
  process.env.TSRAY_TOKEN = session.token;
  await ray.init({ address });
  const pinned = ray.remote(() => 42, { schedulingStrategy: { nodeId: "head", soft: false } });
  const v = await ray.get(pinned.remote(), { timeoutMs: 30_000 });
  if (v !== 42) throw new Error(`the task pinned to the head returned ${v}`);
  console.log("a task pinned to the head ran");
} catch (e) {
  failed = true;
  console.error(`FAILED: ${(e as Error).message}`);
} finally {
  await ray.shutdown();
  await tsrayCli(env, "stop").catch(() => undefined);
  fs.rmSync(home, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
