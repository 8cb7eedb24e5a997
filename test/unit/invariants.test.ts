import { test, describe } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import type { TraceBody, TraceEvent } from "../../spec/trace.ts";
import { checkTrace, checkers, formatTrace, formatViolations, parseTrace, type Checker, type CheckContext } from "../../spec/index.ts";
import { one } from "../helpers/invariants.ts";

// Builds a trace with t = event index; `node` defaults to "n1" (the emitting node).
type Ev = TraceBody & { node?: string };
function trace(...bodies: Ev[]): TraceEvent[] {
  return bodies.map((b, i) => ({ t: i, node: "n1", ...b }) as TraceEvent);
}

function clean(check: Checker, events: TraceEvent[], ctx: CheckContext = {}) {
  assert.deepEqual(check(events, ctx), []);
}


// --- event shorthands ----------------------------------------------------------------------
const reg = (id: string, resources: Record<string, number>): Ev => ({ kind: "node.registered", comp: "gcs", id, resources, node: "head" });
const dead = (id: string): Ev => ({ kind: "node.dead", comp: "gcs", id, reason: "heartbeat timeout", node: "head" });
const grant = (lease: string, node: string, resources: Record<string, number>): Ev => ({ kind: "lease.granted", comp: "raylet", job: "head/driver", lease, worker: `w-${lease}`, resources, node });
const ret = (lease: string, node: string, resources: Record<string, number>): Ev => ({ kind: "lease.returned", comp: "raylet", lease, worker: `w-${lease}`, resources, node });
const stored = (obj: string, node: string, hash = `h-${obj}`): Ev => ({ kind: "object.created", comp: "store", obj, size: 8, hash, where: "store", node });
const inline = (obj: string, hash = `h-${obj}`): Ev => ({ kind: "object.created", comp: "owner", obj, size: 8, hash, where: "inline" });
const read = (obj: string, hash = `h-${obj}`): Ev => ({ kind: "object.read", comp: "owner", obj, hash, reader: "driver" });
const finished = (task: string, attempt: number, hash: string, ok = true): Ev => ({ kind: "task.finished", comp: "worker", task, worker: "w1", attempt, ok, hash });
const oos = (obj: string): Ev => ({ kind: "object.out-of-scope", comp: "owner", obj });
const deleted = (obj: string, node: string, reason: "freed" | "evicted" | "node-died" = "freed"): Ev => ({ kind: "object.deleted", comp: "store", obj, reason, node });
const submit = (actor: string, caller: string, seq: number): Ev => ({ kind: "task.submitted", comp: "owner", task: `${actor}:${caller}:${seq}`, fn: "m", owner: caller, returns: `r-${actor}-${caller}-${seq}`, args: [], maxRetries: 0, actor, caller, seq });
const start = (actor: string, caller: string, seq: number, epoch?: number, concurrent?: true): Ev => ({ kind: "task.started", comp: "worker", task: `${actor}:${caller}:${seq}`, worker: "w1", attempt: 1, actor, caller, seq, ...(epoch === undefined ? {} : { epoch }), ...(concurrent ? { concurrent } : {}) });
const actorState = (actor: string, state: string, epoch: number): Ev => ({ kind: "actor.state", comp: "gcs", actor, state, epoch });
const fault = (f: string): Ev => ({ kind: "fault", comp: "host", fault: f });
const end = (ok = true): Ev => ({ kind: "program.end", comp: "host", ok });
const quiet = (): Ev => ({ kind: "cluster.quiet", comp: "host" });

