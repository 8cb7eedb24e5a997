// Bin-packing resource demands onto node shapes, as Ray's autoscaler sizes a scale-up: demands
// first fill the room existing and launching nodes have, and what is left is packed onto new
// nodes, choosing for each new node the worker group that takes the most of what is left.

import { fits, subtract, type ResourceSet } from "../resources.ts";

/** A node shape a scale-up may add, with how many more of it the group allows. */
export interface NodeShape {
  readonly group: string;
  readonly resources: ResourceSet;
  readonly room: number;
}

/** Packs `demands` into `bins` first fit (largest demands first); returns what did not fit. */
export function packInto(bins: ResourceSet[], demands: readonly ResourceSet[]): ResourceSet[] {
  const left: ResourceSet[] = [];
  for (const d of sortLargestFirst(demands)) {
    const i = bins.findIndex((b) => fits(d, b));
    if (i < 0) left.push(d);
    else bins[i] = subtract(bins[i], d);
  }
  return left;
}

/**
 * The new nodes that meet `demands` (one group name per node), within each shape's room, and
 * the demands no allowed node can meet. Each new node is of the shape that leaves the fewest
 * kinds of resource wholly unused (as Ray keeps GPU nodes for GPU work), then packs the most
 * remaining demands, then uses the largest share of its resources, then comes first.
 */
export function planLaunches(demands: readonly ResourceSet[], shapes: readonly NodeShape[]): { launches: string[]; unmet: ResourceSet[] } {
  const room = new Map(shapes.map((s) => [s.group, s.room]));
  let left = sortLargestFirst(demands);
  const launches: string[] = [];
  const unmet: ResourceSet[] = [];
  while (left.length > 0) {
    let best: { shape: NodeShape; idleKinds: number; packed: number; used: number; rest: ResourceSet[] } | undefined;
    for (const shape of shapes) {
      if ((room.get(shape.group) ?? 0) <= 0 || !fits(left[0], shape.resources)) continue;
      const bin = [shape.resources];
      const rest = packInto(bin, left);
      const packed = left.length - rest.length;
      const used = utilization(shape.resources, bin[0]);
      const idleKinds = Object.keys(shape.resources).filter((k) => shape.resources[k] > 0 && bin[0][k] === shape.resources[k]).length;
      const better = !best || idleKinds < best.idleKinds || (idleKinds === best.idleKinds && (packed > best.packed || (packed === best.packed && used > best.used)));
      if (better) best = { shape, idleKinds, packed, used, rest };
    }
    if (!best) {
      // No allowed node fits the largest demand left: it stays unmet.
      unmet.push(left[0]);
      left = left.slice(1);
      continue;
    }
    launches.push(best.shape.group);
    room.set(best.shape.group, room.get(best.shape.group)! - 1);
    left = best.rest;
  }
  return { launches, unmet };
}

/** The mean share of each resource of `total` that is used when `left` remains. */
function utilization(total: ResourceSet, left: ResourceSet): number {
  const keys = Object.keys(total).filter((k) => total[k] > 0);
  if (keys.length === 0) return 0;
  return keys.reduce((s, k) => s + (total[k] - (left[k] ?? 0)) / total[k], 0) / keys.length;
}

function size(r: ResourceSet): number {
  let s = 0;
  for (const k in r) s += r[k];
  return s;
}

/** Largest first; equals keep their order (Array.prototype.sort is stable), so the plan depends on the inputs only. */
function sortLargestFirst(demands: readonly ResourceSet[]): ResourceSet[] {
  return [...demands].sort((a, b) => size(b) - size(a));
}
