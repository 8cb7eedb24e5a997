// Placement groups, two charts. The group as the GCS keeps it (Ray's gcs_placement_group_manager):
// pending until every bundle is reserved, created, rescheduled when a node holding a bundle
// dies, removed for good. And one bundle's reservation on a raylet, the two phases of Ray's
// placement-group commit: prepared (resources set aside), committed (leases may run in it),
// released (the group was removed, its node-set changed, or the attempt was abandoned).
// Specifications only: src/core/gcs/placement-groups.ts and the raylet keep these states in their
// own records, and spec/invariants/lifecycles.ts replays the traced transitions through the charts.
import { setup } from "xstate";

export type PlacementGroupEvent =
  | { type: "RESERVED" } // every bundle prepared and committed
  | { type: "NODE_LOST" } // a node holding one of its bundles died
  | { type: "REMOVED" };

export const placementGroupChart = setup({
  types: { events: {} as PlacementGroupEvent },
}).createMachine({
  id: "placementGroup",
  initial: "PENDING",
  states: {
    PENDING: { on: { RESERVED: "CREATED", REMOVED: "REMOVED" } },
    CREATED: { on: { NODE_LOST: "RESCHEDULING", REMOVED: "REMOVED" } },
    RESCHEDULING: { on: { RESERVED: "CREATED", REMOVED: "REMOVED" } },
    REMOVED: { type: "final" },
  },
});

export type BundleEvent =
  | { type: "PREPARED" }
  | { type: "COMMITTED" }
  | { type: "RELEASED" };

export const bundleChart = setup({
  types: { events: {} as BundleEvent },
}).createMachine({
  id: "bundle",
  initial: "FREE",
  states: {
    FREE: { on: { PREPARED: "PREPARED" } },
    PREPARED: { on: { COMMITTED: "COMMITTED", RELEASED: "RELEASED" } },
    COMMITTED: { on: { RELEASED: "RELEASED" } },
    RELEASED: { type: "final" },
  },
});
