// The lifecycle charts (spec) and the plain switch functions (implementation) are written
// independently; these tests check that they agree, on random runs and on every (state, event).
// States, events and event payloads are read from the charts' configs, never listed here, so an
// event or state added to a chart is compared with its reducer without anyone naming it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import fc from "fast-check";
import { initialTransition, setup, type AnyStateMachine, type EventObject } from "xstate";
import {
  IllegalTransition, chartStep, lifecycles, toMermaid,
  nextActorState, nextNodeState, nextWorkerState, nextTaskState, nextObjectState,
  type ActorEvent,
} from "../../src/core/lifecycle/index.ts";
import { renderStatecharts, statechartsPath } from "../../docs/generate.ts";

type Reducer = (s: string, e: EventObject) => string;

/** A chart's guard, called the way xstate calls it (the lifecycles keep no context). */
type Guard = (args: { context: object; event: EventObject }) => boolean;

type Transition = string | { target?: string; guard?: string };
type StateConfig = { type?: string; states?: unknown; on?: Record<string, Transition | Transition[]> };

/**
 * What a chart's config says, walked rather than listed: its states, the event types named in
 * any state's `on`, and for each event type the guards its transitions consult. A lifecycle
 * guard is named after the boolean payload field it reads (`retryable` reads event.retryable),
 * which is how the payloads are derived; the guard test below checks that convention.
 */
function walk(chart: AnyStateMachine) {
  const states = chart.config.states as Record<string, StateConfig>;
  const guardsOf = new Map<string, Set<string>>(); // event type → guard names, in chart order
  for (const [name, config] of Object.entries(states)) {
    assert.equal(config.states, undefined, `${chart.id}.${name}: nested states are not supported by chartStep`);
    for (const [type, targets] of Object.entries(config.on ?? {})) {
      const guards = guardsOf.get(type) ?? new Set<string>();
      guardsOf.set(type, guards);
      for (const t of [targets].flat()) {
        if (typeof t === "object" && t.guard !== undefined) {
          assert.equal(typeof t.guard, "string", `${chart.id}.${name} on ${type}: name the guard so the test can derive its payload`);
          guards.add(t.guard);
        }
      }
    }
  }
  return { states: Object.keys(states), guardsOf };
}

/** Every event the chart names, with every combination of the boolean fields its guards read. */
function eventsOf(guardsOf: ReadonlyMap<string, ReadonlySet<string>>): EventObject[] {
  const out: EventObject[] = [];
  for (const [type, guards] of guardsOf) {
    let payloads: Record<string, boolean>[] = [{}];
    for (const field of guards) payloads = payloads.flatMap((p) => [{ ...p, [field]: true }, { ...p, [field]: false }]);
    for (const p of payloads) out.push({ type, ...p });
  }
  return out;
}

/** The plain reducer paired with each chart (keyed by the charts' names: a chart added without one does not compile). */
const reducers: Record<keyof typeof lifecycles, Reducer> = {
  actor: nextActorState as Reducer,
  node: nextNodeState as Reducer,
  worker: nextWorkerState as Reducer,
  task: nextTaskState as Reducer,
  object: nextObjectState as Reducer,
};

const specs = (Object.keys(lifecycles) as (keyof typeof lifecycles)[]).map((name) => {
  const chart: AnyStateMachine = lifecycles[name];
  const { states, guardsOf } = walk(chart);
  return { name, chart, next: reducers[name], initial: String(initialTransition(chart)[0].value), states, guardsOf, events: eventsOf(guardsOf) };
});

/**
 * The event types each reducer's signature admits, read with the type checker: an event added
 * to a lifecycle's TypeScript union but named by no state of its chart would otherwise never be
 * fed to the reducer (the chart refuses it everywhere; the switch might accept it).
 */
function reducerEventTypes(): Map<string, string[]> {
  const file = fileURLToPath(new URL("../../src/core/lifecycle/index.ts", import.meta.url));
  const program = ts.createProgram([file], { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, allowImportingTsExtensions: true, noEmit: true, skipLibCheck: true, strict: true });
  const checker = program.getTypeChecker();
  const exports = checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(file)!)!);
  const out = new Map<string, string[]>();
  for (const [name, reducer] of Object.entries(reducers)) {
    const sym = exports.find((e) => e.name === reducer.name);
    assert.ok(sym, `reducer ${reducer.name} is not exported from src/core/lifecycle`);
    const [sig] = checker.getTypeOfSymbol(sym.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(sym) : sym).getCallSignatures();
    const event = checker.getTypeOfSymbol(sig.parameters[1]);
    const members = event.isUnion() ? event.types : [event];
    out.set(name, members.map((m) => {
      const t = checker.getTypeOfSymbol(m.getProperty("type")!);
      assert.ok(t.isStringLiteral(), `${reducer.name}: an event's type must be a string literal`);
      return t.value;
    }).sort());
  }
  return out;
}

