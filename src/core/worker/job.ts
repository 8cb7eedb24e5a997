// The job of the work a core worker submits (types.ts, JobId). A worker's is the job of the
// leases it serves, which it learns from each task pushed on one (a normal task or an actor's
// creation: a raylet leases a worker to one job only, so they all name the same); actor calls
// run on their actor's lease, whoever calls. A core worker pushed no such task is a driver (a
// worker submits only from the code it runs), and its own job. A detached actor's creation
// starts a job of its own.

import type { ActorId, JobId, TaskSpec } from "../types.ts";
import type { Ctx } from "./context.ts";

export interface JobOfWorker {
  /** The job of the leased tasks pushed here (undefined: none yet, a driver). */
  job: JobId | undefined;
}

export function newJobOfWorker(): JobOfWorker {
  return { job: undefined };
}

/** A task pushed here on a lease: its job is this worker's. */
export function servesJobOf(w: Ctx, spec: TaskSpec): void {
  if (spec.kind !== "actor-task") w.job = spec.job;
}

/** The job of a task or actor submitted here. */
export function submitterJob(w: Ctx): JobId {
  return w.job ?? w.addr;
}

/** The job an actor created here serves: the creator's, or for a detached actor its own (Ray's root detached actor). */
export function actorJob(w: Ctx, actorId: ActorId, detached: boolean): JobId {
  return detached ? actorId : submitterJob(w);
}
