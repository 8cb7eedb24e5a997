// The CLI, driven in-process through runCli with captured output.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { runCli } from "../../src/cli/main.ts";
import { Raylet } from "../../src/core/raylet.ts";
import { add } from "../../src/core/resources.ts";
import { formatTrace, parseTrace, type TraceEvent } from "../../spec/trace.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
let dir: string;
before(() => { dir = mkdtempSync(join(tmpdir(), "tsray-cli-")); });
after(() => rmSync(dir, { recursive: true, force: true }));

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "", err = "";
  const code = await runCli(args, { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, cwd: ROOT });
  return { code, out, err };
}

/** Writes a program file into the temp dir and returns its path. */
function program(name: string, source: string): string {
  const p = join(dir, name);
  writeFileSync(p, source);
  return p;
}

describe("tsray sim", () => {
  test("--replay runs a saved fault scenario and judges it; a seeded bug in it makes it fail", async () => {
    const ok = await cli("sim", "--replay", "test/regressions/lease-for-dead-holder.json");
    assert.equal(ok.code, 0, ok.out + ok.err);
    assert.match(ok.out, /^verdict +ok: every invariant held$/m);
    assert.match(ok.out, /^replay +tsray sim --replay test\/regressions\/lease-for-dead-holder\.json$/m);
    const scenario = JSON.parse(readFileSync(join(ROOT, "test/regressions/worker-death-while-gcs-down.json"), "utf8"));
    const buggy = program("buggy.json", JSON.stringify({ ...scenario, bugs: ["retry-forever"], workload: { steps: [{ op: "task", fn: "slow", args: [{ lit: 1 }, { lit: 9 }], maxRetries: 0, node: "node-1" }] } }));
    const bad = await cli("sim", "--replay", buggy);
    assert.equal(bad.code, 1, bad.out + bad.err);
    assert.match(bad.out, /\[budgets\].*over its budget of maxRetries=0/);
    const missing = await cli("sim", "--replay", "no-such.json");
    assert.equal(missing.code, 2);
    assert.match(missing.err, /no such file: no-such\.json/);
    const ignored = await cli("sim", "--replay", "test/regressions/lease-for-dead-holder.json", "--seed", "3", "--messages");
    assert.equal(ignored.code, 2);
    assert.match(ignored.err, /--replay takes only --trace \(the scenario fixes the rest\), not --seed, --messages/);
  });
  test("prints the result, trace hash, virtual time, events and the replay command", async () => {
    const { code, out, err } = await cli("sim", "examples/square.ts", "--seed", "3", "--nodes", "2");
    assert.equal(code, 0, err);
    assert.match(out, /^result +\[0,1,4,9,16\]$/m);
    assert.match(out, /^trace hash +[0-9a-f]{16}$/m);
    assert.match(out, /^virtual time +\d+\.\d+ ms$/m);
    assert.match(out, /^events +\d+ simulated, \d+ traced$/m);
    assert.match(out, /^invariants +ok$/m);
    assert.match(out, /^replay +tsray sim examples\/square\.ts --seed 3 --nodes 2$/m);
  });

  // Issue 12's acceptance: a correct program that calls dead actors (one whose constructor threw,
  // one it killed) is no violation, whichever seed schedules it.
  test("a correct program calling dead actors reports no violation", async () => {
    const file = program("dead-actor.ts", `export default async (ray) => {
  class Broken { constructor() { throw new RangeError("cannot build"); } ping() { return 1; } }
  class Fine { ping() { return 2; } }
  const broken = ray.remote(Broken).remote();
  const seen = [];
  for (const r of [broken.ping.remote(), broken.ping.remote()]) { try { await ray.get(r); seen.push("ok"); } catch (e) { seen.push(e.name); } }
  const fine = ray.remote(Fine).remote();
  seen.push(await ray.get(fine.ping.remote()));
  ray.kill(fine);
  try { await ray.get(fine.ping.remote()); seen.push("ok"); } catch (e) { seen.push(e.name); }
  return seen;
};
`);
    for (const seed of ["1", "2", "3"]) {
      const { code, out, err } = await cli("sim", file, "--seed", seed, "--nodes", "2");
      assert.equal(code, 0, out + err);
      assert.match(out, /^result +\["ActorDiedError","ActorDiedError",2,"ActorDiedError"\]$/m);
      assert.match(out, /^invariants +ok$/m);
    }
  });

  test("a negative seed is a seed", async () => {
    const { code, out } = await cli("sim", "examples/add.ts", "--seed", "-3", "--json");
    assert.equal(code, 0);
    assert.equal(JSON.parse(out).replay, "tsray sim examples/add.ts --seed -3 --nodes 1");
  });

  test("the replay command reproduces the run: same hash", async () => {
    const first = JSON.parse((await cli("sim", "examples/add.ts", "--seed", "8", "--nodes", "3", "--json")).out);
    const replay = (first.replay as string).split(" ").slice(1); // drop "tsray"
    const second = JSON.parse((await cli(...replay, "--json")).out);
    assert.equal(second.traceHash, first.traceHash);
    assert.equal(second.result, 10);
  });

  test("--cpus sets each node's CPUs and appears in the replay command", async () => {
    const { code, out } = await cli("sim", "examples/square.ts", "--cpus", "1", "--json");
    assert.equal(code, 0);
    const j = JSON.parse(out);
    assert.equal(j.cpus, 1);
    assert.equal(j.replay, "tsray sim examples/square.ts --seed 1 --nodes 1 --cpus 1");
    const four = JSON.parse((await cli("sim", "examples/square.ts", "--json")).out);
    assert.notEqual(four.traceHash, j.traceHash, "1 CPU schedules differently from 4");
  });

  test("--trace writes the trace as JSONL, and `tsray check` passes on it", async () => {
    const file = join(dir, "square.jsonl");
    const { code, out } = await cli("sim", "examples/counter.ts", "--nodes", "4", "--trace", file, "--json");
    assert.equal(code, 0);
    const j = JSON.parse(out);
    const events = parseTrace(readFileSync(file, "utf8"));
    assert.equal(events.length, j.traceLength);
    assert.ok(events.some((e) => e.kind === "task.finished"));
    const checked = await cli("check", file);
    assert.equal(checked.code, 0, checked.out + checked.err);
    assert.equal(checked.out, `ok: ${events.length} events, no violations\n`);
  });

  test("a program that throws: the error is printed and the exit code is 1", async () => {
    const p = program("throws.ts", `export default async (ray) => {
      const f = ray.remote((x) => { if (x > 1) throw new RangeError("too big: " + x); return x; });
      return ray.get(f.remote(2));
    };\n`);
    const { code, out } = await cli("sim", p, "--seed", "1");
    assert.equal(code, 1);
    assert.match(out, /^error +TaskError: .*too big: 2/m);
    assert.match(out, /^replay +tsray sim /m);
    const j = JSON.parse((await cli("sim", p, "--json")).out);
    assert.equal(j.ok, false);
    assert.equal(j.error.name, "TaskError");
  });

  test("invariant violations are listed and make the exit code 1", async () => {
    const p = program("waves.ts", `export default async (ray) => {
      const f = ray.remote(async function work(i) { await ray.sleep(5); return i; });
      let n = 0;
      for (let w = 0; w < 3; w++) n += (await ray.get([1, 2, 3, 4].map((i) => f.remote(i)))).length;
      return n;
    };\n`);
    assert.equal((await cli("sim", p, "--cpus", "2")).code, 0, "clean run");
    // Break the raylet for this run: a returned lease is credited twice.
    const proto = Raylet.prototype as unknown as Record<string, (this: any, ...a: any[]) => void>;
    const original = proto.returnLease;
    const check = proto.setAvailable;
    proto.returnLease = function (leaseId: string, ...rest: unknown[]) {
      const lease = this.leases.get(leaseId);
      original.call(this, leaseId, ...rest);
      if (lease) this.available = add(this.available, lease.resources);
    };
    // The raylet's own resource check would stop the run at once: off, so the trace checker must catch it.
    proto.setAvailable = function (next: unknown) { this.available = next; };
    try {
      const { code, out } = await cli("sim", p, "--cpus", "2");
      assert.equal(code, 1);
      assert.match(out, /^result +12$/m, "the program itself succeeded");
      assert.match(out, /^invariants +\d+ violations?$/m);
      assert.match(out, /^\[resources\] t=\S+ node head over capacity after lease \S+: CPU in use \d+ > capacity 2$/m);
      assert.match(out, /^replay +tsray sim \S+waves\.ts --seed 1 --nodes 1 --cpus 2$/m);
    } finally {
      proto.returnLease = original;
      proto.setAvailable = check;
    }
  });

  test("--faults injects a fault plan (a file or inline JSON) and appears in the replay command", async () => {
    const plan = join(dir, "plan.json");
    writeFileSync(plan, JSON.stringify({ schedule: [{ at: 20, kind: "kill-node", node: "node-1" }] }));
    const file = join(dir, "faulty.jsonl");
    const { code, out } = await cli("sim", "examples/map-reduce.ts", "--nodes", "3", "--faults", plan, "--trace", file, "--json");
    const j = JSON.parse(out);
    assert.equal(code, 0, JSON.stringify(j.violations));
    assert.equal(j.replay, `tsray sim examples/map-reduce.ts --seed 1 --nodes 3 --faults ${plan}`);
    const faults = parseTrace(readFileSync(file, "utf8")).filter((e) => e.kind === "fault");
    assert.equal(faults.length, 1);
    const clean = JSON.parse((await cli("sim", "examples/map-reduce.ts", "--nodes", "3", "--json")).out);
    assert.notEqual(clean.traceHash, j.traceHash);
    assert.deepEqual(clean.result, j.result, "the program survives the lost node");
    const inline = JSON.parse((await cli("sim", "examples/map-reduce.ts", "--nodes", "3", "--faults", readFileSync(plan, "utf8"), "--json")).out);
    assert.equal(inline.traceHash, j.traceHash);
  });

  test("a bad fault plan is a usage error", async () => {
    let r = await cli("sim", "examples/add.ts", "--faults", '{"schedule":[{"at":1,"kind":"kill-node","node":"node-9"}]}');
    assert.equal(r.code, 2);
    assert.match(r.err, /^tsray sim: fault plan: schedule\[0\]\.node: unknown node "node-9"/);
    r = await cli("sim", "examples/add.ts", "--faults", "{not json");
    assert.equal(r.code, 2);
    assert.match(r.err, /--faults: the plan is not JSON/);
    r = await cli("sim", "examples/add.ts", "--faults", join(dir, "missing-plan.json"));
    assert.equal(r.code, 2);
    assert.match(r.err, /--faults: cannot read .*missing-plan\.json: no such file/);
  });

  test("a program whose result is not JSON still prints", async () => {
    const p = program("bigint.ts", "export default async () => ({ n: 10n, m: new Map([[1, 2]]) });\n");
    const { code, out } = await cli("sim", p);
    assert.equal(code, 0);
    assert.match(out, /^result +.*10n/m);
  });

  test("a task no node can run is reported as an error, not hung on", async () => {
    const p = program("gpu.ts", `export default async (ray) => {
      const f = ray.remote((x) => x, { numGpus: 1 });
      return ray.get(f.remote(1));
    };\n`);
    const { code, out } = await cli("sim", p);
    assert.equal(code, 1);
    assert.match(out, /^error +/m);
  });

  test("FILE must exist and default-export a program", async () => {
    let r = await cli("sim", "no/such/file.ts");
    assert.equal(r.code, 2);
    assert.match(r.err, /tsray sim: no such file: no\/such\/file\.ts/);
    r = await cli("sim", program("nodefault.ts", "export const x = 1;\n"));
    assert.equal(r.code, 2);
    assert.match(r.err, /must have a default export that is a program.*no default export/);
    r = await cli("sim", program("notfn.ts", "export default 42;\n"));
    assert.equal(r.code, 2);
    assert.match(r.err, /default export is a number/);
    r = await cli("sim", program("syntax.ts", "export default async (ray) => {{\n"));
    assert.equal(r.code, 2);
    assert.match(r.err, /could not load/);
  });
});

