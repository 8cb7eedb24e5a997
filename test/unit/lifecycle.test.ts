// The lifecycle charts (spec) and the plain switch functions (implementation) are written
// independently; these tests check that they agree, on random runs and on every (state, event).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { initialTransition, type AnyStateMachine, type EventObject } from "xstate";
import {
  IllegalTransition, chartStep, lifecycles, toMermaid,
  nextActorState, nextNodeState, nextWorkerState, nextTaskState, nextObjectState,
  type ActorState, type NodeState, type WorkerState, type TaskState, type ObjectState,
  type ActorEvent, type NodeEvent, type WorkerEvent, type TaskEvent, type ObjectEvent,
} from "../../src/core/lifecycle/index.ts";
import { renderStatecharts, statechartsPath } from "../../docs/generate.ts";

type Spec<S extends string, E extends EventObject> = {
  name: keyof typeof lifecycles;
  chart: AnyStateMachine;
  next: (s: S, e: E) => S;
  initial: S;
  states: S[];
  events: E[]; // every event type, with every payload value
};
// Typed per lifecycle where written, erased to one shape for the shared test loop.
const spec = <S extends string, E extends EventObject>(s: Spec<S, E>) => s as unknown as Spec<string, EventObject>;

const both = <T>(f: (b: boolean) => T): T[] => [f(true), f(false)];

const specs = [
  spec<ActorState, ActorEvent>({
    name: "actor", chart: lifecycles.actor, next: nextActorState,
    initial: "DEPENDENCIES_UNREADY",
    states: ["DEPENDENCIES_UNREADY", "PENDING_CREATION", "ALIVE", "RESTARTING", "DEAD"],
    events: [{ type: "DEPS_RESOLVED" }, { type: "CREATED" }, ...both((restartable) => ({ type: "DIED" as const, restartable })), { type: "KILL" }],
  }),
  spec<NodeState, NodeEvent>({
    name: "node", chart: lifecycles.node, next: nextNodeState,
    initial: "REGISTERING",
    states: ["REGISTERING", "ALIVE", "SUSPECT", "DEAD"],
    events: [{ type: "REGISTERED" }, { type: "HEARTBEAT" }, ...both((limitReached) => ({ type: "HEARTBEAT_MISSED" as const, limitReached })), { type: "DIED" }],
  }),
  spec<WorkerState, WorkerEvent>({
    name: "worker", chart: lifecycles.worker, next: nextWorkerState,
    initial: "STARTING",
    states: ["STARTING", "IDLE", "LEASED", "ACTOR", "DEAD"],
    events: [{ type: "REGISTERED" }, { type: "LEASED" }, { type: "RETURNED" }, { type: "BECAME_ACTOR" }, { type: "EXITED" }],
  }),
  spec<TaskState, TaskEvent>({
    name: "task", chart: lifecycles.task, next: nextTaskState,
    initial: "WAITING_FOR_DEPS",
    states: ["WAITING_FOR_DEPS", "SCHEDULING", "RUNNING", "FINISHED", "FAILED"],
    events: [
      { type: "DEPS_READY" }, { type: "DISPATCHED" }, { type: "SUCCEEDED" },
      ...both((retryable) => ({ type: "ERRORED" as const, retryable })), { type: "DEP_FAILED" }, { type: "RESUBMIT" },
    ],
  }),
  spec<ObjectState, ObjectEvent>({
    name: "object", chart: lifecycles.object, next: nextObjectState,
    initial: "PENDING",
    states: ["PENDING", "READY", "LOST", "FAILED", "FREED"],
    events: [
      { type: "CREATED" }, { type: "ERRORED" }, { type: "LOST" }, { type: "RECONSTRUCT" },
      { type: "UNRECOVERABLE" }, { type: "OUT_OF_SCOPE" },
    ],
  }),
];

/** The next state, or "illegal"; any other exception propagates and fails the test. */
function outcome(step: () => string): string {
  try {
    return step();
  } catch (err) {
    if (err instanceof IllegalTransition) return "illegal";
    throw err;
  }
}

for (const spec of specs) {
  test(`${spec.name}: chart and switch agree on states and initial state`, () => {
    assert.equal(spec.chart.id, spec.name);
    assert.equal(initialTransition(spec.chart)[0].value, spec.initial);
    assert.deepEqual(Object.keys(spec.chart.root.states), spec.states);
  });

  test(`${spec.name}: chart and switch agree on every (state, event)`, () => {
    for (const s of spec.states) {
      for (const e of spec.events) {
        assert.equal(outcome(() => spec.next(s, e)), outcome(() => chartStep(spec.chart, s, e)), `${s} + ${JSON.stringify(e)}`);
      }
    }
  });

  test(`${spec.name}: chart and switch agree on random event sequences`, () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...spec.events), { maxLength: 30 }), (events) => {
        let s = spec.initial;
        for (const e of events) {
          const plain = outcome(() => spec.next(s, e));
          assert.equal(plain, outcome(() => chartStep(spec.chart, s, e)), `${s} + ${JSON.stringify(e)}`);
          if (plain !== "illegal") s = plain; // after an illegal event, keep the state
        }
      }),
      { numRuns: 200 },
    );
  });

  test(`${spec.name}: mermaid names every state and event`, () => {
    const md = toMermaid(spec.chart);
    assert.match(md, /^stateDiagram-v2\n/);
    assert.ok(md.includes(`[*] --> ${spec.initial}`));
    for (const s of spec.states) assert.ok(md.includes(s), `state ${s}`);
    for (const e of spec.events) assert.ok(md.includes(`: ${e.type}`), `event ${e.type}`);
  });
}

