// A raylet's placement-group bundles: phase one of the GCS's two-phase reservation sets a
// bundle's resources aside from the node's, phase two commits it, and the leases granted in it
// draw on its own free resources until the group is removed or the node's life ends.

import { InvariantError } from "../assert.ts";
import type { LeaseRequest } from "../messages.ts";
import type { Raylet } from "../raylet.ts";
import { add, fits, subtract, type ResourceSet } from "../resources.ts";
import { releaseDeps } from "./object-manager.ts";
import { bundleKey, type Addr, type PlacementGroupId, type SchedulingStrategy } from "../types.ts";

/** A placement-group bundle reserved on this node: its resources are taken from the node's. */
export interface Bundle {
  readonly pg: PlacementGroupId;
  readonly attempt: number;
  readonly resources: ResourceSet;
  available: ResourceSet;
  /** Phase two done: leases may run in it. */
  committed: boolean;
}

/** Phase one: reserve every bundle asked of this node, or none. */
export function prepareBundles(rl: Raylet, from: Addr, pgId: PlacementGroupId, attempt: number, bundles: readonly { index: number; resources: ResourceSet }[]): void {
  const fresh = bundles.filter((b) => !rl.bundles.has(bundleKey(pgId, b.index)));
  const sum = fresh.reduce<ResourceSet>((acc, b) => add(acc, b.resources), {});
  const ok = rl.accepting && fresh.length === bundles.length && fits(sum, rl.availableResources);
  if (ok) {
    rl.setAvailable(subtract(rl.availableResources, sum));
    for (const b of bundles) {
      const key = bundleKey(pgId, b.index);
      rl.bundles.set(key, { pg: pgId, attempt, resources: b.resources, available: b.resources, committed: false });
      rl.fx.trace({ kind: "bundle.reserved", comp: "raylet", bundle: key, resources: b.resources });
    }
  }
  rl.fx.send(from, { type: "BundlesPrepared", pgId, attempt, node: rl.cfg.node, ok });
}

/** Gives a group's bundles back to the node; the workers leased in them are killed (Ray does the same on removal). */
export function releaseBundles(rl: Raylet, pgId: PlacementGroupId, attempt: number | undefined): void {
  for (const [key, b] of [...rl.bundles]) if (b.pg === pgId && (attempt === undefined || b.attempt === attempt)) release(rl, key, b);
  rl.dispatch();
}

/** A recovered GCS named the bundles it knows here: those an earlier GCS reserved and it does not know go back. */
export function releaseOrphanedBundles(rl: Raylet, keep: readonly string[], before: number): void {
  let released = false;
  for (const [key, b] of [...rl.bundles]) {
    if (b.attempt >= before || keep.includes(key)) continue;
    release(rl, key, b);
    released = true;
  }
  if (released) rl.dispatch();
}

/** One bundle back to the node: the workers leased in it are killed, and requests granted in it asked again. */
function release(rl: Raylet, key: string, b: Bundle): void {
  for (const [leaseId, l] of [...rl.leases]) {
    if (l.bundle !== key) continue;
    // The holder hears the worker died, as when any worker dies.
    rl.returnLease(leaseId, true);
    rl.fx.send(l.holder, { type: "WorkerDied", worker: l.worker });
  }
  // Granted in it but still waiting for a worker: nothing to run in any more; the requester asks again.
  for (let i = rl.awaitingWorker.length - 1; i >= 0; i--) {
    const a = rl.awaitingWorker[i];
    if (a.bundle !== key) continue;
    rl.awaitingWorker.splice(i, 1);
    releaseDeps(rl, a.q);
    rl.fx.send(a.q.from, { type: "LeaseRejected", reqId: a.q.reqId, reason: `placement group ${b.pg} was removed`, infeasible: false });
  }
  rl.bundles.delete(key);
  rl.setAvailable(add(rl.availableResources, b.resources));
  rl.fx.trace({ kind: "bundle.released", comp: "raylet", bundle: key, resources: b.resources });
}

/** The committed bundle a request runs in here: the one it names, or (index -1) the first of its group with room. */
export function bundleFor(rl: Raylet, strategy: SchedulingStrategy, resources: ResourceSet, roomNow: boolean): string | undefined {
  if (typeof strategy !== "object" || !("placementGroup" in strategy)) return undefined;
  const ok = (key: string) => {
    const b = rl.bundles.get(key);
    const room = roomNow && !rl.cfg.bugs.has("bundle-overcommit") ? b?.available : b?.resources;
    return b !== undefined && b.committed && fits(resources, room!);
  };
  if (strategy.bundleIndex >= 0) { const k = bundleKey(strategy.placementGroup, strategy.bundleIndex); return ok(k) ? k : undefined; }
  for (const [k, b] of rl.bundles) if (b.pg === strategy.placementGroup && ok(k)) return k;
  return undefined;
}

/** Whether a request asks to run in a placement group. */
export function inGroup(req: LeaseRequest): boolean {
  return typeof req.strategy === "object" && "placementGroup" in req.strategy;
}

/** The free resources a lease draws on: its bundle's, or the node's. */
export function freeFor(rl: Raylet, bundle: string | undefined): ResourceSet {
  return bundle === undefined ? rl.availableResources : rl.bundles.get(bundle)!.available;
}

/** Resources a lease held go back where they came from (nowhere, if its bundle was released meanwhile). */
export function giveBack(rl: Raylet, bundle: string | undefined, r: ResourceSet): void {
  if (bundle !== undefined && !rl.bundles.has(bundle)) return;
  setFree(rl, bundle, add(freeFor(rl, bundle), r));
}

export function setFree(rl: Raylet, bundle: string | undefined, next: ResourceSet): void {
  if (bundle === undefined) return rl.setAvailable(next);
  const b = rl.bundles.get(bundle)!;
  // No bundle is ever over-committed: its leases never hold more than it reserved.
  for (const k in next) {
    if (next[k] < -1e-9 || next[k] > (b.resources[k] ?? 0) + 1e-9) throw new InvariantError(`raylet ${rl.cfg.node}: bundle ${bundle} ${k} available would be ${next[k]} of ${b.resources[k] ?? 0}`);
  }
  b.available = next;
}
