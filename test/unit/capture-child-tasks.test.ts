// captureChildTasks in the core worker model: a worker runs a task pushed to it (the test plays
// the owner and the raylet), and what that task submits gets its placement group, or not, as
// in Ray. Then the resources checker on hand-made traces: a captured child that ran outside the
// group is flagged, one that opted out is not.

import assert from "node:assert/strict";
import { test } from "node:test";
import { NO_BUGS, type Bugs } from "../../src/core/bugs.ts";
import { CoreWorker, type TaskOptions } from "../../src/core/core-worker.ts";
import type { Msg } from "../../src/core/messages.ts";
import type { FunctionDescriptor, SchedulingStrategy, TaskSpec } from "../../src/core/types.ts";
import { checkResources } from "../../spec/invariants/resources.ts";
import type { TraceBody, TraceEvent } from "../../spec/trace.ts";

const WORKER = "n1/w1";
const FN: FunctionDescriptor = { id: "fn-x", name: "x", kind: "function", source: "() => 0" };
const CLS: FunctionDescriptor = { id: "cls-A", name: "A", kind: "class", source: "class A {}" };
const PG = "pg:driver#1";
const opts = (strategy: SchedulingStrategy | undefined): TaskOptions => ({ resources: { CPU: 1 }, strategy, maxRetries: 0, retryExceptions: false });

/** A worker running one pushed task (or hosting an actor) of strategy `running`. */
function running(running: SchedulingStrategy, kind: "normal" | "actor-create" = "normal", bugs: Bugs = NO_BUGS) {
  const sent: Msg[] = [];
  const traced: TraceBody[] = [];
  const w = new CoreWorker(WORKER, {
    node: "n1", gcs: "head/gcs", maxInlineBytes: 100_000, maxPendingLeases: 10, maxTasksInFlightPerWorker: 1, pipelineMaxTaskMs: 1, bugs,
  }, {
    now: () => 0, random: () => 0.5, send: (_to, m) => sent.push(m), setTimer: () => {}, cancelTimer: () => {}, trace: (b) => traced.push(b),
    execute: () => {}, complete: () => {}, interrupt: () => {},
  });
  w.start(true);
  w.registerFunction(FN);
  const spec: TaskSpec = {
    taskId: kind === "normal" ? "driver#2" : "actor-1:create:0", kind, fn: FN.id, name: "parent", args: [], returnId: "driver#2.r", owner: "head/driver", job: "head/driver",
    resources: { CPU: 1 }, strategy: running, maxRetries: 0, retryExceptions: false, attempt: 0, ...(kind === "actor-create" ? { actorId: "actor-1" } : {}),
  };
  w.step({ kind: "message", from: "head/driver", msg: { type: "PushTask", spec } });
  /** The strategy of a task submitted now with `asked`. */
  const submit = (asked: SchedulingStrategy | undefined, n: number): SchedulingStrategy => {
    w.submitTask(`${WORKER}#${n}`, FN, [], opts(asked));
    const req = sent.filter((m) => m.type === "RequestLease").pop();
    assert.ok(req && req.type === "RequestLease");
    return req.req.strategy;
  };
  /** The strategy of an actor created now with `asked` (as the GCS hears it). */
  const create = (asked: SchedulingStrategy | undefined, n: number): SchedulingStrategy => {
    w.createActor(`${WORKER}#${n}`, CLS, [], { resources: {}, strategy: asked, maxRestarts: 0, maxTaskRetries: 0, maxConcurrency: 1 });
    const m = sent.filter((x) => x.type === "CreateActor").pop();
    assert.ok(m && m.type === "CreateActor");
    return m.spec.strategy;
  };
  return { submit, create, traced };
}

const capturing: SchedulingStrategy = { placementGroup: PG, bundleIndex: 0, captureChildTasks: true };
const inherited: SchedulingStrategy = { placementGroup: PG, bundleIndex: -1, captureChildTasks: true };

test("a task that captures its children: those naming no strategy run in its group (any bundle) and capture in turn", () => {
  const r = running(capturing);
  assert.deepEqual(r.submit(undefined, 1), inherited);
  assert.deepEqual(r.create(undefined, 2), inherited, "an actor is captured too");
  assert.equal(r.submit("DEFAULT", 3), "DEFAULT", "a child naming DEFAULT keeps it (Ray: only an unset strategy is captured)");
  assert.deepEqual(r.submit({ nodeId: "n2", soft: false }, 4), { nodeId: "n2", soft: false });
  const other = { placementGroup: "pg:other", bundleIndex: 1, captureChildTasks: false };
  assert.deepEqual(r.submit(other, 5), other, "a child naming another group keeps it");
  // What the program asked is traced: the group where named, the parent where inherited.
  assert.deepEqual(r.traced.filter((e) => e.kind === "placement.asked"), [
    { kind: "placement.asked", comp: "owner", task: `${WORKER}#1`, parent: "driver#2" },
    { kind: "placement.asked", comp: "owner", actor: `${WORKER}#2`, parent: "driver#2" },
    { kind: "placement.asked", comp: "owner", task: `${WORKER}#5`, pg: "pg:other" },
  ]);
});

