// `tsray run FILE` and `tsray demo` (what `npm start` runs), as a user runs them: separate
// processes through bin/tsray.js, checked by exit code and output.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { checkTrace } from "../../spec/invariants/index.ts";
import { parseTrace } from "../../spec/trace.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BIN = path.join(ROOT, "bin/tsray.js");
const tmp = mkdtempSync(path.join(os.tmpdir(), "tsray-cli-test-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

function tsray(args: string[], timeoutMs = 60_000): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: tmp, stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const kill = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("exit", (code) => { clearTimeout(kill); resolve({ code, out, err }); });
  });
}

function program(name: string, body: string): string {
  const file = path.join(tmp, `${name}.mts`);
  writeFileSync(file, body);
  return file;
}

describe("tsray run", () => {
  it("runs a program module on the embedded cluster, prints its value, writes a checked trace", async () => {
    const file = program("squares", `export default async (ray) => {
  const sq = ray.remote((x) => x * x);
  return ray.get([1, 2, 3, 4].map((i) => sq.remote(i)));
};`);
    const trace = path.join(tmp, "squares.jsonl");
    const r = await tsray(["run", file, "--num-cpus", "2", "--json", "--trace", trace, "--check"]);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(JSON.parse(r.out), [1, 4, 9, 16]);
    assert.match(r.err, /invariants hold/);
    const events = parseTrace(readFileSync(trace, "utf8"));
    assert.ok(events.some((e) => e.kind === "task.finished"));
    assert.deepEqual(checkTrace(events), []);
  });

  it("a program that throws: exit 1 and the error on stderr", async () => {
    const file = program("throws", `export default async (ray) => {
  const f = ray.remote(() => { throw new Error("nope from a task"); });
  return ray.get(f.remote());
};`);
    const r = await tsray(["run", file]);
    assert.equal(r.code, 1);
    assert.match(r.err, /TaskError.*nope from a task/);
  });

  it("usage errors: exit 2", async () => {
    assert.equal((await tsray(["run", path.join(tmp, "missing.mts")])).code, 2);
    assert.equal((await tsray(["run", program("nodefault", "export const x = 1;")])).code, 2);
    assert.equal((await tsray(["run", "a", "--num-cpus", "-1"])).code, 2);
  });
});

describe("tsray demo (npm start)", () => {
  it("runs the seed examples embedded and simulated, and they agree", { skip: existsSync(path.join(ROOT, "examples/square.ts")) ? false : "no examples yet" }, async () => {
    const traces = path.join(tmp, "demo-traces");
    const r = await tsray(["demo", "--trace-dir", traces], 120_000);
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, /Every example gives the same result on both hosts/);
    for (const name of ["square", "counter", "add", "map-reduce"]) {
      if (!existsSync(path.join(ROOT, `examples/${name}.ts`))) continue;
      for (const host of ["embedded", "sim"]) {
        const file = path.join(traces, `${name}.${host}.jsonl`);
        assert.ok(existsSync(file), `${file} written`);
        assert.ok(r.out.includes(file), `the demo says where ${file} is`);
      }
    }
  });
});
