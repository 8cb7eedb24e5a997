// Chaos experiments as data: the generator (never an experiment without a fault), Chaos Mesh YAML
// (written documents pass the offline validator and read back as the same experiment), and the
// conversions between a chaos run's schedule and a simulator scenario.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import fc from "fast-check";
import { experimentFromYaml, experimentToYaml, parseDuration } from "../../chaos/chaos-mesh.ts";
import { experimentArb, type ChaosExperiment } from "../../chaos/experiment.ts";
import { faultArb, type ChaosFault, type ChaosFaultKind } from "../../chaos/faults.ts";
import { chaosToScenario, scenarioToChaos } from "../../chaos/sim-plan.ts";
import { validatePlan } from "../../sim/faults.ts";
import { runScenario, type Scenario } from "../../sim/scenario.ts";
import { validateManifests } from "../../src/k8s/validate.ts";

const nodes = [{ id: "head", cpus: 1 }, { id: "node-1", cpus: 2 }, { id: "node-2", cpus: 2 }];
const workload = { steps: [{ op: "task" as const, fn: "add" as const, args: [{ lit: 1 }, { lit: 2 }], maxRetries: 3 }, { op: "get" as const, ref: 0 }] };

describe("the experiment generator", () => {
  it("never makes an experiment without a fault, and every fault names a node of the cluster", () => {
    fc.assert(fc.property(experimentArb(), (e) => {
      assert.ok(e.faults.length >= 1 && e.faults.length <= 3, `${e.faults.length} faults`);
      const ids = new Set(e.nodes.map((n) => n.id));
      for (const f of e.faults) {
        if ("node" in f) assert.ok(ids.has(f.node), f.node);
        if ("peers" in f && f.peers) for (const p of f.peers) assert.ok(ids.has(p), p);
      }
    }), { numRuns: 300, seed: 7 });
  });

  it("makes every kind of fault, and spares the head's raylet from process faults", () => {
    const kinds = new Set<ChaosFaultKind>();
    for (const f of fc.sample(faultArb(["head", "node-1"]), { numRuns: 600, seed: 3 })) {
      kinds.add(f.kind);
      if (["kill-node", "restart-node", "pause", "pod-kill", "pod-failure", "container-kill"].includes(f.kind)) assert.notEqual((f as { node: string }).node, "head");
    }
    assert.deepEqual([...kinds].sort(), ["container-kill", "delay", "duplicate", "kill-driver", "kill-node", "loss", "partition", "pause", "pod-failure", "pod-kill", "restart-gcs", "restart-node"]);
  });

  it("refuses to be asked for no faults", () => {
    assert.throws(() => experimentArb({ maxFaults: 0 }), /maxFaults must be an integer >= 1/);
  });
});

/** Faults Chaos Mesh has a word for. */
const YAML_KINDS = new Set<ChaosFaultKind>(["pod-kill", "pod-failure", "container-kill", "restart-gcs", "partition", "delay", "loss", "duplicate"]);

