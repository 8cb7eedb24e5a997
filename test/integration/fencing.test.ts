// Fencing that ends (fencing.ts): a raylet process paused past the failure bound is declared
// dead by the GCS; when it resumes it hears so and exits with a clear line (a supervisor
// restarts it as a new incarnation, which joins). A second live process with the same node id
// is refused.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { GcsDaemon } from "../../src/runtime/daemon/gcs-daemon.ts";
import { RayletDaemon } from "../../src/runtime/daemon/raylet-daemon.ts";
import { getStatus } from "../../src/runtime/daemon/transport.ts";
import { MemoryStorage } from "../../src/runtime/storage/index.ts";
import { daemonTuning } from "../../src/core/tuning.ts";

const token = "fencing-token";
const MAIN = fileURLToPath(new URL("../../src/runtime/daemon/main.ts", import.meta.url));
const cleanup: (() => Promise<unknown> | void)[] = [];
after(async () => { for (const c of cleanup.reverse()) await c(); });

type Status = { nodes: { node: string; alive: boolean; incarnation: number }[] };
async function until(what: string, ok: () => Promise<boolean> | boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await Promise.resolve().then(ok).catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test("a raylet declared dead while paused exits when it resumes; its restart joins as a new incarnation", async () => {
  // 10 missed periods of 100 ms: a pause of a few seconds is past the bound.
  const gcs = await GcsDaemon.start({ head: "head", token, storage: new MemoryStorage(), tuning: { ...daemonTuning, heartbeatMissLimit: 10 }, log: () => {} });
  cleanup.push(() => gcs.close());
  const address = `127.0.0.1:${gcs.port}`;
  const startRaylet = () => {
    const p = spawn(process.execPath, ["--import", "tsx", MAIN, "raylet", "--gcs", address, "--node", "n1", "--num-cpus", "1"], { env: { ...process.env, TSRAY_TOKEN: token }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    p.stdout!.on("data", (d) => { out += d; });
    p.stderr!.on("data", (d) => { out += d; });
    const exited = new Promise<number | null>((r) => p.once("exit", (code) => r(code)));
    cleanup.push(() => { if (p.exitCode === null) p.kill("SIGKILL"); });
    return { p, exited, out: () => out };
  };
  const nodes = async () => ((await getStatus(address, token)) as Status).nodes.filter((n) => n.node === "n1");
  const first = startRaylet();
  await until("n1 alive", async () => (await nodes()).some((n) => n.alive));
  const firstLife = (await nodes())[0].incarnation;

  first.p.kill("SIGSTOP");
  await until("n1 declared dead", async () => (await nodes()).every((n) => !n.alive));
  first.p.kill("SIGCONT");
  assert.equal(await first.exited, 1);
  assert.match(first.out(), new RegExp(`the GCS declared node n1 \\(incarnation ${firstLife}\\) dead; exiting`));

  const second = startRaylet(); // what a supervisor does
  await until("n1's next life alive", async () => (await nodes()).some((n) => n.alive && n.incarnation > firstLife));
  second.p.kill("SIGTERM");
  await second.exited;
});

test("a second live process with a node id in use is refused", async () => {
  const gcs = await GcsDaemon.start({ head: "head", token, storage: new MemoryStorage(), log: () => {} });
  cleanup.push(() => gcs.close());
  const address = `127.0.0.1:${gcs.port}`;
  const r = await RayletDaemon.start({ gcs: address, node: "n2", resources: { CPU: 1 }, token, objectSocket: false, log: () => {} });
  cleanup.push(() => r.close());
  await until("n2 alive", async () => ((await getStatus(address, token)) as Status).nodes.some((n) => n.node === "n2" && n.alive));
  await assert.rejects(RayletDaemon.start({ gcs: address, node: "n2", resources: { CPU: 1 }, token, objectSocket: false, log: () => {} }),
    /node id n2 is held by a live raylet at 127\.0\.0\.1:\d+ .*refusing to start a second process/);
  const s = (await getStatus(address, token)) as Status;
  assert.deepEqual(s.nodes.filter((n) => n.node === "n2").map((n) => n.alive), [true]);
});
