// The autoscaler model (src/core/autoscaler): bin-packing demands onto worker-group shapes, min
// and max replicas, idle drains and the provider's reports; and the configuration's checks.

import assert from "node:assert/strict";
import { test } from "node:test";
import { Autoscaler, type AutoscalerConfig } from "../../src/core/autoscaler/autoscaler.ts";
import { packInto, planLaunches, type NodeShape } from "../../src/core/autoscaler/binpack.ts";
import type { AutoscalingState } from "../../src/core/types.ts";
import { parseAutoscaling } from "../../src/runtime/autoscaler/config.ts";
import type { TraceBody } from "../../spec/trace.ts";

const cfg: AutoscalerConfig = {
  groups: [
    { name: "small", minReplicas: 0, maxReplicas: 3, resources: { CPU: 1 }, idleTimeoutMs: 10_000 },
    { name: "gpu", minReplicas: 0, maxReplicas: 1, resources: { CPU: 4, GPU: 1 }, idleTimeoutMs: 10_000 },
  ],
  upscalingSpeed: 1000,
  drainTimeoutMs: 3000,
};

function harness(c: AutoscalerConfig = cfg, initial: { node: string; group: string }[] = []) {
  let now = 0;
  const calls: string[] = [];
  const trace: TraceBody[] = [];
  const a = new Autoscaler(c, {
    now: () => now, trace: (b) => trace.push(b),
    launch: (l, g) => calls.push(`launch ${l} ${g}`),
    drain: (n) => calls.push(`drain ${n}`),
    terminate: (n, g, why) => calls.push(`terminate ${n} ${g} ${why}`),
  }, initial);
  return { a, calls, trace, at: (t: number) => { now = t; } };
}

const head = { node: "head", alive: true, total: { CPU: 0 }, available: { CPU: 0 }, idleMs: 0 };
const state = (over: Partial<AutoscalingState> = {}): AutoscalingState => ({ nodes: [head], demands: [], backlog: [], ...over });

test("bin-packing: demands fill existing room first, then the group that packs the most", () => {
  const bins = [{ CPU: 1 }];
  assert.deepEqual(packInto(bins, [{ CPU: 1 }, { CPU: 1 }]), [{ CPU: 1 }]);
  const p = planLaunches([{ CPU: 1 }, { CPU: 1 }, { GPU: 1 }, { special: 1 }], [
    { group: "small", resources: { CPU: 1 }, room: 3 },
    { group: "gpu", resources: { CPU: 4, GPU: 1 }, room: 1 },
  ]);
  // The GPU node takes the GPU demand and both CPU ones; nothing offers "special".
  assert.deepEqual(p.launches, ["gpu"]);
  assert.deepEqual(p.unmet, [{ special: 1 }]);
  // Room runs out: max replicas bound the plan.
  assert.deepEqual(planLaunches(Array(5).fill({ CPU: 1 }), [{ group: "small", resources: { CPU: 1 }, room: 2 }]).launches, ["small", "small"]);
});

test("bin-packing: the largest demand is packed first, whatever order the demands come in", () => {
  // A 2-CPU bin takes the 2-CPU demand, listed last; the 1-CPU one is what is left.
  assert.deepEqual(packInto([{ CPU: 2 }], [{ CPU: 1 }, { CPU: 2 }]), [{ CPU: 1 }]);
});

test("bin-packing: at a tie the shape using the larger share wins; a resource a shape has none of is no share", () => {
  // Both take the demand and leave no kind idle: the one it fills (2 of 2 CPUs) beats the one it
  // half fills, and "GPU: 0" (a group that declares no GPUs) does not count as a share.
  const shapes: NodeShape[] = [{ group: "big", resources: { CPU: 4 }, room: 1 }, { group: "fit", resources: { CPU: 2, GPU: 0 }, room: 1 }];
  assert.deepEqual(planLaunches([{ CPU: 2 }], shapes).launches, ["fit"]);
});

test("scale-up: queued and infeasible demands launch nodes, never past maxReplicas; launches in flight count as room", () => {
  const h = harness();
  h.a.step({ kind: "tick", cluster: state({ backlog: [{ resources: { CPU: 1 }, count: 5, ageMs: 0 }] }) });
  // Three small nodes (maxReplicas 3), and the GPU node takes the two left, its GPU unused.
  assert.deepEqual(h.calls, ["launch launch-1 small", "launch launch-2 small", "launch launch-3 small", "launch launch-4 gpu"]);
  h.calls.length = 0;
  h.a.step({ kind: "tick", cluster: state({ backlog: [{ resources: { CPU: 1 }, count: 3, ageMs: 0 }] }) });
  assert.deepEqual(h.calls, [], "the three launches in flight already meet it");
  assert.deepEqual(h.a.status().unmet, []);
  h.a.step({ kind: "tick", cluster: state({ demands: [{ resources: { TPU: 1 }, count: 1, ageMs: 0 }] }) });
  assert.deepEqual(h.a.status().unmet, [{ TPU: 1 }], "no worker group has a TPU");
});

