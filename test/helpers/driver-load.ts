// Many drivers at once on a running daemon cluster, each its own process submitting many short
// tasks, then what they leave behind: the lease leak under load (issue 11) is judged on the
// cluster's resource view once every driver has exited. Used by test/integration/
// daemon-driver-load.test.ts (a few drivers, in `npm test`) and test/soak-drivers.ts (the full
// 20 × 2,000).
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { getStatus } from "../../src/runtime/daemon/transport.ts";
import { ROOT } from "./cli-cluster.ts";

export interface DriverLoad {
  readonly address: string;
  readonly token: string;
  /** The environment of the cluster (TSRAY_HOME among it). */
  readonly env: NodeJS.ProcessEnv;
  /** Where to write the driver script. */
  readonly dir: string;
  readonly drivers: number;
  readonly tasksPerDriver: number;
}

export interface NodeRow { readonly node: string; readonly total: Record<string, number>; readonly available: Record<string, number>; readonly alive: boolean }
export interface GcsStatus { readonly nodes: readonly NodeRow[]; readonly drivers?: readonly string[] }

export const gcsStatus = async (address: string, token: string) => (await getStatus(address, token)) as GcsStatus;

/** Live nodes with some CPU still in use, as "node used/total". */
export function cpusInUse(s: GcsStatus): string[] {
  return s.nodes.filter((n) => n.alive && (n.available.CPU ?? 0) < (n.total.CPU ?? 0)).map((n) => `${n.node} ${(n.total.CPU ?? 0) - (n.available.CPU ?? 0)}/${n.total.CPU}`);
}

/**
 * Runs `drivers` driver processes at once, each submitting `tasksPerDriver` short tasks (all in
 * flight together, as a driver looping over `.remote()` does), getting every result and exiting.
 * Resolves with each driver's sum once all exited; rejects if one fails or sums wrong.
 */
export async function runDriverLoad(o: DriverLoad): Promise<number[]> {
  const script = path.join(o.dir, "load-driver.mts");
  fs.writeFileSync(script, `
import * as ray from ${JSON.stringify(path.join(ROOT, "src/index.ts"))};
const n = Number(process.argv[2]);
// Twenty node processes starting at once on a small, shared machine may miss ray.init's first
// deadline for the GCS: a driver tries again, as a job would be resubmitted.
for (let attempt = 1; ; attempt++) {
  try { await ray.init({ address: ${JSON.stringify(o.address)} }); break; } catch (e) { if (attempt === 5) throw e; }
}
const inc = ray.remote((x: number) => x + 1);
const refs = [];
for (let i = 0; i < n; i++) refs.push(inc.remote(i));
const values = await ray.get(refs, { timeoutMs: 600_000 });
process.stdout.write(JSON.stringify(values.reduce((a, b) => a + b, 0)) + "\\n");
await ray.shutdown();
`);
  const expected = (o.tasksPerDriver * (o.tasksPerDriver + 1)) / 2;
  const one = (i: number) => new Promise<number>((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", script, String(o.tasksPerDriver)], {
      env: { ...o.env, TSRAY_TOKEN: o.token }, cwd: ROOT, stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout!.on("data", (b: Buffer) => { out += b.toString(); });
    child.stderr!.on("data", (b: Buffer) => { err += b.toString(); });
    child.on("exit", (code, signal) => {
      const sum = Number(out.trim().split("\n").pop());
      if (code === 0 && sum === expected) resolve(sum);
      else reject(new Error(`driver ${i} exited ${code ?? signal} with ${JSON.stringify(out.trim())} (expected ${expected}): ${err.trim().slice(-2000)}`));
    });
  });
  return Promise.all(Array.from({ length: o.drivers }, (_, i) => one(i)));
}
