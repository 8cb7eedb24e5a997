// The fault checkers (invariants 2, 4, 7, 8 of docs/architecture.md): hand-built traces, one correct history per
// checker and one minimal broken history per rule, then a real simulation with a fault.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import type { TraceBody, TraceEvent } from "../../spec/trace.ts";
import { checkTrace, checkers, formatViolations, type Checker, type CheckContext } from "../../spec/index.ts";
import { OwnerLives } from "../../spec/invariants/owners.ts";
import { simulate } from "../../sim/index.ts";
import { one } from "../helpers/invariants.ts";

// Builds a trace with t = 10 * index (so time bounds are easy to state); `node` defaults to "n1".
type Ev = TraceBody & { node?: string; t?: number; until?: number };
function trace(...bodies: Ev[]): TraceEvent[] {
  return bodies.map((b, i) => ({ t: i * 10, node: "n1", ...b }) as TraceEvent);
}

function clean(check: Checker, events: TraceEvent[], ctx: CheckContext = {}) {
  const v = check(events, ctx);
  assert.deepEqual(v, [], formatViolations(v));
}


// --- event shorthands ----------------------------------------------------------------------
const W1 = "n1/w1-1"; // a worker of node n1's first life
const reg = (id: string): Ev => ({ kind: "node.registered", comp: "gcs", id, resources: { CPU: 1 }, node: "head" });
const dead = (id: string): Ev => ({ kind: "node.dead", comp: "gcs", id, reason: "missed heartbeats", node: "head" });
const fenced = (id: string): Ev => ({ kind: "node.fenced", comp: "raylet", id, node: id });
const workerDied = (worker: string): Ev => ({ kind: "worker.died", comp: "raylet", worker, node: worker.split("/")[0] });
const submit = (task: string, o: { owner?: string; maxRetries?: number; actor?: string; args?: string[] } = {}): Ev => ({
  kind: "task.submitted", comp: "owner", task, fn: "f", owner: o.owner ?? "head/driver", returns: `${task}.r`, args: o.args ?? [],
  maxRetries: o.maxRetries ?? 3, ...(o.actor === undefined ? {} : { actor: o.actor, caller: o.owner ?? "head/driver", seq: 0 }),
});
const started = (task: string, worker: string): Ev => ({ kind: "task.started", comp: "worker", task, worker, attempt: 0, node: worker.split("/")[0] });
const retry = (task: string, attempt = 1): Ev => ({ kind: "task.retry", comp: "owner", task, attempt, reason: "lost" });
const failed = (task: string, error: string): Ev => ({ kind: "task.failed", comp: "owner", task, error });
const getFailed = (obj: string, error: string, reader = "head/driver"): Ev => ({ kind: "get.failed", comp: "owner", obj, error, reader });
const stored = (obj: string, node = "n1"): Ev => ({ kind: "object.created", comp: "store", obj, size: 8, hash: "h", where: "store", node });
const lost = (obj: string): Ev => ({ kind: "object.lost", comp: "owner", obj });
const outOfScope = (obj: string): Ev => ({ kind: "object.out-of-scope", comp: "owner", obj });
const actorState = (actor: string, state: string, epoch: number): Ev => ({ kind: "actor.state", comp: "gcs", actor, state, epoch, node: "head" });
const result = (task: string, actor: string, caller: string, epoch: number): Ev => ({ kind: "actor.result", comp: "owner", task, actor, caller, epoch });
const fault = (f: string, extra: { until?: number; t?: number } = {}): Ev => ({ kind: "fault", comp: "host", fault: f, node: "head", ...extra });
const recovered = (nodes: number, actors: number): Ev => ({ kind: "gcs.recovered", comp: "gcs", nodes, actors, node: "head" });
const recoveredTables = (nodeIds: string[], actorIds: string[]): Ev => ({ kind: "gcs.recovered", comp: "gcs", nodes: nodeIds.length, actors: actorIds.length, nodeIds, actorIds, node: "head" });
const acknowledged = (nodes: string[], actors: string[]): Ev => ({ kind: "storage.acknowledged", comp: "host", nodes, actors, node: "head" });
const end = (ok = true): Ev => ({ kind: "program.end", comp: "host", ok, node: "head" });
const quiet = (): Ev => ({ kind: "cluster.quiet", comp: "host", node: "head" });

describe("liveness", () => {
  const check = checkers.liveness;

  test("a program that ends soon after its faults heal passes", () => {
    clean(check, trace(reg("n1"), fault("kill-worker"), fault("partition", { until: 500 }), end(), quiet()));
    clean(check, trace(fault("partition", { until: 500 }), end(), quiet()), { livenessBoundMs: 0 }); // ended before it healed
  });
  test("a trace cut short is not judged a hang unless the host expected an end", () => {
    clean(check, trace(reg("n1"), fault("kill-node")));
    clean(check, []);
  });
  test("a trace with a quiet point but no program.end is a hang", () => {
    one(check, trace(reg("n1"), fault("kill-node"), quiet()), "liveness", "the program never finished (hang)", 2);
  });
  test("expectEnd judges a trace without program.end as a hang", () => {
    one(check, trace(reg("n1"), fault("kill-node")), "liveness", "never finished (hang)", 1, { expectEnd: true });
    const v = check([], { expectEnd: true });
    assert.equal(v.length, 1);
    assert.match(v[0].message, /never finished \(hang\)/);
  });
  test("a program that ends too long after the last fault healed", () => {
    // t: fault at 0, end at 10 + 70 000 by hand.
    const events = trace(fault("kill-node"), { ...end(), t: 70_000 } as Ev);
    one(check, events, "liveness", "program took 70000 ms to finish after the last fault healed", 1);
    clean(check, events, { livenessBoundMs: 70_000 });
  });
  test("a fault's until, when the host records it, is when it healed", () => {
    const events = trace(fault("partition", { until: 30_000 }), { ...end(), t: 100_000 } as Ev);
    one(check, events, "liveness", "program took 70000 ms", 1);
    clean(check, trace(fault("partition", { until: 50_000 }), { ...end(), t: 100_000 } as Ev));
  });
});