describe("results", () => {
  const check = checkers.results;
  const good = trace(
    { kind: "task.submitted", comp: "owner", task: "t1", fn: "f", owner: "driver", returns: "o1", args: [], maxRetries: 3 },
    finished("t1", 1, "h-o1"),
    stored("o1", "n1"),
    read("o2"), // merged logs may put a read ahead of its creation
    inline("o2"),
    read("o1"),
    stored("o1", "n2"), // a copy
    finished("t1", 2, "boom", false), // a failed attempt has no result to compare
    finished("t1", 3, "h-o1"), // lineage re-execution, same bytes
    stored("o1", "n3"),
    read("o1"),
  );

  test("a consistent trace passes, alone and against an identical reference", () => {
    clean(check, good);
    clean(check, good, { reference: good });
  });
  test("a read whose hash differs from the creation", () => {
    one(check, trace(inline("o1", "A"), read("o1", "B")), "results", "created with hash A", 1);
  });
  test("a re-creation with different bytes", () => {
    one(check, trace(stored("o1", "n1", "A"), deleted("o1", "n1", "node-died"), stored("o1", "n2", "B")), "results", "re-execution produced different bytes", 2);
  });
  test("a read of an object never created", () => {
    one(check, trace(inline("o1"), read("o2")), "results", "never created", 1);
  });
  test("a result that differs from the fault-free run, reported once per object", () => {
    const reference = trace(inline("o1", "A"), read("o1", "A"));
    one(check, trace(inline("o1", "B"), read("o1", "B"), read("o1", "B")), "results", "fault-free run read A", 1, { reference });
  });
  test("objects read in only one of the two runs are not compared", () => {
    clean(check, trace(inline("o1", "B"), read("o1", "B")), { reference: trace(inline("o1", "A")) });
  });
  test("two successful attempts of a task with different results", () => {
    one(check, trace(finished("t1", 1, "A"), finished("t1", 2, "B")), "results", "attempt 2 returned hash B but attempt 1 returned A", 1);
  });
  test("attempts whose values hold refs their workers made differ in those refs' ids, and are not compared", () => {
    const owning = (attempt: number, hash: string): Ev => ({ ...finished("t1", attempt, hash), ownsRefs: true } as Ev);
    clean(check, trace(owning(1, "A"), owning(2, "B")));
    clean(check, trace(finished("t1", 1, "A"), owning(2, "B")));
    clean(check, trace(owning(1, "A"), finished("t1", 2, "B")));
  });
  test("so a stored object such a task makes may be made again with other bytes, and read with any of them; another object may not", () => {
    const submitted: Ev = { kind: "task.submitted", comp: "owner", task: "t1", fn: "f", owner: "d", returns: "o1", args: [], maxRetries: 1 };
    const owning = (attempt: number, hash: string): Ev => ({ ...finished("t1", attempt, hash), ownsRefs: true } as Ev);
    const remade = (first: Ev, second: Ev) => trace(submitted, first, stored("o1", "n1", "A"), read("o1", "A"), deleted("o1", "n1", "node-died"), second, stored("o1", "n2", "B"), read("o1", "B"));
    clean(check, remade(owning(0, "A"), owning(1, "B")), { reference: trace(inline("o1", "A"), read("o1", "A")) });
    const plain = check(remade(finished("t1", 0, "A"), finished("t1", 1, "B")), {}).map((v) => v.message);
    assert.ok(plain.some((m) => m.includes("re-execution produced different bytes")), plain.join("; "));
  });
});

describe("resources", () => {
  const check = checkers.resources;

  test("grants within capacity, returns, a node death and a restart pass", () => {
    clean(check, trace(
      reg("n1", { CPU: 2, GPU: 1 }),
      grant("L1", "n1", { CPU: 1, GPU: 1 }),
      grant("L2", "n1", { CPU: 1 }),
      ret("L1", "n1", { CPU: 1, GPU: 1 }),
      grant("L3", "n1", { CPU: 1, GPU: 1 }), // fits only because L1 came back
      dead("n1"),
      reg("n1", { CPU: 2, GPU: 1 }),
      grant("L4", "n1", { CPU: 2, GPU: 1 }), // fits only because the death dropped L2 and L3
      ret("L2", "n1", { CPU: 1 }), // a lease of the dead incarnation, reported late
    ));
  });
  test("a late return from a dead incarnation does not free the new one's capacity", () => {
    one(check, trace(
      reg("n1", { CPU: 1 }),
      grant("L1", "n1", { CPU: 1 }),
      dead("n1"),
      reg("n1", { CPU: 1 }),
      grant("L2", "n1", { CPU: 1 }),
      ret("L1", "n1", { CPU: 1 }),
      grant("L3", "n1", { CPU: 1 }),
    ), "resources", "CPU in use 2 > capacity 1", 6);
  });
  test("float rounding at exactly full capacity is not a violation", () => {
    clean(check, trace(reg("n1", { CPU: 0.3 }), grant("L1", "n1", { CPU: 0.1 }), grant("L2", "n1", { CPU: 0.2 })));
  });
  test("a grant over capacity", () => {
    one(check, trace(reg("n1", { CPU: 2 }), grant("L1", "n1", { CPU: 1.5 }), grant("L2", "n1", { CPU: 1 })), "resources", "over capacity after lease L2", 2);
  });
  test("a grant of a resource the node does not have", () => {
    one(check, trace(reg("n1", { CPU: 2 }), grant("L1", "n1", { GPU: 1 })), "resources", "GPU in use 1 > capacity 0", 1);
  });
  test("a re-registration replaces the capacity", () => {
    one(check, trace(reg("n1", { CPU: 4 }), dead("n1"), reg("n1", { CPU: 1 }), grant("L1", "n1", { CPU: 2 })), "resources", "over capacity", 3);
  });
  test("usage survives without a node.dead", () => {
    one(check, trace(reg("n1", { CPU: 1 }), grant("L1", "n1", { CPU: 1 }), grant("L2", "n1", { CPU: 1 })), "resources", "over capacity", 2);
  });
  test("a lease returned twice", () => {
    one(check, trace(reg("n1", { CPU: 1 }), grant("L1", "n1", { CPU: 1 }), ret("L1", "n1", { CPU: 1 }), ret("L1", "n1", { CPU: 1 })), "resources", "returned twice", 3);
  });
  test("a lease returned that was never granted", () => {
    one(check, trace(reg("n1", { CPU: 1 }), ret("L9", "n1", { CPU: 1 })), "resources", "unknown", 1);
  });
  test("a lease on a node that never registered", () => {
    one(check, trace(reg("n1", { CPU: 1 }), grant("L1", "n2", { CPU: 1 })), "resources", "never registered", 1);
  });
  test("a lease id granted again while held", () => {
    one(check, trace(reg("n1", { CPU: 4 }), grant("L1", "n1", { CPU: 1 }), grant("L1", "n1", { CPU: 1 })), "resources", "already held", 2);
  });
  // Bundles: a reservation outlives its node's declared death until the zombie releases it.
  const reserve = (bundle: string): Ev => ({ kind: "bundle.reserved", comp: "raylet", bundle, resources: { CPU: 1 }, node: "n1" });
  const inBundle = (lease: string, bundle: string): Ev => ({ ...grant(lease, "n1", { CPU: 1 }), bundle } as Ev);
  test("a zombie node returns a bundle's lease and grants the next in it (the soak's case)", () => {
    clean(check, trace(reg("n1", { CPU: 2 }), reserve("g#0"), inBundle("L1", "g#0"), dead("n1"), ret("L1", "n1", { CPU: 1 }), inBundle("L2", "g#0"), ret("L2", "n1", { CPU: 1 })));
  });
  test("a zombie node over-commits a bundle after its declared death", () => {
    one(check, trace(reg("n1", { CPU: 2 }), reserve("g#0"), inBundle("L1", "g#0"), dead("n1"), inBundle("L2", "g#0")), "resources", "bundle g#0 over-committed after lease L2: CPU in use 2 > reserved 1", 4);
  });
  test("a late return from a bundle of a dead life does not free the bundle reserved anew", () => {
    one(check, trace(
      reg("n1", { CPU: 2 }), reserve("g#0"), inBundle("L1", "g#0"),
      dead("n1"), reg("n1", { CPU: 2 }), reserve("g#0"), inBundle("L2", "g#0"),
      ret("L1", "n1", { CPU: 1 }),
      inBundle("L3", "g#0"),
    ), "resources", "bundle g#0 over-committed after lease L3", 8);
  });
  test("a return of a lease granted in an unreserved bundle frees nothing on the node", () => {
    const v = check(trace(reg("n1", { CPU: 1 }), inBundle("L1", "g#0"), ret("L1", "n1", { CPU: 1 }), grant("L2", "n1", { CPU: 1 }), grant("L3", "n1", { CPU: 1 })), {});
    assert.deepEqual(v.map((x) => [x.index, x.message.includes("not reserved") || x.message.includes("over capacity")]), [[1, true], [4, true]]);
  });
});