test("a failed launch is reported and retried; a started node joins the count", () => {
  const h = harness();
  h.a.step({ kind: "tick", cluster: state({ demands: [{ resources: { GPU: 1 }, count: 1, ageMs: 0 }] }) });
  assert.deepEqual(h.calls, ["launch launch-1 gpu"]);
  h.a.step({ kind: "launch-failed", launch: "launch-1", reason: "no capacity" });
  assert.deepEqual(h.a.status().recentFailures.map((f) => f.reason), ["no capacity"]);
  h.a.step({ kind: "tick", cluster: state({ demands: [{ resources: { GPU: 1 }, count: 1, ageMs: 0 }] }) });
  assert.deepEqual(h.calls.slice(1), ["launch launch-2 gpu"]);
  h.a.step({ kind: "node-started", launch: "launch-2", node: "gpu-1" });
  assert.deepEqual(h.a.status().groups.find((g) => g.name === "gpu"), { name: "gpu", min: 0, max: 1, running: 1, pending: 1 });
  const joined = { node: "gpu-1", alive: true, total: { CPU: 4, GPU: 1 }, available: { CPU: 4, GPU: 1 }, idleMs: 0 };
  h.a.step({ kind: "tick", cluster: state({ nodes: [head, joined] }) });
  assert.deepEqual(h.a.status().pendingLaunches, []);
  assert.deepEqual(h.trace.map((t) => t.kind), ["autoscaler.launch", "autoscaler.launch-failed", "autoscaler.launch", "autoscaler.started"]);
});

test("scale-down: a node idle past its timeout is drained, then terminated once the GCS removed it; minReplicas stay", () => {
  const h = harness({ ...cfg, groups: [{ ...cfg.groups[0], minReplicas: 1 }] }, [{ node: "s1", group: "small" }, { node: "s2", group: "small" }]);
  const node = (id: string, idleMs: number, alive = true) => ({ node: id, alive, total: { CPU: 1 }, available: { CPU: 1 }, idleMs });
  h.a.step({ kind: "tick", cluster: state({ nodes: [head, node("s1", 9_000), node("s2", 20_000)] }) });
  assert.deepEqual(h.calls, ["drain s2"], "s1 is not idle long enough");
  h.a.step({ kind: "tick", cluster: state({ nodes: [head, node("s1", 30_000), node("s2", 20_000)] }) });
  assert.deepEqual(h.calls, ["drain s2"], "s1 is the last of minReplicas 1 while s2 drains");
  h.a.step({ kind: "tick", cluster: state({ nodes: [head, node("s1", 30_000), node("s2", 0, false)] }) });
  assert.deepEqual(h.calls, ["drain s2", "terminate s2 small drained: idle"]);
  assert.deepEqual(h.a.status().groups[0].running, 1, "a member being terminated is not running");
  assert.deepEqual(h.a.status().draining, [], "a member being terminated is no longer shown draining");
  h.a.step({ kind: "node-terminated", node: "s2" });
  assert.deepEqual(h.a.status().groups[0].running, 1);
});

test("a drain the node refused (it holds work) may be asked again after the drain timeout", () => {
  const h = harness(cfg, [{ node: "s1", group: "small" }]);
  const s1 = { node: "s1", alive: true, total: { CPU: 1 }, available: { CPU: 1 }, idleMs: 10_000 };
  h.a.step({ kind: "tick", cluster: state({ nodes: [head, s1] }) });
  h.at(1000);
  h.a.step({ kind: "tick", cluster: state({ nodes: [head, s1] }) });
  assert.deepEqual(h.calls, ["drain s1"]);
  h.at(5000);
  h.a.step({ kind: "tick", cluster: state({ nodes: [head, s1] }) }); // timed out: forgotten
  h.a.step({ kind: "tick", cluster: state({ nodes: [head, s1] }) });
  assert.deepEqual(h.calls, ["drain s1", "drain s1"]);
});

test("minReplicas are launched without demand", () => {
  const h = harness({ ...cfg, groups: [{ ...cfg.groups[0], minReplicas: 2 }] });
  h.a.step({ kind: "tick", cluster: state() });
  assert.deepEqual(h.calls, ["launch launch-1 small", "launch launch-2 small"]);
});

test("upscaling speed bounds the launches in flight (Conservative: max(5, running workers))", () => {
  const h = harness({ ...cfg, upscalingSpeed: 1, groups: [{ ...cfg.groups[0], maxReplicas: 20 }] });
  h.a.step({ kind: "tick", cluster: state({ backlog: [{ resources: { CPU: 1 }, count: 20, ageMs: 0 }] }) });
  assert.equal(h.calls.length, 5);
});

