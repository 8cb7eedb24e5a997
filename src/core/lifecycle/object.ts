// Object lifecycle as its owner sees it (ownership model: the owner holds lineage and decides
// reconstruction; FREED once no reference remains).
import { setup } from "xstate";
import { IllegalTransition } from "./illegal.ts";

export type ObjectState = "PENDING" | "READY" | "LOST" | "FAILED" | "FREED";
export type ObjectEvent =
  | { type: "CREATED" }
  | { type: "ERRORED" }
  | { type: "LOST" }
  | { type: "RECONSTRUCT" }
  | { type: "UNRECOVERABLE" }
  | { type: "OUT_OF_SCOPE" };

export const objectChart = setup({
  types: { events: {} as ObjectEvent },
}).createMachine({
  id: "object",
  initial: "PENDING",
  states: {
    PENDING: { on: { CREATED: "READY", ERRORED: "FAILED", OUT_OF_SCOPE: "FREED" } },
    READY: { on: { LOST: "LOST", OUT_OF_SCOPE: "FREED" } },
    LOST: { on: { RECONSTRUCT: "PENDING", UNRECOVERABLE: "FAILED", OUT_OF_SCOPE: "FREED" } },
    FAILED: { on: { OUT_OF_SCOPE: "FREED" } }, // the error value is held until refs drop
    FREED: { type: "final" },
  },
});

export function nextObjectState(s: ObjectState, e: ObjectEvent): ObjectState {
  switch (e.type) {
    case "CREATED":
      if (s === "PENDING") return "READY";
      break;
    case "ERRORED":
      if (s === "PENDING") return "FAILED";
      break;
    case "LOST":
      if (s === "READY") return "LOST";
      break;
    case "RECONSTRUCT":
      if (s === "LOST") return "PENDING";
      break;
    case "UNRECOVERABLE":
      if (s === "LOST") return "FAILED";
      break;
    case "OUT_OF_SCOPE":
      if (s !== "FREED") return "FREED";
      break;
  }
  throw new IllegalTransition("object", s, e.type);
}
