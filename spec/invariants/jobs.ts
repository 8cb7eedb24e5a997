// Invariant (jobs): a worker serves one job. Ray binds each worker process to the job it was
// started for (core/types.ts, JobId), so that a job's task never runs where another job's code
// left its globals or owns objects: every lease granted on a worker names the same job.
import { violationAt, type Checker, type Violation } from "./types.ts";

export const checkJobs: Checker = (events) => {
  const out: Violation[] = [];
  /** worker -> the job of its first lease. */
  const jobOf = new Map<string, string>();
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    if (e.kind !== "lease.granted") continue;
    const first = jobOf.get(e.worker);
    if (first === undefined) jobOf.set(e.worker, e.job);
    else if (first !== e.job) out.push(violationAt("jobs", events, i, `worker ${e.worker} of job ${first} was granted lease ${e.lease} of job ${e.job}`));
  }
  return out;
};