const cancelled2 = (task: string): Ev => ({ kind: "task.cancelled", comp: "owner", task, force: false });
describe("errors-earned", () => {
  const check = checkers["errors-earned"];

  test("errors after a fault, an actor's death, or passed on from an argument pass", () => {
    clean(check, trace(
      submit("t1"),
      submit("c1", { actor: "a" }),
      actorState("a", "DEAD", 0), // killed by the program: no fault needed
      failed("c1", "ActorDiedError"),
      getFailed("c1.r", "ActorDiedError"), // the read of a failed call: judged at the task
      submit("t2", { args: ["c1.r"] }),
      failed("t2", "ActorDiedError"), // passed on from its argument
      failed("t3", "TaskError"), // an application error is always earned
      fault("kill-node"),
      failed("t1", "WorkerCrashedError"),
      getFailed("t1.r", "WorkerCrashedError"),
      getFailed("x", "OwnerDiedError"),
    ).map((e) => (e.kind === "task.submitted" && e.task === "t1" ? { ...e, maxRetries: 0 } : e)));
  });
  test("what a killed actor, or one dead without a fault, owned fails with OwnerDiedError: the program's doing", () => {
    const alive = (actor: string, worker: string): Ev => ({ ...actorState(actor, "ALIVE", 0), worker } as Ev);
    const killed = (actor: string, noRestart: boolean): Ev => ({ kind: "actor.killed", comp: "owner", actor, caller: "head/driver", noRestart });
    clean(check, trace(
      alive("a", W1), killed("a", true), getFailed(`${W1}#1`, "OwnerDiedError"),
      alive("b", "n1/w1-2"), killed("b", false), getFailed("n1/w1-2#4", "OwnerDiedError"), // restarted elsewhere: the old worker's objects are gone
      alive("c", "n1/w1-3"), actorState("c", "DEAD", 0), getFailed("n1/w1-3#1", "OwnerDiedError"), // it died with its creator
      // leased to an actor that died before its creation started there
      { kind: "lease.granted", comp: "raylet", job: "head/driver", lease: "L9", worker: "n1/w1-4", resources: {}, actor: "d", task: "d:create:0" }, actorState("d", "DEAD", 0), getFailed("n1/w1-4#1", "OwnerDiedError"),
      // a grant for an incarnation a kill already ended: given back, its worker destroyed
      actorState("e", "RESTARTING", 1), { kind: "lease.granted", comp: "raylet", job: "head/driver", lease: "L10", worker: "n1/w1-5", resources: {}, actor: "e", task: "e:create:0" },
      getFailed("n1/w1-5#1", "OwnerDiedError"),
    ));
    // The grant of the live incarnation is the actor's worker: its objects' loss needs a cause.
    one(check, trace(actorState("e", "RESTARTING", 1), { kind: "lease.granted", comp: "raylet", job: "head/driver", lease: "L10", worker: "n1/w1-5", resources: {}, actor: "e", task: "e:create:1" }, getFailed("n1/w1-5#1", "OwnerDiedError")),
      "errors-earned", "OwnerDiedError without any injected fault (a get of object n1/w1-5#1 failed)", 2);
    one(check, trace(alive("a", W1), alive("b", "n1/w1-2"), killed("b", true), getFailed(`${W1}#1`, "OwnerDiedError")),
      "errors-earned", `OwnerDiedError without any injected fault (a get of object ${W1}#1 failed)`, 3);
  });
  test("a task whose argument was borrowed from an owner the program ended fails with OwnerDiedError, earned; borrowed from a live owner, not", () => {
    const alive: Ev = { ...actorState("a", "ALIVE", 0), worker: W1 } as Ev;
    const killed: Ev = { kind: "actor.killed", comp: "owner", actor: "a", caller: "head/driver", noRestart: true };
    const borrowing = (task: string, obj: string): Ev => ({ ...submit(task), borrowed: [obj] } as Ev);
    clean(check, trace(alive, borrowing("t1", `${W1}#2.r`), killed, actorState("a", "DEAD", 0), failed("t1", "OwnerDiedError"), getFailed("t1.r", "OwnerDiedError")));
    one(check, trace(alive, borrowing("t1", "n1/w1-9#2.r"), killed, actorState("a", "DEAD", 0), failed("t1", "OwnerDiedError")),
      "errors-earned", "OwnerDiedError without any injected fault (task t1 failed)", 4);
  });
  test("an actor that exited (ray.exitActor) is the program's doing: its calls' ActorDiedError and its objects' OwnerDiedError", () => {
    const exited: Ev = { kind: "actor.exited", comp: "worker", actor: "a", worker: W1, epoch: 0, method: "quit" };
    clean(check, trace({ ...actorState("a", "ALIVE", 0), worker: W1 } as Ev, submit("c1", { actor: "a" }), exited, failed("c1", "ActorDiedError"), getFailed(`${W1}#1`, "OwnerDiedError")));
  });
  test("an actor whose every handle went out of scope is the program's doing: its calls' ActorDiedError and its objects' OwnerDiedError", () => {
    const outOfScope: Ev = { kind: "actor.out-of-scope", comp: "owner", actor: "a", owner: "head/driver" };
    const alive: Ev = { ...actorState("a", "ALIVE", 0), worker: W1 } as Ev;
    // Before the GCS says DEAD: a call through a lookup handle may already fail, and under faults the budget is no excuse.
    clean(check, trace(alive, submit("c1", { actor: "a" }), outOfScope, getFailed(`${W1}#1`, "OwnerDiedError"), fault("kill-node"), failed("c1", "ActorDiedError")));
    one(check, trace(alive, submit("c1", { actor: "a" }), fault("kill-node"), failed("c1", "ActorDiedError")),
      "errors-earned", "call c1 failed with ActorDiedError, but actor a was not dead and had never restarted", 3);
  });
  test("a call that held a handle (the owner's, or one that took the handle object) is never failed by its actor's handles going out of scope; a later one, or a lookup's, may be", () => {
    const registered: Ev = { kind: "actor.registered", comp: "gcs", actor: "a", owner: "head/driver", detached: false };
    const outOfScope: Ev = { kind: "actor.out-of-scope", comp: "owner", actor: "a", owner: "head/driver" };
    const byLookup = submit("c2", { actor: "a", owner: "n1/w1-9" });
    clean(check, trace(registered, submit("c0", { actor: "a" }), failed("c0", "TaskError"), outOfScope, submit("c1", { actor: "a" }), byLookup, actorState("a", "DEAD", 0), failed("c1", "ActorDiedError"), failed("c2", "ActorDiedError")));
    one(check, trace(registered, submit("c1", { actor: "a" }), outOfScope, actorState("a", "DEAD", 0), failed("c1", "ActorDiedError")),
      "errors-earned", "ActorDiedError for a call made through a handle to actor a before every handle to it went out of scope (task c1 failed): a pending call keeps its actor", 4);
    // Another caller's call that took the handle object (borrowed) held it too.
    one(check, trace(registered, { ...byLookup, borrowed: ["a.h"] } as Ev, outOfScope, actorState("a", "DEAD", 0), failed("c2", "ActorDiedError")),
      "errors-earned", "ActorDiedError for a call made through a handle to actor a before every handle to it went out of scope (task c2 failed): a pending call keeps its actor", 4);
    // Killed meanwhile (by another caller's ray.kill): earned.
    const killed: Ev = { kind: "actor.killed", comp: "owner", actor: "a", caller: "n1/w1-9", noRestart: true };
    clean(check, trace(registered, submit("c1", { actor: "a" }), outOfScope, killed, actorState("a", "DEAD", 0), failed("c1", "ActorDiedError")));
  });
  test("a worker destroyed because its lease holder ended by the program's doing is too; one whose holder lives needs a cause", () => {
    const alive: Ev = { ...actorState("a", "ALIVE", 0), worker: W1 } as Ev;
    const exited: Ev = { kind: "actor.exited", comp: "worker", actor: "a", worker: W1, epoch: 0, method: "quit" };
    const leased = (holder: string): Ev => ({ kind: "lease.granted", comp: "raylet", job: "head/driver", lease: "L1", worker: "n1/w1-2", resources: { CPU: 1 }, holder });
    clean(check, trace(alive, exited, leased(W1), workerDied("n1/w1-2"), getFailed("n1/w1-2#1", "OwnerDiedError")));
    one(check, trace(alive, exited, leased("head/driver"), workerDied("n1/w1-2"), getFailed("n1/w1-2#1", "OwnerDiedError")),
      "errors-earned", "OwnerDiedError without any injected fault (a get of object n1/w1-2#1 failed)", 4);
  });
  test("a get that fails inside a task whose owner exited reaches nobody; after the task ended, or for a live owner, it needs a cause", () => {
    const exited: Ev = { kind: "owner.exited", comp: "owner", owner: "head/driver" };
    const finished: Ev = { kind: "task.finished", comp: "worker", task: "t1", worker: W1, attempt: 0, ok: true, hash: "h" };
    clean(check, trace(submit("t1"), started("t1", W1), exited, getFailed("n2/w1-1#2.r", "ObjectLostError", W1)));
    one(check, trace(submit("t1"), started("t1", W1), getFailed("n2/w1-1#2.r", "ObjectLostError", W1)),
      "errors-earned", "ObjectLostError without any injected fault (a get of object n2/w1-1#2.r failed)", 2);
    one(check, trace(submit("t1"), started("t1", W1), finished, exited, getFailed("n2/w1-1#2.r", "ObjectLostError", W1)),
      "errors-earned", "ObjectLostError without any injected fault (a get of object n2/w1-1#2.r failed)", 4);
  });
  test("what a worker of a node the autoscaler drained owned fails with OwnerDiedError; a node dead otherwise needs a fault", () => {
    const nodeDead = (id: string, reason: string): Ev => ({ kind: "node.dead", comp: "gcs", id, reason });
    clean(check, trace(nodeDead("auto-1", "drained: idle for 1 s"), getFailed("auto-1/w1-1#2", "OwnerDiedError")));
    // Only the life that was drained: a worker of the node's next life is another owner.
    one(check, trace(nodeDead("auto-1", "drained: idle for 1 s"), getFailed("auto-1/w2-1#2", "OwnerDiedError")),
      "errors-earned", "OwnerDiedError without any injected fault (a get of object auto-1/w2-1#2 failed)", 1);
    one(check, trace(nodeDead("n1", "missed heartbeats"), getFailed("n1/w1-1#2", "OwnerDiedError")),
      "errors-earned", "OwnerDiedError without any injected fault (a get of object n1/w1-1#2 failed)", 1);
  });
  test("what a worker killed with its placement group's removal owned fails with OwnerDiedError: the program's doing", () => {
    const lease = (worker: string, bundle?: string): Ev => ({ kind: "lease.granted", comp: "raylet", job: "head/driver", lease: `L-${worker}`, worker, resources: { CPU: 1 }, ...(bundle ? { bundle } : {}) });
    const released = (bundle: string): Ev => ({ kind: "bundle.released", comp: "raylet", bundle, resources: { CPU: 1 } });
    const reserved = (bundle: string): Ev => ({ kind: "bundle.reserved", comp: "raylet", bundle, resources: { CPU: 1 } });
    clean(check, trace(
      lease(W1), lease(W1, "pg:1#0"), workerDied(W1), released("pg:1#0"), getFailed(`${W1}#1`, "OwnerDiedError"),
      lease("n1/w1-2", "pg:2#0"), released("pg:2#0"), workerDied("n1/w1-2"), getFailed("n1/w1-2#1", "OwnerDiedError"), // the other order
    ));
    // A worker that died on its own, its last lease outside any bundle, or in a bundle reserved again since.
    one(check, trace(lease(W1, "pg:1#0"), lease(W1), released("pg:1#0"), workerDied(W1), getFailed(`${W1}#1`, "OwnerDiedError")),
      "errors-earned", `OwnerDiedError without any injected fault (a get of object ${W1}#1 failed)`, 4);
    one(check, trace(lease(W1, "pg:1#0"), released("pg:1#0"), reserved("pg:1#0"), lease(W1, "pg:1#0"), workerDied(W1), getFailed(`${W1}#1`, "OwnerDiedError")),
      "errors-earned", `OwnerDiedError without any injected fault (a get of object ${W1}#1 failed)`, 5);
  });
  test("a worker crash is earned once the retries are spent, an actor call's death once the actor restarted and its retries are spent", () => {
    clean(check, trace(fault("kill-worker"), submit("t1", { maxRetries: 2 }), retry("t1", 1), retry("t1", 2), failed("t1", "WorkerCrashedError")));
    clean(check, trace(fault("kill-node"), submit("c1", { actor: "a", maxRetries: 1 }), actorState("a", "RESTARTING", 1), retry("c1"), actorState("a", "RESTARTING", 2), failed("c1", "ActorDiedError")));
  });
  test("a worker crash with retries left, even after a fault (the never-retry mutant)", () => {
    one(check, trace(fault("kill-worker"), submit("t1", { maxRetries: 2 }), retry("t1", 1), failed("t1", "WorkerCrashedError")),
      "errors-earned", "task t1 failed with WorkerCrashedError with 1 of its 2 retries used: it must be retried", 3);
    one(check, trace(fault("kill-worker"), submit("t1", { maxRetries: -1 }), failed("t1", "WorkerCrashedError")),
      "errors-earned", "with unlimited retries (-1)", 2);
  });
  test("an uncharged retry (its worker destroyed for another task's forced cancel) does not spend the budget", () => {
    const uncharged = (task: string, attempt: number): Ev => ({ kind: "task.retry", comp: "owner", task, attempt, reason: "its worker was destroyed", uncharged: true });
    one(check, trace(fault("kill-worker"), submit("t1", { maxRetries: 1 }), uncharged("t1", 1), failed("t1", "WorkerCrashedError")),
      "errors-earned", "task t1 failed with WorkerCrashedError with 0 of its 1 retries used: it must be retried", 3);
    clean(check, trace(fault("kill-worker"), submit("t1", { maxRetries: 1 }), uncharged("t1", 1), retry("t1", 2), failed("t1", "WorkerCrashedError")));
    clean(checkers.budgets, trace(submit("t1", { maxRetries: 0 }), uncharged("t1", 1), uncharged("t1", 2)));
    one(checkers.budgets, trace(submit("t1", { maxRetries: 0 }), uncharged("t1", 1), retry("t1", 2)), "budgets", "task t1 retried 1 times, over its budget of maxRetries=0", 2);
  });
  test("TaskCancelledError is earned by the task's own cancel, or passed on from an argument; a forced cancel's worker is lost as if it exited", () => {
    const cancelled = (task: string, worker?: string): Ev => ({ kind: "task.cancelled", comp: "owner", task, force: worker !== undefined, ...(worker ? { worker } : {}) });
    clean(check, trace(
      submit("t1"), cancelled("t1"), failed("t1", "TaskCancelledError"), getFailed("t1.r", "TaskCancelledError"),
      submit("t2", { args: ["t1.r"] }), failed("t2", "TaskCancelledError"),
      submit("t3"), cancelled("t3", W1), failed("t3", "TaskCancelledError"),
      submit("t4", { owner: W1 }), failed("t4", "OwnerDiedError"), getFailed(`${W1}#5`, "OwnerDiedError"),
    ));
  });
  test("TaskCancelledError without a cancel, even after a fault", () => {
    one(check, trace(fault("kill-node"), submit("t1"), failed("t1", "TaskCancelledError")),
      "errors-earned", "TaskCancelledError though the task was never cancelled", 2);
    one(check, trace(submit("t1"), cancelled2("t0"), getFailed("t1.r", "TaskCancelledError")),
      "errors-earned", "TaskCancelledError though the task was never cancelled", 2);
  });
  test("TaskPlacementGroupRemoved only for a task in a group that is removed; the removal explains a crash of its task too", () => {
    const asked = (task: string, pg: string, capture = false): Ev => ({ kind: "placement.asked", comp: "owner", task, pg, ...(capture ? { capture: true as const } : {}) });
    const child = (task: string, parent: string): Ev => ({ kind: "placement.asked", comp: "owner", task, parent });
    const removed = (pg: string): Ev => ({ kind: "pg.state", comp: "gcs", pg, state: "REMOVED" });
    // The owner that removes the group fails its queued tasks before the GCS says REMOVED.
    clean(check, trace(asked("t1", "pg1"), submit("t1"), failed("t1", "TaskPlacementGroupRemoved"), removed("pg1")));
    one(check, trace(asked("t1", "pg1"), submit("t1"), failed("t1", "TaskPlacementGroupRemoved"), removed("pg2")),
      "errors-earned", "TaskPlacementGroupRemoved though its group pg1 was never removed", 2);
    one(check, trace(submit("t1"), failed("t1", "TaskPlacementGroupRemoved"), removed("pg1")), "errors-earned", "the task ran in no placement group", 1);
    // A child of a task that captures its children runs in the parent's group; one of a task that does not, outside it.
    clean(check, trace(asked("t1", "pg1", true), child("t2", "t1"), submit("t2"), removed("pg1"), failed("t2", "TaskPlacementGroupRemoved")));
    one(check, trace(asked("t1", "pg1"), child("t2", "t1"), submit("t2"), removed("pg1"), failed("t2", "TaskPlacementGroupRemoved")), "errors-earned", "no placement group", 4);
    clean(check, trace(asked("t1", "pg1"), submit("t1"), removed("pg1"), failed("t1", "WorkerCrashedError")));
    one(check, trace(asked("t1", "pg1"), submit("t1"), failed("t1", "WorkerCrashedError"), removed("pg1")), "errors-earned", "WorkerCrashedError without any injected fault", 2);
  });
  test("an actor call failing with ActorDiedError after a fault, while its actor lives or with retries left", () => {
    one(check, trace(fault("kill-node"), submit("c1", { actor: "a" }), failed("c1", "ActorDiedError")),
      "errors-earned", "call c1 failed with ActorDiedError, but actor a was not dead and had never restarted", 2);
    one(check, trace(fault("kill-node"), submit("c1", { actor: "a", maxRetries: 2 }), actorState("a", "RESTARTING", 1), failed("c1", "ActorDiedError")),
      "errors-earned", "the call had 0 of its 2 retries used", 3);
  });
  for (const error of ["WorkerCrashedError", "ObjectLostError", "OwnerDiedError"]) {
    test(`a task failing with ${error} before any fault`, () => {
      one(check, trace(reg("n1"), submit("t1"), failed("t1", error), fault("kill-node")), "errors-earned", `${error} without any injected fault`, 2);
    });
  }
  test("a get failing with a system error before any fault", () => {
    one(check, trace(submit("t1"), getFailed("t1.r", "OwnerDiedError")), "errors-earned", "OwnerDiedError without any injected fault (a get of object t1.r failed)", 1);
  });
  test("ActorDiedError without a fault and before the actor was declared DEAD", () => {
    one(check, trace(submit("c1", { actor: "a" }), failed("c1", "ActorDiedError"), actorState("a", "DEAD", 0)), "errors-earned", "actor a was never declared DEAD", 1);
  });
  test("ActorDiedError without a fault when another actor died", () => {
    one(check, trace(submit("c1", { actor: "a" }), actorState("b", "DEAD", 0), getFailed("c1.r", "ActorDiedError")), "errors-earned", "ActorDiedError without any injected fault", 2);
  });
  test("ActorDiedError of a task that is no actor call and has no failed argument", () => {
    one(check, trace(submit("t1"), failed("t1", "ActorDiedError")), "errors-earned", "ActorDiedError without any injected fault (task t1 failed)", 1);
  });
  test("ObjectLostError for an object whose task has unlimited retries and whose owner lives", () => {
    one(check, trace(fault("kill-node"), submit("t1", { maxRetries: -1 }), stored("t1.r"), dead("n1"), lost("t1.r"), getFailed("t1.r", "ObjectLostError")),
      "errors-earned", "ObjectLostError for object t1.r, though its task t1 has unlimited retries (maxRetries=-1)", 5);
  });
  test("ObjectLostError is earned when the owner died, the budget was bounded, the task failed on a lost argument, or it is an actor call", () => {
    const owner = "n2/w1-1";
    // The owner died with its node (the driver never does; an owner never seen before its node died is of that life).
    clean(check, trace(fault("kill-node"), submit("t1", { maxRetries: -1, owner }), dead("n2"), getFailed("t1.r", "ObjectLostError")));
    clean(check, trace(fault("kill-worker"), submit("t1", { maxRetries: -1, owner }), workerDied(owner), getFailed("t1.r", "ObjectLostError")));
    clean(check, trace(fault("kill-node"), dead("n2"), submit("t1", { maxRetries: -1, owner }), getFailed("t1.r", "ObjectLostError")));
    clean(check, trace(fault("kill-node"), submit("t1", { maxRetries: 3 }), lost("t1.r"), getFailed("t1.r", "ObjectLostError")));
    clean(check, trace(fault("kill-node"), submit("t1", { maxRetries: -1 }), lost("t1.r"), retry("t1"), failed("t1", "ObjectLostError"), getFailed("t1.r", "ObjectLostError")));
    clean(check, trace(fault("kill-node"), submit("c1", { maxRetries: -1, actor: "a" }), lost("c1.r"), getFailed("c1.r", "ObjectLostError")));
  });
  test("an owner on a node that died and came back: the new life's worker lives", () => {
    const owner = "n2/w2-1";
    one(check, trace(fault("restart-node"), dead("n2"), reg("n2"), submit("t1", { maxRetries: -1, owner }), getFailed("t1.r", "ObjectLostError")),
      "errors-earned", "its owner n2/w2-1 lives", 4);
  });
});