test("each chart names every event its reducer's type admits", () => {
  const typed = reducerEventTypes();
  for (const spec of specs) assert.deepEqual([...spec.guardsOf.keys()].sort(), typed.get(spec.name), `${spec.name}: chart events vs ${spec.next.name} parameter type`);
});

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
  test(`${spec.name}: the chart is walked, not listed`, () => {
    assert.equal(spec.chart.id, spec.name);
    assert.deepEqual(spec.states, Object.keys(spec.chart.root.states));
    assert.ok(spec.states.includes(spec.initial), `initial state ${spec.initial}`);
    // Cross-check the walk against xstate's own resolved state nodes: same event types.
    const resolved = new Set(Object.values(spec.chart.root.states).flatMap((n) => [...(n as { transitions: Map<string, unknown> }).transitions.keys()]));
    assert.deepEqual([...spec.guardsOf.keys()].sort(), [...resolved].sort());
  });

  test(`${spec.name}: each guard reads the boolean payload field it is named after`, () => {
    const guards = spec.chart.implementations.guards as Record<string, Guard>;
    for (const [type, names] of spec.guardsOf) {
      for (const field of names) {
        const guard = guards[field];
        assert.equal(typeof guard, "function", `${spec.name}: guard ${field} is not implemented in setup()`);
        const verdict = (v: boolean) => guard({ context: {}, event: { type, [field]: v } });
        assert.deepEqual([verdict(true), verdict(false)], [true, false], `${spec.name}: guard ${field} on ${type} must be event.${field}`);
      }
    }
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

test("chartStep refuses a chart with nested states rather than answer a state value that is no name", () => {
  const nested = setup({}).createMachine({ id: "nested", initial: "A", states: { A: { on: { GO: "B" } }, B: { initial: "B1", states: { B1: {} } } } });
  assert.throws(() => chartStep(nested, "A", { type: "GO" }), { message: "nested: chartStep supports flat charts only" });
});

test("docs/statecharts.md is up to date (run `npm run docs`)", () => {
  assert.equal(readFileSync(statechartsPath, "utf8"), renderStatecharts());
});

test("mermaid labels a guard however the chart writes it: by name, as a { type } object, or inline", () => {
  const chart = setup({ guards: { ready: () => true } }).createMachine({
    id: "demo",
    initial: "A",
    states: {
      A: { on: { GO: [{ guard: "ready", target: "B" }, { guard: { type: "ready" }, target: "C" }, { guard: function inlineCheck() { return true; }, target: "D" }, { target: "E" }] } },
      B: {}, C: {}, D: {}, E: { type: "final" },
    },
  });
  assert.deepEqual(toMermaid(chart).split("\n").filter((l) => l.includes("GO")).map((l) => l.trim()), [
    "A --> B : GO [ready]",
    "A --> C : GO [ready]",
    "A --> D : GO [inlineCheck]",
    "A --> E : GO [else]",
  ]);
});

test("mermaid draws a compound state's children inside it", () => {
  const chart = setup({}).createMachine({
    id: "nested",
    initial: "Up",
    states: { Up: { initial: "Idle", states: { Idle: { on: { WORK: "Busy" } }, Busy: {} }, on: { STOP: "Down" } }, Down: { type: "final" } },
  });
  const lines = toMermaid(chart).split("\n").map((l) => l.trim());
  const open = lines.indexOf("state Up {");
  assert.ok(open >= 0, toMermaid(chart));
  assert.deepEqual(lines.slice(open, open + 4), ["state Up {", "[*] --> Idle", "Idle --> Busy : WORK", "}"]);
});

test("mermaid's text ends its last line with one newline, as the docs' files do", () => {
  const chart = setup({}).createMachine({ id: "one", initial: "A", states: { A: { on: { GO: "B" } }, B: { type: "final" } } });
  const md = toMermaid(chart);
  assert.ok(md.endsWith("B --> [*]\n"), JSON.stringify(md));
});
