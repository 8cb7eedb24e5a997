// The task and actor API on the simulator and the embedded cluster (the daemons run the same
// programs in daemons.test.ts): async actors overlap calls, dead actors fail calls without a
// checker's false alarm, errors keep their cause, unimplemented options are refused by name.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import * as ray from "../../src/index.ts";
import { simulate, type Program } from "../../sim/simulate.ts";
import { formatViolations } from "../../spec/invariants/index.ts";
import {
  EXPECTED, EXPECTED_NAMES, actorCallsWithPendingArgs, groupRemoval, nestedRefs, actorExit, asyncActorConcurrency, concurrencyGroups, checkRefusedCalls, clusterInfo, deadActorCalls, errorCauses, getPeek, handleScopes, killWithRestart, pendingCallsLimit, killedOwner, namedActors, refusedCalls, refusedOptions, runtimeContexts,
  type CauseSeen,
} from "../helpers/api-features.ts";

function checkCauses(c: CauseSeen): void {
  assert.equal(c.name, "TaskError");
  assert.equal(c.causeName, "RangeError");
  assert.equal(c.causeIsRangeError, true, "the cause is recreated as a RangeError");
  assert.equal(c.causeMessage, "out of range");
  assert.equal(c.code, "E_RANGE", "the error's own fields are kept");
  assert.equal(c.customName, "QuotaError");
  assert.equal(c.customIsError, true);
  assert.equal(c.customField, 5);
  assert.equal(c.dependentCauseName, "RangeError", "a dependent task's get sees the same cause");
  assert.deepEqual(c.nestedCause, [true, true], "a nested get's TaskError is rebuilt as one, with its own cause");
}

function checkRefused(messages: string[]): void {
  assert.equal(messages.length, EXPECTED.refused.length);
  EXPECTED.refused.forEach((re, i) => assert.match(messages[i], re));
}

