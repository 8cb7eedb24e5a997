// Object pull as the raylet that needs a copy sees it (Ray's pull manager): ask the owner where
// copies are, fetch the chunks from one holder, and retry with backoff when the holder has none
// or the owner knows no copy yet. A specification only: the raylet's object manager
// (src/core/raylet/object-manager.ts) keeps a pull as a record, and spec/invariants/lifecycles.ts
// replays the traced part (a transfer completing) through this chart.
import { setup } from "xstate";

export type PullEvent =
  | { type: "LOCATED" } // the owner named a node holding a copy
  | { type: "NOT_FOUND" } // no copy known yet, or the holder answered PullFailed: back off, ask again
  | { type: "RETRY" }
  | { type: "RECEIVED" } // the last chunk arrived: the copy is local
  | { type: "FAILED" }; // the owner reports the object failed or is gone: waiters get the error

export const pullChart = setup({
  types: { events: {} as PullEvent },
}).createMachine({
  id: "pull",
  initial: "LOCATING",
  states: {
    LOCATING: { on: { LOCATED: "FETCHING", NOT_FOUND: "BACKOFF", FAILED: "FAILED" } },
    FETCHING: { on: { RECEIVED: "LOCAL", NOT_FOUND: "BACKOFF", FAILED: "FAILED" } },
    BACKOFF: { on: { RETRY: "LOCATING", FAILED: "FAILED" } },
    LOCAL: { type: "final" },
    FAILED: { type: "final" },
  },
});
