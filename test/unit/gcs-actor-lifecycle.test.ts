// The GCS's actor and drain bookkeeping on messages that come late or twice (a creation reply
// of an earlier life, a kill of an actor already dead, a drain answered twice), and on the
// less common answers: a spillback, a constructor that fails, a raylet's leases after its
// restart, a restart by ray.kill, the demands the autoscaler reads. A GCS wired by hand (the
// test plays the raylets, the actor's workers and the driver).
import assert from "node:assert/strict";
import { test } from "node:test";
import { gcsHost } from "../helpers/gcs-host.ts";
import { NO_BUGS, type Bugs } from "../../src/core/bugs.ts";
import type { Msg } from "../../src/core/messages.ts";
import type { ActorInfo } from "../../src/core/types.ts";

const DRIVER = "head/driver";
const RAYLET = "head/raylet";

function rig(maxRestarts = 1, bugs: Bugs = NO_BUGS) {
  const { g, sent, traced } = gcsHost({ bugs });
  g.message(RAYLET, { type: "RegisterNode", node: "head", incarnation: 1, resources: { CPU: 4 } });
  g.message(DRIVER, { type: "CreateActor", spec: { actorId: "a", fn: "C:1", className: "C", args: [], owner: DRIVER, job: "head/driver", resources: { CPU: 1 }, strategy: "DEFAULT", maxRestarts, maxTaskRetries: 0 } });
  g.message(DRIVER, { type: "SubscribeActor", actorId: "a" });
  const take = <T extends Msg["type"]>(type: T) => {
    const out = sent.filter((s) => s.m.type === type).map((s) => ({ ...(s.m as Extract<Msg, { type: T }>), to: s.to }));
    sent.splice(0, sent.length, ...sent.filter((s) => s.m.type !== type));
    return out;
  };
  /** Grants the pending lease on `worker`: the GCS pushes the creation task there; returns it. */
  const place = (worker: string) => {
    const [req] = take("RequestLease");
    assert.ok(req, "the GCS asked for a lease for the actor");
    g.message(RAYLET, { type: "LeaseGranted", reqId: req.reqId, leaseId: `lease-${worker}`, worker });
    const [push] = take("PushTask");
    assert.ok(push, "the GCS pushed the creation task");
    return push.spec;
  };
  const created = (spec: { taskId: string; returnId: string; attempt: number }, worker: string) =>
    g.message(worker, { type: "TaskReply", taskId: spec.taskId, returnId: spec.returnId, attempt: spec.attempt, result: { kind: "inline", payload: { size: 1, hash: "h", data: null } } });
  /** The last ActorUpdate the driver got. */
  const info = (): ActorInfo | undefined => take("ActorUpdate").at(-1)?.info;
  return { g, sent, traced, take, place, created, info };
}

test("a duplicated grant of the actor's lease changes nothing: the actor's worker is not given back", () => {
  const r = rig();
  const [req] = r.take("RequestLease");
  const grant: Msg = { type: "LeaseGranted", reqId: req!.reqId, leaseId: "lease-w1", worker: "head/w1" };
  r.g.message(RAYLET, grant);
  assert.equal(r.take("PushTask").length, 1);
  r.g.message(RAYLET, grant);
  assert.deepEqual(r.take("ReturnLease"), [], "the worker the actor is built on was given back");
  assert.deepEqual(r.take("PushTask"), []);
  assert.equal(r.g.model.state.actors.get("a")?.address, "head/w1");
});

test("a creation reply from the actor's earlier life does not make the restarting actor alive", () => {
  const r = rig();
  const first = r.place("head/w1");
  r.g.message(RAYLET, { type: "WorkerDied", worker: "head/w1" }); // dies before its reply arrives
  assert.equal(r.info()?.state, "RESTARTING");
  r.created(first, "head/w1"); // the late reply of epoch 0
  assert.equal(r.g.model.state.actors.get("a")?.state, "RESTARTING", "a reply of the earlier life was taken for the new one's");
  const second = r.place("head/w2");
  r.created(second, "head/w2");
  assert.deepEqual([r.g.model.state.actors.get("a")?.state, r.info()?.address], ["ALIVE", "head/w2"]);
});

