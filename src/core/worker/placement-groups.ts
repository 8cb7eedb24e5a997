// The placement groups a core worker created: it asks the GCS to create or remove them, and
// asks again after a GCS restart (a request in flight to the old GCS is lost; both are idempotent).
// And the placement of what it submits: a task or actor that names no strategy, submitted by a
// task or actor that runs in a group with captureChildTasks, runs in that group too (any bundle),
// and captures its own children in turn (Ray's placement_group_capture_child_tasks).

import type { ActorId, ErrorInfo, PlacementGroupId, PlacementGroupSpec, SchedulingStrategy, TaskId } from "../types.ts";
import type { Ctx } from "./context.ts";
import { RecentDeaths } from "../recent-deaths.ts";
import type { PlacementGroupRequest } from "./inputs.ts";
import { groupRemoved } from "./lease-client.ts";

type GroupStrategy = Extract<SchedulingStrategy, { readonly placementGroup: PlacementGroupId }>;

export interface PlacementGroupClient {
  readonly createdGroups: Map<PlacementGroupId, PlacementGroupSpec>;
  /**
   * Groups removed lately: their removal is sent again to a restarted GCS, which may have lost it
   * in flight. Only the latest (a request in flight is a recent one), as the GCS keeps only its
   * latest removed groups (ModelTuning.removedGroupsKept).
   */
  readonly removedGroups: RecentDeaths<PlacementGroupId>;
  /**
   * The strategy last handed to captured children, and the parent's it came from: the children
   * of one task share one strategy object, so they share one scheduling class without a new key.
   */
  captured: { readonly from: GroupStrategy; readonly to: GroupStrategy } | undefined;
}

export function newPlacementGroupClient(removedGroupsKept?: number): PlacementGroupClient {
  return { createdGroups: new Map(), removedGroups: new RecentDeaths(removedGroupsKept), captured: undefined };
}

/** What a task gets whose placement group was removed before it could run, or while it ran (Ray's TaskPlacementGroupRemoved). */
export function groupRemovedError(name: string, pgId: PlacementGroupId): ErrorInfo {
  return { type: "TaskPlacementGroupRemoved", message: `task ${name} cannot run: its placement group ${pgId} was removed` };
}

export function inGroup(s: SchedulingStrategy): s is GroupStrategy {
  return typeof s === "object" && "placementGroup" in s;
}

/** What runs here that a child would inherit from: the actor hosted here, or the normal task running. */
function placementContext(w: Ctx): { readonly id: string; readonly strategy: SchedulingStrategy } | undefined {
  if (w.actor !== undefined) return { id: w.actor.actorId, strategy: w.actor.strategy };
  const cur = w.current?.spec;
  return cur?.kind === "normal" ? { id: cur.taskId, strategy: cur.strategy } : undefined;
}

/**
 * The strategy a task or actor submitted here runs with: the one the program named, or (none
 * named) its parent's group when the parent captures its children, else DEFAULT. What the
 * program asked is traced (`placement.asked`) where a group is involved, for the checker to
 * judge where it ran.
 */
export function placementOf(w: Ctx, who: { readonly task: TaskId } | { readonly actor: ActorId }, asked: SchedulingStrategy | undefined): SchedulingStrategy {
  if (asked !== undefined) {
    if (inGroup(asked)) w.fx.trace({ kind: "placement.asked", comp: "owner", ...who, pg: asked.placementGroup, ...(asked.captureChildTasks ? { capture: true as const } : {}) });
    return asked;
  }
  const here = placementContext(w);
  if (here === undefined || !inGroup(here.strategy)) return "DEFAULT";
  w.fx.trace({ kind: "placement.asked", comp: "owner", ...who, parent: here.id });
  if (!here.strategy.captureChildTasks || ("actor" in who && w.cfg.bugs.has("capture-skips-actors"))) return "DEFAULT";
  const from = here.strategy;
  if (w.captured?.from !== from) {
    w.captured = { from, to: { placementGroup: from.placementGroup, bundleIndex: -1, captureChildTasks: !w.cfg.bugs.has("capture-one-level") } };
  }
  return w.captured.to;
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
  groupRemoved(w, pgId);
}

export function resendPlacementGroups(w: Ctx): void {
  for (const spec of w.createdGroups.values()) w.fx.send(w.cfg.gcs, { type: "CreatePlacementGroup", spec });
  for (const pgId of w.removedGroups.list()) w.fx.send(w.cfg.gcs, { type: "RemovePlacementGroup", pgId });
}