describe("leases", () => {
  const check = checkers.leases;
  const forActor = (lease: string, actor: string, epoch: number): Ev => ({ ...grant(lease, "n1", { CPU: 0 }), holder: "head/gcs", actor, task: `${actor}:create:${epoch}` } as Ev);
  test("a lease still held at the quiet point after the program is a leak, unless it hosts an actor not yet dead", () => {
    one(check, trace(reg("n1", { CPU: 1 }), grant("L1", "n1", { CPU: 1 }), end(true), quiet()), "leases", "leak: lease L1 (worker w-L1 on n1) never returned, though the program ended and no task holds it", 3);
    // Its creation may wait for an argument whose owner exited: the lease hosts the actor from the grant.
    clean(check, trace(reg("n1", { CPU: 1 }), actorState("a", "PENDING_CREATION", 0), forActor("L1", "a", 0), end(true), quiet()));
    one(check, trace(reg("n1", { CPU: 1 }), actorState("a", "PENDING_CREATION", 0), forActor("L1", "a", 0), end(true), quiet(), actorState("a", "DEAD", 0), quiet()),
      "leases", "its actor a is dead", 6);
    // A grant for an incarnation already over hosts nothing.
    one(check, trace(reg("n1", { CPU: 1 }), actorState("a", "RESTARTING", 1), forActor("L1", "a", 0), end(true), quiet()), "leases", "no task holds it", 4);
  });
});