test("ray.kill() makes the actor dead with an ActorDiedError; a second kill changes nothing", () => {
  const r = rig();
  r.created(r.place("head/w1"), "head/w1");
  r.info();
  r.g.message(DRIVER, { type: "KillActor", actorId: "a" });
  const dead = r.info();
  assert.equal(dead?.state, "DEAD");
  assert.equal(dead?.error?.type, "ActorDiedError");
  assert.equal(dead?.address, undefined, "a killed actor's info still names the worker its kill destroyed");
  assert.deepEqual(r.take("ReturnLease").map((m) => m.leaseId), ["lease-head/w1"], "the kill gave the actor's lease back");
  r.g.message(DRIVER, { type: "KillActor", actorId: "a" });
  r.g.message(DRIVER, { type: "KillActor", actorId: "unknown" });
  assert.equal(r.info(), undefined, "a kill of a dead or unknown actor published an update");
  assert.deepEqual(r.take("ReturnLease"), [], "a second kill returned a lease again");
});

test("a drain answered twice declares the node dead once", () => {
  const r = rig();
  r.g.message(RAYLET, { type: "DrainReply", node: "head", accepted: true, reason: "idle" });
  r.g.message(RAYLET, { type: "DrainReply", node: "head", accepted: true, reason: "idle" });
  assert.equal(r.g.model.state.nodes.get("head")?.state, "DEAD");
  assert.equal(r.traced.filter((e) => e.kind === "node.drain").length, 1, "the second answer was judged again");
});

test("a restarted raylet's leases that no actor holds are returned (their workers destroyed); the actor's own is kept", () => {
  const r = rig();
  r.created(r.place("head/w1"), "head/w1");
  r.g.message(RAYLET, { type: "HeldLeases", leases: [{ leaseId: "lease-head/w1", worker: "head/w1" }, { leaseId: "stray", worker: "head/w9" }] });
  assert.deepEqual(r.take("ReturnLease").map((m) => [m.leaseId, m.destroyWorker]), [["stray", true]]);
});

test("ray.kill(noRestart: false) restarts the live actor of that epoch only; an unknown actor or an older epoch is ignored", () => {
  const r = rig();
  r.created(r.place("head/w1"), "head/w1");
  r.info();
  r.g.message(DRIVER, { type: "KillActor", actorId: "unknown", noRestart: false, epoch: 0 });
  r.g.message(DRIVER, { type: "KillActor", actorId: "a", noRestart: false, epoch: 7 });
  assert.equal(r.info(), undefined, "a kill for another epoch or actor changed something");
  r.g.message(DRIVER, { type: "KillActor", actorId: "a", noRestart: false, epoch: 0 });
  const info = r.info();
  assert.deepEqual([info?.state, info?.epoch], ["RESTARTING", 1]);
  assert.deepEqual(r.take("ReturnLease").map((m) => m.leaseId), ["lease-head/w1"], "the killed incarnation's worker was not given back");
});

test("ray.exitActor() in a restarted actor ends it for good; the exit of its earlier incarnation changes nothing", () => {
  const r = rig();
  r.created(r.place("head/w1"), "head/w1");
  r.g.message(DRIVER, { type: "KillActor", actorId: "a", noRestart: false, epoch: 0 });
  r.created(r.place("head/w2"), "head/w2");
  assert.equal(r.info()?.state, "ALIVE");
  r.g.message("head/w1", { type: "KillActor", actorId: "a", exited: true, epoch: 0 });
  assert.equal(r.info(), undefined, "the exit of incarnation 0 ended incarnation 1");
  r.g.message("head/w2", { type: "KillActor", actorId: "a", exited: true, epoch: 1 });
  assert.equal(r.info()?.state, "DEAD", "incarnation 1's exit was taken for a stale one");
});

test("ray.kill(noRestart: false) of an actor still being placed cancels its placement and starts it over, or ends it with no restart left", () => {
  const r = rig();
  const [first] = r.take("RequestLease");
  r.g.message(DRIVER, { type: "KillActor", actorId: "a", noRestart: false, epoch: 0 });
  assert.deepEqual([r.info()?.state, r.g.model.state.actors.get("a")?.epoch], ["RESTARTING", 1], "a kill before the actor was placed was ignored");
  // The first placement's grant comes late: it is given back, and the new one placed.
  r.g.message(RAYLET, { type: "LeaseGranted", reqId: first!.reqId, leaseId: "late", worker: "head/w9" });
  assert.deepEqual(r.take("ReturnLease").map((m) => m.leaseId), ["late"]);
  r.created(r.place("head/w2"), "head/w2");
  assert.equal(r.g.model.state.actors.get("a")?.state, "ALIVE");
  // Leased, its constructor under way, no restart left: killed for good, its worker destroyed.
  const last = rig(0);
  last.place("head/w1");
  last.g.message(DRIVER, { type: "KillActor", actorId: "a", noRestart: false, epoch: 0 });
  assert.equal(last.info()?.state, "DEAD");
  assert.deepEqual(last.take("ReturnLease").map((m) => [m.leaseId, m.destroyWorker]), [["lease-head/w1", true]]);
});