describe("API features on the simulator", () => {
  const run = async <T>(program: (r: never) => Promise<T>, seed: number, nodes = 2) => {
    const r = await simulate({ seed, nodes, program: program as unknown as Program<unknown> });
    assert.equal(r.error, undefined, r.error?.stack);
    assert.deepEqual(r.violations, [], formatViolations(r.violations));
    return r;
  };

  it("async actor calls overlap up to maxConcurrency; sync actors stay serial", async () => {
    for (const seed of [1, 2]) {
      const r = await run(asyncActorConcurrency, seed);
      assert.deepEqual(r.result, EXPECTED.concurrency);
      assert.ok(r.trace.some((e) => e.kind === "task.started" && e.concurrent === true), "async calls are traced as concurrent");
    }
  });

  it("concurrency groups: a group's calls wait only for its own slots; a call may name its group", async () => {
    for (const seed of [1, 2]) {
      const r = await run(concurrencyGroups, seed);
      assert.deepEqual(r.result, EXPECTED.concurrencyGroups);
      assert.ok(r.trace.some((e) => e.kind === "task.started" && e.group === "io" && e.limit === 1), "io's calls are traced with their group and limit");
    }
  });

  it("calls to a dead actor fail with ActorDiedError and the checkers raise no alarm", async () => {
    for (const seed of [1, 2, 3]) assert.deepEqual((await run(deadActorCalls, seed)).result, EXPECTED.deadActor);
  });

  it("ray.kill with noRestart: false restarts the actor; unknown kill options are refused", async () => {
    for (const seed of [1, 2]) assert.deepEqual((await run(killWithRestart, seed)).result, EXPECTED.killWithRestart);
  });
  it("what a killed actor owned fails with OwnerDiedError, and the checkers call it earned", async () => {
    for (const seed of [1, 2, 3]) assert.deepEqual((await run(killedOwner, seed)).result, EXPECTED.killedOwner);
  });
  it("an actor ends once every handle to it is gone, and the checkers call its calls' ActorDiedError earned", async () => {
    for (const seed of [1, 2, 3]) {
      const r = await run(handleScopes, seed);
      assert.deepEqual(r.result, EXPECTED.handleScopes);
      assert.equal(r.trace.filter((e) => e.kind === "actor.out-of-scope").length, 7, "seven actors went out of scope (not the detached one)");
    }
  });
  it("ray.exitActor and __ray_terminate__ end the actor for good, restarts left or not, and the checkers call it earned", async () => {
    for (const seed of [1, 2, 3]) {
      const r = await run(actorExit, seed);
      assert.deepEqual(r.result, EXPECTED.actorExit);
      assert.ok(r.trace.some((e) => e.kind === "actor.exited" && e.method === "quit"));
      assert.ok(r.trace.some((e) => e.kind === "actor.exited" && e.method === "__ray_terminate__"));
      assert.ok(!r.trace.some((e) => e.kind === "actor.state" && e.state === "RESTARTING"), "the actor restarted");
    }
  });
  it("an actor call waiting for its argument holds back the next call; one whose argument failed does not", async () => {
    for (const seed of [1, 2]) assert.deepEqual((await run(actorCallsWithPendingArgs, seed)).result, EXPECTED.pendingArgs);
  });
  it("a task error keeps the user's error as cause", async () => checkCauses((await run(errorCauses, 1)).result as CauseSeen));
  it("ray.getRuntimeContext() names the task and actor running the code", async () => {
    assert.deepEqual((await run(runtimeContexts, 1)).result, EXPECTED.contexts);
  });
  it("unimplemented options are refused by name", async () => checkRefused((await run(refusedOptions, 1)).result as string[]));
  it("ray.get and ray.wait refuse what Ray refuses, and options they do not take", async () => checkRefusedCalls((await run(refusedCalls, 1)).result as never));
  it("ray.get with timeoutMs 0 answers what is at hand (a put, an inline result, an error) and times out for a running task", async () => {
    for (const seed of [1, 2]) assert.deepEqual((await run(getPeek, seed)).result, EXPECTED.peek);
  });
  it("maxPendingCalls refuses a call over the bound at once, on every handle of the actor", async () => {
    for (const seed of [1, 2]) assert.deepEqual((await run(pendingCallsLimit, seed)).result, EXPECTED.pendingCalls);
  });
  it("named actors in namespaces, getIfExists, duplicate names refused at creation, detached actors outlive their creator", async () => {
    for (const seed of [1, 2, 3]) {
      const r = await run(namedActors, seed);
      assert.deepEqual(r.result, EXPECTED_NAMES);
      assert.ok(r.trace.some((e) => e.kind === "actor.registered" && e.detached && e.name === "keeper"), "the GCS traces the detached registration");
    }
  });
  it("ray.nodes(), clusterResources() and availableResources() come from the GCS's node table", async () => {
    for (const seed of [1, 2]) assert.deepEqual((await run(clusterInfo, seed, 3)).result, { alive: 3, fieldsOk: true, totalMatchesNodes: true, cpuTakenSeen: true });
  });
  it("a placement group's actor waits for the group; once it is removed its tasks fail with TaskPlacementGroupRemoved and its actor is dead", async () => {
    for (const seed of [1, 2, 3]) assert.deepEqual((await run(groupRemoval, seed)).result, EXPECTED.groupRemoval);
  });
  it("refs nested in objects a task owns (its puts, its children's answers) outlive the task", async () => {
    for (const seed of [1, 2, 3]) assert.deepEqual((await run(nestedRefs, seed)).result, EXPECTED.nestedRefs);
  });
});

describe("ray.init options", () => {
  it("refuses options it does not implement, by name, and an unknown one", async () => {
    await assert.rejects(ray.init({ runtimeEnv: {} } as never), /ray\.init: option "runtimeEnv" is not supported/);
    await assert.rejects(ray.init({ namespace: "" }), /ray\.init: namespace must be a non-empty string/);
    await assert.rejects(ray.init({ numCPUs: 2 } as never), /ray\.init: unknown option "numCPUs"/);
    assert.equal(ray.isInitialized(), false);
  });

  it('address "auto" with no running cluster is an error, not a new embedded cluster', async () => {
    const saved = { home: process.env.TSRAY_HOME, address: process.env.TSRAY_ADDRESS };
    process.env.TSRAY_HOME = fs.mkdtempSync(path.join(os.tmpdir(), "tsray-auto-"));
    delete process.env.TSRAY_ADDRESS;
    try {
      await assert.rejects(ray.init({ address: "auto" }), /no running cluster found/);
      assert.equal(ray.isInitialized(), false);
    } finally {
      fs.rmSync(process.env.TSRAY_HOME, { recursive: true, force: true });
      if (saved.home === undefined) delete process.env.TSRAY_HOME; else process.env.TSRAY_HOME = saved.home;
      if (saved.address !== undefined) process.env.TSRAY_ADDRESS = saved.address;
    }
  });
});