describe("actor-order", () => {
  const check = checkers["actor-order"];

  test("in-order, exactly-once calls from two callers pass", () => {
    clean(check, trace(
      submit("a", "c1", 0), submit("a", "c2", 0), submit("a", "c1", 1), submit("a", "c1", 2), submit("a", "c2", 1),
      start("a", "c2", 0), start("a", "c1", 0), start("a", "c1", 1), start("a", "c2", 1), start("a", "c1", 2),
      end(true),
    ));
  });
  test("after a restart, a new epoch may run calls again", () => {
    clean(check, trace(
      submit("a", "c", 0), submit("a", "c", 1),
      start("a", "c", 0, 0), start("a", "c", 1, 0),
      actorState("a", "RESTARTING", 1),
      start("a", "c", 1, 1), end(true),
    ));
  });
  test("a call that starts before an earlier one", () => {
    one(check, trace(submit("a", "c", 0), submit("a", "c", 1), start("a", "c", 1), start("a", "c", 0), end(true)),
      "actor-order", "seq 0 from c started after seq 1 (out of order)", 3);
  });
  test("an async actor's call may start after a later one (its argument came later), but not twice", () => {
    const concurrent = (seq: number): Ev => start("a", "c", seq, undefined, true);
    clean(check, trace(submit("a", "c", 0), submit("a", "c", 1), concurrent(1), concurrent(0), end(true)));
    one(check, trace(submit("a", "c", 0), submit("a", "c", 1), concurrent(1), concurrent(0), concurrent(1), end(true)),
      "actor-order", "seq 1 from c started after seq 1 (started twice)", 4);
  });
  test("a worker never runs more of a group's calls at once than its limit; a finished call frees its slot", () => {
    const inGroup = (seq: number, group?: string): Ev => ({ ...start("a", "c", seq, undefined, true), limit: 1, ...(group === undefined ? {} : { group }) } as Ev);
    const done = (seq: number): Ev => finished(`a:c:${seq}`, 1, "h");
    const calls = [0, 1, 2].map((seq) => submit("a", "c", seq));
    // One call of the default group and one of io at once, then io's next after its first finished.
    clean(check, trace(...calls, inGroup(0), inGroup(1, "io"), done(1), inGroup(2, "io"), end(true)));
    one(check, trace(...calls, inGroup(0), inGroup(1, "io"), inGroup(2, "io"), end(true)),
      "actor-order", `actor a on w1: 2 calls of its concurrency group "io" run at once, more than its limit 1`, 5);
    one(check, trace(...calls, inGroup(0), inGroup(1), inGroup(2, "io"), end(true)), "actor-order", "2 calls of its default group run at once", 4);
  });
  test("a call started twice in one epoch is reported once", () => {
    one(check, trace(submit("a", "c", 0), start("a", "c", 0), start("a", "c", 0), end(true)), "actor-order", "started twice", 2);
  });
  test("a call run again in a new epoch without any restart", () => {
    one(check, trace(submit("a", "c", 0), start("a", "c", 0, 0), start("a", "c", 0, 1), end(true)), "actor-order", "started 2 times without a restart", 2);
  });
  test("a call cancelled before its turn may never start; another caller's cancel does not excuse it", () => {
    const cancelled = (task: string): Ev => ({ kind: "task.cancelled", comp: "owner", task, force: false });
    clean(check, trace(submit("a", "c", 0), submit("a", "c", 1), cancelled("a:c:1"), start("a", "c", 0), end(true)));
    one(check, trace(submit("a", "c", 0), submit("a", "c", 1), cancelled("a:c:0"), start("a", "c", 0), end(true)), "actor-order", "seq 1 from c was submitted but never started", 1);
  });
  test("a submitted call that never started", () => {
    one(check, trace(submit("a", "c", 0), submit("a", "c", 1), start("a", "c", 0), end(true)), "actor-order", "seq 1 from c was submitted but never started", 1);
  });
  test("exactly-once is not judged after a fault, a restart of that actor, or without a successful end", () => {
    const lost = [submit("a", "c", 0), submit("a", "c", 1), start("a", "c", 0, 0), start("a", "c", 0, 1)];
    clean(check, trace(...lost, fault("kill-worker"), end(true)));
    clean(check, trace(...lost, actorState("a", "RESTARTING", 1), end(true)));
    clean(check, trace(...lost.slice(0, 3), end(false)));
  });
  test("a restart of another actor does not excuse this one", () => {
    one(check, trace(submit("a", "c", 0), actorState("b", "RESTARTING", 1), end(true)), "actor-order", "never started", 0);
  });
  test("a call whose worker caller died may never start (its actor drops it); a dead driver's may not", () => {
    const workerDied = (worker: string): Ev => ({ kind: "worker.died", comp: "raylet", worker });
    const driverDead = (driver: string): Ev => ({ kind: "driver.dead", comp: "gcs", driver });
    clean(check, trace(submit("a", "n1/w1-3", 0), workerDied("n1/w1-3"), end(true)));
    one(check, trace(submit("a", "n1/w1-3", 0), workerDied("n1/w1-4"), end(true)), "actor-order", "never started", 0);
    one(check, trace(submit("a", "head/driver", 0), end(true), driverDead("head/driver")), "actor-order", "never started", 0);
  });
});

