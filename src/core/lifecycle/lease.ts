// Lease request as the raylet that receives it sees it (Ray's cluster lease manager): queued
// until its arguments are local and resources free, then granted (or spilled to another node,
// or rejected); a granted lease ends when its holder returns it or the worker dies. While its
// worker is blocked in a get, the lease lends its resources back to the node (BLOCKED) and takes
// them again when the worker unblocks.
// A specification only: the raylet keeps its queue and lease table in its own structures, and
// spec/invariants/lifecycles.ts replays the traced part (grant, return, block, unblock) through this chart.
import { setup } from "xstate";

export type LeaseEvent =
  | { type: "GRANTED" }
  | { type: "SPILLED_BACK" } // another node has room: the requester asks there
  | { type: "REJECTED" } // infeasible here, or its placement-group bundle was removed
  | { type: "BLOCKED" } // its worker waits in a get: the resources are lent to the node
  | { type: "UNBLOCKED" }
  | { type: "RETURNED" }; // by its holder, or because the worker or the holder died

export const leaseChart = setup({
  types: { events: {} as LeaseEvent },
}).createMachine({
  id: "lease",
  initial: "QUEUED",
  states: {
    QUEUED: { on: { GRANTED: "GRANTED", SPILLED_BACK: "SPILLED", REJECTED: "REJECTED" } },
    GRANTED: { on: { BLOCKED: "BLOCKED", RETURNED: "RETURNED" } },
    BLOCKED: { on: { UNBLOCKED: "GRANTED", RETURNED: "RETURNED" } },
    SPILLED: { type: "final" },
    REJECTED: { type: "final" },
    RETURNED: { type: "final" },
  },
});
