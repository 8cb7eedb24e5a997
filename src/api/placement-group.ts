// Placement groups in the API, as Ray's: `ray.placementGroup({ bundles, strategy })` asks the
// GCS to reserve the bundles atomically; `ready()` is a ref that resolves once they are
// reserved (a no-resource task scheduled into the group, as Ray's own ready() is); tasks and
// actors run in a bundle through the options `placementGroup` and `bundleIndex`, and with
// `captureChildTasks` their children that name no strategy run in the group too.

import { checkResources, type ResourceSet } from "../core/resources.ts";
import { PLACEMENT_STRATEGIES, type PlacementGroupId, type PlacementStrategy, type SchedulingStrategy } from "../core/types.ts";
import type { ObjectRef, RemoteOptions } from "./handles.ts";

export interface PlacementGroupOptions {
  bundles: Record<string, number>[];
  strategy?: PlacementStrategy;
  name?: string;
  lifetime?: "detached" | null;
}

export class PlacementGroup {
  constructor(
    readonly id: PlacementGroupId,
    readonly bundleSpecs: readonly ResourceSet[],
    readonly strategy: PlacementStrategy,
    private readonly readyRef: () => ObjectRef<boolean>,
  ) {}

  get bundleCount(): number { return this.bundleSpecs.length; }

  /** A ref that resolves (to true) once every bundle is reserved. */
  ready(): ObjectRef<boolean> { return this.readyRef(); }
}

/** The options `ray.placementGroup` takes. */
export const PLACEMENT_GROUP_OPTIONS: readonly string[] = ["bundles", "strategy", "name", "lifetime"];

/** Validates `ray.placementGroup`'s options, naming what is wrong. */
export function validPlacementGroup(o: PlacementGroupOptions): { bundles: ResourceSet[]; strategy: PlacementStrategy; name?: string; lifetime?: "detached" } {
  if (typeof o !== "object" || o === null) throw new TypeError("ray.placementGroup: expects { bundles, strategy?, name?, lifetime? }");
  for (const k of Object.keys(o)) if (!PLACEMENT_GROUP_OPTIONS.includes(k)) throw new TypeError(`ray.placementGroup: unknown option "${k}"`);
  if (!Array.isArray(o.bundles) || o.bundles.length === 0) throw new TypeError("ray.placementGroup: bundles must be a non-empty array of resource maps");
  const bundles = o.bundles.map((b, i) => {
    const r = checkResources({ ...b }, `ray.placementGroup bundle ${i}`);
    if (Object.values(r).every((v) => v === 0)) throw new TypeError(`ray.placementGroup: bundle ${i} reserves nothing (${JSON.stringify(b)})`);
    return r;
  });
  const strategy = o.strategy ?? "PACK";
  if (!PLACEMENT_STRATEGIES.includes(strategy)) throw new TypeError(`ray.placementGroup: strategy must be one of ${PLACEMENT_STRATEGIES.join(", ")}, got ${JSON.stringify(strategy)}`);
  if (o.name !== undefined && typeof o.name !== "string") throw new TypeError("ray.placementGroup: name must be a string");
  if (o.lifetime !== undefined && o.lifetime !== null && o.lifetime !== "detached") throw new TypeError(`ray.placementGroup: lifetime must be "detached" or null, got ${JSON.stringify(o.lifetime)}`);
  return { bundles, strategy, ...(o.name !== undefined ? { name: o.name } : {}), ...(o.lifetime === "detached" ? { lifetime: "detached" as const } : {}) };
}

/**
 * The scheduling strategy of a task's or actor's options: `placementGroup` (with `bundleIndex`
 * and `captureChildTasks`) or `schedulingStrategy`; undefined when neither is given (Ray's None:
 * the child of a task that captures its children then runs in that task's group).
 * `placementGroup: null` opts out of that, as Ray's `PlacementGroupSchedulingStrategy(None)`.
 */
export function strategyOf(o: RemoteOptions, name: string): SchedulingStrategy | undefined {
  if (o.placementGroup === undefined || o.placementGroup === null) {
    for (const k of ["bundleIndex", "captureChildTasks"] as const) if (o[k] !== undefined) throw new TypeError(`${name}: ${k} needs placementGroup`);
    if (o.placementGroup === null) {
      if (o.schedulingStrategy !== undefined) throw new TypeError(`${name}: give placementGroup or schedulingStrategy, not both`);
      return "DEFAULT";
    }
    return o.schedulingStrategy;
  }
  const pg = o.placementGroup;
  if (!(pg instanceof PlacementGroup)) throw new TypeError(`${name}: placementGroup must be a PlacementGroup from ray.placementGroup() (or null: not in any group)`);
  if (o.schedulingStrategy !== undefined) throw new TypeError(`${name}: give placementGroup or schedulingStrategy, not both`);
  const index = o.bundleIndex ?? -1;
  if (!Number.isInteger(index) || index < -1 || index >= pg.bundleCount) throw new TypeError(`${name}: bundleIndex must be -1 (any) or 0..${pg.bundleCount - 1}, got ${index}`);
  const capture = o.captureChildTasks ?? false;
  if (typeof capture !== "boolean") throw new TypeError(`${name}: captureChildTasks must be true or false, got ${JSON.stringify(capture)}`);
  return { placementGroup: pg.id, bundleIndex: index, captureChildTasks: capture };
}
