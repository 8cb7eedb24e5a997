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

test("a relay's keep may overtake the program's earlier calls to the actor it keeps in; calls after the relay may not differ", () => {
  const actor: Step = { op: "actor", maxRestarts: 0, maxTaskRetries: 0 };
  const readsBefore: Step[] = [actor, { op: "kept", actor: 0 }, actor, { op: "relay", actor: 2, to: 0, v: 0, big: false }, { op: "kept", actor: 0 }];
  assert.deepEqual(compareResults({ steps: readsBefore }, { 1: -1, 3: 0, 4: 0 }, { 1: 0, 3: 0, 4: 0 }, false), [], "the kept before the relay read its ref");
  assert.deepEqual(compareResults({ steps: readsBefore }, { 1: -1, 3: 0, 4: 0 }, { 1: -1, 3: 0, 4: -1 }, false),
    ["step 4 (kept) returned -1, the fault-free run 0"], "the kept after the relay must read the relay's ref");
  // The program's own keep before the relay may land after the relay's: the relay and later kept calls may read either.
  const keepsBefore: Step[] = [actor, { op: "put", big: false, v: 7 }, { op: "keep", actor: 0, ref: 1 }, actor, { op: "relay", actor: 3, to: 0, v: 0, big: false }, { op: "kept", actor: 0 }];
  assert.deepEqual(compareResults({ steps: keepsBefore }, { 1: 7, 2: 0, 4: 0, 5: 0 }, { 1: 7, 2: 0, 4: 7, 5: 7 }, false), []);
});

test("an actor only dropped fails no call through its handle, unless its constructor took a ref that failed", () => {
  const died = "ActorDiedError: the actor Acc cannot be created: its constructor's argument failed (TaskCancelledError: task ownBox was cancelled)";
  const steps = (cancel: boolean): Step[] => [
    { op: "put", big: false, v: 0 }, { op: "actor", maxRestarts: 0, maxTaskRetries: 0, ref: 0, direct: true },
    ...(cancel ? [{ op: "cancel", ref: 0, force: false } as Step] : [{ op: "put", big: false, v: 1 } as Step]),
    { op: "call", actor: 1, v: 0 }, { op: "drop-actor", actor: 1 },
  ];
  assert.deepEqual(compareResults({ steps: steps(true) }, { 3: died }, { 3: died }, false), []);
  assert.match(compareResults({ steps: steps(false) }, { 3: died }, { 3: died }, false)[0], /step 3 \(call\) failed with ActorDiedError.*a handle in use keeps its actor/);
});
