// Resource sets ("CPU", "GPU", custom names → quantities) and the arithmetic schedulers need.
// Plain records, treated as immutable by everything that receives them.

export type ResourceSet = Readonly<Record<string, number>>;

const EPS = 1e-9;

/** True when `demand` fits in `available` (every demanded quantity is present). */
export function fits(demand: ResourceSet, available: ResourceSet): boolean {
  for (const k in demand) {
    const d = demand[k];
    if (d > 0 && (available[k] ?? 0) + EPS < d) return false;
  }
  return true;
}

export function subtract(from: ResourceSet, demand: ResourceSet): Record<string, number> {
  const out: Record<string, number> = { ...from };
  for (const k in demand) out[k] = (out[k] ?? 0) - demand[k];
  return out;
}

export function add(to: ResourceSet, amount: ResourceSet): Record<string, number> {
  const out: Record<string, number> = { ...to };
  for (const k in amount) out[k] = (out[k] ?? 0) + amount[k];
  return out;
}

/**
 * Utilization of a node as the hybrid policy sees it: the highest used fraction over the
 * resources the node has (a node that is full on any one resource counts as full).
 */
export function utilization(total: ResourceSet, available: ResourceSet): number {
  let u = 0;
  for (const k in total) {
    const t = total[k];
    if (t <= 0) continue;
    const used = 1 - (available[k] ?? 0) / t;
    if (used > u) u = used;
  }
  return u;
}

/** Validates a user-supplied resource request; throws with the offending key named. */
export function checkResources(r: Record<string, unknown>, what: string): ResourceSet {
  for (const k in r) {
    const v = r[k];
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
      throw new TypeError(`${what}: resource "${k}" must be a finite number >= 0, got ${String(v)}`);
    }
  }
  return r as ResourceSet;
}

export function sameResources(a: ResourceSet, b: ResourceSet): boolean {
  for (const k in a) if ((a[k] ?? 0) !== (b[k] ?? 0)) return false;
  for (const k in b) if ((a[k] ?? 0) !== (b[k] ?? 0)) return false;
  return true;
}