describe("fate-sharing", () => {
  const check = checkers["fate-sharing"];
  const registered = (actor: string, owner: string, detached = false): Ev => ({ kind: "actor.registered", comp: "gcs", actor, owner, detached });
  const workerDied = (worker: string): Ev => ({ kind: "worker.died", comp: "raylet", worker });
  const seen = (worker: string): Ev => ({ kind: "task.submitted", comp: "owner", task: `${worker}#t`, fn: "f", owner: worker, returns: `${worker}#t.r`, args: [], maxRetries: 0 });

  test("an actor whose owner died must be dead by the last quiet point", () => {
    clean(check, trace(registered("a", "n1/w1-1"), workerDied("n1/w1-1"), actorState("a", "DEAD", 0), quiet()));
    one(check, trace(registered("a", "n1/w1-1"), workerDied("n1/w1-1"), quiet(), actorState("a", "DEAD", 0)), "fate-sharing", "actor a is not detached, yet it outlived its owner n1/w1-1", 2);
    // Judged at the last quiet point only (the job's end comes between the two).
    clean(check, trace(registered("a", "n1/w1-1"), workerDied("n1/w1-1"), quiet(), actorState("a", "DEAD", 0), quiet()));
  });
  test("an actor whose every handle went out of scope must be dead by the last quiet point", () => {
    const outOfScope: Ev = { kind: "actor.out-of-scope", comp: "owner", actor: "a", owner: "n1/w1-1" };
    clean(check, trace(registered("a", "n1/w1-1"), outOfScope, actorState("a", "DEAD", 0), quiet()));
    one(check, trace(registered("a", "n1/w1-1"), outOfScope, quiet()), "fate-sharing", "actor a lives on, though every handle to it went out of scope", 2);
  });
  test("a detached actor, or one whose owner lives, is not judged; nor is a trace without a quiet point", () => {
    clean(check, trace(registered("a", "n1/w1-1", true), workerDied("n1/w1-1"), quiet()));
    clean(check, trace(registered("a", "n1/w1-1"), workerDied("n1/w1-2"), quiet()));
    clean(check, trace(registered("a", "n1/w1-1"), workerDied("n1/w1-1")));
  });
  test("an owner of a node life that was over when its registration came counts as dead", () => {
    one(check, trace(seen("n1/w1-1"), dead("n1"), registered("a", "n1/w1-1"), quiet()), "fate-sharing", "outlived its owner n1/w1-1", 3);
    clean(check, trace(dead("n1"), reg("n1", { CPU: 1 }), seen("n1/w2-1"), registered("a", "n1/w2-1"), quiet()));
  });
});

describe("jobs", () => {
  const check = checkers.jobs;
  const granted = (lease: string, worker: string, job: string): Ev => ({ kind: "lease.granted", comp: "raylet", job, lease, worker, resources: { CPU: 1 } });
  test("a worker serves the leases of one job only", () => {
    clean(check, trace(granted("L1", "n1/w1-1", "head/driver"), granted("L2", "n1/w1-1", "head/driver"), granted("L3", "n1/w1-2", "head/driver-b")));
    one(check, trace(granted("L1", "n1/w1-1", "head/driver"), granted("L2", "n1/w1-1", "head/driver-b")), "jobs", "worker n1/w1-1 of job head/driver was granted lease L2 of job head/driver-b", 1);
  });
});

