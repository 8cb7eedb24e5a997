// The models' timing and sizes, which every host passes through to them: one definition, so
// the simulator and the real hosts cannot drift apart on what a knob means.

import { RECENT_DEATHS_KEPT } from "./recent-deaths.ts";

export interface ModelTuning {
  /** How often a raylet heartbeats to the GCS. */
  readonly heartbeatMs: number;
  /** How often the GCS pushes the resource view and checks node health. */
  readonly viewPeriodMs: number;
  /** View periods without a heartbeat before the GCS declares a node dead. */
  readonly heartbeatMissLimit: number;
  /** After a GCS restart, view periods to wait for nodes to reconnect before health checks count. */
  readonly recoveryGracePeriods: number;
  /** Bytes per object-transfer chunk. */
  readonly chunkBytes: number;
  /** Task results up to this size return inline to their owner. */
  readonly maxInlineBytes: number;
  /** Lease requests in flight per scheduling class. */
  readonly maxPendingLeases: number;
  /** How long a put may wait for store space before ObjectStoreFullError. */
  readonly storeFullTimeoutMs: number;
  /**
   * Tasks an owner keeps in flight to one leased worker (Ray's max_tasks_in_flight_per_worker):
   * beyond the first they queue at the worker, so a stream of short tasks is batched rather
   * than paying a round trip each. Only while the class's tasks are short (below).
   */
  readonly maxTasksInFlightPerWorker: number;
  /**
   * A class's tasks are pipelined only while the latest ran for at most this long: a queued
   * task waits for the ones ahead of it, which must cost about what the round trip it saves
   * does, and a long task must not hold back work that another worker could start.
   */
  readonly pipelineMaxTaskMs: number;
  /**
   * Dead nodes the GCS remembers (Ray's maximum_gcs_dead_node_cached_count): beyond it the
   * longest dead is forgotten, in memory and in storage, so a cluster whose nodes come and go
   * (autoscaling) does not grow its node table, and every view it broadcasts, without end.
   */
  readonly deadNodesKept: number;
  /** Actors dead for good that the GCS remembers (Ray's maximum_gcs_destroyed_actor_cached_count), likewise. */
  readonly deadActorsKept: number;
  /**
   * Records of actors dead for good that a core worker keeps for handles it does not count (an
   * actor it created detached, found by name, or was handed): a call through one fails at once.
   * Past it the one dead longest is forgotten, and a later call through its handle asks the GCS
   * again, which answers from its own `deadActorsKept`.
   */
  readonly deadActorRecordsKept: number;
  /**
   * Worker and driver deaths the GCS, each raylet and each core worker remember (recent-deaths.ts),
   * to refuse or ignore what a dead process sent before it died: workers come and go all the time.
   */
  readonly deadWorkersKept: number;
  /**
   * Removed placement groups the GCS remembers (not persisted), so that a create request the
   * network repeated or delayed does not make a group again; past it the one removed longest is
   * forgotten. Ray's GCS forgets a removed group at once (its requests are not repeated).
   */
  readonly removedGroupsKept: number;
  /**
   * Workers a raylet keeps beyond need (Ray's num_workers_soft_limit; absent, as Ray's -1: the
   * node's CPUs): while more are registered, those idle for `idleWorkerKillingMs` are asked to exit.
   */
  readonly workersSoftLimit?: number;
  /** How long a worker must idle before it may go for the soft limit (Ray's idle_worker_killing_time_threshold_ms). */
  readonly idleWorkerKillingMs: number;
}

/** The defaults every host starts from (the simulator and the embedded host alike). */
export const defaultTuning: ModelTuning = {
  heartbeatMs: 100,
  viewPeriodMs: 100,
  heartbeatMissLimit: 5,
  recoveryGracePeriods: 30,
  chunkBytes: 5 * 1024 * 1024,
  maxInlineBytes: 100 * 1024,
  maxPendingLeases: 10,
  storeFullTimeoutMs: 1000,
  maxTasksInFlightPerWorker: 8,
  pipelineMaxTaskMs: 1,
  deadNodesKept: 1000,
  deadActorsKept: 100_000,
  deadActorRecordsKept: 1000,
  deadWorkersKept: RECENT_DEATHS_KEPT,
  removedGroupsKept: 10_000,
  idleWorkerKillingMs: 1000,
};

/**
 * The daemons' tuning (`tsray start`): nodes are separate processes on machines that may be
 * busy, so a node is declared dead after 3 s without a heartbeat rather than 0.5 s. Every daemon
 * (GCS, raylets, drivers) uses this one, so they agree on what a period is.
 */
export const daemonTuning: ModelTuning = { ...defaultTuning, heartbeatMissLimit: 30 };