// --- examples -------------------------------------------------------------------------------

const illegal = (f: () => unknown) => assert.throws(f, IllegalTransition);

test("actor: restart path, then final death", () => {
  let s = nextActorState("DEPENDENCIES_UNREADY", { type: "DEPS_RESOLVED" });
  s = nextActorState(s, { type: "CREATED" });
  assert.equal(s, "ALIVE");
  s = nextActorState(s, { type: "DIED", restartable: true });
  assert.equal(s, "RESTARTING");
  s = nextActorState(s, { type: "DIED", restartable: true }); // died again while restarting
  assert.equal(s, "RESTARTING");
  s = nextActorState(s, { type: "CREATED" });
  assert.equal(s, "ALIVE");
  assert.equal(nextActorState(s, { type: "DIED", restartable: false }), "DEAD");
});

test("actor: DEAD absorbs nothing, with a readable error", () => {
  for (const e of [{ type: "CREATED" }, { type: "KILL" }, { type: "DIED", restartable: true }] as ActorEvent[]) {
    illegal(() => nextActorState("DEAD", e));
    illegal(() => chartStep(lifecycles.actor, "DEAD", e));
  }
  assert.throws(() => nextActorState("DEAD", { type: "CREATED" }), { message: "actor: event CREATED is not allowed in state DEAD" });
  illegal(() => nextActorState("DEPENDENCIES_UNREADY", { type: "DIED", restartable: true }));
});

test("node: heartbeat is a legal self-transition; suspect recovers or dies", () => {
  assert.equal(nextNodeState("ALIVE", { type: "HEARTBEAT" }), "ALIVE");
  assert.equal(chartStep(lifecycles.node, "ALIVE", { type: "HEARTBEAT" }), "ALIVE");
  assert.equal(chartStep(lifecycles.node, "SUSPECT", { type: "HEARTBEAT_MISSED", limitReached: false }), "SUSPECT");
  assert.equal(nextNodeState("SUSPECT", { type: "HEARTBEAT" }), "ALIVE");
  assert.equal(nextNodeState("SUSPECT", { type: "HEARTBEAT_MISSED", limitReached: true }), "DEAD");
  illegal(() => nextNodeState("REGISTERING", { type: "HEARTBEAT" }));
  illegal(() => chartStep(lifecycles.node, "DEAD", { type: "DIED" }));
});

test("worker: lease round trip, actor workers never return to the pool", () => {
  let s = nextWorkerState("STARTING", { type: "REGISTERED" });
  s = nextWorkerState(s, { type: "LEASED" });
  assert.equal(nextWorkerState(s, { type: "RETURNED" }), "IDLE");
  s = nextWorkerState(s, { type: "BECAME_ACTOR" });
  assert.equal(s, "ACTOR");
  illegal(() => nextWorkerState("ACTOR", { type: "RETURNED" }));
  illegal(() => nextWorkerState("IDLE", { type: "BECAME_ACTOR" }));
  assert.equal(nextWorkerState(s, { type: "EXITED" }), "DEAD");
});

test("task: retry, success, then lineage resubmission; FAILED is final", () => {
  let s = nextTaskState("WAITING_FOR_DEPS", { type: "DEPS_READY" });
  s = nextTaskState(s, { type: "DISPATCHED" });
  s = nextTaskState(s, { type: "ERRORED", retryable: true });
  assert.equal(s, "WAITING_FOR_DEPS");
  for (const type of ["DEPS_READY", "DISPATCHED", "SUCCEEDED"] as const) s = nextTaskState(s, { type });
  assert.equal(s, "FINISHED");
  assert.equal(nextTaskState(s, { type: "RESUBMIT" }), "WAITING_FOR_DEPS");
  illegal(() => nextTaskState("RUNNING", { type: "DEP_FAILED" }));
  illegal(() => nextTaskState("FAILED", { type: "RESUBMIT" }));
  illegal(() => chartStep(lifecycles.task, "FAILED", { type: "RESUBMIT" }));
});

test("object: lost, reconstructed, freed; FREED is final", () => {
  let s = nextObjectState("PENDING", { type: "CREATED" });
  s = nextObjectState(s, { type: "LOST" });
  s = nextObjectState(s, { type: "RECONSTRUCT" });
  assert.equal(s, "PENDING");
  assert.equal(nextObjectState("LOST", { type: "UNRECOVERABLE" }), "FAILED");
  assert.equal(nextObjectState("FAILED", { type: "OUT_OF_SCOPE" }), "FREED");
  illegal(() => nextObjectState("FREED", { type: "OUT_OF_SCOPE" }));
  illegal(() => chartStep(lifecycles.object, "READY", { type: "RECONSTRUCT" }));
});

test("docs/statecharts.md is up to date (run `npm run docs`)", () => {
  assert.equal(readFileSync(statechartsPath, "utf8"), renderStatecharts());
});