test("upscaling speed counts only the workers not being terminated", () => {
  const names = ["s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8"];
  const h = harness({ ...cfg, upscalingSpeed: 1, groups: [{ ...cfg.groups[0], maxReplicas: 30 }] }, names.map((node) => ({ node, group: "small" })));
  const nodes = (dead?: string) => [head, ...names.map((node) => ({ node, alive: node !== dead, total: { CPU: 1 }, available: { CPU: 0 }, idleMs: 0 }))];
  h.a.step({ kind: "tick", cluster: state({ nodes: nodes() }) });
  h.a.step({ kind: "tick", cluster: state({ nodes: nodes("s8") }) });
  assert.deepEqual(h.calls, ["terminate s8 small the node died"]);
  h.a.step({ kind: "tick", cluster: state({ nodes: nodes("s8"), backlog: [{ resources: { CPU: 1 }, count: 20, ageMs: 0 }] }) });
  assert.equal(h.calls.length - 1, 7, "max(5, 1 × 7 workers) launches in flight, the dying eighth not counted");
});

test("status: nothing unmet before the first tick; at most 10,000 demands are weighed per tick", () => {
  const h = harness();
  assert.deepEqual(h.a.status().unmet, []);
  h.a.step({ kind: "tick", cluster: state({ backlog: [{ resources: { TPU: 1 }, count: 25_000, ageMs: 0 }] }) });
  assert.equal(h.a.status().unmet.length, 10_000, "the bound on the demands one scale-up weighs");
});

test("the configuration: KubeRay's fields, defaults, and errors naming the field", () => {
  const a = parseAutoscaling({
    enableInTreeAutoscaling: true,
    autoscalerOptions: { idleTimeoutSeconds: 30, upscalingMode: "Conservative" },
    workerGroupSpecs: [{ groupName: "cpu", replicas: 1, minReplicas: 1, maxReplicas: 4, resources: { CPU: 1 } }, { groupName: "big", resources: { CPU: 8 }, idleTimeoutSeconds: 5 }],
  });
  assert.deepEqual(a.config.groups.map((g) => [g.name, g.minReplicas, g.maxReplicas, g.idleTimeoutMs]), [["cpu", 1, 4, 30_000], ["big", 0, 2147483647, 5_000]]);
  assert.equal(a.config.upscalingSpeed, 1);
  assert.equal(a.periodMs, 5000);
  assert.deepEqual([...a.initialReplicas], [["cpu", 1], ["big", 0]]);
  const bad = (raw: unknown, field: RegExp) => assert.throws(() => parseAutoscaling(raw), field);
  const group = { groupName: "cpu", resources: { CPU: 1 } };
  bad({ workerGroupSpecs: [group] }, /enableInTreeAutoscaling/);
  bad({ enableInTreeAutoscaling: false, workerGroupSpecs: [group] }, /enableInTreeAutoscaling is false/);
  bad({ enableInTreeAutoscaling: true, workerGroupSpecs: [] }, /workerGroupSpecs/);
  bad({ enableInTreeAutoscaling: true, workerGroupSpecs: [{ ...group, minReplicas: 3, maxReplicas: 2 }] }, /workerGroupSpecs\.0\.minReplicas: 3 is more than maxReplicas 2/);
  bad({ enableInTreeAutoscaling: true, workerGroupSpecs: [{ ...group, replicas: 9, maxReplicas: 2 }] }, /workerGroupSpecs\.0\.replicas/);
  bad({ enableInTreeAutoscaling: true, workerGroupSpecs: [group, group] }, /workerGroupSpecs\.1\.groupName: "cpu" appears twice/);
  bad({ enableInTreeAutoscaling: true, workerGroupSpecs: [{ ...group, resources: { CPU: -1 } }] }, /workerGroupSpecs\.0\.resources\.CPU/);
  bad({ enableInTreeAutoscaling: true, workerGroupSpecs: [{ ...group, template: {} }] }, /workerGroupSpecs\.0.*template/);
  bad({ enableInTreeAutoscaling: true, autoscalerOptions: { upscalingMode: "Fast" }, workerGroupSpecs: [group] }, /autoscalerOptions\.upscalingMode/);
  bad({ enableInTreeAutoscaling: true, autoscalerOptions: { periodSeconds: 0 }, workerGroupSpecs: [group] }, /autoscalerOptions\.periodSeconds/);
  assert.deepEqual(a.provider, { type: "local" });
  assert.deepEqual(parseAutoscaling({ enableInTreeAutoscaling: true, workerGroupSpecs: [group], provider: { type: "kuberay", namespace: "ray" } }).provider, { type: "kuberay", namespace: "ray" });
  bad({ enableInTreeAutoscaling: true, workerGroupSpecs: [group], provider: { type: "ec2" } }, /provider\.type/);
  bad({ enableInTreeAutoscaling: true, workerGroupSpecs: [group], provider: { type: "local", namespace: "x" } }, /provider.*namespace/);
});

