// The placement groups a core worker created: it asks the GCS to create or remove them, and
// asks again after a GCS restart (a request in flight to the old GCS is lost; both are idempotent).

import type { PlacementGroupId, PlacementGroupSpec } from "../types.ts";
import type { Ctx } from "./context.ts";
import type { PlacementGroupRequest } from "./inputs.ts";

export interface PlacementGroupClient {
  readonly createdGroups: Map<PlacementGroupId, PlacementGroupSpec>;
  readonly removedGroups: Set<PlacementGroupId>;
}

export function newPlacementGroupClient(): PlacementGroupClient {
  return { createdGroups: new Map(), removedGroups: new Set() };
}

export function createPlacementGroup(w: Ctx, req: PlacementGroupRequest): void {
  const spec: PlacementGroupSpec = { ...req, creator: w.addr };
  w.createdGroups.set(spec.pgId, spec);
  w.fx.send(w.cfg.gcs, { type: "CreatePlacementGroup", spec });
}

export function removePlacementGroup(w: Ctx, pgId: PlacementGroupId): void {
  w.createdGroups.delete(pgId);
  w.removedGroups.add(pgId);
  w.fx.send(w.cfg.gcs, { type: "RemovePlacementGroup", pgId });
}

export function resendPlacementGroups(w: Ctx): void {
  for (const spec of w.createdGroups.values()) w.fx.send(w.cfg.gcs, { type: "CreatePlacementGroup", spec });
  for (const pgId of w.removedGroups) w.fx.send(w.cfg.gcs, { type: "RemovePlacementGroup", pgId });
}
