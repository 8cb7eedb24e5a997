// Worker process lifecycle as the raylet's worker pool sees it.
import { setup } from "xstate";
import { IllegalTransition } from "./illegal.ts";

export type WorkerState = "STARTING" | "IDLE" | "LEASED" | "ACTOR" | "DEAD";
export type WorkerEvent =
  | { type: "REGISTERED" }
  | { type: "LEASED" }
  | { type: "RETURNED" }
  | { type: "BECAME_ACTOR" }
  | { type: "EXITED" };

export const workerChart = setup({
  types: { events: {} as WorkerEvent },
}).createMachine({
  id: "worker",
  initial: "STARTING",
  states: {
    STARTING: { on: { REGISTERED: "IDLE", EXITED: "DEAD" } },
    IDLE: { on: { LEASED: "LEASED", EXITED: "DEAD" } },
    LEASED: { on: { RETURNED: "IDLE", BECAME_ACTOR: "ACTOR", EXITED: "DEAD" } },
    ACTOR: { on: { EXITED: "DEAD" } }, // an actor's worker is never returned to the pool
    DEAD: { type: "final" },
  },
});

export function nextWorkerState(s: WorkerState, e: WorkerEvent): WorkerState {
  switch (e.type) {
    case "REGISTERED":
      if (s === "STARTING") return "IDLE";
      break;
    case "LEASED":
      if (s === "IDLE") return "LEASED";
      break;
    case "RETURNED":
      if (s === "LEASED") return "IDLE";
      break;
    case "BECAME_ACTOR":
      if (s === "LEASED") return "ACTOR";
      break;
    case "EXITED":
      if (s !== "DEAD") return "DEAD";
      break;
  }
  throw new IllegalTransition("worker", s, e.type);
}