test("a constructor that fails for good leaves the actor dead with its error; a spillback asks the node it names", () => {
  const r = rig();
  const [req] = r.take("RequestLease");
  assert.ok(req);
  r.g.message(RAYLET, { type: "LeaseSpillback", reqId: req.reqId, node: "n2", incarnation: 1 });
  const [again] = r.take("RequestLease");
  assert.equal(again?.to, "n2/raylet", "the spillback's node was not asked");
  r.g.message("n2/raylet", { type: "LeaseGranted", reqId: again!.reqId, leaseId: "lease-n2", worker: "n2/w1" });
  const [push] = r.take("PushTask");
  r.g.message("n2/w1", { type: "TaskReply", taskId: push!.spec.taskId, returnId: push!.spec.returnId, attempt: 0, result: { kind: "error", error: { type: "TaskError", message: "boom" }, retryable: false } });
  const info = r.info();
  assert.deepEqual([info?.state, info?.error?.type], ["DEAD", "ActorDiedError"]);
});

test("a constructor whose worker could not read an argument (lost for good) leaves the actor dead, restarts left or not: it was not its worker that died", () => {
  const r = rig(3);
  const spec = r.place("head/w1");
  const error = { type: "ObjectLostError" as const, message: "object x was lost with every copy of it" };
  r.g.message("head/w1", { type: "TaskReply", taskId: spec.taskId, returnId: spec.returnId, attempt: 0, result: { kind: "error", error, retryable: true } });
  const info = r.info();
  assert.deepEqual([info?.state, info?.error?.type], ["DEAD", "ActorDiedError"]);
  assert.match(info!.error!.message, /could not read an argument: ObjectLostError: object x was lost/);
  assert.deepEqual(r.take("ReturnLease").map((m) => m.leaseId), ["lease-head/w1"], "its lease was kept");
});

test("a spillback to a node already declared dead asks a live node instead: that one would never answer", () => {
  const r = rig();
  r.g.message("n2/raylet", { type: "RegisterNode", node: "n2", incarnation: 1, resources: { CPU: 2 } });
  r.g.message("n2/raylet", { type: "DrainReply", node: "n2", accepted: true, reason: "idle" });
  const [req] = r.take("RequestLease");
  assert.ok(req);
  r.g.message(RAYLET, { type: "LeaseSpillback", reqId: req.reqId, node: "n2", incarnation: 1 });
  assert.deepEqual(r.take("RequestLease").map((m) => m.to), [RAYLET]);
});

test("the demands the autoscaler reads list an actor only while no node can host it", () => {
  const r = rig();
  assert.deepEqual(r.g.model.pendingDemands(), [], "an actor being placed is no demand");
  // Its node turned the request away (a stale view): it waits for the next registration, a
  // placement problem, not a shape the cluster lacks.
  const [req] = r.take("RequestLease");
  r.g.message(RAYLET, { type: "LeaseRejected", reqId: req!.reqId, reason: "stale", infeasible: false });
  assert.deepEqual(r.g.model.pendingDemands(), [], "an actor waiting after a rejection is no demand");
  r.g.message(DRIVER, { type: "CreateActor", spec: { actorId: "big", fn: "C:1", className: "C", args: [], owner: DRIVER, job: "head/driver", resources: { CPU: 64 }, strategy: "DEFAULT", maxRestarts: 0, maxTaskRetries: 0 } });
  assert.deepEqual(r.g.model.pendingDemands().map((d) => d.resources), [{ CPU: 64 }]);
});

test("a heartbeat from a node the GCS does not know (it never registered) is taken without harm", () => {
  const r = rig();
  r.g.message("n7/raylet", { type: "Heartbeat", node: "n7", available: { CPU: 1 }, idleMs: 5, backlog: [] });
  assert.equal(r.g.model.state.nodes.has("n7"), false, "an unknown node was registered by its heartbeat");
});