describe("bin/tsray.js", () => {
  const bin = join(ROOT, "bin", "tsray.js");
  const exec = promisify(execFile);

  test("runs a TypeScript program that lives outside this package", async () => {
    // A temp dir has no package.json saying "type": "module": the shim must still load the file.
    const p = program("outside.ts", `const n: number = 6;\nexport default async (ray: any) => ray.get(ray.remote((x: number) => x * 7).remote(n));\n`);
    const { stdout } = await exec(process.execPath, [bin, "sim", p, "--json"], { cwd: dir });
    assert.equal(JSON.parse(stdout).result, 42);
  });

  test("passes the exit code through", async () => {
    await assert.rejects(exec(process.execPath, [bin, "sim", "--nodes", "0", "x.ts"], { cwd: dir }), (e: { code?: number; stderr?: string }) => {
      assert.equal(e.code, 2);
      assert.match(e.stderr ?? "", /--nodes must be at least 1/);
      return true;
    });
  });
});

describe("tsray check", () => {
  test("a trace with a violation: listed, exit 1", async () => {
    const file = join(dir, "ok.jsonl");
    await cli("sim", "examples/square.ts", "--trace", file);
    const events = parseTrace(readFileSync(file, "utf8"));
    // Tamper: a second lease on the head while every CPU is taken.
    const i = events.findIndex((e) => e.kind === "lease.granted");
    const grant = events[i] as Extract<TraceEvent, { kind: "lease.granted" }>;
    const hog: TraceEvent = { ...grant, lease: "forged", worker: "head/forged", resources: { CPU: 99 } };
    const giveBack: TraceEvent = { ...hog, kind: "lease.returned" } as TraceEvent;
    const broken = join(dir, "broken.jsonl");
    writeFileSync(broken, formatTrace([...events.slice(0, i + 1), hog, giveBack, ...events.slice(i + 1)]));
    const { code, out } = await cli("check", broken);
    assert.equal(code, 1);
    assert.match(out, /^\[resources\] t=\S+ node head over capacity after lease forged: CPU in use 100 > capacity 4$/m);
    assert.match(out, /1 violation in \d+ events/);
    // --only narrows the checkers.
    assert.equal((await cli("check", broken, "--only", "results,references")).code, 0);
    const bad = await cli("check", broken, "--only", "nope");
    assert.equal(bad.code, 2);
    assert.match(bad.err, /unknown invariant nope/);
  });

  test("a malformed file is a clear error, exit 2", async () => {
    const file = join(dir, "garbage.jsonl");
    writeFileSync(file, '{"t":0,"node":"head","kind":"program.end","comp":"host","ok":true}\nnot json at all\n{"t":1,"node":"head","kind":"cluster.quiet","comp":"host"}\n');
    let r = await cli("check", file);
    assert.equal(r.code, 2);
    assert.match(r.err, /tsray check: .*garbage\.jsonl is not a trace: trace line 2 is not JSON/);
    // Only a torn last line (a process killed mid-write) is forgiven, and said so.
    writeFileSync(file, '{"t":0,"node":"head","kind":"program.end","comp":"host","ok":true}\n{"t":1,"node":"he');
    r = await cli("check", file);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /ignoring a torn last line/);
    assert.match(r.out, /^ok: 1 events, no violations$/m);
    writeFileSync(file, '{"hello": "world"}\n');
    r = await cli("check", file);
    assert.equal(r.code, 2);
    assert.match(r.err, /trace line 1 is not a trace event/);
    r = await cli("check", join(dir, "missing.jsonl"));
    assert.equal(r.code, 2);
    assert.match(r.err, /no such file/);
  });

  test("an empty trace has nothing to violate", async () => {
    const file = join(dir, "empty.jsonl");
    writeFileSync(file, "");
    assert.deepEqual(await cli("check", file), { code: 0, out: "ok: 0 events, no violations\n", err: "" });
  });
});

