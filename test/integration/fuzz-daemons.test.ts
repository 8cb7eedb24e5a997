// Fuzzing the daemons with malformed messages from a token holder (fast-check, seeded and
// bounded): every gRPC service (Gcs and NodeManager on the GCS, NodeManager and CoreWorker on
// a raylet) and the raylet's object channel get well-formed messages with one field made bad
// (the node id {x:1}, resources "lots", CPU -5, NaN, Infinity, missing or unknown
// fields…) and arbitrary bodies. Every bad message is refused with INVALID_ARGUMENT naming the
// field; afterwards the daemons still serve, and storage holds nothing new.

import assert from "node:assert/strict";
import net from "node:net";
import v8 from "node:v8";
import { after, before, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import fc from "fast-check";
import { GcsDaemon } from "../../src/runtime/daemon/gcs-daemon.ts";
import { RayletDaemon } from "../../src/runtime/daemon/raylet-daemon.ts";
import { OBJECT_CHANNEL_VERSION, parseEndpoint } from "../../src/runtime/daemon/object-channel.ts";
import { getStatus, TOKEN_METADATA_KEY } from "../../src/runtime/daemon/transport.ts";
import { Batch, Frame as FrameCodec, helloFrame, MSG_TYPES, type Frame } from "../../src/runtime/daemon/wire/frame.ts";
import { MemoryStorage } from "../../src/runtime/storage/index.ts";

const token = "fuzz-token";
const SEED = 20261204;
const RUNS = 60;
let storage: MemoryStorage;
let gcs: GcsDaemon;
let raylet: RayletDaemon;
let gcsTarget: string;
let rayletTarget: string;
let objectsPort: number;

before(async () => {
  storage = new MemoryStorage();
  gcs = await GcsDaemon.start({ head: "head", token, storage, log: () => {} });
  gcsTarget = `127.0.0.1:${gcs.port}`;
  raylet = await RayletDaemon.start({ gcs: gcsTarget, node: "n1", resources: { CPU: 1 }, token, objectSocket: false, log: () => {} });
  rayletTarget = parseEndpoint(raylet.endpoint).grpc;
  objectsPort = Number(parseEndpoint(raylet.endpoint).objects!.split(":").at(-1));
  await until(async () => ((await getStatus(gcsTarget, token)) as { nodes: unknown[] }).nodes.length === 1);
});

after(async () => {
  await raylet?.close();
  await gcs?.close();
});

async function until(ok: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok().catch(() => false))) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 50));
  }
}

// ---- valid messages, and which of their fields to break --------------------------------------

const res = { CPU: 1 };
const spec = { taskId: "t1", kind: "normal", fn: "f:1", name: "f", args: [], returnId: "t1.r", owner: "n9/driver-1", resources: res, strategy: "DEFAULT", maxRetries: 3, retryExceptions: false, attempt: 0 };
const actorSpec = { actorId: "a1", fn: "C:1", className: "C", args: [], owner: "n9/driver-1", resources: res, strategy: "DEFAULT", maxRestarts: 0, maxTaskRetries: 0 };
type Kind = "node" | "id" | "addr" | "count" | "resources" | "bool" | "enum";
const TEMPLATES: { msg: Record<string, unknown>; fields: Record<string, Kind> }[] = [
  { msg: { type: "RegisterNode", node: "n9", incarnation: 1, resources: res, endpoint: "127.0.0.1:1" }, fields: { node: "node", incarnation: "count", resources: "resources" } },
  { msg: { type: "Heartbeat", node: "n9", available: res }, fields: { node: "node", available: "resources" } },
  { msg: { type: "CreateActor", spec: actorSpec }, fields: { "spec.actorId": "id", "spec.owner": "addr", "spec.resources": "resources", "spec.maxRestarts": "count" } },
  { msg: { type: "RegisterFunction", fn: { id: "f:1", name: "f", kind: "function", source: "x => x" } }, fields: { "fn.id": "id", "fn.kind": "enum" } },
  { msg: { type: "RequestLease", reqId: 1, req: { resources: res, strategy: "DEFAULT", deps: [], grantOrReject: false, taskId: "t1" } }, fields: { reqId: "count", "req.resources": "resources", "req.grantOrReject": "bool" } },
  { msg: { type: "PushTask", spec }, fields: { "spec.taskId": "id", "spec.kind": "enum", "spec.resources": "resources", "spec.attempt": "count", "spec.owner": "addr" } },
  { msg: { type: "KillActor", actorId: "a1" }, fields: { actorId: "id" } },
  { msg: { type: "WorkerDied", worker: "n9/w1-1" }, fields: { worker: "addr" } },
  { msg: { type: "NodeDead", node: "n9", incarnation: 1 }, fields: { node: "node", incarnation: "count" } },
  { msg: { type: "GetNamedActor", reqId: 1, name: "x" }, fields: { reqId: "count" } },
];