test("a spillback answered twice, or one that comes after the actor died, asks no node again", () => {
  const r = rig(0);
  const [req] = r.take("RequestLease");
  r.g.message(RAYLET, { type: "LeaseSpillback", reqId: req!.reqId, node: "n2", incarnation: 1 });
  const [again] = r.take("RequestLease");
  assert.equal(again?.to, "n2/raylet");
  r.g.message(RAYLET, { type: "LeaseSpillback", reqId: req!.reqId, node: "n2", incarnation: 1 });
  assert.deepEqual(r.take("RequestLease"), [], "a duplicated spillback asked again");
  r.g.message(DRIVER, { type: "KillActor", actorId: "a" });
  assert.equal(r.info()?.state, "DEAD");
  r.g.message("n2/raylet", { type: "LeaseSpillback", reqId: again!.reqId, node: "head", incarnation: 1 });
  assert.deepEqual(r.take("RequestLease"), [], "a dead actor was placed again on a late spillback");
});

test("an actor or placement group registered by a worker of a node life already over dies with it at once (a request held on the way)", () => {
  const r = rig();
  r.g.message("node-1/raylet", { type: "RegisterNode", node: "node-1", incarnation: 1, resources: { CPU: 2 } });
  r.g.message("node-2/raylet", { type: "RegisterNode", node: "node-2", incarnation: 1, resources: { CPU: 2 } });
  // node-1 restarted: its first life is over; node-2 is drained: declared dead.
  r.g.message("node-1/raylet", { type: "RegisterNode", node: "node-1", incarnation: 2, resources: { CPU: 2 } });
  r.g.model.step({ kind: "drain-node", node: "node-2", reason: "idle" });
  r.g.message("node-2/raylet", { type: "DrainReply", node: "node-2", accepted: true, reason: "idle" });
  r.take("RequestLease");
  const spec = (actorId: string, owner: string, detached?: true) => ({ actorId, fn: "C:1", className: "C", args: [], owner, job: owner, resources: { CPU: 1 }, strategy: "DEFAULT" as const, maxRestarts: 0, maxTaskRetries: 0, ...(detached ? { detached } : {}) });
  for (const [id, owner] of [["b", "node-1/w1-3"], ["c", "node-2/w1-1"]]) {
    r.g.message(owner, { type: "CreateActor", spec: spec(id, owner) });
    assert.deepEqual(r.traced.flatMap((t) => (t.kind === "actor.state" && t.actor === id ? [t.state] : [])), ["DEAD"], `actor ${id} of ${owner} was not dead at once`);
  }
  r.g.message("node-1/w2-1", { type: "CreateActor", spec: spec("d", "node-1/w2-1") });
  r.g.message("node-1/w1-3", { type: "CreateActor", spec: spec("e", "node-1/w1-3", true) });
  assert.ok(!r.traced.some((t) => t.kind === "actor.state" && (t.actor === "d" || t.actor === "e") && t.state === "DEAD"), "the new life's worker, or a detached actor, went too");
  assert.equal(r.take("RequestLease").length, 2);
  const group = (pgId: string, creator: string) => ({ pgId, bundles: [{ CPU: 1 }], strategy: "PACK" as const, creator });
  r.g.message("node-1/w1-3", { type: "CreatePlacementGroup", spec: group("pg-dead", "node-1/w1-3") });
  r.g.message("node-1/w2-1", { type: "CreatePlacementGroup", spec: group("pg-live", "node-1/w2-1") });
  assert.deepEqual([...(r.g.model.placementGroups.groups.keys())], ["pg-live"], "a dead creator's group was reserved");
});

