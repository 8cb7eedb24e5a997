// Node lifecycle as the GCS sees it: registration, then health checks until declared dead.
import { setup } from "xstate";
import { IllegalTransition } from "./illegal.ts";

export type NodeState = "REGISTERING" | "ALIVE" | "SUSPECT" | "DEAD";
export type NodeEvent =
  | { type: "REGISTERED" }
  | { type: "HEARTBEAT" }
  | { type: "HEARTBEAT_MISSED"; limitReached: boolean } // limitReached: missed-check threshold hit
  | { type: "DIED" };

export const nodeChart = setup({
  types: { events: {} as NodeEvent },
  guards: { limitReached: ({ event }) => event.type === "HEARTBEAT_MISSED" && event.limitReached },
}).createMachine({
  id: "node",
  initial: "REGISTERING",
  states: {
    REGISTERING: { on: { REGISTERED: "ALIVE", DIED: "DEAD" } },
    ALIVE: {
      on: {
        HEARTBEAT: "ALIVE", // self-transition: legal, state unchanged
        HEARTBEAT_MISSED: [{ guard: "limitReached", target: "DEAD" }, { target: "SUSPECT" }],
        DIED: "DEAD",
      },
    },
    SUSPECT: {
      on: {
        HEARTBEAT: "ALIVE",
        HEARTBEAT_MISSED: [{ guard: "limitReached", target: "DEAD" }, { target: "SUSPECT" }],
        DIED: "DEAD",
      },
    },
    DEAD: { type: "final" },
  },
});

export function nextNodeState(s: NodeState, e: NodeEvent): NodeState {
  switch (e.type) {
    case "REGISTERED":
      if (s === "REGISTERING") return "ALIVE";
      break;
    case "HEARTBEAT":
      if (s === "ALIVE" || s === "SUSPECT") return "ALIVE";
      break;
    case "HEARTBEAT_MISSED":
      if (s === "ALIVE" || s === "SUSPECT") return e.limitReached ? "DEAD" : "SUSPECT";
      break;
    case "DIED":
      if (s !== "DEAD") return "DEAD";
      break;
  }
  throw new IllegalTransition("node", s, e.type);
}