describe("references", () => {
  const check = checkers.references;

  test("a trace that frees everything before the last quiet point passes", () => {
    clean(check, trace(
      stored("o1", "n1"),
      stored("o1", "n2"),
      quiet(), // an earlier quiet point with objects still held is not judged
      read("o1"),
      oos("o1"),
      deleted("o1", "n1", "freed"),
      deleted("o1", "n2", "evicted"),
      stored("o2", "n3"),
      dead("n3"), // its store died with it
      end(true),
      quiet(),
    ));
  });
  test("a read after the object went out of scope", () => {
    one(check, trace(inline("o1"), oos("o1"), read("o1")), "references", "read after free", 2);
  });
  test("a straggler's copy stored after the object went out of scope is no read; if never removed, it leaks", () => {
    assert.deepEqual(check(trace(stored("o1", "n1"), oos("o1"), deleted("o1", "n1"), stored("o1", "n2"), deleted("o1", "n2", "node-died"), end(true), quiet()), {}), []);
    one(check, trace(stored("o1", "n1"), oos("o1"), deleted("o1", "n1"), stored("o1", "n2"), end(true), quiet()), "references", "object o1 still in node n2's store", 5);
  });
  test("an object freed while still referenced", () => {
    one(check, trace(stored("o1", "n1"), deleted("o1", "n1", "freed"), oos("o1")), "references", "freed while referenced", 1);
  });
  test("an object left in a store at the last quiet point", () => {
    const events = trace(stored("o1", "n1"), stored("o1", "n2"), oos("o1"), deleted("o1", "n1"), end(true), quiet());
    one(check, events, "references", "object o1 still in node n2's store after the program dropped every reference", 5);
  });
  test("objects stored after a node's restart count again", () => {
    one(check, trace(stored("o1", "n1"), dead("n1"), stored("o2", "n1"), end(true), quiet()), "references", "object o2 still in node n1's store", 4);
  });
  test("what a live actor made stays its own; once the actor is gone it must be freed", () => {
    const actorOn = (worker: string): Ev => ({ ...actorState("a", "ALIVE", 0), worker } as Ev);
    const workerDied = (worker: string): Ev => ({ kind: "worker.died", comp: "raylet", worker, node: "n1" });
    clean(check, trace(actorOn("n1/w1-1"), stored("n1/w1-1#1", "n1"), end(true), quiet()));
    one(check, trace(actorOn("n1/w1-1"), stored("n1/w1-1#1", "n1"), end(true), quiet(), workerDied("n1/w1-1"), quiet()),
      "references", "leak: object n1/w1-1#1 still in node n1's store", 5);
    one(check, trace(stored("n1/w1-1#1", "n1"), end(true), quiet()), "references", "leak: object n1/w1-1#1", 2);
  });
  test("a borrower running a task for an owner that exited may lose what it borrows; one working for a live owner may not", () => {
    const task = (t: string, owner: string): Ev => ({ kind: "task.submitted", comp: "owner", task: t, fn: "f", owner, returns: `${t}.r`, args: [], maxRetries: 0 });
    const started = (t: string, worker: string): Ev => ({ kind: "task.started", comp: "worker", task: t, worker, attempt: 0 });
    const borrowed = (obj: string, borrower: string, owner: string): Ev => ({ kind: "ref.borrowed", comp: "owner", obj, borrower, owner });
    const exited = (owner: string): Ev => ({ kind: "owner.exited", comp: "owner", owner });
    clean(check, trace(task("t1", "head/driver"), started("t1", "n1/w1-2"), borrowed("n1/w1-1#1", "n1/w1-2", "n1/w1-1"), exited("head/driver"), oos("n1/w1-1#1")));
    one(check, trace(task("t1", "head/driver"), started("t1", "n1/w1-2"), borrowed("n1/w1-1#1", "n1/w1-2", "n1/w1-1"), oos("n1/w1-1#1")),
      "references", "object n1/w1-1#1 went out of scope while n1/w1-2 still borrows it", 3);
    // A task submitted by a worker of the exited driver's job (here the borrower itself, running
    // its own child) works for that job too; the job of a live driver keeps its borrows.
    const leased = (worker: string, job: string): Ev => ({ kind: "lease.granted", comp: "raylet", lease: `L-${worker}`, worker, resources: { CPU: 1 }, holder: worker, job });
    const ownChild = (job: string, end: Ev[]) => trace(leased("n1/w1-2", job), task("t2", "n1/w1-2"), started("t2", "n1/w1-2"), borrowed("n1/w1-1#1", "n1/w1-2", "n1/w1-1"), ...end, oos("n1/w1-1#1"));
    clean(check, ownChild("head/driver", [exited("head/driver")]));
    one(check, ownChild("head/driver", [exited("head/other")]), "references", "object n1/w1-1#1 went out of scope while n1/w1-2 still borrows it", 5);
    // Nor is its read of what the driver's exit let go a read after free.
    const readLate = (ended: string) => trace(leased("n1/w1-2", "head/driver"), task("t2", "n1/w1-2"), started("t2", "n1/w1-2"), exited(ended), inline("n1/w1-1#1"), oos("n1/w1-1#1"), { ...read("n1/w1-1#1"), reader: "n1/w1-2" } as Ev);
    clean(check, readLate("head/driver"));
    one(check, readLate("head/other"), "references", "read after free", 6);
  });
  test("the worker of an actor that exited or is dead for good borrows nothing its callers must keep", () => {
    const borrowed: Ev = { kind: "ref.borrowed", comp: "owner", obj: "n2/w1-1#1", borrower: "n1/w1-1", owner: "n2/w1-1" };
    const alive: Ev = { ...actorState("a", "ALIVE", 0), worker: "n1/w1-1" } as Ev;
    const exited: Ev = { kind: "actor.exited", comp: "worker", actor: "a", worker: "n1/w1-1", epoch: 0, method: "exit" };
    one(check, trace(alive, borrowed, oos("n2/w1-1#1")), "references", "object n2/w1-1#1 went out of scope while n1/w1-1 still borrows it", 2);
    clean(check, trace(alive, borrowed, exited, oos("n2/w1-1#1")));
    clean(check, trace(alive, borrowed, actorState("a", "DEAD", 0), oos("n2/w1-1#1")));
    // Only the worker of the actor declared dead: another actor's worker still borrows.
    one(check, trace(alive, borrowed, actorState("b", "DEAD", 0), oos("n2/w1-1#1")), "references", "while n1/w1-1 still borrows it", 3);
    // The worker of an actor whose owner exited is on its way out, unless the actor is detached.
    const registered = (detached: boolean): Ev => ({ kind: "actor.registered", comp: "gcs", actor: "a", owner: "head/driver", detached });
    const ownerExited: Ev = { kind: "owner.exited", comp: "owner", owner: "head/driver" };
    clean(check, trace(registered(false), alive, borrowed, ownerExited, oos("n2/w1-1#1")));
    one(check, trace(registered(true), alive, borrowed, ownerExited, oos("n2/w1-1#1")), "references", "while n1/w1-1 still borrows it", 4);
  });
  test("an actor's constructor arguments stay in use until the actor is dead, unless their owner exited", () => {
    const registered = (args: string[]): Ev => ({ kind: "actor.registered", comp: "gcs", actor: "a", owner: "head/driver", detached: false, args });
    const exited: Ev = { kind: "owner.exited", comp: "owner", owner: "head/driver" };
    one(check, trace(stored("head/driver#1", "n1"), registered(["head/driver#1"]), oos("head/driver#1")),
      "references", "object head/driver#1 went out of scope while actor a may still be constructed with it", 2);
    clean(check, trace(stored("head/driver#1", "n1"), registered(["head/driver#1"]), actorState("a", "DEAD", 0), oos("head/driver#1"), deleted("head/driver#1", "n1")));
    clean(check, trace(stored("head/driver#1", "n1"), registered(["head/driver#1"]), exited, oos("head/driver#1"), deleted("head/driver#1", "n1")));
    // Another owner's object, passed nested in an argument: needed while the actor's owner is
    // there; once that owner exited the actor dies with it (unless detached).
    const lent = "n2/w1-1#1";
    one(check, trace(registered([lent]), oos(lent)), "references", `object ${lent} went out of scope while actor a may still be constructed with it`, 1);
    clean(check, trace(registered([lent]), exited, oos(lent)));
    const detached: Ev = { kind: "actor.registered", comp: "gcs", actor: "a", owner: "head/driver", detached: true, args: [lent] };
    one(check, trace(detached, exited, oos(lent)), "references", "may still be constructed with it", 2);
    // Not a leak while the actor lives and its owner is there; one once the owner exited.
    clean(check, trace(stored("head/driver#1", "n1"), registered(["head/driver#1"]), end(true), quiet()));
    one(check, trace(stored("head/driver#1", "n1"), registered(["head/driver#1"]), exited, end(true), quiet()),
      "references", "leak: object head/driver#1 still in node n1's store", 4);
  });
  test("without a quiet point nothing is judged a leak", () => {
    clean(check, trace(stored("o1", "n1"), end(true)));
  });
  test("a worker leased to an owner that exited may read what that owner's exit freed; one leased to a live owner may not", () => {
    const granted = (worker: string, holder: string): Ev => ({ kind: "lease.granted", comp: "raylet", job: "head/driver", lease: "L1", worker, resources: { CPU: 1 }, holder, node: "n1" });
    const exited: Ev = { kind: "owner.exited", comp: "owner", owner: "head/driver" };
    const readBy = (obj: string, reader: string): Ev => ({ kind: "object.read", comp: "worker", obj, hash: `h-${obj}`, reader });
    clean(check, trace(stored("n1/w1-1#1", "n1"), granted("n1/w1-1", "head/driver"), exited, oos("n1/w1-1#1"), readBy("n1/w1-1#1", "n1/w1-1")));
    one(check, trace(stored("n1/w1-1#1", "n1"), granted("n1/w1-1", "head/driver"), oos("n1/w1-1#1"), readBy("n1/w1-1#1", "n1/w1-1")),
      "references", "read after free: object n1/w1-1#1 read by n1/w1-1", 3);
  });
  test("a task's argument stays while its owner holds the task's result (lineage); not once the result is gone", () => {
    const task: Ev = { kind: "task.submitted", comp: "owner", task: "n1/w1-1#2", fn: "f", owner: "n1/w1-1", returns: "n1/w1-1#2.r", args: ["n1/w1-1#1"], maxRetries: 3 };
    clean(check, trace(stored("n1/w1-1#1", "n1"), task, end(true), quiet()));
    one(check, trace(stored("n1/w1-1#1", "n1"), task, oos("n1/w1-1#2.r"), end(true), quiet()), "references", "leak: object n1/w1-1#1", 4);
  });
});