describe("split-brain", () => {
  const check = checkers["split-brain"];

  test("a fenced node that restarts, and results in rising epochs, pass", () => {
    clean(check, trace(
      reg("n1"),
      { kind: "lease.granted", comp: "raylet", job: "head/driver", lease: "L1", worker: W1, resources: { CPU: 1 }, node: "n1" },
      started("t1", W1),
      dead("n1"),
      fenced("n1"),
      started("t2", "n1/w2-1"), // a restarted raylet's worker, ahead of its registration
      reg("n1"),
      started("t3", "n1/w2-2"),
      actorState("a", "ALIVE", 0),
      result("c1", "a", "head/driver", 0),
      result("c1b", "a", "n2/w1-1", 0),
      actorState("a", "RESTARTING", 1),
      actorState("a", "ALIVE", 1),
      result("c2", "a", "head/driver", 1),
      result("c3", "a", "n2/w1-1", 1),
    ));
  });
  test("a task started on a node after it fenced itself", () => {
    one(check, trace(reg("n1"), started("t1", W1), dead("n1"), fenced("n1"), started("t2", W1)),
      "split-brain", "task t2 started on worker n1/w1-1 of node n1 after the node fenced itself", 4);
  });
  test("a worker of the fenced life that had not run before is still fenced", () => {
    one(check, trace(reg("n1"), started("t1", W1), fenced("n1"), started("t2", "n1/w1-7")), "split-brain", "after the node fenced itself", 3);
  });
  test("accepted epochs going backwards for one caller", () => {
    one(check, trace(result("c1", "a", "head/driver", 2), result("c2", "a", "head/driver", 1)),
      "split-brain", "from epoch 1 after accepting results from epoch 2 (epochs went backwards)", 1);
  });
  test("epochs are per caller: another caller may still be on an older epoch", () => {
    clean(check, trace(result("c1", "a", "head/driver", 2), result("c2", "a", "n2/w1-1", 1)));
  });
  test("a result accepted from an incarnation older than the one already ALIVE", () => {
    one(check, trace(actorState("a", "ALIVE", 0), actorState("a", "RESTARTING", 1), actorState("a", "ALIVE", 1), result("c1", "a", "head/driver", 0)),
      "split-brain", "result accepted from a stale incarnation", 3);
  });
  test("a result from the old epoch while the new one is only RESTARTING is not stale yet", () => {
    clean(check, trace(actorState("a", "ALIVE", 0), actorState("a", "RESTARTING", 1), result("c1", "a", "head/driver", 0)));
  });
});

