// The `relay` step: one actor handed another's handle lends it an object it owns, which the
// other keeps (an actor borrowing from an actor). Its reads follow the owner: the value while
// it lives, OwnerDiedError once it is gone, whether the program killed it or its node died
// (raised inside the reading method, so the caller sees a TaskError around it, as in Ray).

import assert from "node:assert/strict";
import { test } from "node:test";
import { runScenario } from "../../sim/scenario.ts";
import type { SimNode } from "../../sim/cluster.ts";
import type { Step } from "../../sim/workload.ts";
import type { FaultPlan } from "../../sim/faults.ts";

const NODES: SimNode[] = [{ id: "head", resources: { CPU: 1 } }, { id: "node-1", resources: { CPU: 2 } }, { id: "node-2", resources: { CPU: 2 } }];
const keeper: Step = { op: "actor", maxRestarts: 0, maxTaskRetries: 0, node: "node-2" };
const lender: Step = { op: "actor", maxRestarts: 0, maxTaskRetries: 0, node: "node-1" };

async function run(steps: Step[], faults: FaultPlan = { schedule: [] }) {
  const v = await runScenario({ seed: 5, nodes: NODES, workload: { steps }, faults });
  assert.deepEqual(v.problems, []);
  return v.faulty.result;
}

test("an actor reads what another actor lent it, small or in a store, then and later", async () => {
  assert.deepEqual(await run([keeper, lender, { op: "relay", actor: 1, to: 0, v: 4, big: false }, { op: "sleep", ms: 500 }, { op: "kept", actor: 0 }]), { 2: 4, 4: 4 });
  assert.deepEqual(await run([keeper, lender, { op: "relay", actor: 1, to: 0, v: 4, big: true }, { op: "sleep", ms: 500 }, { op: "kept", actor: 0 }]), { 2: 4_016_384, 4: 4_016_384 });
});

// The GCS learns of a node's death from missed heartbeats (400 ms here): the reads come after that.
test("once the lending actor is gone, the keeper's read of its object fails with OwnerDiedError", async () => {
  const killed = await run([keeper, lender, { op: "relay", actor: 1, to: 0, v: 4, big: true }, { op: "kill", actor: 1, noRestart: true }, { op: "sleep", ms: 500 }, { op: "kept", actor: 0 }]);
  assert.equal(killed?.[2], 4_016_384);
  assert.match(String(killed?.[5]), /^TaskError: actor method readKept: OwnerDiedError: the owner of object node-1\//);
  // A node's death, small or stored: a value the keeper already read is gone with its owner too.
  for (const big of [false, true]) {
    const nodeDied = await run([keeper, lender, { op: "relay", actor: 1, to: 0, v: 4, big }, { op: "sleep", ms: 1500 }, { op: "kept", actor: 0 }], { schedule: [{ kind: "kill-node", at: 300, node: "node-1" }] });
    assert.equal(nodeDied?.[2], big ? 4_016_384 : 4);
    assert.match(String(nodeDied?.[4]), /^TaskError: actor method readKept: OwnerDiedError: the owner of object node-1\//);
  }
});
