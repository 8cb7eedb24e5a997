// Quiet points on a real cluster: the chaos experiment's stand-in for the simulator's. The
// leases and references checkers judge what is still held at a `cluster.quiet` after
// `program.end` (spec/invariants/leases.ts, references.ts); real processes have no event queue
// to watch run dry, so a quiet point is read from what `tsray status` shows (the GCS's node,
// actor and driver tables) and from the driver's own model. What the checkers then find held is
// theirs to judge: a wait that does not settle is reported, never turned into a quiet point.

import type { NodeView, PendingDemand } from "../src/core/types.ts";
import type { DaemonDriver } from "../src/runtime/daemon/driver.ts";
import { getStatus } from "../src/runtime/daemon/transport.ts";

/** What `tsray status` shows of a cluster (the GCS's status reply). */
export interface ClusterStatus {
  readonly nodes: readonly NodeView[];
  /** Actors by state. */
  readonly actors: Readonly<Record<string, number>>;
  readonly pendingDemands: readonly PendingDemand[];
  /** The drivers the GCS counts as connected (gone ones it has not declared dead yet included). */
  readonly drivers: readonly string[];
}

/** How long each wait for a quiet point may take (a driver's burial is 5 s of grace, then one round to the raylets). */
export const QUIET_BOUND_MS = 30_000;
const POLL_MS = 250;

export async function clusterStatus(address: string, token: string): Promise<ClusterStatus> {
  return (await getStatus(address, token, 2_000)) as ClusterStatus;
}

/** CPUs in use on each live node. */
export function cpusInUse(s: ClusterStatus): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of s.nodes) if (n.alive) out[n.node] = (n.total.CPU ?? 0) - (n.available.CPU ?? 0);
  return out;
}

/** Actors in a state on the way to ALIVE or DEAD (being created, restarting). */
function actorsInTransit(s: ClusterStatus): string[] {
  return Object.entries(s.actors).filter(([state, n]) => n > 0 && state !== "ALIVE" && state !== "DEAD").map(([state, n]) => `${n} ${state}`);
}

/** What a wait found: the last status read, and why it did not settle within its bound (absent: it settled). */
export interface Settled {
  readonly status?: ClusterStatus;
  readonly unsettled?: string;
}

/** Polls the status until `why(status)` says nothing (settled) or the bound passes. */
async function settle(address: string, token: string, why: (s: ClusterStatus, previous: ClusterStatus | undefined) => string | undefined, boundMs: number): Promise<Settled> {
  const deadline = performance.now() + boundMs;
  let previous: ClusterStatus | undefined;
  let reason = "the GCS did not answer";
  for (;;) {
    try {
      const s = await clusterStatus(address, token);
      const r = why(s, previous);
      if (r === undefined) return { status: s };
      reason = r;
      previous = s;
    } catch (e) {
      reason = `the GCS did not answer: ${(e as Error).message}`;
    }
    if (performance.now() >= deadline) return { status: previous, unsettled: reason };
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/**
 * The first quiet point: the program ended (its driver dropped every reference) and its own work
 * settled — the driver holds no lease and waits on no task, every killed driver was declared dead
 * (`gone`), no actor is on its way and no demand waits, and the CPUs in use stayed as they were
 * over one poll. The driver stays connected (its actors alive), as the simulator's first quiet
 * point comes before its job ends.
 */
export function programSettled(address: string, token: string, driver: DaemonDriver, gone: readonly string[], boundMs = QUIET_BOUND_MS): Promise<Settled> {
  return settle(address, token, (s, previous) => {
    const alive = gone.filter((d) => s.drivers.includes(d));
    if (alive.length > 0) return `the GCS has not declared the killed driver(s) ${alive.join(", ")} dead`;
    // A burial reaches the raylets one message later (frees, returned leases): judge from the poll after.
    if (gone.some((d) => previous === undefined || previous.drivers.includes(d))) return "the killed drivers' burial is on its way to the raylets";
    if (!driver.idle) return "the driver still holds leases or waits on tasks";
    const transit = actorsInTransit(s);
    if (transit.length > 0) return `actors on their way: ${transit.join(", ")}`;
    if (s.pendingDemands.length > 0) return `${s.pendingDemands.length} resource demand(s) wait`;
    const now = JSON.stringify(cpusInUse(s));
    if (previous === undefined || JSON.stringify(cpusInUse(previous)) !== now) return `CPUs in use still changing (${now})`;
    return undefined;
  }, boundMs);
}

/**
 * The second quiet point: the job is over — every driver gone and declared dead, so every actor
 * dead but at most `detached` detached ones (they outlive their job, as in Ray), and every CPU
 * their leases do not hold free again, as `tsray status` shows it.
 */
export function jobOver(address: string, token: string, detached: number, boundMs = QUIET_BOUND_MS): Promise<Settled> {
  return settle(address, token, (s, previous) => {
    if (s.drivers.length > 0) return `the GCS still counts driver(s) ${s.drivers.join(", ")}`;
    if (previous === undefined || previous.drivers.length > 0) return "the drivers' burial is on its way to the raylets";
    const live = Object.entries(s.actors).filter(([state, n]) => n > 0 && state !== "DEAD" && !(state === "ALIVE" && n <= detached));
    if (live.length > 0) return `actors not dead: ${live.map(([state, n]) => `${n} ${state}`).join(", ")}${detached > 0 ? ` (at most ${detached} detached may live on)` : ""}`;
    const busy = Object.entries(cpusInUse(s)).filter(([, n]) => n > 0);
    if (busy.length > 0) return `CPUs still in use: ${busy.map(([node, n]) => `${n} on ${node}`).join(", ")}`;
    return undefined;
  }, boundMs);
}
