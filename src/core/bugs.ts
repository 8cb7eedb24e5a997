// Deliberately seeded bugs, for mutation testing: the property-based fault tests must catch
// each one. A model checks `bugs.has(name)` at the one place the bug lives; production
// configurations pass an empty set, so these branches never run outside the mutation tests.

export const SEEDED_BUGS = {
  "no-lease-revocation": "owners keep leases on a dead node's workers instead of retrying their tasks",
  "double-decref": "an owner decrements an argument's reference count twice when a task finishes",
  "no-actor-epoch": "the GCS restarts an actor without bumping its epoch",
  "gcs-forgets-actors": "the GCS does not persist actors, so a GCS restart loses them",
  "no-dedup": "a worker runs a duplicated PushTask message twice",
  "no-fencing": "a node that learns it was declared dead keeps its workers running",
  "no-reconstruction": "a lost object fails at once instead of being reconstructed from lineage",
  "retry-forever": "task retries ignore the maxRetries budget",
  "evict-primary": "the object store evicts primary copies like secondary ones",
  "call-after-kill": "a caller that killed an actor for good (ray.kill) still sends it the calls it makes afterwards",
  "free-borrowed": "an owner frees an object while borrowers still hold it",
  "leak-lease": "an owner forgets to return a lease it no longer needs",
  "bundle-overcommit": "a raylet grants leases in a placement-group bundle without checking the bundle has room",
  // Partial bugs, as real ones are: one comparison off by one, two steps swapped, one call missing.
  "retry-budget-off-by-one": "an owner allows a task maxRetries + 1 retries",
  "retry-decrement-before-check": "an owner spends a retry before checking the budget (steps swapped), so a task gets one retry fewer",
  "incarnation-off-by-one": "an owner that hears a node died takes only the node's earlier lives for dead, not the one that died",
  "no-wakeup-on-block": "a raylet gives back a blocked worker's resources without dispatching the queued leases",
  "actor-first-call-dropped": "an actor counts a new caller's calls from 1, so it takes the first call for a duplicate and drops it",
  "wake-first-waiter-only": "an owner tells only the first of the gets waiting for an object that it is ready",
  "free-off-by-one": "an owner frees an object when the program drops its last-but-one handle",
  "free-with-one-borrower": "an owner frees an object while one borrower still holds it (the borrower check is off by one)",
  "names-ignore-namespace": "the GCS looks a named actor up in every namespace instead of only the one asked for",
  "detached-dies-with-owner": "the GCS kills a detached actor when its owner dies, as it does a non-detached one",
  "drain-busy-node": "the autoscaler drains nodes before their idle timeout, and raylets accept a drain while holding a lease, a bundle or a primary copy",
  "cancel-leaks-lease": "an owner that force-cancels a running task forgets to give its lease back (and the worker is never destroyed)",
  "generator-duplicate-items": "an owner records a retried streaming generator's reports of items it already has as new items, so the caller sees them twice",
  "generator-ignores-backpressure": "an executor never pauses a streaming generator, however many of its items the caller has not consumed",
  "capture-skips-actors": "an actor created without a strategy inside a task that captures its children is placed anywhere instead of in the task's placement group",
  "shared-workers": "a raylet grants a lease to an idle worker of any job, so a job's task may run on a worker an earlier job's tasks ran on (its globals, its objects)",
  "capture-one-level": "a child captured into its parent's placement group does not capture its own children, so grandchildren run outside the group",
  // An illegal lifecycle transition, for the chart checker (spec/invariants/lifecycles.ts).
  "restart-killed-actor": "the GCS keeps a killed actor's worker address and sets states by its restart budget alone, so the worker's exit restarts an actor killed for good",
} as const;

export type SeededBug = keyof typeof SEEDED_BUGS;
export type Bugs = ReadonlySet<SeededBug>;
export const NO_BUGS: Bugs = new Set();

/**
 * Bugs named in a comma-separated list (a daemon's $TSRAY_BUGS, for mutation testing of real
 * processes); an unknown name is an error that lists the known ones.
 */
export function parseBugs(list: string | undefined): Bugs {
  if (!list) return NO_BUGS;
  const names = list.split(",").map((x) => x.trim()).filter((x) => x !== "");
  for (const n of names) if (!(n in SEEDED_BUGS)) throw new TypeError(`unknown seeded bug "${n}"; known: ${Object.keys(SEEDED_BUGS).join(", ")}`);
  return new Set(names as SeededBug[]);
}