test("without captureChildTasks, or outside any group, a child with no strategy gets DEFAULT", () => {
  assert.equal(running({ placementGroup: PG, bundleIndex: 0, captureChildTasks: false }).submit(undefined, 1), "DEFAULT");
  assert.equal(running("DEFAULT").submit(undefined, 1), "DEFAULT");
  assert.equal(running("SPREAD").create(undefined, 1), "DEFAULT");
});

test("an actor created in a capturing group captures what its constructor and its calls submit", () => {
  const r = running(capturing, "actor-create");
  assert.deepEqual(r.submit(undefined, 1), inherited);
  assert.deepEqual(r.traced.find((e) => e.kind === "placement.asked"), { kind: "placement.asked", comp: "owner", task: `${WORKER}#1`, parent: "actor-1" });
});

test("the seeded bugs: capture-skips-actors places the actor anywhere; capture-one-level stops the grandchildren's capture", () => {
  assert.equal(running(capturing, "normal", new Set(["capture-skips-actors"])).create(undefined, 1), "DEFAULT");
  assert.deepEqual(running(capturing, "normal", new Set(["capture-one-level"])).submit(undefined, 1), { ...inherited, captureChildTasks: false });
});

// ---- the checker ------------------------------------------------------------------------------

const ev = (body: TraceBody, node = "n1"): TraceEvent => ({ t: 0, node, ...body } as TraceEvent);
const base: TraceEvent[] = [
  ev({ kind: "node.registered", comp: "gcs", id: "n1", resources: { CPU: 8 } }, "head"),
  ev({ kind: "bundle.reserved", comp: "raylet", bundle: `${PG}#0`, resources: { CPU: 3 } }),
  ev({ kind: "placement.asked", comp: "owner", task: "p", pg: PG, capture: true }, "head"),
  ev({ kind: "lease.granted", comp: "raylet", job: "head/driver", lease: "L1", worker: "n1/w1", resources: { CPU: 1 }, bundle: `${PG}#0` }),
  ev({ kind: "task.started", comp: "worker", task: "p", worker: "n1/w1", attempt: 0 }),
  ev({ kind: "placement.asked", comp: "owner", task: "c", parent: "p" }),
  ev({ kind: "placement.asked", comp: "owner", task: "g", parent: "c" }),
];
const child = (task: string, worker: string, lease: string, bundle?: string): TraceEvent[] => [
  ev({ kind: "lease.granted", comp: "raylet", job: "head/driver", lease, worker, resources: { CPU: 1 }, ...(bundle ? { bundle } : {}) }),
  ev({ kind: "task.started", comp: "worker", task, worker, attempt: 0 }),
];

test("the resources checker: a captured child and grandchild must run in the group's bundles", () => {
  assert.deepEqual(checkResources([...base, ...child("c", "n1/w2", "L2", `${PG}#0`), ...child("g", "n1/w3", "L3", `${PG}#0`)], {}), []);
  const stray = checkResources([...base, ...child("c", "n1/w2", "L2", `${PG}#0`), ...child("g", "n1/w3", "L3")], {});
  assert.equal(stray.length, 1);
  assert.match(stray[0].message, /task g \(captured into it through its parents\) runs outside placement group pg:driver#1: worker n1\/w3's lease is in no bundle/);
  // A child that opted out (named a strategy: no `parent` record) may run anywhere; so may the children of a parent that does not capture.
  const optedOut = base.filter((e) => !(e.kind === "placement.asked" && e.task === "c"));
  assert.deepEqual(checkResources([...optedOut, ...child("c", "n1/w2", "L2"), ...child("g", "n1/w3", "L3")], {}), []);
  const noCapture = base.map((e) => (e.kind === "placement.asked" && e.task === "p" ? ev({ kind: "placement.asked", comp: "owner", task: "p", pg: PG }, "head") : e));
  assert.deepEqual(checkResources([...noCapture, ...child("c", "n1/w2", "L2"), ...child("g", "n1/w3", "L3")], {}), []);
});
