// Actor lifecycle as kept in the GCS actor table (Ray's gcs_actor_manager).
import { setup } from "xstate";
import { IllegalTransition } from "./illegal.ts";

export type ActorState = "DEPENDENCIES_UNREADY" | "PENDING_CREATION" | "ALIVE" | "RESTARTING" | "DEAD";
export type ActorEvent =
  | { type: "DEPS_RESOLVED" }
  | { type: "CREATED" }
  | { type: "DIED"; restartable: boolean } // restartable: restart budget left and not killed
  | { type: "KILL" };

// The spec: drawn in docs and checked against nextActorState by the property tests.
export const actorChart = setup({
  types: { events: {} as ActorEvent },
  guards: { restartable: ({ event }) => event.type === "DIED" && event.restartable },
}).createMachine({
  id: "actor",
  initial: "DEPENDENCIES_UNREADY",
  states: {
    DEPENDENCIES_UNREADY: { on: { DEPS_RESOLVED: "PENDING_CREATION", KILL: "DEAD" } },
    PENDING_CREATION: {
      on: {
        CREATED: "ALIVE",
        DIED: [{ guard: "restartable", target: "RESTARTING" }, { target: "DEAD" }],
        KILL: "DEAD",
      },
    },
    ALIVE: {
      on: { DIED: [{ guard: "restartable", target: "RESTARTING" }, { target: "DEAD" }], KILL: "DEAD" },
    },
    RESTARTING: {
      on: {
        CREATED: "ALIVE",
        DIED: [{ guard: "restartable", target: "RESTARTING" }, { target: "DEAD" }],
        KILL: "DEAD",
      },
    },
    DEAD: { type: "final" },
  },
});

// The implementation: switch on the event, no allocation on legal transitions.
export function nextActorState(s: ActorState, e: ActorEvent): ActorState {
  switch (e.type) {
    case "DEPS_RESOLVED":
      if (s === "DEPENDENCIES_UNREADY") return "PENDING_CREATION";
      break;
    case "CREATED":
      if (s === "PENDING_CREATION" || s === "RESTARTING") return "ALIVE";
      break;
    case "DIED":
      if (s === "ALIVE" || s === "PENDING_CREATION" || s === "RESTARTING") return e.restartable ? "RESTARTING" : "DEAD";
      break;
    case "KILL":
      if (s !== "DEAD") return "DEAD";
      break;
  }
  throw new IllegalTransition("actor", s, e.type);
}