describe("API features on the embedded cluster", () => {
  before(async () => { await ray.init({ numCpus: 2 }); });
  after(async () => { await ray.shutdown(); });

  it("async actor calls overlap up to maxConcurrency; sync actors stay serial", async () => {
    assert.deepEqual(await asyncActorConcurrency(ray.driver()), EXPECTED.concurrency);
  });
  it("concurrency groups: a group's calls wait only for its own slots", async () => {
    assert.deepEqual(await concurrencyGroups(ray.driver()), EXPECTED.concurrencyGroups);
  });
  it("calls to a dead actor fail with ActorDiedError", async () => {
    assert.deepEqual(await deadActorCalls(ray.driver()), EXPECTED.deadActor);
  });
  it("ray.kill with noRestart: false restarts the actor", async () => {
    assert.deepEqual(await killWithRestart(ray.driver()), EXPECTED.killWithRestart);
  });
  it("what a killed actor owned fails with OwnerDiedError", async () => {
    assert.deepEqual(await killedOwner(ray.driver()), EXPECTED.killedOwner);
  });
  it("an actor ends once every handle to it is gone", async () => {
    assert.deepEqual(await handleScopes(ray.driver()), EXPECTED.handleScopes);
  });
  it("ray.exitActor ends the actor for good", async () => {
    assert.deepEqual(await actorExit(ray.driver()), EXPECTED.actorExit);
  });
  it("an actor call waiting for its argument holds back the next call; one whose argument failed does not", async () => {
    assert.deepEqual(await actorCallsWithPendingArgs(ray.driver()), EXPECTED.pendingArgs);
  });
  it("a task error keeps the user's error as cause", async () => checkCauses(await errorCauses(ray.driver())));
  it("ray.getRuntimeContext() names the task and actor running the code", async () => {
    assert.deepEqual(await runtimeContexts(ray.driver()), EXPECTED.contexts);
  });
  it("unimplemented options are refused by name", async () => checkRefused(await refusedOptions(ray.driver())));
  it("ray.get and ray.wait refuse what Ray refuses, and options they do not take", async () => checkRefusedCalls(await refusedCalls(ray.driver())));
  it("ray.get with timeoutMs 0 answers what is at hand and times out for a running task", async () => {
    assert.deepEqual(await getPeek(ray.driver()), EXPECTED.peek);
  });
  it("maxPendingCalls refuses a call over the bound at once, on every handle of the actor", async () => {
    assert.deepEqual(await pendingCallsLimit(ray.driver()), EXPECTED.pendingCalls);
  });
  it("named actors in namespaces, getIfExists, duplicate names refused at creation, detached actors outlive their creator", async () => {
    assert.deepEqual(await namedActors(ray.driver()), EXPECTED_NAMES);
  });
  it("a placement group's actor waits for the group; once it is removed its tasks fail with TaskPlacementGroupRemoved and its actor is dead", async () => {
    assert.deepEqual(await groupRemoval(ray.driver()), EXPECTED.groupRemoval);
  });
  it("refs nested in objects a task owns (its puts, its children's answers) outlive the task", async () => {
    assert.deepEqual(await nestedRefs(ray.driver()), EXPECTED.nestedRefs);
  });
  it("ray.nodes(), clusterResources() and availableResources()", async () => {
    assert.deepEqual(await clusterInfo(ray.driver()), { alive: 1, fieldsOk: true, totalMatchesNodes: true, cpuTakenSeen: true });
    const [node] = await ray.nodes();
    assert.deepEqual([node.nodeId, node.alive, node.resources.CPU], ["head", true, 2]);
    assert.equal((await ray.clusterResources()).CPU, 2);
  });
});

describe("ray.init({ namespace }) on the embedded cluster", () => {
  before(async () => { await ray.init({ numCpus: 2, namespace: "team-a" }); });
  after(async () => { await ray.shutdown(); });

  it("the driver and its tasks run in the namespace; names are looked up there by default", async () => {
    class Box { v = 7; get(): number { return this.v; } }
    const box = await ray.remote(Box).options({ name: "box" }).remote();
    assert.equal(ray.getRuntimeContext().namespace, "team-a");
    const inTask = ray.remote(async () => ({ ns: ray.getRuntimeContext().namespace, v: await ray.get((await ray.getActor("box")).get.remote()) }));
    assert.deepEqual(await ray.get(inTask.remote()), { ns: "team-a", v: 7 });
    assert.equal(await ray.get((await ray.getActor("box", { namespace: "team-a" })).get.remote()), 7);
    await assert.rejects(ray.getActor("box", { namespace: "team-b" }), (e: Error) => e.name === "ValueError" && /no live actor named "box" in the namespace "team-b"/.test(e.message));
    await assert.rejects(ray.getActor("box", { bogus: 1 } as never), /ray\.getActor: unknown option "bogus"/);
    ray.kill(box);
  });
});
