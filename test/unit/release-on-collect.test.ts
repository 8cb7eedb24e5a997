// The API's automatic release (releaseOnCollect, real hosts' drivers and workers): a ref the
// program drops is released once the garbage collector takes it, and a ref it released itself is
// not released again — whether it released it in the turn it was made (before the ref was handed
// to the FinalizationRegistry) or later. Refs found in a got value or in an actor's arguments are
// held too, and released alike; a normal task's are not (its scope end releases them). So is an
// actor handle's hold, once every handle object sharing it is gone. Checked on a recording
// CoreClient, so each release is counted.

import assert from "node:assert/strict";
import { test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { CoreClient } from "../../src/api/client.ts";
import { ObjectRef } from "../../src/api/handles.ts";
import { codecOf, createRay } from "../../src/api/ray.ts";
import type { Payload, TaskSpec } from "../../src/core/types.ts";
import { Executor } from "../../src/runtime/executor.ts";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

function recordingClient(got: Payload[] = []): { client: CoreClient; released: string[]; cancelled: string[] } {
  let n = 0;
  const released: string[] = [];
  const cancelled: string[] = [];
  const client = {
    addr: "head/driver", node: "head",
    nextId: () => `head/driver#${++n}`,
    submitTask: (id: string) => `${id}.r`,
    submitActorTask: (id: string) => `${id}.r`,
    createActor: () => {},
    actorRegistered: async () => undefined,
    put: async () => {},
    get: async () => got,
    reportItem: async () => true,
    releaseRef: (id: string) => { released.push(id); },
    cancelTask: (id: string) => { cancelled.push(id); },
  } as unknown as CoreClient;
  return { client, released, cancelled };
}

const nextTurn = () => new Promise((r) => setImmediate(r));

/**
 * Collects garbage until `ok` holds: finalizers run as tasks after a collection. Each collection
 * starts a turn of its own: a WeakRef read by `ok` keeps its target alive to the end of the turn.
 */
async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 5));
    gc();
    await new Promise((r) => setTimeout(r, 5));
    if (ok()) return;
  }
  throw new Error(`timed out waiting for ${what}`);
}

const count = (xs: readonly string[], id: string) => xs.filter((x) => x === id).length;

test("a dropped ref is released once the garbage collector takes it", async () => {
  const { client, released } = recordingClient();
  const ray = createRay(client, { releaseOnCollect: true });
  const ids: string[] = [];
  await (async () => {
    for (let i = 0; i < 3; i++) ids.push((await ray.put(i)).id);
    const f = ray.remote(function one() { return 1; });
    ids.push((f.remote() as ObjectRef).id);
  })();
  await until("every dropped ref released", () => ids.every((id) => count(released, id) === 1));
  await nextTurn();
  gc();
  await new Promise((r) => setTimeout(r, 20));
  for (const id of ids) assert.equal(count(released, id), 1, `${id} released once`);
});

test("a ref the program released is not released again when collected, released in its own turn or later", async () => {
  const { client, released } = recordingClient();
  const ray = createRay(client, { releaseOnCollect: true });
  const ids: string[] = [];
  const gone: WeakRef<ObjectRef>[] = [];
  await (async () => {
    const a = await ray.put("early");
    ray.release(a); // in the turn it was made
    const b = await ray.put("late");
    await nextTurn();
    await nextTurn();
    ray.release(b); // after it was registered
    // A witness dropped alongside: once it is released, the finalizers of its collection ran.
    const c = await ray.put("witness");
    for (const r of [a, b, c]) { ids.push(r.id); gone.push(new WeakRef(r)); }
  })();
  await until("the refs collected and the witness released", () => gone.every((g) => g.deref() === undefined) && count(released, ids[2]) === 1);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(count(released, ids[0]), 1, "released in its own turn: once, by the program");
  assert.equal(count(released, ids[1]), 1, "released later: once, by the program");
});

test("ray.cancel refuses force for an actor call's ref, and passes it on for a task's", () => {
  for (const releaseOnCollect of [false, true]) {
    const { client, cancelled } = recordingClient();
    const ray = createRay(client, { releaseOnCollect });
    const A = ray.remote(class A { m() { return 1; } });
    const a = A.remote() as unknown as { m: { remote(): ObjectRef } };
    const call = a.m.remote();
    assert.throws(() => ray.cancel(call, { force: true }), /force is not supported for actor tasks/);
    ray.cancel(call);
    const f = ray.remote(function one() { return 1; });
    const t = f.remote() as ObjectRef;
    ray.cancel(t, { force: true });
    assert.deepEqual(cancelled, [call.id, t.id]);
  }
});

