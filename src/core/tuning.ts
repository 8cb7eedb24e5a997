// The models' timing and sizes, which every host passes through to them: one definition, so
// the simulator and the real hosts cannot drift apart on what a knob means.

export interface ModelTuning {
  /** How often a raylet heartbeats to the GCS. */
  readonly heartbeatMs: number;
  /** How often the GCS pushes the resource view and checks node health. */
  readonly viewPeriodMs: number;
  /** View periods without a heartbeat before the GCS declares a node dead. */
  readonly heartbeatMissLimit: number;
  /** Bytes per object-transfer chunk. */
  readonly chunkBytes: number;
  /** Task results up to this size return inline to their owner. */
  readonly maxInlineBytes: number;
  /** Lease requests in flight per scheduling class. */
  readonly maxPendingLeases: number;
  /** How long a put may wait for store space before ObjectStoreFullError. */
  readonly storeFullTimeoutMs: number;
}

/** The defaults every host starts from (the simulator and the embedded host alike). */
export const defaultTuning: ModelTuning = {
  heartbeatMs: 100,
  viewPeriodMs: 100,
  heartbeatMissLimit: 5,
  chunkBytes: 5 * 1024 * 1024,
  maxInlineBytes: 100 * 1024,
  maxPendingLeases: 10,
  storeFullTimeoutMs: 1000,
};