test("a detached actor dead for good ends its job: its death is published by the job's name (its id), to raylets and to those that register later, after a GCS restart too; a restart, or another actor's death, ends no job", () => {
  const { g, sent, rows } = gcsHost();
  g.message(RAYLET, { type: "RegisterNode", node: "head", incarnation: 1, resources: { CPU: 4 } });
  const create = (actorId: string, detached: boolean) => g.message(DRIVER, {
    type: "CreateActor", spec: { actorId, fn: "C:1", className: "C", args: [], owner: DRIVER, job: detached ? actorId : DRIVER, resources: { CPU: 1 }, strategy: "DEFAULT", maxRestarts: 1, maxTaskRetries: 0, ...(detached ? { detached: true } : {}) },
  });
  create("d", true);
  create("a", false);
  const deaths = () => sent.flatMap((s) => (s.m.type === "WorkerDied" && s.to === RAYLET ? [s.m.worker] : []));
  g.message(DRIVER, { type: "KillActor", actorId: "d", noRestart: false, epoch: 0 });
  assert.equal(g.model.state.actors.get("d")?.state, "RESTARTING");
  g.message(DRIVER, { type: "KillActor", actorId: "a" });
  assert.deepEqual(deaths(), [], "a restart or a non-detached actor's death ended a job");
  g.message(DRIVER, { type: "KillActor", actorId: "d" });
  assert.deepEqual(deaths(), ["d"]);
  g.message("node-1/raylet", { type: "RegisterNode", node: "node-1", incarnation: 1, resources: { CPU: 1 } });
  const registered = sent.find((s) => s.to === "node-1/raylet" && s.m.type === "NodeRegistered")?.m;
  assert.ok(registered?.type === "NodeRegistered" && registered.deadWorkers?.includes("d"), "a raylet that registers later is not told the job ended");
  const again = gcsHost({ rows, recover: true });
  again.g.model.start();
  again.g.message("node-2/raylet", { type: "RegisterNode", node: "node-2", incarnation: 1, resources: { CPU: 1 } });
  const told = again.sent.find((s) => s.to === "node-2/raylet" && s.m.type === "NodeRegistered")?.m;
  assert.ok(told?.type === "NodeRegistered" && told.deadWorkers?.includes("d") && !told.deadWorkers.includes("a"), "a restarted GCS does not tell a raylet that registers that the detached actor's job ended");
});

test("an actor with no restarts left dies for good: no lease is asked for it again", () => {
  const r = rig(0);
  r.created(r.place("head/w1"), "head/w1");
  r.g.message(RAYLET, { type: "WorkerDied", worker: "head/w1" });
  assert.equal(r.info()?.state, "DEAD");
  assert.deepEqual(r.take("RequestLease"), [], "a dead actor was scheduled again");
});

test("a process that follows an actor not yet registered (its handle passed on early) hears of it once it is, and of its creator's death if that comes first, not of another process's", () => {
  const { g, sent } = gcsHost();
  g.message(RAYLET, { type: "RegisterNode", node: "head", incarnation: 1, resources: { CPU: 4 } });
  const updates = (to: string) => sent.flatMap((s) => (s.to === to && s.m.type === "ActorUpdate" ? [s.m.info] : []));
  const spec = (actorId: string, owner: string) => ({ actorId, fn: "C:1", className: "C", args: [], owner, job: "head/driver", resources: { CPU: 1 }, strategy: "DEFAULT" as const, maxRestarts: 0, maxTaskRetries: 0 });
  // Subscribed before the registration: followed from it on.
  g.message("head/w1-2", { type: "SubscribeActor", actorId: "head/driver#1" });
  assert.deepEqual(updates("head/w1-2"), [], "nothing to say yet");
  g.message(DRIVER, { type: "CreateActor", spec: spec("head/driver#1", DRIVER) });
  assert.deepEqual(updates("head/w1-2").map((i) => i.state), ["PENDING_CREATION"]);
  // The creator dies before registering: its followers hear the actor is dead; a later follower at once.
  g.message("head/w1-2", { type: "SubscribeActor", actorId: "head/w1-3#4" });
  g.message(RAYLET, { type: "WorkerDied", worker: "head/w1-3" });
  const dead = updates("head/w1-2").at(-1);
  assert.deepEqual([dead?.actorId, dead?.state, dead?.error?.type], ["head/w1-3#4", "DEAD", "ActorDiedError"]);
  g.message("head/w1-5", { type: "SubscribeActor", actorId: "head/w1-3#4" });
  assert.deepEqual(updates("head/w1-5").map((i) => i.state), ["DEAD"]);
  // A follower that dies is dropped: the registration that comes after tells it nothing.
  g.message("head/w1-6", { type: "SubscribeActor", actorId: "head/driver#7" });
  g.message(RAYLET, { type: "WorkerDied", worker: "head/w1-6" });
  g.message(DRIVER, { type: "CreateActor", spec: spec("head/driver#7", DRIVER) });
  assert.deepEqual(updates("head/w1-6"), []);
  // Another process's death says nothing of an actor whose creator still lives.
  g.message("head/w1-8", { type: "SubscribeActor", actorId: "head/driver#9" });
  g.message(RAYLET, { type: "WorkerDied", worker: "head/w1-10" });
  assert.deepEqual(updates("head/w1-8"), [], "a follower heard an actor dead whose creator lives");
});

