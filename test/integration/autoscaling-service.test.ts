// The GCS daemon's autoscaling service (src/runtime/daemon/autoscaling-service.ts), which a
// remote autoscaler (KubeRay's sidecar) uses for the two ports the head's own autoscaler has in
// process: behind the cluster token, every request checked by its schema (a malformed one refused
// with INVALID_ARGUMENT naming the field, and the daemon keeps serving), the GCS's view answered
// as `autoscalingState()` gives it, the sidecar's status shown by the GCS's status, and every
// call refused while the head runs its own autoscaler (--autoscaling-config wins).

import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { after, before, test } from "node:test";
import { GcsDaemon } from "../../src/runtime/daemon/gcs-daemon.ts";
import { AUTOSCALING_SERVICE, RemoteGcs } from "../../src/runtime/daemon/autoscaling-service.ts";
import { getStatus, TOKEN_METADATA_KEY } from "../../src/runtime/daemon/transport.ts";
import { openStorage } from "../../src/runtime/storage/index.ts";

const TOKEN = "autoscaling-service-token";
let gcs: GcsDaemon;
let target: string;

before(async () => {
  gcs = await GcsDaemon.start({ head: "head", token: TOKEN, port: 0, storage: openStorage("memory"), log: () => {} });
  target = `127.0.0.1:${gcs.port}`;
});

after(() => gcs.close());

/** A raw call with any body (bytes on the wire), for what the typed client would never send. */
function raw(method: "getState" | "drainNode", body: Buffer, token = TOKEN): Promise<{ code: number; details: string }> {
  const def = { [method]: { ...AUTOSCALING_SERVICE[method], requestSerialize: (b: Buffer) => b } };
  const Client = grpc.makeGenericClientConstructor(def, "tsray.v1.Autoscaling");
  const client = new Client(target, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  md.set(TOKEN_METADATA_KEY, token);
  return new Promise((resolve) => {
    (client as unknown as Record<string, (r: Buffer, md: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null) => void) => void>)[method]!(body, md, { deadline: Date.now() + 5_000 }, (e) => {
      client.close();
      resolve({ code: e?.code ?? 0, details: e?.details ?? "" });
    });
  });
}

test("GetState answers the GCS's autoscaling view, and takes the autoscaler's status for tsray status", async () => {
  const remote = new RemoteGcs(target, TOKEN);
  try {
    const status = { groups: [{ name: "w", running: 0, pending: 1, min: 0, max: 2 }], pendingLaunches: [{ group: "w", launch: "launch-1", ageMs: 5 }], draining: [], recentFailures: [], unmet: [] };
    assert.deepEqual(await remote.state(status), gcs.autoscalingState());
    const shown = (await getStatus(target, TOKEN)) as { autoscaler: typeof status & { reportedMsAgo: number } };
    assert.deepEqual({ ...shown.autoscaler, reportedMsAgo: 0 }, { ...status, reportedMsAgo: 0 });
    assert.ok(shown.autoscaler.reportedMsAgo >= 0);
    await remote.drain("no-such-node", "idle"); // a node the GCS does not know: nothing happens, as in process
  } finally {
    remote.close();
  }
});

test("a wrong token, a malformed request or a body that is not JSON is refused by name, and the GCS keeps serving", async () => {
  assert.equal((await raw("getState", Buffer.from("{}"), "wrong")).code, grpc.status.UNAUTHENTICATED);
  const notJson = await raw("drainNode", Buffer.from("{node"));
  assert.equal(notJson.code, grpc.status.INVALID_ARGUMENT);
  assert.match(notJson.details, /^DrainNode: not JSON: /);
  const badNode = await raw("drainNode", Buffer.from(JSON.stringify({ node: "a/b", reason: "idle" })));
  assert.equal(badNode.code, grpc.status.INVALID_ARGUMENT);
  assert.match(badNode.details, /^DrainNode: node: not a node id/);
  const extra = await raw("getState", Buffer.from(JSON.stringify({ status: { groups: [], pendingLaunches: [], draining: [], recentFailures: [], unmet: [], more: 1 } })));
  assert.equal(extra.code, grpc.status.INVALID_ARGUMENT);
  assert.match(extra.details, /^GetState: status: Unrecognized key.*more/);
  const remote = new RemoteGcs(target, TOKEN);
  try {
    assert.ok(Array.isArray((await remote.state()).nodes), "still serving");
  } finally {
    remote.close();
  }
});

test("a head running its own autoscaler refuses a remote one (its own wins)", async () => {
  const own = await GcsDaemon.start({ head: "head", token: TOKEN, port: 0, storage: openStorage("memory"), log: () => {}, localAutoscaler: "this head runs its own autoscaler" });
  const remote = new RemoteGcs(`127.0.0.1:${own.port}`, TOKEN);
  try {
    await assert.rejects(remote.state(), (e: grpc.ServiceError) => e.code === grpc.status.FAILED_PRECONDITION && /runs its own autoscaler/.test(e.details));
    await assert.rejects(remote.drain("w-1", "idle"), (e: grpc.ServiceError) => e.code === grpc.status.FAILED_PRECONDITION);
  } finally {
    remote.close();
    await own.close();
  }
});
