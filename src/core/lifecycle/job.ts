// A submitted job as the head's job manager keeps it (Ray's job submission, JobStatus): stored
// PENDING, RUNNING once its driver process has started, then SUCCEEDED (exit 0), FAILED (the
// entrypoint failed, could not start, or its supervisor was lost) or STOPPED (on request). A
// stop before the driver started ends a PENDING job at once.
// The job manager (src/runtime/head/jobs.ts) changes a job's status only along this chart's
// edges, and traces each change (`job.state`), which spec/invariants/lifecycles.ts replays.
import { setup } from "xstate";

export type JobEvent =
  | { type: "STARTED" } // the driver process is running
  | { type: "SUCCEEDED" }
  | { type: "FAILED" }
  | { type: "STOPPED" };

export const jobChart = setup({
  types: { events: {} as JobEvent },
}).createMachine({
  id: "job",
  initial: "PENDING",
  states: {
    PENDING: { on: { STARTED: "RUNNING", FAILED: "FAILED", STOPPED: "STOPPED" } },
    RUNNING: { on: { SUCCEEDED: "SUCCEEDED", FAILED: "FAILED", STOPPED: "STOPPED" } },
    SUCCEEDED: { type: "final" },
    FAILED: { type: "final" },
    STOPPED: { type: "final" },
  },
});
