// The generated workloads call the whole Ray API. Every property test passed while an actor
// call with a pending argument hung, because no generated step made one. Here, the API's own
// members (read off the object the driver is given), every option tsray implements (read off
// src/api/options.ts) and what placement groups offer are each used by some generated program,
// or listed below with the reason they are not. A member or option added to the API fails this
// test until the generator uses it.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { workloadArb } from "../../sim/arbitraries.ts";
import { simulate } from "../../sim/simulate.ts";
import { workloadProgram } from "../../sim/workload.ts";
import { ActorClass, RemoteFunction, type RemoteOptions } from "../../src/api/handles.ts";
import { IMPLEMENTED, type OptionTarget } from "../../src/api/options.ts";
import { PLACEMENT_GROUP_OPTIONS, PlacementGroup, type PlacementGroupOptions } from "../../src/api/placement-group.ts";
import type { Ray } from "../../src/api/ray.ts";

/** API members no generated program uses directly, and why. */
const MEMBERS_NOT_GENERATED: Readonly<Record<string, string>> = {
  call: "not user API: the handles' way in (Invoker), which every RemoteFunction.remote() takes",
  callMethod: "not user API: the handles' way in (Invoker), which every actor method's .remote() takes",
  exitActor: "only an actor's method may call it: the exit step's Acc.exit does, inside the actor",
};

/**
 * Placement groups' members and options no generated program uses, and why. A member the API
 * itself reads (bundleIndex's check reads bundleCount) counts as used.
 */
const PLACEMENT_GROUP_NOT_GENERATED: Readonly<Record<string, string>> = {
  name: "a name only labels the group (tsray looks no group up by name)",
  lifetime: "a detached group outlives the program and keeps its CPU reserved: on the generated clusters (one CPU on the head) later steps would wait for ever",
};

/** Options no generated program passes, and why. */
const OPTIONS_NOT_GENERATED: Readonly<Record<OptionTarget, Readonly<Record<string, string>>>> = {
  task: {
    numGpus: "the generated clusters have no GPUs: a GPU demand would wait for ever (the scheduling tests cover GPUs)",
    resources: "the generated clusters have CPUs only: a custom demand would wait for ever (the scheduling tests cover custom resources)",
  },
  actor: {
    numCpus: "an actor holds its CPUs while it lives: on the generated clusters (one CPU on the head) tasks would wait behind generated actors for ever",
    numGpus: "the generated clusters have no GPUs",
    resources: "the generated clusters have CPUs only",
    bundleIndex: "an actor's group has one bundle in the generated programs (pg-removed): any bundle is that one",
    captureChildTasks: "placement groups capture through tasks (pg-capture)",
    maxPendingCalls: "whether a call is over the bound depends on when the answers before it were heard, which faults move: the api-features program pendingCallsLimit covers it on every host",
  },
  method: {},
};

interface Seen {
  readonly members: Set<string>;
  readonly options: Record<OptionTarget, Set<string>>;
  /** Members of placement groups read, and the options they were made with. */
  readonly placementGroups: Set<string>;
}

/**
 * The driver's API with what the program uses recorded: each member read, and the options of
 * every remote function, actor class and actor method it calls.
 */
