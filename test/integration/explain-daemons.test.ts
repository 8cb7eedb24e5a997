// `tsray explain`, `tsray trace --mermaid` and `tsray check` on a real daemon session's traces:
// a driver run with `tsray run --address` on the session's machine writes its trace beside the
// daemons' by default, so the session's traces are complete and a clean run checks clean.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { promisify } from "node:util";
import { BIN, ROOT, startHeadCli, tsrayCli } from "../helpers/cli-cluster.ts";

const exec = promisify(execFile);
let stop: (() => Promise<unknown>) | undefined;
after(async () => { await stop?.(); });

test("a daemon session's traces are told, drawn and check clean", { timeout: 120_000 }, async () => {
  const { env, address, session } = await startHeadCli("tsray-explain-", 2);
  stop = () => tsrayCli(env, "stop", "--all").catch(() => undefined);
  const run = await exec(process.execPath, [BIN, "run", "examples/add.ts", "--address", address], { env, cwd: ROOT, timeout: 60_000 });
  assert.equal(run.stdout.trim(), "10");
  await tsrayCli(env, "stop", "--all"); // the daemons flush and close their traces
  stop = undefined;

  const traces = fs.readdirSync(session.dir).filter((f) => f.endsWith(".trace.jsonl")).map((f) => path.join(session.dir, f));
  assert.ok(traces.some((f) => /driver-\d+\.trace\.jsonl$/.test(f)), `no driver trace among ${traces.join(", ")}`);

  const check = await exec(process.execPath, [BIN, "check", ...traces], { env, cwd: ROOT }).catch((e) => e);
  assert.match(check.stdout, /^ok: \d+ events, no violations/, check.stdout);

  const told = await exec(process.execPath, [BIN, "explain", ...traces, "--task", "#3"], { env, cwd: ROOT });
  // A daemon driver's ids are head/driver-PID-…#N: `#3` names its third task.
  assert.match(told.stdout, /submits task \S*driver\S*#3 \(anonymous\) taking \S*#1\.r, \S*#2\.r as arguments/);
  assert.match(told.stdout, /starts task \S*#3\./);
  assert.doesNotMatch(told.stdout, /starts task \S*#1\./, "--task #3 told another task's start");

  const drawn = await exec(process.execPath, [BIN, "trace", ...traces, "--mermaid"], { env, cwd: ROOT });
  assert.match(drawn.stdout, /^sequenceDiagram\n/);
  // No msg events in daemon traces: the arrows are inferred from the components' events.
  assert.match(drawn.stdout, /participant P\d+ as raylet head/);
  assert.match(drawn.stdout, /participant P0 as driver head\/driver-/);
  assert.match(drawn.stdout, /P0->>P\d+: push \S*#35;3/);
  assert.match(drawn.stdout, /P\d+->>P0: reply \S*#35;3 ok/);
});