describe("usage", () => {
  test("--help lists the commands; per-command help shows the options", async () => {
    for (const args of [[], ["--help"], ["-h"], ["help"]]) {
      const { code, out } = await cli(...args);
      assert.equal(code, 0);
      for (const c of ["sim", "check", "run", "demo", "start", "stop", "status"]) assert.match(out, new RegExp(`^  ${c} `, "m"));
    }
    for (const args of [["sim", "--help"], ["help", "sim"], ["sim", "-h"]]) {
      const { code, out } = await cli(...args);
      assert.equal(code, 0);
      assert.match(out, /^Usage: tsray sim FILE/);
      for (const f of ["--seed", "--nodes", "--cpus", "--faults", "--trace", "--json"]) assert.ok(out.includes(f), `help lacks ${f}`);
    }
    assert.match((await cli("check", "--help")).out, /^Usage: tsray check TRACE\.jsonl/);
    assert.match((await cli("--version")).out, /^tsray \d+\.\d+\.\d+/);
  });

  test("bad flags and arguments are clear errors with exit code 2", async () => {
    const cases: [string[], RegExp][] = [
      [["sim", "examples/add.ts", "--sed", "3"], /^tsray sim: unknown option --sed \(did you mean --seed\?\); options: --seed, --nodes/],
      [["sim", "examples/add.ts", "--frobnicate"], /^tsray sim: unknown option --frobnicate; options:/],
      [["sim", "examples/add.ts", "--seed"], /^tsray sim: --seed needs a value/],
      [["sim", "examples/add.ts", "--seed", "1.5"], /--seed must be an integer, got "1.5"/],
      [["sim", "examples/add.ts", "--nodes", "0"], /--nodes must be at least 1, got 0/],
      [["sim", "examples/add.ts", "--nodes", "two"], /--nodes must be an integer/],
      [["sim", "examples/add.ts", "--cpus", "-1"], /--cpus must be a number greater than 0, got "-1"/],
      [["sim", "examples/add.ts", "--cpus", "0"], /--cpus must be a number greater than 0/],
      [["sim", "examples/add.ts", "--json=yes"], /--json takes no value/],
      [["sim"], /^tsray sim: missing FILE \(or --replay CASE\.json\)\nusage: tsray sim FILE/],
      [["sim", "a.ts", "b.ts"], /unexpected argument "b\.ts"/],
      [["check"], /missing TRACE/],
      [["simulate"], /^tsray: unknown command "simulate" \(did you mean "sim"\?\); commands: sim, check/],
      [["--seed", "1"], /^tsray: unknown option --seed before the command/],
    ];
    for (const [args, message] of cases) {
      const { code, out, err } = await cli(...args);
      assert.equal(code, 2, `${args.join(" ")} → ${code}`);
      assert.equal(out, "", `${args.join(" ")} wrote to stdout`);
      assert.match(err, message, args.join(" "));
    }
  });

  test("cluster commands check their arguments: exit 2", async () => {
    const home = process.env.TSRAY_HOME;
    process.env.TSRAY_HOME = join(dir, "no-cluster-here");
    try {
      assert.equal((await cli("start")).code, 2, "start needs --head or --address");
      assert.equal((await cli("start", "--head", "--address", "x:1")).code, 2, "not both");
      assert.equal((await cli("start", "--head", "--resources", "{oops")).code, 2, "--resources must be JSON");
      assert.equal((await cli("stop", "now")).code, 2);
      assert.equal((await cli("status", "--frobnicate")).code, 2);
      const saved = { a: process.env.TSRAY_ADDRESS, t: process.env.TSRAY_TOKEN };
      delete process.env.TSRAY_ADDRESS;
      delete process.env.TSRAY_TOKEN;
      assert.equal((await cli("status")).code, 2, "no cluster to ask");
      if (saved.a !== undefined) process.env.TSRAY_ADDRESS = saved.a;
      if (saved.t !== undefined) process.env.TSRAY_TOKEN = saved.t;
      for (const c of ["start", "stop", "status"]) assert.equal((await cli(c, "--help")).code, 0);
    } finally {
      if (home === undefined) delete process.env.TSRAY_HOME;
      else process.env.TSRAY_HOME = home;
    }
  });

  test("run and demo dispatch to their own modules (or say they are missing)", async () => {
    for (const c of ["run", "demo"]) {
      if (existsSync(join(ROOT, "src", "cli", `${c}.ts`))) continue; // exercised by the embedded runtime's tests
      const { code, err } = await cli(c);
      assert.equal(code, 2);
      assert.match(err, new RegExp(`tsray ${c}: not available in this build`));
      assert.equal((await cli(c, "--help")).code, 0);
    }
  });
});
