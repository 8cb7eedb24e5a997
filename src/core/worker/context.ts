// The core worker's state, gathered from its parts, and what every part is handed: its
// address, configuration and effects. Each part (reference table, task manager, lease client,
// actor submitter, object requests, object recovery, task receiver, actor scheduling) declares the records it holds
// in its own module; the core worker is the sum of them. Everything here is plain data: pending
// work is a record saying what to do when the answer comes, never a stored closure.

import type { Bugs } from "../bugs.ts";
import type { WorkerEffects } from "../effects.ts";
import type { ModelTuning } from "../tuning.ts";
import type { Addr, NodeId } from "../types.ts";
import type { ActorSubmitter } from "./actor-submitter.ts";
import type { ActorScheduling } from "./actor-scheduling.ts";
import type { ObjectRequests } from "./object-requests.ts";
import type { ObjectRecovery } from "./object-recovery.ts";
import type { LeaseClient } from "./lease-client.ts";
import type { ReferenceTable } from "./reference-table.ts";
import type { TaskManager } from "./task-manager.ts";
import type { TaskReceiver } from "./task-receiver.ts";
import type { PlacementGroupClient } from "./placement-groups.ts";
import type { Generators } from "./generators.ts";
import type { GeneratorLineages } from "./generator-lineage.ts";
import type { Cancellations } from "./cancellation.ts";
import type { JobOfWorker } from "./job.ts";

/** The tuning a core worker reads (tuning.ts says what each means; the sizes absent: RecentDeaths' default). */
export type CoreWorkerTuning = Pick<ModelTuning, "maxInlineBytes" | "maxPendingLeases" | "maxTasksInFlightPerWorker" | "pipelineMaxTaskMs">
  & Partial<Pick<ModelTuning, "deadWorkersKept" | "removedGroupsKept" | "deadNodesKept" | "deadActorRecordsKept">>;

export interface CoreWorkerConfig extends CoreWorkerTuning {
  readonly node: NodeId;
  readonly gcs: Addr;
  readonly bugs: Bugs;
}

/** The state of a core worker, part by part. */
export type CoreWorkerState = ReferenceTable & TaskManager & LeaseClient & ActorSubmitter & ObjectRequests & ObjectRecovery & TaskReceiver & ActorScheduling
  & PlacementGroupClient & Generators & GeneratorLineages & Cancellations & JobOfWorker;

/** What each part's functions work on: the whole state, and the worker's identity and effects. */
export interface Ctx extends CoreWorkerState {
  readonly addr: Addr;
  /** This node's raylet. */
  readonly raylet: Addr;
  readonly cfg: CoreWorkerConfig;
  readonly fx: WorkerEffects;
}
