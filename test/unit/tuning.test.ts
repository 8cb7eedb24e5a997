// The daemons' tuning differs from the defaults in one knob only: a node is declared dead after
// 3 s without a heartbeat (30 view periods of 100 ms) instead of 0.5 s; every other knob is the
// simulator's and the embedded host's.
import assert from "node:assert/strict";
import { test } from "node:test";
import { daemonTuning, defaultTuning } from "../../src/core/tuning.ts";

test("daemonTuning keeps every default but allows 3 s of missed heartbeats", () => {
  assert.equal(daemonTuning.viewPeriodMs * daemonTuning.heartbeatMissLimit, 3000);
  assert.deepEqual({ ...daemonTuning, heartbeatMissLimit: defaultTuning.heartbeatMissLimit }, defaultTuning);
});
