// Ownership on the daemons (a GCS and a raylet as processes, this test as a connected driver):
// the four patterns of Ray's ownership model — a ref nested in a large return read after its task
// ended, a ref kept by an actor read after the driver released its own, a ref passed
// task → task → actor, and dropped refs freed (the store count back to its baseline), by the
// driver and by an actor.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import * as ray from "../../src/index.ts";
import type { ObjectRef } from "../../src/api/handles.ts";
import { actorDropsRefs } from "../helpers/actor-churn.ts";
import { parseEndpoint } from "../../src/runtime/daemon/object-channel.ts";
import { getStatus } from "../../src/runtime/daemon/transport.ts";
import type { Session } from "../../src/runtime/daemon/session.ts";
import { startHeadCli, until, stopHeadCli } from "../helpers/cli-cluster.ts";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
/** Past the 100 KiB inline limit: such a value lives in the store. */
const BIG = 20_000;

let home: string;
let env: NodeJS.ProcessEnv;
let address: string;
let session: Session;
let rayletTarget: string;

/** Objects in the head raylet's store, as its status reports them. */
const storeCount = async () => ((await getStatus(rayletTarget, session.token)) as { store: { objects: number } }).store.objects;

before(async () => {
  // The daemons' threads get gc() too: a test calls it inside an actor.
  const nodeOptions = [process.env.NODE_OPTIONS, "--expose-gc"].filter(Boolean).join(" ");
  ({ home, env, address, session } = await startHeadCli("tsray-own-", 2, [], { NODE_OPTIONS: nodeOptions }));
  process.env.TSRAY_TOKEN = session.token;
  const nodes = ((await getStatus(address, session.token)) as { nodes: { node: string; endpoint: string }[] }).nodes;
  rayletTarget = parseEndpoint(nodes.find((n) => n.node === "head")!.endpoint).grpc;
  await ray.init({ address });
});

after(() => stopHeadCli({ home, env }));

test("a ref nested in a large return value is readable after its task ended", { timeout: 60_000 }, async () => {
  const make = ray.remote(async (n: number) => ({ inner: await ray.put(new Float64Array(n).fill(5)), pad: new Float64Array(n) }));
  const v = (await ray.get(make.remote(BIG))) as { inner: ObjectRef<Float64Array>; pad: Float64Array };
  assert.equal(v.pad.length, BIG, "the return value itself was large (stored, not inline)");
  // The task is over and its worker dropped what it held: the nested ref is still borrowed by us.
  await new Promise((r) => setTimeout(r, 300));
  const inner = await ray.get(v.inner, { timeoutMs: 30_000 });
  assert.deepEqual([inner.length, inner[0]], [BIG, 5]);
});

test("a ref stored in an actor is read after the driver released its own", { timeout: 60_000 }, async () => {
  class Keeper {
    kept: ObjectRef<Float64Array> | undefined;
    keep(box: { r: ObjectRef<Float64Array> }) { this.kept = box.r; return 1; }
    async read() { return (await ray.get(this.kept!))[0]; }
  }
  const k = ray.remote(Keeper).remote();
  const ref = await ray.put(new Float64Array(BIG).fill(7));
  assert.equal(await ray.get(k.keep.remote({ r: ref })), 1);
  ray.release(ref);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await ray.get(k.read.remote(), { timeoutMs: 30_000 }), 7);
});

test("a ref passed task → task → actor is read by the actor after the driver released its own", { timeout: 60_000 }, async () => {
  class Keeper {
    kept: ObjectRef<Float64Array> | undefined;
    keep(box: { r: ObjectRef<Float64Array> }) { this.kept = box.r; return 1; }
    async read() { return (await ray.get(this.kept!))[0]; }
  }
  type Keep = { keep: { remote(b: unknown): ObjectRef<number> } };
  type Fn = { remote(...a: unknown[]): ObjectRef<number> };
  const k = ray.remote(Keeper).remote();
  const second = ray.remote(async (box: { r: ObjectRef<Float64Array> }, keeper: Keep) => ray.get(keeper.keep.remote({ r: box.r })));
  const first = ray.remote(async (box: { r: ObjectRef<Float64Array> }, next: Fn, keeper: Keep) => ray.get(next.remote({ r: box.r }, keeper)));
  const ref = await ray.put(new Float64Array(BIG).fill(9));
  assert.equal(await ray.get(first.remote({ r: ref }, second as never, k as never), { timeoutMs: 30_000 }), 1);
  ray.release(ref);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await ray.get(k.read.remote(), { timeoutMs: 30_000 }), 9);
});

test("dropped refs are freed: the store count is back to its baseline", { timeout: 60_000 }, async () => {
  const base = await storeCount();
  await (async () => {
    for (let i = 0; i < 8; i++) await ray.put(new Float64Array(BIG).fill(i)); // dropped at once
  })();
  await until("the puts reached the store", async () => (await storeCount()) > base, 10_000);
  // At or below: earlier tests' dropped objects may go in the same collection.
  await until("the store back to its baseline", async () => { gc(); return (await storeCount()) <= base; }, 30_000);
});

test("an actor's dropped refs are freed once its thread collects them: the puts it made, the refs its arguments held", { timeout: 60_000 }, async () => {
  await actorDropsRefs(ray.driver(), storeCount, BIG);
});
