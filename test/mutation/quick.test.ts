// The fast suite each mutant of `npm run mutate` is judged by (test/mutate.ts), cheapest first
// (imports run in order): the unit tests of the models, generated fault scenarios (one test
// each, test/mutation/scenarios.ts), the simulated integration tests, the kept cases
// (regressions and the seeded bugs' cases), then the slower unit tests of the charts and
// checkers. Tests that need real processes, threads or clocks are left out. The mutation runner
// (test/mutation/runner.ts) loads this file once and runs, for each mutant, only the tests that
// reach it, stopping at the first failure; `node --import tsx --test test/mutation/quick.test.ts`
// runs it like any test file. $TSRAY_MUTATION_SCENARIOS sets the number of generated scenarios.

import "../unit/object-store.test.ts";
import "../unit/scheduler.test.ts";
import "../unit/node-state.test.ts";
import "../unit/gcs-drivers.test.ts";
import "../unit/gcs-names.test.ts";
import "../unit/gcs-restart.test.ts";
import "../unit/gcs-dead-kept.test.ts";
import "../unit/borrowed-args.test.ts";
import "../unit/owner-dispatch.test.ts";
import "../unit/tuning.test.ts";
import "../unit/raylet-workers.test.ts";
import "../unit/worker-pool.test.ts";
import "../unit/raylet-jobs.test.ts";
import "../unit/dead-requesters.test.ts";
import "../unit/gcs-demands.test.ts";
import "../unit/borrowers.test.ts";
import "../unit/get-timeout.test.ts";
import "../unit/actor-concurrency.test.ts";
import "../unit/pipelining.test.ts";
import "../unit/actor-epochs.test.ts";
import "../unit/cancel.test.ts";
import "../unit/drain.test.ts";
import "../unit/model-inputs.test.ts";
import "../unit/model-state.test.ts";
import "../unit/autoscaler.test.ts";
import "../unit/seeded-bugs-env.test.ts";
import "../unit/generators.test.ts";
import "../unit/capture-child-tasks.test.ts";
import "../unit/gcs-actor-lifecycle.test.ts";
import "../unit/placement-group-manager.test.ts";
import "../unit/raylet-leases.test.ts";
import "../unit/raylet-restores.test.ts";
import "../unit/raylet-dead-owner-reads.test.ts";
import "../unit/arg-uses.test.ts";
import "../unit/actor-to-actor.test.ts";
import "../unit/wait-fetch-local.test.ts";
import "../unit/get-peek.test.ts";
import "../unit/blocked.test.ts";
import "../unit/dead-peers.test.ts";
import "../unit/actor-handle-scope.test.ts";
import "../unit/actor-handle-facts.test.ts";
import "../unit/contained-refs.test.ts";
import "../unit/actor-call-order.test.ts";
import "../unit/raylet-idle-workers.test.ts";
import "../unit/worker-exit.test.ts";
import "../unit/raylet-requests-lost.test.ts";
import "../unit/raylet-transfers-lost.test.ts";
import "../unit/dead-nodes-kept.test.ts";
import "../unit/dead-actor-records.test.ts";
import "../unit/raylet-store-waits.test.ts";
import "../unit/ids.test.ts";
import "../unit/known-deaths.test.ts";
import "../unit/list.test.ts";
import "./scenarios.ts";
import "../integration/ownership.test.ts";
import "../integration/kill-driver.test.ts";
import "../integration/invariants-catch-bugs.test.ts";
import "../integration/fault-tolerance.test.ts";
import "../integration/placement-groups.test.ts";
import "../integration/pending-demands.test.ts";
import "../integration/autoscaler-sim.test.ts";
import "../integration/scheduling.test.ts";
import "../integration/examples.test.ts";
import "../unit/idle-workers-sim.test.ts";
import "../integration/bounded-state.test.ts";
import "../regressions/regressions.test.ts";
import "../property/seeded-bug-cases.test.ts";
import "../unit/invariants-faults.test.ts"; // the charts (and checkers) judge hand-built traces as they should
import "../unit/invariants.test.ts";
import "../unit/lifecycle.test.ts"; // the lifecycle switches agree with their charts