describe("lineage", () => {
  const check = checkers.lineage;

  test("lost objects that are re-made or re-run, puts, spent budgets and dead owners pass", () => {
    const owner = "n2/w1-1";
    clean(check, trace(
      submit("t1", { maxRetries: -1 }), stored("t1.r"), lost("t1.r"), retry("t1"), stored("t1.r", "n2"),
      submit("t2", { maxRetries: 1 }), stored("t2.r"), lost("t2.r"), stored("t2.r", "n3"), // another copy found
      lost("p1"), // a put: no lineage
      submit("t3", { maxRetries: 1 }), retry("t3"), stored("t3.r"), lost("t3.r"), // budget spent
      submit("t4", { maxRetries: 0 }), stored("t4.r"), lost("t4.r"),
      submit("t5", { maxRetries: 3, owner }), stored("t5.r"), lost("t5.r"), dead("n2"), // its owner died
      submit("c1", { maxRetries: -1, actor: "a" }), lost("c1.r"), // an actor call
    ));
  });
  test("a lost object whose owner lives and whose task has retries left, never re-made", () => {
    one(check, trace(submit("t1", { maxRetries: 3 }), retry("t1"), stored("t1.r"), lost("t1.r"), end()),
      "lineage", "lost object t1.r was not reconstructed though its owner lives and 2 retries remained", 3);
  });
  test("unlimited retries", () => {
    one(check, trace(submit("t1", { maxRetries: -1 }), stored("t1.r"), lost("t1.r")), "lineage", "owner lives and unlimited retries remained", 2);
  });
  test("a retry before the loss does not answer it", () => {
    one(check, trace(submit("t1", { maxRetries: 3 }), retry("t1"), stored("t1.r"), stored("t2.r"), lost("t1.r")), "lineage", "2 retries remained", 4);
  });
  test("a worker owner on a node that restarted before it appeared lives", () => {
    const owner = "n2/w2-1";
    one(check, trace(dead("n2"), reg("n2"), submit("t1", { maxRetries: 1, owner }), stored("t1.r"), lost("t1.r")), "lineage", "owner n2/w2-1", 4);
  });
  const item = (task: string, index: number, attempt = 0): Ev => ({ kind: "generator.item", comp: "owner", task, index, obj: `${task}.y${index}`, attempt, hash: "h" });
  const restored = (task: string, index: number, attempt: number): Ev => ({ kind: "generator.restored", comp: "owner", task, index, obj: `${task}.y${index}`, attempt, hash: "h" });
  test("a task's lost generator item is yielded again or re-run for; an actor method's is exempt", () => {
    clean(check, trace(
      submit("g1", { maxRetries: -1 }), stored("g1.y0"), item("g1", 0), lost("g1.y0"), restored("g1", 0, 1),
      submit("g2", { maxRetries: 2 }), stored("g2.y0"), item("g2", 0), lost("g2.y0"), retry("g2"),
      submit("g3", { maxRetries: -1, actor: "a" }), stored("g3.y0"), item("g3", 0), lost("g3.y0"),
    ));
  });
  test("an item lost after its generator task failed for good is not re-run for (a failed task is not run again)", () => {
    clean(check, trace(submit("g1", { maxRetries: -1 }), stored("g1.y0"), item("g1", 0), failed("g1", "ObjectLostError"), lost("g1.y0"), end()));
  });
  test("a lost generator item that a re-run under way has not come to yet is left to it; one it has passed is not", () => {
    const retryAttempt = (task: string, attempt: number): Ev => ({ kind: "task.retry", comp: "owner", task, attempt, reason: "reconstructing" });
    clean(check, trace(
      submit("g1", { maxRetries: -1 }), stored("g1.y0"), item("g1", 0), stored("g1.y1"), item("g1", 1),
      lost("g1.y0"), retryAttempt("g1", 1), lost("g1.y1"), outOfScope("g1.y0"), outOfScope("g1.y1"), end(),
    ));
    one(check, trace(
      submit("g1", { maxRetries: -1 }), stored("g1.y0"), item("g1", 0), stored("g1.y1"), item("g1", 1),
      lost("g1.y0"), retryAttempt("g1", 1), restored("g1", 0, 1), restored("g1", 1, 1), lost("g1.y1"), end(),
    ), "lineage", "lost object g1.y1 was not reconstructed", 9);
  });
  test("a task's lost generator item never yielded again (a duplicate store copy does not count)", () => {
    one(check, trace(submit("g1", { maxRetries: -1 }), stored("g1.y0"), item("g1", 0), lost("g1.y0"), stored("g1.y0", "n2"), end()),
      "lineage", "lost object g1.y0 was not reconstructed", 3);
  });
});

