// An exploration thread (started by explore-pool.ts): runs each job it is sent with `explore`,
// reports every scenario run (for progress) and the result.

import { parentPort } from "node:worker_threads";
import { explore } from "./explore.ts";
import type { ExploreJob, FromExploreThread } from "./explore-pool.ts";

const port = parentPort;
if (!port) throw new Error("sim/explore-thread.ts runs only as a worker thread (see explore-pool.ts)");
const post = (m: FromExploreThread) => port.postMessage(m);

port.on("message", (job: ExploreJob) => {
  explore({ ...job, onRun: () => post({ kind: "run" }) }).then(
    (result) => post({ kind: "done", result }),
    (e: unknown) => post({ kind: "error", message: e instanceof Error ? e.stack ?? e.message : String(e) }),
  );
});
// The simulator is loaded: the pool may start timing from here.
post({ kind: "ready" });
