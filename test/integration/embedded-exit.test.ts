// ray.shutdown() releases everything: worker threads, timers, the spill directory. A process
// that inits, runs a task and shuts down exits by itself (no process.exit), promptly; one that
// forgets to shut down exits too once it stops waiting on the cluster; and in-process, no
// handle is left behind.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as ray from "../../src/index.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const INDEX = pathToFileURL(path.join(ROOT, "src/index.ts")).href;
const tmp = mkdtempSync(path.join(os.tmpdir(), "tsray-exit-test-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

function runScript(name: string, body: string, timeoutMs: number): Promise<{ code: number | null; signal: string | null; ms: number; out: string; err: string }> {
  const file = path.join(tmp, `${name}.mts`);
  writeFileSync(file, `import * as ray from ${JSON.stringify(INDEX)};\n${body}\n`);
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, ["--import", "tsx", file], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const kill = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      clearTimeout(kill);
      resolve({ code, signal, ms: performance.now() - t0, out, err });
    });
  });
}

describe("embedded cluster: shutdown leaves nothing behind", () => {
  it("a script that inits, runs a task and shuts down exits by itself within seconds", async () => {
    const r = await runScript("clean", `
await ray.init({ numCpus: 2 });
const spill = ray.cluster()!.spill.dir;
const sq = ray.remote((x: number) => x * x);
console.log(JSON.stringify({ result: await ray.get(sq.remote(7)), spill }));
await ray.shutdown();
`, 20_000);
    assert.equal(r.signal, null, `killed after ${r.ms.toFixed(0)} ms: it did not exit by itself\n${r.err}`);
    assert.equal(r.code, 0, r.err);
    const { result, spill } = JSON.parse(r.out.trim());
    assert.equal(result, 49);
    assert.ok(r.ms < 10_000, `took ${r.ms.toFixed(0)} ms`);
    assert.equal(existsSync(spill), false, "spill directory removed");
  });

  it("a script that never calls shutdown still exits once the program is done", async () => {
    const r = await runScript("forgetful", `
await ray.init({ numCpus: 2 });
const spill = ray.cluster()!.spill.dir;
const sq = ray.remote((x: number) => x * x);
console.log(JSON.stringify({ result: await ray.get(sq.remote(8)), spill }));
`, 20_000);
    assert.equal(r.signal, null, `killed after ${r.ms.toFixed(0)} ms: it did not exit by itself`);
    assert.equal(r.code, 0, r.err);
    const { result, spill } = JSON.parse(r.out.trim());
    assert.equal(result, 64);
    assert.equal(existsSync(spill), false, "spill directory removed at exit");
  });

  it("a script awaiting a slow task is kept alive until it finishes", async () => {
    const r = await runScript("patient", `
await ray.init({ numCpus: 1 });
const slow = ray.remote(async (ms: number) => { await ray.sleep(ms); return "done"; });
console.log(await ray.get(slow.remote(300)));
`, 20_000);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out.trim(), "done");
  });

  it("in-process: after shutdown, no handle the cluster opened is left", async () => {
    const count = () => {
      const m: Record<string, number> = {};
      for (const r of process.getActiveResourcesInfo()) m[r] = (m[r] ?? 0) + 1;
      return m;
    };
    const before = count();
    await ray.init({ numCpus: 2, storeCapacity: 8 << 20 });
    const A = ray.remote(class A { n = 0; inc() { return ++this.n; } });
    const a = A.remote();
    const big = await ray.put(new Float64Array(4 << 17)); // 4 MiB: spills in an 8 MiB store later
    await ray.get([a.inc.remote(), ray.remote((x: Float64Array) => x.length).remote(big)]);
    const timed = ray.remote(async () => { await ray.sleep(5); return 1; });
    await ray.get(timed.remote(), { timeoutMs: 10_000 }); // arms (and clears) a get timer
    const c = ray.cluster()!;
    assert.ok(c.threadCount() >= 2);
    await ray.shutdown();
    assert.equal(c.threadCount(), 0);
    await new Promise((r) => setImmediate(r));
    // Nothing of a kind the cluster uses (threads' ports, timers, file handles) is left over;
    // what else the test process has open (the earlier children's pipes closing) may vary.
    const now = count();
    for (const kind of ["MessagePort", "Worker", "Timeout", "Immediate", "FSReqCallback", "FileHandle"]) {
      assert.ok((now[kind] ?? 0) <= (before[kind] ?? 0), `${kind}: ${now[kind]} open after shutdown, ${before[kind] ?? 0} before init`);
    }
    assert.equal(ray.isInitialized(), false);
    assert.throws(() => a.inc.remote(), /shut down|call ray\.init\(\) first/);
  });
});