test("a launch's node: shown once started, counted once, forgotten if the launch fails, done only once it is alive", () => {
  const h = harness();
  const gpuDemand = state({ demands: [{ resources: { GPU: 1 }, count: 1, ageMs: 0 }] });
  h.a.step({ kind: "tick", cluster: gpuDemand });
  assert.deepEqual(h.a.status().pendingLaunches.map((l) => l.node), [undefined], "no node before the provider started one");
  h.a.step({ kind: "node-started", launch: "launch-1", node: "gpu-1" });
  h.a.step({ kind: "node-started", launch: "launch-1", node: "gpu-2" }); // a repeated report is ignored
  h.a.step({ kind: "node-started", launch: "launch-9", node: "gpu-9" }); // and so is one of a launch never made
  assert.deepEqual(h.a.status().pendingLaunches.map((l) => l.node), ["gpu-1"]);
  assert.equal(h.a.status().groups.find((g) => g.name === "gpu")!.running, 1);
  // Started, not yet registered with the GCS: the launch is still pending, and its room counts.
  h.a.step({ kind: "tick", cluster: gpuDemand });
  assert.equal(h.a.status().pendingLaunches.length, 1);
  assert.deepEqual(h.calls, ["launch launch-1 gpu"]);
  h.a.step({ kind: "launch-failed", launch: "launch-1", reason: "the machine never booted" });
  assert.equal(h.a.status().groups.find((g) => g.name === "gpu")!.running, 0, "the failed launch's node is not a member");
});

test("room: a live node's free resources meet a demand; a dead node's do not", () => {
  const room = { node: "small-1", alive: true, total: { CPU: 1 }, available: { CPU: 1 }, idleMs: 0 };
  const live = harness(cfg, [{ node: "small-1", group: "small" }]);
  live.a.step({ kind: "tick", cluster: state({ nodes: [head, room], demands: [{ resources: { CPU: 1 }, count: 1, ageMs: 0 }] }) });
  assert.deepEqual(live.calls, [], "the live node's free CPU meets the demand");
  const dead = harness();
  dead.a.step({ kind: "tick", cluster: state({ nodes: [head, { ...room, alive: false }], demands: [{ resources: { CPU: 1 }, count: 1, ageMs: 0 }] }) });
  assert.deepEqual(dead.calls, ["launch launch-1 small"], "a dead node's room was counted");
});

test("a member dies: terminated as dead once it had joined, never before it was seen alive", () => {
  const h = harness(cfg, [{ node: "small-1", group: "small" }]);
  const node = (alive: boolean) => ({ node: "small-1", alive, total: { CPU: 1 }, available: { CPU: 1 }, idleMs: 0 });
  h.a.step({ kind: "tick", cluster: state({ nodes: [head, node(false)] }) });
  assert.deepEqual(h.calls, [], "a node not yet up was taken for dead");
  h.a.step({ kind: "tick", cluster: state({ nodes: [head, node(true)] }) });
  h.a.step({ kind: "tick", cluster: state({ nodes: [head, node(false)] }) });
  assert.deepEqual(h.calls, ["terminate small-1 small the node died"]);
});

test("room: a launch in flight counts as its group's room, a node draining does not", () => {
  const wide: AutoscalerConfig = { ...cfg, groups: [{ ...cfg.groups[0], maxReplicas: 10 }] };
  // Two launches in flight (no node yet) meet two more CPUs asked for: nothing more is launched.
  const h = harness(wide);
  const asking = (n: number, nodes = [head]) => state({ nodes, backlog: [{ resources: { CPU: 1 }, count: n, ageMs: 0 }] });
  h.a.step({ kind: "tick", cluster: asking(2) });
  assert.deepEqual(h.calls, ["launch launch-1 small", "launch launch-2 small"]);
  h.a.step({ kind: "tick", cluster: asking(2) });
  assert.deepEqual(h.calls.length, 2, "the launches in flight were not counted as room");
  // A node being drained (idle past its timeout) takes no more work: a demand launches a new node.
  const d = harness(wide, [{ node: "s1", group: "small" }]);
  const s1 = (idleMs: number) => ({ node: "s1", alive: true, total: { CPU: 1 }, available: { CPU: 1 }, idleMs });
  d.a.step({ kind: "tick", cluster: state({ nodes: [head, s1(20_000)] }) });
  assert.deepEqual(d.calls, ["drain s1"]);
  d.a.step({ kind: "tick", cluster: asking(1, [head, s1(0)]) });
  assert.deepEqual(d.calls, ["drain s1", "launch launch-1 small"], "the draining node's room was counted");
});
