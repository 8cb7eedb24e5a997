// The narrator and its commands on a simulator trace: `tsray explain` (prose, focus, --step),
// `tsray trace --mermaid` (message arrows from `msg` events, windows), and the `tsray sim` flags
// the course needs (--node, --store-bytes, --bug, --messages) with the report's tally.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, test } from "node:test";
import { runCli } from "../../src/cli/main.ts";
import { main as explain } from "../../src/cli/explain.ts";
import { main as traceCmd } from "../../src/cli/trace.ts";
import { parseNodeShape, tally, formatTally } from "../../src/cli/sim-options.ts";
import { simulate } from "../../sim/simulate.ts";
import add from "../../examples/add.ts";
import { parseTrace } from "../../spec/trace.ts";

const dir = mkdtempSync(join(tmpdir(), "tsray-explain-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const ROOT = new URL("../..", import.meta.url).pathname;

function streams(input?: string) {
  const out = { stdout: "", stderr: "" };
  return {
    out,
    io: {
      stdout: { write: (s: string) => (out.stdout += s) },
      stderr: { write: (s: string) => (out.stderr += s) },
      ...(input === undefined ? {} : { stdin: Readable.from([input]) }),
    },
  };
}

async function sim(...args: string[]) {
  const s = streams();
  const code = await runCli(["sim", ...args], { ...s.io, cwd: ROOT });
  return { code, ...s.out };
}

test("message events are off by default and change nothing else when on", async () => {
  const plain = await simulate({ seed: 1, nodes: 2, program: add });
  assert.equal(plain.trace.some((e) => e.kind === "msg"), false);
  const withMsgs = await simulate({ seed: 1, nodes: 2, program: add, config: { traceMessages: true } });
  const msgs = withMsgs.trace.filter((e) => e.kind === "msg");
  assert.ok(msgs.some((e) => e.kind === "msg" && e.type === "RequestLease" && e.from === "head/driver" && e.to === "head/raylet"));
  assert.ok(msgs.some((e) => e.kind === "msg" && e.type === "PushTask" && e.about === "head/driver#3"));
  assert.equal(msgs.some((e) => e.kind === "msg" && (e.type === "Heartbeat" || e.type === "ClusterView")), false, "housekeeping is left out");
  assert.deepEqual(withMsgs.trace.filter((e) => e.kind !== "msg"), plain.trace);
  assert.equal(withMsgs.violations.length, 0);
});

test("tsray explain tells a simulator trace, focused on a task, object or node", async () => {
  const file = join(dir, "add.jsonl");
  assert.equal((await sim("examples/add.ts", "--nodes", "2", "--cpus", "1", "--messages", "--trace", file)).code, 0);
  const all = streams();
  assert.equal(await explain([file], all.io), 0);
  assert.match(all.out.stdout, /The GCS registers node node-1/);
  assert.match(all.out.stdout, /spills the request back, pointing the owner at node-1/);
  const one = streams();
  assert.equal(await explain([file, "--object", "#1.r"], one.io), 0);
  assert.ok(one.out.stdout.split("\n").filter(Boolean).every((l) => l.includes("#1.r")), one.out.stdout);
  const node = streams();
  assert.equal(await explain([file, "--node", "node-1"], node.io), 0);
  assert.ok(node.out.stdout.split("\n").filter(Boolean).every((l) => /node-1/.test(l)), node.out.stdout);
  const none = streams();
  assert.equal(await explain([file, "--task", "#99"], none.io), 1);
  assert.match(none.out.stderr, /no event of the trace .* concerns task #99/);
  const bad = streams();
  assert.equal(await explain([join(dir, "missing.jsonl")], bad.io), 2);
  assert.match(bad.out.stderr, /no such file/);
});

test("tsray explain --step shows one event per line of input and stops at q", async () => {
  const file = join(dir, "add.jsonl");
  const s = streams("\n\nq\n");
  assert.equal(await explain([file, "--step"], s.io), 0);
  const shown = s.out.stdout.match(/\[\d+\/\d+\] Enter: next, q: quit/g) ?? [];
  assert.equal(shown.length, 3, s.out.stdout);
  assert.match(s.out.stdout, /\[3\/\d+\]/);
});

test("tsray trace --mermaid draws the messages, of a window or a task", async () => {
  const file = join(dir, "add.jsonl");
  const all = streams();
  assert.equal(await traceCmd([file, "--mermaid"], all.io), 0);
  assert.match(all.out.stdout, /^sequenceDiagram\n  participant P0 as driver\n/);
  assert.match(all.out.stdout, /P0->>P\d+: RequestLease #35;1/);
  const task = streams();
  assert.equal(await traceCmd([file, "--mermaid", "--task", "#3"], task.io), 0);
  assert.doesNotMatch(task.out.stdout, /#35;1\b/);
  assert.match(task.out.stdout, /PushTask #35;3/);
  const early = streams();
  assert.equal(await traceCmd([file, "--mermaid", "--from", "0", "--to", "1"], early.io), 0);
  assert.doesNotMatch(early.out.stdout, /PushTask/, "nothing is pushed in the first millisecond");
  for (const [args, msg] of [[[file], /--mermaid/], [[file, "--mermaid", "--from", "x"], /--from must be a time/], [[file, "--mermaid", "--from", "5", "--to", "1"], /--to \(1\) is before --from \(5\)/], [[file, "--mermaid", "--limit", "0"], /--limit must be a positive integer/]] as const) {
    const s = streams();
    assert.equal(await traceCmd([...args], s.io), 2);
    assert.match(s.out.stderr, msg);
  }
});

test("tsray sim shapes nodes, sizes stores, seeds bugs, and counts what happened", async () => {
  const shaped = await sim("examples/learn/transfer.ts", "--node", "head:CPU=0", "--node", "node-1:CPU=1", "--node", "node-2:CPU=1", "--json", "--trace", join(dir, "t.jsonl"));
  const r = JSON.parse(shaped.stdout);
  assert.equal(r.ok, true);
  assert.deepEqual(r.nodes, ["head", "node-1", "node-2"]);
  assert.equal(r.happened.transfers, 1);
  assert.match(r.replay, /--node head:CPU=0 --node node-1:CPU=1 --node node-2:CPU=1/);
  const started = parseTrace(readFileSync(join(dir, "t.jsonl"), "utf8")).filter((e) => e.kind === "task.started");
  assert.ok(started.length > 0 && started.every((e) => e.node !== "head"), "a CPU-less head runs no task");

  const spilled = await sim("examples/learn/spilling.ts", "--store-bytes", "400000");
  assert.equal(spilled.code, 0);
  assert.match(spilled.stdout, /happened\s+0 tasks submitted, 0 spillbacks, 0 object transfers, 2 spills, 2 restores/);

  const broken = await sim("examples/add.ts", "--nodes", "2", "--cpus", "1", "--bug", "leak-lease");
  assert.equal(broken.code, 1);
  assert.match(broken.stdout, /\[leases\] .* never returned/);
  assert.match(broken.stdout, /replay .* --bug leak-lease/);

  const fault = await sim("examples/map-reduce.ts", "--nodes", "4", "--faults", '{"schedule":[{"at":30,"kind":"kill-node","node":"node-2"}]}');
  assert.equal(fault.code, 0);
  assert.match(fault.stdout, /1 faults injected, 1 nodes declared dead, [1-9]\d* task retries/);

  for (const [args, msg] of [
    [["--node", "head:CPU=x"], /--node "head:CPU=x": "CPU=x" is not RESOURCE=N/],
    [["--node", "head:CPU=1", "--node", "head:CPU=2"], /node head is given twice/],
    [["--node", "head:CPU=1", "--nodes", "2"], /cannot be combined with --nodes or --cpus/],
    [["--bug", "no-such-bug"], /unknown seeded bug "no-such-bug"; known: .*leak-lease/],
    [["--store-bytes", "lots"], /--store-bytes must be an integer/],
  ] as const) {
    const res = await sim("examples/add.ts", ...args);
    assert.equal(res.code, 2, `${args.join(" ")}: ${res.stdout}`);
    assert.match(res.stderr, msg);
  }
});

test("node shapes and the tally", () => {
  assert.deepEqual(parseNodeShape("node-1:CPU=2,GPU=0.5"), { id: "node-1", resources: { CPU: 2, GPU: 0.5 } });
  assert.deepEqual(parseNodeShape("head"), { id: "head", resources: {} });
  assert.throws(() => parseNodeShape("a/b:CPU=1"), /expected ID:RESOURCE=N/);
  const quiet = tally([{ t: 5, node: "head", kind: "fault", comp: "host", fault: "kill-node", detail: "node-2" }]);
  assert.equal(quiet.faults, 1);
  assert.match(formatTally(quiet).join("\n"), /the faults changed nothing/);
  const busy = tally([
    { t: 5, node: "head", kind: "fault", comp: "host", fault: "kill-node" },
    { t: 9, node: "head", kind: "task.retry", comp: "owner", task: "t", attempt: 1, reason: "reconstructing lost object o" },
  ]);
  assert.equal(busy.reconstructions, 1);
  assert.equal(busy.retries, 0);
  assert.doesNotMatch(formatTally(busy).join("\n"), /changed nothing/);
});
