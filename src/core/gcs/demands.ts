// Pending resource demands, as Ray's GCS gathers them for `ray status` and the autoscaler:
// the raylets report their infeasible queues in heartbeats, the GCS adds the actors it cannot
// place, and this merges them by resource shape.

import type { ResourceSet } from "../resources.ts";
import type { PendingDemand } from "../types.ts";

/** A resource shape as a stable key (keys sorted, zero amounts dropped). */
export function shapeKey(r: ResourceSet): string {
  return JSON.stringify(Object.keys(r).filter((k) => r[k] !== 0).sort().map((k) => [k, r[k]]));
}

/** Merges demand reports by shape: counts add up, the oldest wait wins. Ordered oldest first, then by shape. */
export function mergeDemands(reports: Iterable<readonly PendingDemand[]>): PendingDemand[] {
  const by = new Map<string, { resources: ResourceSet; count: number; ageMs: number }>();
  for (const report of reports) {
    for (const d of report) {
      const key = shapeKey(d.resources);
      const row = by.get(key);
      if (row) { row.count += d.count; row.ageMs = Math.max(row.ageMs, d.ageMs); } else by.set(key, { ...d });
    }
  }
  return [...by.entries()].sort(([ka, a], [kb, b]) => b.ageMs - a.ageMs || (ka < kb ? -1 : ka > kb ? 1 : 0)).map(([, r]) => r);
}