describe("gcs-durability", () => {
  const check = checkers["gcs-durability"];

  test("recoveries that keep every node and actor pass", () => {
    clean(check, trace(
      reg("head"), reg("n1"), dead("n1"), reg("n1"),
      actorState("a", "PENDING_CREATION", 0), actorState("a", "ALIVE", 0), actorState("b", "DEAD", 0),
      recovered(2, 2),
      reg("n2"),
      recovered(3, 2),
    ));
  });
  test("a recovery that lost a node", () => {
    one(check, trace(reg("head"), reg("n1"), recovered(1, 0)), "gcs-durability", "the GCS restart lost 1 registered node(s) (recovered 1 of 2: head, n1)", 2);
  });
  test("a recovery that lost an actor", () => {
    one(check, trace(reg("head"), actorState("a", "ALIVE", 0), actorState("b", "ALIVE", 0), recovered(1, 1)), "gcs-durability", "lost 1 actor(s) (recovered 1 of 2: a, b)", 3);
  });
  test("a later recovery is judged against everything registered before it", () => {
    one(check, trace(reg("head"), recovered(1, 0), reg("n1"), recovered(1, 0)), "gcs-durability", "recovered 1 of 2", 3);
  });
  test("recovered tables are compared row by row, not by count", () => {
    // As many rows as expected, but not the right ones: a count would not tell.
    one(check, trace(reg("head"), reg("n1"), recoveredTables(["head", "n2"], [])), "gcs-durability", "lost registered node(s) n1 (recovered 2 of 2)", 2);
  });
  test("a row storage acknowledged is in the recovered tables (the host's oracle)", () => {
    clean(check, trace(reg("head"), acknowledged(["head"], ["a"]), recoveredTables(["head"], ["a"])));
    // Actor "b" was never published, so only the oracle knows the GCS lost it.
    one(check, trace(reg("head"), acknowledged(["head"], ["a", "b"]), recoveredTables(["head"], ["a"])), "gcs-durability", "actor row(s) b that storage acknowledged", 2);
  });
});