const BAD: Record<Kind, unknown[]> = {
  node: [{ x: 1 }, "", "a/b", 5, null, "n".repeat(200), "has space"],
  id: [{ x: 1 }, "", 7, "a b", null, ["x"]],
  addr: ["nodeonly", {}, 3, "/w1", "n1/", null],
  count: [-5, 1.5, NaN, Infinity, "lots", {}, null, -Infinity],
  resources: ["lots", { CPU: -5 }, { CPU: NaN }, { CPU: "1" }, { CPU: Infinity }, [1], null, { "": 1 }],
  bool: ["yes", 0, null, {}],
  enum: ["nope", 3, null],
};

function setPath(o: Record<string, unknown>, path: string, v: unknown): Record<string, unknown> {
  const copy = structuredClone(o);
  const keys = path.split(".");
  let at = copy;
  for (const k of keys.slice(0, -1)) at = at[k] as Record<string, unknown>;
  if (v === undefined) delete at[keys.at(-1)!];
  else at[keys.at(-1)!] = v;
  return copy;
}

/** A template with one field made bad (or removed, or an unknown one added); the path the refusal must name. */
const malformed = fc.integer({ min: 0, max: TEMPLATES.length - 1 }).chain((i) => {
  const t = TEMPLATES[i];
  const paths = Object.keys(t.fields);
  return fc.oneof(
    fc.constantFrom(...paths).chain((p) => fc.constantFrom(...BAD[t.fields[p]]).map((v) => ({ msg: setPath(t.msg, p, v), path: p }))),
    fc.constantFrom(...paths).map((p) => ({ msg: setPath(t.msg, p, undefined), path: p })),
    fc.string({ minLength: 1, maxLength: 8 }).filter((k) => !(k in t.msg)).map((k) => ({ msg: { ...t.msg, [k]: 1 }, path: "" })),
  );
});

// ---- raw gRPC and object-channel clients ---------------------------------------------------------

const identity = (b: Buffer) => b;
/** Sends hello + one frame of `type` with `body` on a fresh stream; resolves to the stream's status. */
function sendRaw(target: string, service: string, type: string, body: Uint8Array): Promise<grpc.StatusObject> {
  const def = { connect: { path: `/${service}/Connect`, requestStream: true, responseStream: true, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity } };
  const Ctor = grpc.makeGenericClientConstructor(def as never, service);
  const client = new Ctor(target, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  md.set(TOKEN_METADATA_KEY, token);
  const call = (client as unknown as { connect(md: grpc.Metadata): grpc.ClientDuplexStream<Buffer, Buffer> }).connect(md);
  call.on("data", () => {});
  call.on("error", () => {});
  const frames: Frame[] = [helloFrame(["n9/fuzz"], "fuzz"), { from: "n9/fuzz", to: "head/gcs", type, body, payloads: [] }];
  call.write(Buffer.from(Batch.encode({ frames }).finish()));
  const t = setTimeout(() => call.cancel(), 10_000);
  return new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve)).finally(() => { clearTimeout(t); client.close(); });
}

/** Says hello on the object channel as a driver, sends one record; resolves to the channel's answer text. */
function sendObjectRecord(type: string, body: Uint8Array): Promise<string> {
  const hello = Buffer.concat([Buffer.from("TSRAYOBJ"), Buffer.from([OBJECT_CHANNEL_VERSION]), u16(token.length), u16("n1/driver-f".length), Buffer.from(token), Buffer.from("n1/driver-f")]);
  const frame = Buffer.from(FrameCodec.encode({ from: "n1/driver-f", to: "n1/raylet", type, body, payloads: [] }).finish());
  const pre = Buffer.alloc(8);
  pre.writeUInt32LE(frame.length, 0);
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port: objectsPort });
    let got = "";
    s.on("data", (d) => { got += d.toString("latin1"); });
    s.on("error", () => {});
    s.on("close", () => resolve(got));
    s.on("connect", () => s.write(Buffer.concat([hello, pre, frame])));
  });
}
const u16 = (n: number) => { const b = Buffer.alloc(2); b.writeUInt16LE(n); return b; };

const ser = (v: unknown) => new Uint8Array(v8.serialize(v));