/** A value holding refs owned by another worker, as bytes (what a get or a task's arguments bring). */
function boxOf(ids: readonly string[]): Payload {
  const { client } = recordingClient();
  createRay(client);
  return codecOf(client).encode({ refs: ids.map((id) => new ObjectRef(id, "head/w9")) });
}

test("refs found in a value the driver got are released once collected, once each", async () => {
  const { client, released } = recordingClient([boxOf(["head/w9#a", "head/w9#b"])]);
  const ray = createRay(client, { releaseOnCollect: true });
  const witness = (await ray.put("witness")).id;
  await (async () => {
    const v = (await ray.get(new ObjectRef("head/w8#box", "head/w8"))) as { refs: ObjectRef[] };
    assert.deepEqual(v.refs.map((r) => r.id), ["head/w9#a", "head/w9#b"]);
    ray.release(v.refs[1]); // released by the program: not again when collected
  })();
  await until("the got refs released", () => count(released, "head/w9#a") === 1 && count(released, witness) === 1);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(count(released, "head/w9#b"), 1);
});

test("inside an actor, refs it made and refs its arguments held are released once collected; inside a normal task, never", async () => {
  const { client, released } = recordingClient();
  const ray = createRay(client, { releaseOnCollect: true });
  const ex = new Executor(ray, codecOf(client), client);
  const spec = (kind: TaskSpec["kind"], taskId: string): TaskSpec => ({ taskId, attempt: 0, kind, actorId: kind === "normal" ? undefined : "A1" }) as TaskSpec;
  const fn = (id: string, source: string) => ({ id, name: id, kind: "function" as const, source });
  const keep = (box: string) => `(box) => { ray.put(1).then((r) => { globalThis.madeIn${box} = r.id; }); }`;
  await ex.run(spec("normal", "t1"), fn("f", `function f(box) { (${keep("Task")})(box); return 0; }`), [boxOf(["head/w9#task-arg"])]);
  await ex.run(spec("actor-create", "A1:create"), fn("K", `class K { constructor(box) { (${keep("Actor")})(box); } }`), [boxOf(["head/w9#actor-arg"])]);
  const g = globalThis as unknown as { madeInTask?: string; madeInActor?: string };
  await until("the actor's refs released", () => g.madeInActor !== undefined && count(released, g.madeInActor) === 1 && count(released, "head/w9#actor-arg") === 1);
  await new Promise((r) => setTimeout(r, 20));
  gc();
  await new Promise((r) => setTimeout(r, 20));
  assert.ok(g.madeInTask !== undefined);
  assert.equal(count(released, g.madeInTask), 0, "a normal task's put was released on collection");
  assert.equal(count(released, "head/w9#task-arg"), 0, "a normal task's argument was released on collection");
});

test("an actor handle is released once every handle object sharing its hold is collected, never after ray.release; a method in use keeps it", async () => {
  const { client, released } = recordingClient();
  const ray = createRay(client, { releaseOnCollect: true });
  class A { m() { return 1; } }
  const hold = (actorId: string) => `${actorId}.h`;
  const ids: string[] = [];
  let method: unknown, awaited: object | undefined;
  const gone: WeakRef<object>[] = [];
  await (async () => {
    const dropped = ray.remote(A).remote();
    const named = ray.remote(A).options({ name: "n" }).remote();
    awaited = await (named as unknown as PromiseLike<object>);
    const released1 = ray.remote(A).remote();
    ray.release(released1);
    ray.release(released1);
    const kept = ray.remote(A).remote();
    method = (kept as unknown as { m: unknown }).m;
    for (const h of [dropped, named, released1, kept]) ids.push(h.__actorId);
    for (const h of [dropped, named, released1]) gone.push(new WeakRef(h));
  })();
  await until("the dropped handles collected and released", () => gone.every((g) => g.deref() === undefined) && count(released, hold(ids[0])) === 1);
  await new Promise((r) => setTimeout(r, 20));
  gc();
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(ids.map((id) => count(released, hold(id))), [1, 0, 1, 0], "dropped, the awaitable collected but its awaited handle held, released twice, held through a method");
  assert.ok(method);
  // The awaited handle was the last sharing the named actor's hold.
  assert.ok(awaited);
  awaited = undefined;
  await until("the awaited handle released", () => count(released, hold(ids[1])) === 1);
});