describe("owners", () => {
  test("who is dead at the end", () => {
    const lives = new OwnerLives();
    const events = trace(
      submit("a", { owner: "n1/w1-1" }), // n1's first life; n1 dies later
      submit("b", { owner: "n2/w1-1" }), workerDied("n2/w1-1"),
      dead("n1"),
      submit("c", { owner: "n1/w1-2" }), // seen while n1 is down: of the dead life
      reg("n1"),
      submit("d", { owner: "n1/w2-1" }), // the new life
    );
    events.forEach((e, i) => lives.see(e, i));
    assert.deepEqual(["n1/w1-1", "n2/w1-1", "n1/w1-2", "n1/w2-1", "head/driver", "n3/w1-1"].map((a) => lives.deadAtEnd(a)),
      [true, true, true, false, false, false]);
  });
});

describe("lifecycles", () => {
  const check = checkers.lifecycles;
  test("actor and node histories that follow their charts pass", () => {
    clean(check, trace(
      actorState("a", "PENDING_CREATION", 0), actorState("a", "ALIVE", 0), actorState("a", "ALIVE", 0), // published again after a GCS restart
      actorState("a", "RESTARTING", 1), actorState("a", "ALIVE", 1), actorState("a", "DEAD", 1),
      reg("n1"), dead("n1"), dead("n1"), reg("n1"), dead("n1"),
    ));
  });
  test("an actor restarted after it was declared permanently dead", () => {
    one(check, trace(actorState("a", "PENDING_CREATION", 0), actorState("a", "ALIVE", 0), actorState("a", "DEAD", 0), actorState("a", "RESTARTING", 1)),
      "lifecycles", "actor a went DEAD → RESTARTING, which its chart does not allow (from DEAD: nothing, it is final)", 3);
  });
  test("an actor a restarted GCS recovered may first appear in any state registration leads to; one it did not recover may not", () => {
    const recovered = (...actorIds: string[]): Ev => ({ kind: "gcs.recovered", comp: "gcs", nodes: 0, actors: actorIds.length, actorIds, node: "head" });
    clean(check, trace(recovered("a", "b"), actorState("a", "ALIVE", 0), actorState("b", "RESTARTING", 1), actorState("b", "ALIVE", 1)));
    one(check, trace(recovered("b"), actorState("a", "ALIVE", 0)), "lifecycles", "actor a went DEPENDENCIES_UNREADY → ALIVE", 1);
    one(check, trace(recovered("a"), actorState("a", "DEAD", 0), actorState("a", "ALIVE", 0)), "lifecycles", "actor a went DEAD → ALIVE", 2);
  });
  test("an actor alive again without a restart, and an epoch going back", () => {
    one(check, trace(actorState("a", "PENDING_CREATION", 0), actorState("a", "DEAD", 0), actorState("a", "ALIVE", 0)), "lifecycles", "DEAD → ALIVE", 2);
    one(check, trace(actorState("a", "PENDING_CREATION", 0), actorState("a", "ALIVE", 2), actorState("a", "RESTARTING", 1)), "lifecycles", "epoch went back from 2 to 1", 2);
  });

  const granted = (lease: string, worker: string): Ev => ({ kind: "lease.granted", comp: "raylet", job: "head/driver", lease, worker, resources: { CPU: 1 }, node: worker.split("/")[0] });
  const returned = (lease: string, worker: string): Ev => ({ kind: "lease.returned", comp: "raylet", lease, worker, resources: { CPU: 1 }, node: worker.split("/")[0] });
  const pg = (id: string, state: string): Ev => ({ kind: "pg.state", comp: "gcs", pg: id, state, node: "head" });
  const reserved = (bundle: string, node = "n1"): Ev => ({ kind: "bundle.reserved", comp: "raylet", bundle, resources: { CPU: 1 }, node });
  const released = (bundle: string, node = "n1"): Ev => ({ kind: "bundle.released", comp: "raylet", bundle, resources: { CPU: 1 }, node });
  const W2 = "n1/w1-2";
  const primary = (obj: string, node = "n1"): Ev => ({ ...stored(obj, node), primary: true } as Ev);

  test("task, object, worker, lease, placement-group and bundle histories that follow their charts pass", () => {
    clean(check, trace(
      submit("t"), started("t", W1), retry("t", 1), { ...started("t", W1), attempt: 1 } as Ev, primary("t.r"), stored("t.r", "n2"), primary("t.r", "n3"), // a copy, a second primary: news
      lost("t.r"), retry("t", 2), primary("t.r"), outOfScope("t.r"), // lost, reconstructed, freed
      submit("u"), failed("u", "WorkerCrashedError"), started("u", W2), // a zombie's report after the owner gave up
      granted("L1", W1), returned("L1", W1), granted("L1", W1), returned("L1", W1), // blocked in a get, unblocked, returned
      granted("L2", W1), workerDied(W1),
      pg("g", "CREATED"), pg("g", "RESCHEDULING"), pg("g", "CREATED"), pg("g", "CREATED"), pg("g", "REMOVED"),
      reserved("g:0"), released("g:0"), reserved("g:0"), released("g:0"), // a second reservation is a new one
    ));
  });
  test("a task retried after its owner failed it, and failed twice", () => {
    one(check, trace(submit("t"), failed("t", "WorkerCrashedError"), retry("t", 1)), "lifecycles", "task t went FAILED → WAITING_FOR_DEPS", 2);
    one(check, trace(submit("t"), failed("t", "WorkerCrashedError"), failed("t", "WorkerCrashedError")), "lifecycles", "task t went FAILED → FAILED", 2);
  });
  test("an object lost after it was freed, or lost before it was ever created", () => {
    one(check, trace(submit("t"), primary("t.r"), outOfScope("t.r"), lost("t.r")), "lifecycles", "object t.r went FREED → LOST", 3);
    one(check, trace(submit("t"), primary("t.r"), outOfScope("t.r"), primary("t.r")), "lifecycles", "object t.r went FREED → READY", 3);
    one(check, trace(submit("t"), lost("t.r")), "lifecycles", "object t.r went PENDING → LOST", 1);
  });
  test("a worker leased twice at once, or leased after it died", () => {
    one(check, trace(granted("L1", W1), granted("L2", W1)), "lifecycles", `worker ${W1} went LEASED → LEASED`, 1);
    one(check, trace(granted("L1", W1), workerDied(W1), granted("L2", W1)), "lifecycles", `worker ${W1} went DEAD → LEASED`, 2);
  });
  test("a lease returned twice, and a lease granted again after it ended", () => {
    const twice = check(trace(granted("L1", W1), returned("L1", W1), returned("L1", W1)), {});
    assert.deepEqual(twice.map((x) => x.message.split(",")[0]), ["lease L1@n1 went BLOCKED → BLOCKED", `worker ${W1} went IDLE → IDLE`], formatViolations(twice));
    // L1 ended when its worker took L2; granting L1 again reuses a dead lease.
    const v = check(trace(granted("L1", W1), returned("L1", W1), granted("L2", W1), returned("L2", W1), granted("L1", W1)), {});
    assert.ok(v.some((x) => x.message.includes("lease L1@n1 went RETURNED → GRANTED")), formatViolations(v));
  });
  test("a placement group rescheduled after removal, and a bundle released twice", () => {
    one(check, trace(pg("g", "CREATED"), pg("g", "REMOVED"), pg("g", "RESCHEDULING")), "lifecycles", "placement group g went REMOVED → RESCHEDULING", 2);
    one(check, trace(pg("g", "RESCHEDULING")), "lifecycles", "placement group g went PENDING → RESCHEDULING", 0);
    one(check, trace(reserved("g:0"), released("g:0"), released("g:0")), "lifecycles", "bundle g:0@n1 went RELEASED → RELEASED", 2);
  });
  test("a node's reservations end with it; a copy stored by a node declared dead is not the owner's", () => {
    // node n1 restarted holding g:0; the GCS reserves it again on n1's next life.
    clean(check, trace(reg("n1"), reserved("g:0"), dead("n1"), reg("n1"), reserved("g:0")));
    // ... or, still a zombie, gives back what it held (the release ends that reservation).
    clean(check, trace(reg("n1"), reserved("g:0"), dead("n1"), released("g:0"), reg("n1"), reserved("g:0"), released("g:0")));
    one(check, trace(reg("n1"), reserved("g:0"), reserved("g:0")), "lifecycles", "bundle g:0@n1 went PREPARED → PREPARED", 2);
    // A stale attempt's output written by a zombie after the owner retried and freed the object.
    clean(check, trace(reg("n1"), submit("t"), primary("t.r", "n2"), outOfScope("t.r"), dead("n1"), primary("t.r", "n1")));
    one(check, trace(reg("n1"), submit("t"), primary("t.r", "n2"), outOfScope("t.r"), primary("t.r", "n1")), "lifecycles", "object t.r went FREED → READY", 4);
  });
  test("a copy stored by the worker a forced cancel destroys is not the owner's; one stored elsewhere is", () => {
    const forced: Ev = { kind: "task.cancelled", comp: "owner", task: "t", force: true, worker: "n1/w1-1", node: "head" } as Ev;
    clean(check, trace(submit("t"), forced, failed("t", "TaskCancelledError"), outOfScope("t.r"), primary("t.r", "n1")));
    one(check, trace(submit("t"), forced, failed("t", "TaskCancelledError"), outOfScope("t.r"), primary("t.r", "n2")), "lifecycles", "object t.r went FREED → READY", 4);
    const unforced: Ev = { kind: "task.cancelled", comp: "owner", task: "t", force: false, node: "head" } as Ev;
    one(check, trace(submit("t"), unforced, failed("t", "TaskCancelledError"), outOfScope("t.r"), primary("t.r", "n1")), "lifecycles", "object t.r went FREED → READY", 4);
  });
  const job = (id: string, state: string): Ev => ({ kind: "job.state", comp: "head", job: id, state, node: "head" });
  test("submitted jobs follow their chart: a finished job never changes, a stopped pending job never runs", () => {
    clean(check, trace(job("a", "PENDING"), job("a", "RUNNING"), job("a", "SUCCEEDED"), job("b", "PENDING"), job("b", "STOPPED"), job("c", "FAILED")));
    one(check, trace(job("a", "PENDING"), job("a", "RUNNING"), job("a", "SUCCEEDED"), job("a", "FAILED")), "lifecycles", "job a went SUCCEEDED → FAILED, which its chart does not allow (from SUCCEEDED: nothing, it is final)", 3);
    one(check, trace(job("b", "PENDING"), job("b", "STOPPED"), job("b", "RUNNING")), "lifecycles", "job b went STOPPED → RUNNING", 2);
  });
});

