// Each model takes one typed input; a message meant for another model is a wiring bug that the
// model (and the kernel, for a message typed as any Msg) refuses with an error, never a silent drop.

import assert from "node:assert/strict";
import { test } from "node:test";
import { UnexpectedInputError } from "../../src/core/assert.ts";
import { NO_BUGS } from "../../src/core/bugs.ts";
import { CoreWorker } from "../../src/core/core-worker.ts";
import { Gcs } from "../../src/core/gcs.ts";
import { GCS_RECEIVES, RAYLET_RECEIVES, WORKER_RECEIVES, type Msg } from "../../src/core/messages.ts";
import { Raylet } from "../../src/core/raylet.ts";
import { defaultTuning } from "../../src/core/tuning.ts";
import { hostCoreWorker, hostGcs, hostRaylet, type ProcessPorts } from "../../src/runtime/kernel.ts";

const sent: { to: string; m: Msg }[] = [];
const ports: ProcessPorts<number> = {
  now: () => 0, random: () => 0.5, send: (to, m) => { sent.push({ to, m }); }, schedule: () => 0, cancel: () => {}, trace: () => {},
};
const gcs = () => hostGcs("head", defaultTuning, NO_BUGS, { ...ports, persist: () => {} });
const raylet = () => hostRaylet({ node: "head", head: "head", resources: { CPU: 1 }, incarnation: 1, storeCapacity: 1 << 20 }, defaultTuning, NO_BUGS, {
  ...ports, startWorker: () => {}, killWorker: () => {}, admit: (p) => p, release: () => {}, spill: () => {}, restore: () => {}, deleteSpilled: () => {},
});
const worker = () => hostCoreWorker("head/w1-1", "head", "head", defaultTuning, NO_BUGS, { ...ports, execute: () => {}, complete: () => {}, interrupt: () => {} });

/** A message only the GCS receives, one only a raylet receives, one only a core worker receives. */
const forGcs: Msg = { type: "RegisterFunction", fn: { id: "f", name: "f", kind: "function", source: "" } };
const forRaylet: Msg = { type: "Pull", id: "o1" };
const forWorker: Msg = { type: "PushTask", spec: {
  taskId: "t", kind: "normal", fn: "f", name: "f", args: [], returnId: "t.r", owner: "head/driver", job: "head/driver", resources: {}, strategy: "DEFAULT",
  maxRetries: 0, retryExceptions: false, attempt: 0,
} };

test("the three recipient lists split the messages: each message goes to at least one model", () => {
  assert.ok(!(GCS_RECEIVES as readonly string[]).includes(forRaylet.type) && !(WORKER_RECEIVES as readonly string[]).includes(forRaylet.type));
  assert.ok(!(RAYLET_RECEIVES as readonly string[]).includes(forGcs.type) && !(WORKER_RECEIVES as readonly string[]).includes(forGcs.type));
  assert.ok(!(RAYLET_RECEIVES as readonly string[]).includes(forWorker.type) && !(GCS_RECEIVES as readonly string[]).includes(forWorker.type));
});

test("the kernel refuses a message meant for another model, naming it", () => {
  assert.throws(() => gcs().message("head/raylet", forRaylet), (e: Error) => e instanceof UnexpectedInputError && /head\/gcs does not receive Pull/.test(e.message));
  assert.throws(() => gcs().message("head/driver", forWorker), UnexpectedInputError);
  assert.throws(() => raylet().message("head/gcs", forGcs), (e: Error) => e instanceof UnexpectedInputError && /head\/raylet does not receive RegisterFunction/.test(e.message));
  assert.throws(() => raylet().message("head/driver", forWorker), UnexpectedInputError);
  assert.throws(() => worker().message("head/driver", forGcs), (e: Error) => e instanceof UnexpectedInputError && /head\/w1-1 does not receive RegisterFunction/.test(e.message));
  assert.throws(() => worker().message("head/raylet", forRaylet), UnexpectedInputError);
});

test("each model's step throws on an input of another model (its switch is exhaustive)", () => {
  // Past the types (as a host bug would be): the model's own default branch refuses it.
  const g: Gcs = gcs().model;
  const r: Raylet = raylet().model;
  const w: CoreWorker = worker().model;
  const wrong = (msg: Msg) => ({ kind: "message", from: "x/y", msg }) as never;
  assert.throws(() => g.step(wrong(forRaylet)), (e: Error) => e instanceof UnexpectedInputError && /the GCS cannot handle/.test(e.message));
  assert.throws(() => r.step(wrong(forGcs)), (e: Error) => e instanceof UnexpectedInputError && /a raylet cannot handle/.test(e.message));
  assert.throws(() => w.step(wrong(forGcs)), (e: Error) => e instanceof UnexpectedInputError && /a core worker cannot handle/.test(e.message));
  // A timer or host notification of another model is refused too.
  assert.throws(() => g.step({ kind: "worker-exited", worker: "head/w1-1" } as never), UnexpectedInputError);
  assert.throws(() => w.step({ kind: "restored", id: "o", payload: { size: 1, hash: "h", data: null } } as never), UnexpectedInputError);
  assert.throws(() => r.step({ kind: "timer", timer: { kind: "period" } } as never), UnexpectedInputError);
});

test("the same inputs, to the right model, are handled", () => {
  sent.length = 0;
  gcs().message("head/driver", forGcs);
  const w = worker();
  w.message("head/driver", forWorker);
  // The worker does not know function f: it asks the GCS for it.
  assert.deepEqual(sent.map((s) => `${s.to} ${s.m.type}`), ["head/gcs GetFunction"]);
});

test("in the simulator, a model's refusal ends the run with that error (not a silent drop)", async () => {
  const { simulate } = await import("../../sim/simulate.ts");
  const r = await simulate({
    seed: 1, nodes: 1, program: async (ray) => { await ray.sleep(5); return 1; },
    // A host bug: the GCS's message delivered to the raylet.
    setup: (sim) => { sim.schedule(1, () => sim.raylet("head")!.step({ kind: "message", from: "head/driver", msg: forGcs } as never)); },
  });
  assert.ok(r.error instanceof UnexpectedInputError, String(r.error));
  assert.match(r.error.message, /a raylet cannot handle .*RegisterFunction/);
});
