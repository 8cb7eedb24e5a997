// The dashboard as a web page, in a real headless Chromium (Debian's package; .ci/run installs
// it): after an example job ran on a live cluster, the page shows the GCS healthy, the nodes
// with their store usage, the finished job with its output, and the timeline with its tasks.
// Without chromium the suite is skipped with the reason printed (required in CI).

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { runGcs, type Stoppable } from "../../src/runtime/daemon/main.ts";
import { runRaylet } from "../../src/runtime/daemon/raylet-daemon.ts";
import { freePort } from "../../src/runtime/free-port.ts";
import { skipWithout } from "../helpers/system.ts";

const CHROMIUM = process.env.TSRAY_CHROMIUM ?? "chromium";
const skip = skipWithout("chromium", { bin: CHROMIUM, install: "apt-get install chromium; .ci/run installs it" });
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

test("the dashboard page shows nodes, a finished job with its logs, and the task timeline", { skip }, async () => {
  const { default: puppeteer } = await import("puppeteer-core");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsray-dashboard-"));
  const token = "dashboard-browser-test-token";
  const saved = process.env.TSRAY_TOKEN;
  process.env.TSRAY_TOKEN = token;
  const port = await freePort();
  const dport = await freePort();
  const quiet = () => {};
  const running: Stoppable[] = [];
  let browser: Awaited<ReturnType<typeof puppeteer.launch>> | undefined;
  try {
    running.push(await runGcs(["--port", String(port), "--dashboard-port", String(dport), "--session-dir", dir], quiet));
    running.push(await runRaylet(["--gcs", `127.0.0.1:${port}`, "--node", "head", "--head", "--num-cpus", "2", "--metrics-export-port", "0", "--dashboard-agent-listen-port", "0"], quiet));
    const base = `http://127.0.0.1:${dport}`;
    const auth = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    const entrypoint = [process.execPath, path.join(ROOT, "bin/tsray.js"), "run", path.join(ROOT, "examples/square.ts")].map((a) => `'${a}'`).join(" ");
    await fetch(`${base}/api/jobs/`, { method: "POST", headers: auth, body: JSON.stringify({ entrypoint, submission_id: "page-square" }) });
    for (let i = 0; ; i++) {
      const j = await (await fetch(`${base}/api/jobs/page-square`, { headers: auth })).json() as { status: string; message: string };
      if (j.status === "SUCCEEDED") break;
      assert.ok(j.status === "PENDING" || j.status === "RUNNING", j.message);
      assert.ok(i < 600, "the job never finished");
      await new Promise((r) => setTimeout(r, 100));
    }

    const executablePath = execFileSync("sh", ["-c", `command -v "${CHROMIUM}"`], { encoding: "utf8" }).trim();
    browser = await puppeteer.launch({ executablePath, headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`${base}/?token=${token}`, { waitUntil: "domcontentloaded" });

    await page.waitForSelector('tr[data-job="page-square"][data-status="SUCCEEDED"]', { timeout: 30_000 })
      .catch((e: Error) => { throw new Error(`${e.message}; errors in the page: ${errors.join("; ") || "none"}`); });
    const health = await page.$eval("#health", (e) => e.textContent);
    assert.equal(health, "GCS healthy");
    const nodes = await page.$$eval("#nodes tbody tr", (rows) => rows.map((r) => [...r.querySelectorAll("td")].map((td) => td.textContent ?? "")));
    assert.equal(nodes.length, 1);
    assert.match(nodes[0][0], /^head/);
    assert.equal(nodes[0][1], "ALIVE");
    assert.match(nodes[0][5], /MiB of [\d.]+ MiB, \d+ objects/);
    const logs = await page.$eval('tr[data-job="page-square"] pre.logs', (e) => e.textContent);
    assert.match(logs ?? "", /\[ 0, 1, 4, 9, 16 \]/);
    // square.ts ran five tasks: five slices drawn in the timeline.
    await page.waitForFunction('document.querySelectorAll("#timeline rect.slice").length >= 5', { timeout: 30_000 });
    const tasks = await page.$$eval("#timeline rect.slice", (rs) => rs.map((r) => r.getAttribute("data-task")));
    assert.equal(new Set(tasks).size, 5);
    const rows = await page.$$eval("#tasks tbody tr", (rs) => rs.map((r) => r.getAttribute("data-task")));
    assert.deepEqual(new Set(rows), new Set(tasks));
    assert.deepEqual(errors, []);
  } finally {
    await browser?.close();
    for (const s of running.reverse()) await s.close();
    if (saved === undefined) delete process.env.TSRAY_TOKEN;
    else process.env.TSRAY_TOKEN = saved;
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