describe("checkTrace", () => {
  const events = trace(
    reg("n1", { CPU: 1 }),
    inline("o1", "A"),
    read("o1", "B"), // results, index 2
    grant("L1", "n1", { CPU: 2 }), // resources, index 3
    oos("o1"),
    read("o1", "A"), // references, index 5
  );

  test("runs every checker and orders violations by event", () => {
    const v = checkTrace(events);
    assert.deepEqual(v.map((x) => [x.invariant, x.index]), [["results", 2], ["resources", 3], ["references", 5]]);
  });
  test("runs only the named checkers, and rejects unknown names", () => {
    assert.deepEqual(checkTrace(events, {}, ["resources"]).map((x) => x.invariant), ["resources"]);
    assert.throws(() => checkTrace(events, {}, ["no-such-invariant"]), /unknown invariant no-such-invariant/);
  });
  test("formats one line per violation", () => {
    assert.equal(
      formatViolations(checkTrace(events, {}, ["results", "references"])),
      "[results] t=2 object o1 read with hash B but was created with hash A\n" +
        "[references] t=5 read after free: object o1 read by driver after it went out of scope",
    );
  });
  test("judges a trace read back from its .jsonl form the same way", () => {
    assert.deepEqual(checkTrace(parseTrace(formatTrace(events))), checkTrace(events));
  });
});