// ---- the properties ---------------------------------------------------------------------------

const SERVICES = [
  { name: "GCS: tsray.v1.Gcs", target: () => gcsTarget, service: "tsray.v1.Gcs" },
  { name: "GCS: tsray.v1.NodeManager", target: () => gcsTarget, service: "tsray.v1.NodeManager" },
  { name: "raylet: tsray.v1.NodeManager", target: () => rayletTarget, service: "tsray.v1.NodeManager" },
  { name: "raylet: tsray.v1.CoreWorker", target: () => rayletTarget, service: "tsray.v1.CoreWorker" },
];

async function snapshot(): Promise<string> {
  return JSON.stringify(Object.fromEntries(Object.entries(storage.data.tables).map(([t, m]) => [t, [...m.keys()].sort()])));
}

async function stillServes(): Promise<void> {
  const s = (await getStatus(gcsTarget, token)) as { nodes: { node: string; alive: boolean; total: Record<string, number> }[] };
  assert.deepEqual(s.nodes.map((n) => [n.node, n.alive, n.total]), [["n1", true, { CPU: 1 }]]);
  await getStatus(rayletTarget, token);
}

for (const svc of SERVICES) {
  test(`${svc.name}: messages with one bad field are refused naming it; the daemons serve on, nothing is stored`, async () => {
    const before = await snapshot();
    await fc.assert(fc.asyncProperty(malformed, async ({ msg, path }) => {
      const st = await sendRaw(svc.target(), svc.service, msg.type as string, ser(msg));
      assert.equal(st.code, grpc.status.INVALID_ARGUMENT, `${JSON.stringify(msg)}: ${st.details}`);
      assert.match(st.details, new RegExp(`malformed ${msg.type}: `));
      if (path) assert.ok(st.details.includes(`: ${path}:`) || st.details.includes(`: ${path.split(".").slice(0, -1).join(".")}`), `${st.details} does not name ${path}`);
    }), { seed: SEED, numRuns: RUNS });
    await fc.assert(fc.asyncProperty(fc.constantFrom(...MSG_TYPES), fc.anything({ maxDepth: 3 }), async (type, junk) => {
      const st = await sendRaw(svc.target(), svc.service, type, ser(typeof junk === "object" && junk !== null && !Array.isArray(junk) ? { ...junk, type } : junk));
      assert.equal(st.code, grpc.status.INVALID_ARGUMENT, st.details);
    }), { seed: SEED, numRuns: RUNS });
    await stillServes();
    assert.equal(await snapshot(), before);
  });
}

test("a list sent as a typed array is refused, not thrown (zod's readonly() throws freezing one)", async () => {
  for (const svc of SERVICES) {
    for (const msg of [{ type: "FreeObjects", ids: new Uint8Array([1, 2]) }, { type: "ClusterView", nodes: new Float64Array(1) }]) {
      const st = await sendRaw(svc.target(), svc.service, msg.type, ser(msg));
      assert.equal(st.code, grpc.status.INVALID_ARGUMENT, `${svc.name} ${msg.type}: ${st.details}`);
      assert.match(st.details, new RegExp(`malformed ${msg.type}: `));
    }
  }
  await stillServes();
});

test("object channel: malformed store requests are refused naming the field; the raylet serves on", async () => {
  await fc.assert(fc.asyncProperty(
    fc.constantFrom<[string, Record<string, unknown>, Kind, string]>(
      ["StoreGet", { type: "StoreGet", reqId: 1, ids: [{ id: "o1", owner: "n1/driver-f" }] }, "count", "reqId"],
      ["StoreGet", { type: "StoreGet", reqId: 1, ids: [{ id: "o1", owner: "n1/driver-f" }] }, "addr", "ids.0.owner"],
      ["StorePut", { type: "StorePut", reqId: 1, id: "o1", owner: "n1/driver-f", payload: { size: 0, hash: "h", data: 0 } }, "id", "id"],
      ["StorePut", { type: "StorePut", reqId: 1, id: "o1", owner: "n1/driver-f", payload: { size: 0, hash: "h", data: 0 } }, "count", "payload.size"],
    ).chain(([type, msg, kind, path]) => fc.constantFrom(...BAD[kind]).map((v) => ({ type, msg: setPath(msg, path, v), path }))),
    async ({ type, msg, path }) => {
      const answer = await sendObjectRecord(type, ser(msg));
      assert.ok(answer.includes(`malformed ${type}: ${path}:`), JSON.stringify(answer));
    }), { seed: SEED, numRuns: RUNS });
  await stillServes();
});
