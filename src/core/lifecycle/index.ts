// The named-state lifecycles. Each is described twice, independently: an xstate chart (the spec,
// drawn in docs/statecharts.md) and a plain switch function (the implementation used by the
// models). test/unit/lifecycle.test.ts checks that the two agree.
import { transition, type AnyStateMachine, type EventFromLogic } from "xstate";
import { IllegalTransition } from "./illegal.ts";
import { actorChart } from "./actor.ts";
import { nodeChart } from "./node.ts";
import { workerChart } from "./worker.ts";
import { taskChart } from "./task.ts";
import { objectChart } from "./object.ts";
import { leaseChart } from "./lease.ts";
import { pullChart } from "./pull.ts";
import { placementGroupChart, bundleChart } from "./placement-group.ts";
import { jobChart } from "./job.ts";

export * from "./illegal.ts";
export * from "./actor.ts";
export * from "./node.ts";
export * from "./worker.ts";
export * from "./task.ts";
export * from "./object.ts";
export * from "./lease.ts";
export * from "./pull.ts";
export * from "./placement-group.ts";
export * from "./job.ts";
export { toMermaid } from "./mermaid.ts";

/** Every lifecycle chart, keyed by the name used in IllegalTransition messages. */
export const lifecycles = {
  actor: actorChart,
  node: nodeChart,
  worker: workerChart,
  task: taskChart,
  object: objectChart,
} as const;

/**
 * The protocols drawn as charts but kept by the models in their own records (no switch
 * function): specifications that only the trace checker (spec/invariants/lifecycles.ts) holds
 * the models to.
 */
export const protocols = {
  lease: leaseChart,
  pull: pullChart,
  placementGroup: placementGroupChart,
  bundle: bundleChart,
  job: jobChart,
} as const;

/**
 * Steps `machine` from the (flat) state value `state` with xstate's pure API. Slow (xstate builds
 * an inert actor per call): for checking and tooling, not for hot paths.
 */
export function chartStep<M extends AnyStateMachine>(machine: M, state: string, event: EventFromLogic<M>): string {
  const chart: AnyStateMachine = machine; // typed by the caller's chart, stepped untyped
  const snapshot = chart.resolveState({ value: state, context: {} }); // lifecycles keep no context
  // transition() returns the same value both for "no transition enabled" and for a
  // self-transition (ALIVE -HEARTBEAT-> ALIVE), so ask which transitions are enabled instead:
  // getTransitionData evaluates guards and returns [] when the event is unhandled.
  if (chart.getTransitionData(snapshot, event).length === 0) {
    throw new IllegalTransition(chart.id, state, event.type);
  }
  const [next] = transition(chart, snapshot, event);
  if (typeof next.value !== "string") throw new Error(`${chart.id}: chartStep supports flat charts only`);
  return next.value;
}
