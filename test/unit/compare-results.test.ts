// compareResults: what a run with faults returned against the fault-free run of the same
// workload. A value that depends on a put the faults made fail may differ; one that does not
// may not, whatever route the ref took to the step that reads it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { compareResults } from "../../sim/scenario.ts";
import type { Step } from "../../sim/workload.ts";

const FULL = "ObjectStoreFullError: the store stayed full";
const put: Step = { op: "put", big: true, v: 5 };

test("an actor that kept a put the faults made fail reads something else, legitimately: by its constructor or by keep", () => {
  const byConstructor: Step[] = [put, { op: "actor", maxRestarts: 0, maxTaskRetries: 0, ref: 0 }, { op: "kept", actor: 1 }];
  assert.deepEqual(compareResults({ steps: byConstructor }, { 0: 5, 2: 5 }, { 0: FULL, 2: -1 }, false), []);
  const byKeep: Step[] = [put, { op: "actor", maxRestarts: 0, maxTaskRetries: 0 }, { op: "keep", actor: 1, ref: 0 }, { op: "kept", actor: 1 }];
  assert.deepEqual(compareResults({ steps: byKeep }, { 0: 5, 2: 0, 3: 5 }, { 0: FULL, 3: -1 }, false), []);
});

test("an actor that kept a put that did not fail must read the same value", () => {
  const steps: Step[] = [put, { op: "put", big: false, v: 1 }, { op: "actor", maxRestarts: 0, maxTaskRetries: 0, ref: 1 }, { op: "kept", actor: 2 }];
  assert.deepEqual(compareResults({ steps }, { 0: 5, 1: 1, 3: 1 }, { 0: FULL, 1: 1, 3: 7 }, false), ["step 3 (kept) returned 7, the fault-free run 1"]);
});

test("what an actor kept from another actor's relay may differ only where the relay failed", () => {
  const steps: Step[] = [
    { op: "actor", maxRestarts: 0, maxTaskRetries: 0 }, { op: "actor", maxRestarts: 0, maxTaskRetries: 0 },
    { op: "relay", actor: 1, to: 0, v: 4, big: true }, { op: "kept", actor: 0 },
  ];
  const died = "ActorDiedError: the actor died";
  assert.deepEqual(compareResults({ steps }, { 2: 4_016_384, 3: 4_016_384 }, { 2: died, 3: -1 }, false), []);
  assert.deepEqual(compareResults({ steps }, { 2: 4_016_384, 3: 4_016_384 }, { 2: 4_016_384, 3: -1 }, false), ["step 3 (kept) returned -1, the fault-free run 4016384"]);
});