describe("Chaos Mesh YAML", () => {
  it("round-trips: a written experiment passes the offline validator and reads back the same", () => {
    const arb = fc.record({
      nodes: fc.constant(nodes),
      workload: fc.constant(workload),
      faults: fc.array(faultArb(nodes.map((n) => n.id)).filter((f) => YAML_KINDS.has(f.kind)), { minLength: 1, maxLength: 4 }),
    });
    let scoped = 0;
    fc.assert(fc.property(arb, (generated: ChaosExperiment) => {
      const e = JSON.parse(JSON.stringify(generated)) as ChaosExperiment; // plain objects, as YAML gives
      if (e.faults.some((f) => "peers" in f)) scoped++;
      const text = experimentToYaml(e);
      assert.deepEqual(validateManifests(text).problems, []);
      assert.deepEqual(experimentFromYaml(text), e);
    }), { numRuns: 200, seed: 11 });
    assert.ok(scoped > 20, `network faults with peers were round-tripped ${scoped} times`);
  });

  it("reads the experiment under k8s/chaos-mesh/", () => {
    const e = experimentFromYaml(readFileSync(new URL("../../k8s/chaos-mesh/workflow-experiment.yaml", import.meta.url), "utf8"));
    assert.deepEqual(e.faults.map((f) => f.kind), ["pod-kill", "partition", "delay", "loss"]);
    assert.deepEqual(e.faults[1], { kind: "partition", at: 1_500, node: "node-1", direction: "both", peers: ["head"], ms: 2_000 });
  });

  it("refuses a fault with no Chaos Mesh action, naming it", () => {
    assert.throws(() => experimentToYaml({ nodes, workload, faults: [{ kind: "pause", at: 0, node: "node-1", ms: 10 }] }), /pause has no Chaos Mesh action/);
    // The driver is the experiment's own process, in no pod of the cluster.
    assert.throws(() => experimentToYaml({ nodes, workload, faults: [{ kind: "kill-driver", at: 0 }] }), /kill-driver has no Chaos Mesh action: the driver is the experiment's own process/);
  });

  it("refuses what it cannot read, saying where", () => {
    const good = experimentToYaml({ nodes, workload, faults: [{ kind: "loss", at: 5, node: "node-1", direction: "to", rate: 0.2, ms: 100 }] });
    assert.throws(() => experimentFromYaml(good.replace("deadline: 5ms", "deadline: soon")), /fault-0-wait\.deadline: expected a duration/);
    assert.throws(() => experimentFromYaml(good.replace('loss: "20"', 'loss: "95"')), /loss\.loss: a percentage/);
    assert.throws(() => experimentFromYaml(good.replaceAll("tsray.io/node: node-1", "tsray.io/node: node-9")), /names node "node-9"/);
    assert.throws(() => experimentFromYaml(good.replace("templateType: NetworkChaos", "templateType: StressChaos")), /templateType: expected one of/);
    assert.throws(() => experimentFromYaml(good.replace(/ {4}tsray\.io\/workload: .*\n/, "")), /tsray\.io\/workload"\] is missing/);
  });

  it("parses Go durations", () => {
    assert.equal(parseDuration("1m30s", "d"), 90_000);
    assert.equal(parseDuration("1.5s", "d"), 1_500);
    assert.equal(parseDuration("250ms", "d"), 250);
    assert.throws(() => parseDuration("5", "d"), /d: expected a duration/);
  });
});

describe("chaos ↔ simulator", () => {
  const faults: ChaosFault[] = [
    { kind: "pod-kill", at: 100, node: "node-1" },
    { kind: "pod-failure", at: 200, node: "node-2", ms: 700 },
    { kind: "restart-gcs", at: 300, downMs: 250 },
    { kind: "partition", at: 400, node: "node-1", direction: "to", ms: 500 },
    { kind: "partition", at: 450, node: "node-2", peers: ["head"], direction: "from", ms: 500 },
    { kind: "delay", at: 500, node: "node-2", direction: "both", latencyMs: 30, jitterMs: 5, ms: 400 },
    { kind: "loss", at: 600, node: "head", direction: "to", rate: 0.2, ms: 300 },
    { kind: "duplicate", at: 700, node: "node-1", direction: "to", rate: 0.1, ms: 300 },
    { kind: "pause", at: 800, node: "node-2", ms: 100 },
    { kind: "kill-node", at: 900, node: "node-1" },
  ];

  it("turns a chaos schedule into a valid simulator plan with the same workload and nodes", () => {
    const s = chaosToScenario({ nodes, workload, faults });
    assert.deepEqual(s.workload, workload);
    assert.deepEqual(s.nodes, [{ id: "head", resources: { CPU: 1 } }, { id: "node-1", resources: { CPU: 2 } }, { id: "node-2", resources: { CPU: 2 } }]);
    validatePlan(s.faults, nodes.map((n) => n.id));
    assert.deepEqual(s.faults.schedule, [
      { at: 100, kind: "kill-node", node: "node-1" },
      { at: 200, kind: "kill-node", node: "node-2" },
      { at: 300, kind: "restart-node", node: "node-1" },
      { at: 300, kind: "restart-gcs", downMs: 250 },
      { at: 400, until: 900, kind: "partition", groups: [["node-1"], ["head", "node-2"]], oneWay: true },
      { at: 450, until: 950, kind: "partition", groups: [["head"], ["node-2"]], oneWay: true },
      { at: 500, until: 900, kind: "delay", ms: 30, nodes: ["node-2"] },
      { at: 600, until: 900, kind: "drop", rate: 0.2 },
      { at: 700, until: 1_000, kind: "duplicate", rate: 0.1 },
      { at: 800, until: 900, kind: "pause", node: "node-2" },
      { at: 900, kind: "restart-node", node: "node-2" },
      { at: 900, kind: "kill-node", node: "node-1" },
    ]);
  });

  it("takes a run's real times, without the faults that could not be applied", () => {
    const s = chaosToScenario({ nodes, workload, faults: faults.slice(0, 2) }, [
      { fault: faults[0], atMs: 130 },
      { fault: faults[1], atMs: 260, error: "node node-2 is down already" },
    ]);
    assert.deepEqual(s.faults.schedule, [{ at: 130, kind: "kill-node", node: "node-1" }, { at: 330, kind: "restart-node", node: "node-1" }]);
  });

  it("turns a simulator scenario into a chaos experiment, and back to the same schedule where the vocabularies meet", () => {
    const scenario: Scenario = {
      seed: 4, nodes: chaosToScenario({ nodes, workload, faults }).nodes, workload,
      faults: { schedule: [
        { at: 10, kind: "kill-node", node: "node-1" },
        { at: 20, until: 120, kind: "partition", groups: [["node-2"], ["head", "node-1"]] },
        { at: 30, kind: "restart-gcs", downMs: 100 },
        { at: 40, until: 90, kind: "pause", node: "node-2" },
        { at: 500, kind: "restart-node", node: "node-1" },
      ] },
      bugs: ["no-reconstruction"],
    };
    const e = scenarioToChaos(scenario);
    assert.deepEqual(e.faults, [
      { kind: "pod-failure", at: 10, node: "node-1", ms: 490 },
      { kind: "partition", at: 20, node: "node-2", peers: ["head", "node-1"], direction: "both", ms: 100 },
      { kind: "restart-gcs", at: 30, downMs: 100 },
      { kind: "pause", at: 40, node: "node-2", ms: 50 },
    ]);
    assert.deepEqual(e.bugs, ["no-reconstruction"]);
    const back = chaosToScenario(e);
    assert.deepEqual(back.faults.schedule.map((f) => f.kind).sort(), scenario.faults.schedule.map((f) => f.kind).sort());
  });

  it("turns kill-driver into the simulator's kill-driver and back, and the plan replays: the driver is buried and nothing leaks", async () => {
    const e: ChaosExperiment = {
      nodes, faults: [{ kind: "kill-driver", at: 150 }],
      workload: { steps: [
        { op: "actor", maxRestarts: 0, maxTaskRetries: 0 },
        { op: "task", fn: "slow", args: [{ lit: 1 }, { lit: 9 }], maxRetries: 0, node: "node-1" },
        { op: "get", ref: 1 },
      ] },
    };
    const s = chaosToScenario(e, [{ fault: e.faults[0], atMs: 170 }]);
    assert.deepEqual(s.faults.schedule, [{ at: 170, kind: "kill-driver" }]);
    validatePlan(s.faults, nodes.map((n) => n.id));
    assert.deepEqual(scenarioToChaos(s).faults, [{ kind: "kill-driver", at: 170 }]);
    const verdict = await runScenario(s);
    assert.ok(verdict.ok, verdict.problems.join("\n"));
    assert.equal(verdict.faulty.result, undefined, "the killed program never returned");
    assert.equal(verdict.faulty.trace.filter((x) => x.kind === "driver.dead").length, 1);
  });

  it("refuses simulator faults that have no chaos fault, by name", () => {
    const s: Scenario = { seed: 1, nodes: chaosToScenario({ nodes, workload, faults }).nodes, workload, faults: { schedule: [{ at: 5, until: 50, kind: "store-full", node: "node-1" }] } };
    assert.throws(() => scenarioToChaos(s), /store-full \(at 5\) has no chaos fault/);
    assert.throws(() => scenarioToChaos({ ...s, faults: { schedule: [], network: { dropRate: 0.1 } } }), /network conditions/);
  });
});
