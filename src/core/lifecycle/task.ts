// Task lifecycle as its owner sees it. nextTaskState runs once per task event, so it is the
// per-task hot path: keep it a branch-only switch.
import { setup } from "xstate";
import { IllegalTransition } from "./illegal.ts";

export type TaskState = "WAITING_FOR_DEPS" | "SCHEDULING" | "RUNNING" | "FINISHED" | "FAILED";
export type TaskEvent =
  | { type: "DEPS_READY" }
  | { type: "DISPATCHED" }
  | { type: "SUCCEEDED" }
  | { type: "ERRORED"; retryable: boolean } // retryable: retry budget left and error kind retryable
  | { type: "DEP_FAILED" }
  | { type: "RESUBMIT" } // lineage reconstruction of a lost return value
  | { type: "BOUNCED" } // a pipelined task its worker sent back unrun: queued again
  | { type: "CANCELLED" }; // ray.cancel settled it before it ran (or force-killed it running)

export const taskChart = setup({
  types: { events: {} as TaskEvent },
  guards: { retryable: ({ event }) => event.type === "ERRORED" && event.retryable },
}).createMachine({
  id: "task",
  initial: "WAITING_FOR_DEPS",
  states: {
    WAITING_FOR_DEPS: { on: { DEPS_READY: "SCHEDULING", DEP_FAILED: "FAILED", CANCELLED: "FAILED" } },
    SCHEDULING: {
      on: {
        DISPATCHED: "RUNNING",
        ERRORED: [{ guard: "retryable", target: "WAITING_FOR_DEPS" }, { target: "FAILED" }],
        DEP_FAILED: "FAILED",
        CANCELLED: "FAILED",
      },
    },
    RUNNING: {
      on: {
        SUCCEEDED: "FINISHED",
        BOUNCED: "SCHEDULING",
        CANCELLED: "FAILED",
        ERRORED: [{ guard: "retryable", target: "WAITING_FOR_DEPS" }, { target: "FAILED" }],
      },
    },
    FINISHED: { on: { RESUBMIT: "WAITING_FOR_DEPS" } }, // not final: outputs may be lost later
    FAILED: { type: "final" },
  },
});

export function nextTaskState(s: TaskState, e: TaskEvent): TaskState {
  switch (e.type) {
    case "DEPS_READY":
      if (s === "WAITING_FOR_DEPS") return "SCHEDULING";
      break;
    case "DISPATCHED":
      if (s === "SCHEDULING") return "RUNNING";
      break;
    case "SUCCEEDED":
      if (s === "RUNNING") return "FINISHED";
      break;
    case "ERRORED":
      if (s === "RUNNING" || s === "SCHEDULING") return e.retryable ? "WAITING_FOR_DEPS" : "FAILED";
      break;
    case "DEP_FAILED":
      if (s === "WAITING_FOR_DEPS" || s === "SCHEDULING") return "FAILED";
      break;
    case "RESUBMIT":
      if (s === "FINISHED") return "WAITING_FOR_DEPS";
      break;
    case "BOUNCED":
      if (s === "RUNNING") return "SCHEDULING";
      break;
    case "CANCELLED":
      if (s === "WAITING_FOR_DEPS" || s === "SCHEDULING" || s === "RUNNING") return "FAILED";
      break;
  }
  throw new IllegalTransition("task", s, e.type);
}