describe("registry", () => {
  test("the fault checkers are registered and run by checkTrace", () => {
    for (const name of ["liveness", "errors-earned", "split-brain", "lineage", "gcs-durability"]) assert.equal(typeof checkers[name], "function", name);
    const v = checkTrace(trace(submit("t1"), failed("t1", "WorkerCrashedError"), reg("head"), recovered(0, 0), quiet()));
    assert.deepEqual(v.map((x) => [x.invariant, x.index]), [["errors-earned", 1], ["gcs-durability", 3], ["liveness", 4]]);
  });
});

describe("a real simulation with a node killed", () => {
  test("the lost object is reconstructed and no checker reports anything", async () => {
    const r = await simulate({
      seed: 3,
      nodes: [{ id: "head", resources: { CPU: 0 } }, { id: "node-1", resources: { CPU: 2 } }, { id: "node-2", resources: { CPU: 2 } }],
      faults: { schedule: [{ at: 300, kind: "kill-node", node: "node-1" }] },
      program: async (ray) => {
        const make = ray.remote((n: number) => new Float64Array(n).fill(7)).options({ schedulingStrategy: { nodeId: "node-1", soft: true } });
        const ref = make.remote(20000);
        // Not fetched to the driver's node (Ray's fetch_local=False): node-1 keeps the only copy.
        await ray.wait([ref], { fetchLocal: false });
        await ray.sleep(2000);
        return (await ray.get(ref))[0];
      },
    });
    assert.equal(r.error, undefined, r.error?.stack);
    assert.equal(r.result, 7);
    const kinds = new Set(r.trace.map((e) => e.kind));
    for (const k of ["fault", "node.dead", "object.lost", "task.retry", "program.end", "cluster.quiet"] as const) assert.ok(kinds.has(k), `the run should show ${k}`);
    assert.deepEqual(r.violations, [], formatViolations(r.violations));
    assert.deepEqual(checkTrace(r.trace, { expectEnd: true }), []);
  });
});