describe("resources property", () => {
  // Amounts are whole tenths: the model tracks them exactly in integers while the trace
  // carries floats like 0.1 + 0.2, so the checker's tolerance is exercised too.
  const KEYS = ["CPU", "GPU"] as const;
  const scenario = fc.record({
    caps: fc.array(fc.record({ CPU: fc.integer({ min: 1, max: 40 }), GPU: fc.integer({ min: 0, max: 20 }) }), { minLength: 1, maxLength: 4 }),
    ops: fc.array(fc.record({ grant: fc.boolean(), fill: fc.boolean(), node: fc.nat(), CPU: fc.integer({ min: 0, max: 40 }), GPU: fc.integer({ min: 0, max: 20 }), pick: fc.nat() }), { maxLength: 150 }),
    inject: fc.record({ pos: fc.nat(), node: fc.nat(), key: fc.constantFrom(...KEYS) }),
  });
  type Scenario = typeof scenario extends fc.Arbitrary<infer S> ? S : never;

  /** A well-formed history, and each node's usage in tenths before every event. */
  function history(s: Scenario) {
    const ids = s.caps.map((_, i) => `n${i}`);
    const used = s.caps.map(() => ({ CPU: 0, GPU: 0 }));
    const events: Ev[] = s.caps.map((c, i) => reg(ids[i], { CPU: c.CPU / 10, GPU: c.GPU / 10 }));
    const before: { CPU: number; GPU: number }[][] = events.map(() => used.map((u) => ({ ...u })));
    const held: { lease: string; node: number; amt: { CPU: number; GPU: number } }[] = [];
    const push = (e: Ev) => { before.push(used.map((u) => ({ ...u }))); events.push(e); };
    const res = (a: { CPU: number; GPU: number }): Record<string, number> => (a.GPU > 0 ? { CPU: a.CPU / 10, GPU: a.GPU / 10 } : { CPU: a.CPU / 10 });
    const giveBack = (k: number) => {
      const [l] = held.splice(k, 1);
      push(ret(l.lease, ids[l.node], res(l.amt)));
      for (const key of KEYS) used[l.node][key] -= l.amt[key];
    };
    s.ops.forEach((op, i) => {
      const n = op.node % ids.length;
      // Filling a node exactly is where float sums land a hair over capacity.
      const amt = { CPU: op.fill ? s.caps[n].CPU - used[n].CPU : op.CPU, GPU: op.GPU };
      if (op.grant && KEYS.every((k) => used[n][k] + amt[k] <= s.caps[n][k])) {
        push(grant(`L${i}`, ids[n], res(amt)));
        for (const k of KEYS) used[n][k] += amt[k];
        held.push({ lease: `L${i}`, node: n, amt });
      } else if (held.length > 0) giveBack(op.pick % held.length);
    });
    while (held.length > 0) giveBack(held.length - 1);
    before.push(used.map((u) => ({ ...u }))); // the state after the last event
    return { ids, events, before };
  }

  test("a well-formed lease history has no violations; one over-capacity grant gives exactly one", () => {
    fc.assert(fc.property(scenario, (s) => {
      const { ids, events, before } = history(s);
      assert.deepEqual(checkers.resources(trace(...events), {}), []);

      // Insert, after the registrations, a grant one tenth over what is free, returned at once
      // so that it is the only grant that can go over.
      const pos = s.caps.length + (s.inject.pos % (events.length - s.caps.length + 1));
      const n = s.inject.node % ids.length, key = s.inject.key;
      const over = s.caps[n][key] - before[pos][n][key] + 1;
      const bad = trace(...events.slice(0, pos), grant("X", ids[n], { [key]: over / 10 }), ret("X", ids[n], { [key]: over / 10 }), ...events.slice(pos));
      const v = checkers.resources(bad, {});
      assert.equal(v.length, 1, formatViolations(v));
      assert.equal(v[0].index, pos);
      assert.ok(v[0].message.includes(`over capacity after lease X: ${key}`), v[0].message);
    }), { numRuns: 300 });
  });
});

describe("schema", () => {
  test("an event written by the component that may write its kind passes", () => {
    clean(checkers.schema, trace(reg("n1", { CPU: 1 }), grant("L1", "n1", { CPU: 1 }), stored("o1", "n1"), inline("o2"), read("o1"), finished("t1", 1, "h"), fault("kill-node"), end(), quiet()));
  });
  test("a mislabelled component and an unknown kind are violations", () => {
    const bad = trace(
      { kind: "task.finished", comp: "owner", task: "t1", worker: "w1", attempt: 1, ok: true, hash: "h" } as unknown as Ev,
      { kind: "lease.granted", comp: "", lease: "L1", worker: "w1", resources: {} } as unknown as Ev,
      { kind: "task.teleported", comp: "owner" } as unknown as Ev,
    );
    assert.deepEqual(checkers.schema(bad, {}).map((v) => [v.index, v.message]), [
      [0, `a task.finished event written by "owner"; only "worker" may write it`],
      [1, `a lease.granted event written by ""; only "raylet" may write it`],
      [2, `an event of unknown kind "task.teleported" (spec/trace.ts lists the kinds)`],
    ]);
  });
  test("a label the other checkers branch on with a value the schema does not list is a violation", () => {
    const bad = trace(
      { kind: "object.deleted", comp: "store", obj: "o1", reason: "" } as unknown as Ev,
      { kind: "object.created", comp: "owner", obj: "o2", size: 1, hash: "h", where: "elsewhere" } as unknown as Ev,
    );
    assert.deepEqual(checkers.schema(bad, {}).map((v) => [v.index, v.message]), [
      [0, `a object.deleted event whose reason is ""; the schema allows "freed", "evicted", "orphaned", "node-died", "owner-died"`],
      [1, `a object.created event whose where is "elsewhere"; the schema allows "inline", "store"`],
    ]);
  });
});