function recording(ray: Ray, seen: Seen): Ray {
  const opts = (target: OptionTarget, o: RemoteOptions | undefined) => { for (const k of Object.keys(o ?? {})) seen.options[target].add(k); };
  const method = (m: { remote: (...a: unknown[]) => unknown; options: (o: RemoteOptions) => unknown }): unknown => ({
    remote: m.remote,
    options: (o: RemoteOptions) => { opts("method", o); return method(m.options(o) as typeof m); },
  });
  const actor = (a: object): object => new Proxy(a, {
    get(target, key) {
      const m = Reflect.get(target, key);
      return typeof key === "string" && typeof m === "object" && m !== null && "options" in m ? method(m as never) : m;
    },
  });
  const handle = <H extends RemoteFunction<never> | ActorClass<never>>(h: H): H => new Proxy(h, {
    get(target, key) {
      if (key === "options") return (o: RemoteOptions) => handle(target.options(o));
      if (key === "remote") {
        return (...a: unknown[]) => {
          const isActor = target instanceof ActorClass;
          opts(isActor ? "actor" : "task", target.opts);
          const out = (target.remote as unknown as (...x: unknown[]) => unknown).apply(target, a);
          return isActor ? actor(out as object) : out;
        };
      }
      return Reflect.get(target, key);
    },
  });
  return new Proxy(ray, {
    get(target, key, receiver) {
      if (typeof key === "string") seen.members.add(key);
      if (key === "remote") return (t: never, o?: RemoteOptions) => handle(target.remote(t, o));
      if (key === "placementGroup") {
        return (o: PlacementGroupOptions) => {
          for (const k of Object.keys(o)) seen.placementGroups.add(k);
          return new Proxy(target.placementGroup(o), {
            get(pg, k) {
              if (typeof k === "string") seen.placementGroups.add(k);
              return Reflect.get(pg, k);
            },
          });
        };
      }
      return Reflect.get(target, key, receiver);
    },
  });
}

test("generated programs use every member of the Ray API, every option tsray implements and what placement groups offer (or say why not)", { timeout: 120_000 }, async () => {
  const seen: Seen = { members: new Set(), options: { task: new Set(), actor: new Set(), method: new Set() }, placementGroups: new Set() };
  let members: string[] = [];
  for (const w of fc.sample(workloadArb(3, 14), { numRuns: 500, seed: 17 })) {
    const r = await simulate({
      seed: 1, nodes: 3, check: false, config: { keepTrace: false },
      program: (ray: Ray, host) => {
        members = Object.keys(ray);
        return workloadProgram(w)(recording(ray, seen), host);
      },
    });
    assert.equal(r.error, undefined, `a fault-free generated program failed: ${r.error?.message}`);
  }
  assert.ok(members.length > 10, `the driver's API has ${members.length} members`);
  const missing = members.filter((m) => !seen.members.has(m) && !(m in MEMBERS_NOT_GENERATED));
  assert.deepEqual(missing, [], "no generated workload uses these members of the Ray API: add a step feature (sim/arbitraries.ts) or list them with the reason");
  for (const m of Object.keys(MEMBERS_NOT_GENERATED)) {
    assert.ok(members.includes(m), `MEMBERS_NOT_GENERATED lists ${m}, which the API no longer has`);
    assert.ok(!seen.members.has(m), `MEMBERS_NOT_GENERATED lists ${m}, which a generated workload now uses`);
  }
  const pgMembers = Object.getOwnPropertyNames(PlacementGroup.prototype).filter((k) => k !== "constructor");
  const pgUnused = [...pgMembers, ...PLACEMENT_GROUP_OPTIONS].filter((k) => !seen.placementGroups.has(k) && !(k in PLACEMENT_GROUP_NOT_GENERATED));
  assert.deepEqual(pgUnused, [], "no generated workload uses these members or options of placement groups: generate them or list them with the reason");
  for (const k of Object.keys(PLACEMENT_GROUP_NOT_GENERATED)) {
    assert.ok(pgMembers.includes(k) || PLACEMENT_GROUP_OPTIONS.includes(k), `PLACEMENT_GROUP_NOT_GENERATED lists ${k}, which placement groups no longer have`);
    assert.ok(!seen.placementGroups.has(k), `PLACEMENT_GROUP_NOT_GENERATED lists ${k}, which a generated workload now uses`);
  }
  for (const target of Object.keys(IMPLEMENTED) as OptionTarget[]) {
    const unused = [...IMPLEMENTED[target]].filter((k) => !seen.options[target].has(k) && !(k in OPTIONS_NOT_GENERATED[target]));
    assert.deepEqual(unused, [], `no generated workload passes these ${target} options: generate them or list them with the reason`);
    for (const k of Object.keys(OPTIONS_NOT_GENERATED[target])) {
      assert.ok(IMPLEMENTED[target].has(k), `OPTIONS_NOT_GENERATED lists the ${target} option ${k}, which tsray no longer implements`);
      assert.ok(!seen.options[target].has(k), `OPTIONS_NOT_GENERATED lists the ${target} option ${k}, which a generated workload now passes`);
    }
  }
});