describe("a real simulation with a partition that strands an actor", () => {
  test("the stale incarnation's answers are refused, and the fault checkers report nothing", async () => {
    const r = await simulate({
      seed: 1,
      nodes: [{ id: "head", resources: { CPU: 1 } }, { id: "node-1", resources: { CPU: 2 } }, { id: "node-2", resources: { CPU: 2 } }],
      faults: { schedule: [{ at: 200, until: 1500, kind: "partition", groups: [["node-1"], ["head", "node-2"]] }] },
      program: async (ray) => {
        const Counter = ray.remote(class Counter { n = 0; inc() { return ++this.n; } })
          .options({ maxRestarts: -1, maxTaskRetries: -1, schedulingStrategy: { nodeId: "node-1", soft: true } });
        const c = Counter.remote();
        const out = [await ray.get(c.inc.remote())];
        await ray.sleep(300);
        const pending = [c.inc.remote(), c.inc.remote()]; // held by the partition, retried on the restarted actor
        await ray.sleep(2500);
        out.push(...(await ray.get(pending)), await ray.get(c.inc.remote()));
        return out;
      },
    });
    assert.equal(r.error, undefined, r.error?.stack);
    assert.deepEqual(r.result, [1, 1, 2, 3]); // the restarted actor starts from a fresh state
    const kinds = new Set(r.trace.map((e) => e.kind));
    for (const k of ["node.dead", "node.fenced", "actor.result", "task.retry"] as const) assert.ok(kinds.has(k), `the run should show ${k}`);
    assert.ok(r.trace.some((e) => e.kind === "actor.state" && e.state === "ALIVE" && e.epoch === 1), "the actor restarted");
    const v = checkTrace(r.trace, { expectEnd: true }, ["liveness", "errors-earned", "split-brain", "lineage", "gcs-durability"]);
    assert.deepEqual(v, [], formatViolations(v));
  });
});