test("under the seeded bug restart-killed-actor, the exit of a killed actor's worker restarts it; without the bug it stays dead", () => {
  for (const [bugs, want] of [[new Set(["restart-killed-actor"] as const), "RESTARTING"], [NO_BUGS, "DEAD"]] as const) {
    const r = rig(1, bugs);
    r.created(r.place("head/w1"), "head/w1");
    r.g.message(DRIVER, { type: "KillActor", actorId: "a" });
    assert.equal(r.info()?.state, "DEAD");
    r.g.message(RAYLET, { type: "WorkerDied", worker: "head/w1" });
    assert.equal(r.g.model.state.actors.get("a")?.state, want);
  }
});

test("an actor whose constructor's argument failed is registered dead with the owner's error, and its early followers hear it", () => {
  const { g, sent, traced } = gcsHost();
  g.message("head/w1-2", { type: "SubscribeActor", actorId: "head/driver#1" });
  const failed = { type: "ActorDiedError" as const, message: "the actor C cannot be created: its constructor's argument failed (TaskError: boom)" };
  g.message(DRIVER, {
    type: "CreateActor", failed,
    spec: { actorId: "head/driver#1", fn: "C:1", className: "C", args: [], owner: DRIVER, job: DRIVER, resources: {}, strategy: "DEFAULT", maxRestarts: 3, maxTaskRetries: 0, name: "c" },
  });
  const told = (to: string) => sent.flatMap((s) => (s.to === to && s.m.type === "ActorUpdate" ? [[s.m.info.state, s.m.info.error?.message]] : []));
  assert.deepEqual(told("head/w1-2"), [["DEAD", failed.message]]);
  assert.deepEqual(told(DRIVER), [["DEAD", failed.message]], "the owner follows it too");
  assert.deepEqual(traced.filter((e) => e.kind === "actor.state").map((e) => e.kind === "actor.state" && e.state), ["DEAD"], "dead at once, whatever its restarts");
  assert.equal(sent.some((s) => s.m.type === "RequestLease"), false, "never placed");
  assert.equal(g.model.state.actors.get("head/driver#1")?.state, "DEAD");
});

test("an actor's registration traces the objects its constructor's arguments pass, and no args field when they pass none", () => {
  const { g, traced } = gcsHost();
  g.message("head/raylet", { type: "RegisterNode", node: "head", incarnation: 1, resources: { CPU: 4 } });
  const create = (actorId: string, args: unknown[]) =>
    g.message("head/driver", { type: "CreateActor", spec: { actorId, fn: "C:1", className: "C", args, owner: "head/driver", job: "head/driver", resources: { CPU: 1 }, strategy: "DEFAULT", maxRestarts: 0, maxTaskRetries: 0 } } as Msg);
  create("plain", [{ v: { size: 1, hash: "h", data: 1 } }]);
  create("withRef", [{ ref: "head/driver#9", owner: "head/driver" }]);
  const registered = traced.flatMap((e) => (e.kind === "actor.registered" ? [[e.actor, "args" in e ? e.args : "none"]] : []));
  assert.deepEqual(registered, [["plain", "none"], ["withRef", ["head/driver#9"]]]);
});

test("removing a placement group ends the actors placed in it, and no actor of another group", () => {
  const r = rig();
  for (const pgId of ["pg1", "pg2"]) {
    r.g.message(DRIVER, { type: "CreatePlacementGroup", spec: { pgId, bundles: [{ CPU: 1 }], strategy: "PACK", creator: DRIVER } });
    r.g.message(DRIVER, { type: "CreateActor", spec: { actorId: `in-${pgId}`, fn: "C:1", className: "C", args: [], owner: DRIVER, job: DRIVER, resources: { CPU: 1 }, strategy: { placementGroup: pgId, bundleIndex: 0, captureChildTasks: false }, maxRestarts: 1, maxTaskRetries: 0 } });
  }
  r.g.message(DRIVER, { type: "RemovePlacementGroup", pgId: "pg1" });
  const state = (id: string) => r.g.model.state.actors.get(id)?.state;
  assert.equal(state("in-pg1"), "DEAD");
  assert.notEqual(state("in-pg2"), "DEAD", "an actor of a group still there was ended");
  assert.notEqual(state("a"), "DEAD");
});
