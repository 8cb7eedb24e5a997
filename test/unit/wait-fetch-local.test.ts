// ray.wait's fetchLocal (Ray's fetch_local, on by default): a ref counts as ready once its value
// is in the caller's node's store, so the wait pulls each value made elsewhere before it
// answers; with fetchLocal false it answers once the value exists anywhere, and nothing moves.

import assert from "node:assert/strict";
import { test } from "node:test";
import { simulate } from "../../sim/simulate.ts";
import type { Ray } from "../../src/api/ray.ts";
import { formatViolations } from "../../spec/invariants/index.ts";
import { rayletHost } from "../helpers/raylet-host.ts";

const NODES = [{ id: "head", resources: { CPU: 0 } }, { id: "node-1", resources: { CPU: 1 } }];

/** A large value made on node-1, waited for and then read by the driver on the head. */
function waitThenGet(fetchLocal: boolean | undefined) {
  return async (ray: Ray) => {
    const make = ray.remote(() => new Float64Array(50_000).fill(3)).options({ schedulingStrategy: { nodeId: "node-1", soft: false } });
    const ref = make.remote();
    const [ready] = await ray.wait([ref], fetchLocal === undefined ? {} : { fetchLocal });
    return { ready: ready.length, value: (await ray.get(ref))[0] };
  };
}

test("wait (fetchLocal by default) answers once the value is copied to the caller's node; fetchLocal false, once it exists", async () => {
  const seen = [];
  for (const fetchLocal of [undefined, false] as const) {
    const r = await simulate({ seed: 4, nodes: NODES, program: waitThenGet(fetchLocal), config: { traceMessages: true } });
    assert.equal(r.error, undefined, r.error?.stack);
    assert.deepEqual(r.violations, [], formatViolations(r.violations));
    assert.deepEqual(r.result, { ready: 1, value: 3 });
    const at = (pred: (e: (typeof r.trace)[number]) => boolean) => r.trace.findIndex(pred);
    const copied = at((e) => e.kind === "object.transferred" && e.node === "head");
    const answered = at((e) => e.kind === "msg" && e.type === "StoreLocal" && e.to === "head/driver");
    const read = at((e) => e.kind === "msg" && e.type === "StoreGetReply" && e.to === "head/driver");
    seen.push({ copiedBeforeAnswer: answered >= 0 && copied < answered, fetchAnswered: answered >= 0, copiedBeforeRead: copied >= 0 && copied < read });
  }
  assert.deepEqual(seen, [
    { copiedBeforeAnswer: true, fetchAnswered: true, copiedBeforeRead: true },
    { copiedBeforeAnswer: false, fetchAnswered: false, copiedBeforeRead: true },
  ]);
});

test("a raylet answers a local StoreGet with StoreLocal, never with the value: at once for a copy it has, after the pull for one it lacks", () => {
  const r = rayletHost({ node: "node-1", cpus: 1 });
  const owner = "head/driver";
  r.h.message("node-1/w1-1", { type: "StorePut", reqId: 1, id: "head/driver#1", payload: { size: 200_000, hash: "h1", data: 0 }, owner });
  r.h.message(owner, { type: "StoreGet", reqId: 2, ids: [{ id: "head/driver#1", owner }], local: true });
  assert.deepEqual(r.of("StoreLocal"), [{ type: "StoreLocal", reqId: 2 }]);
  r.h.message(owner, { type: "StoreGet", reqId: 3, ids: [{ id: "head/driver#2", owner }], local: true });
  assert.deepEqual(r.of("GetLocations").map((m) => m.id), ["head/driver#2"], "it pulls what it lacks, as for a get");
  assert.equal(r.of("StoreLocal").length, 1, "and answers only once the copy is here");
  assert.deepEqual(r.of("StoreGetReply"), [], "no value goes back for a local StoreGet");
});
