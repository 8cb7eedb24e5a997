// The GCS's named actors: a name is unique within its namespace, a lookup looks only there, a
// duplicate is refused at registration (ValueError), a detached actor outlives its owner, a
// dead actor's name is free again, names survive a GCS restart, and the node table answers
// GetClusterInfo. The seeded bugs of this table change exactly these answers.
import assert from "node:assert/strict";
import { test } from "node:test";
import { NO_BUGS, type Bugs } from "../../src/core/bugs.ts";
import type { Msg } from "../../src/core/messages.ts";
import type { ActorInfo, ActorSpec } from "../../src/core/types.ts";
import type { GcsTable } from "../../src/core/gcs.ts";
import { gcsHost } from "../helpers/gcs-host.ts";

function gcs(bugs: Bugs = NO_BUGS, tables?: Map<GcsTable, Map<string, unknown>>) {
  const { g, sent, rows } = gcsHost({ bugs, ...(tables ? { rows: tables, recover: true } : {}) });
  g.message("head/raylet", { type: "RegisterNode", node: "head", incarnation: 1, resources: { CPU: 4 } });
  const spec = (actorId: string, owner: string, extra: Partial<ActorSpec>): ActorSpec => ({
    actorId, fn: "C:1", className: "C", args: [], owner, job: owner, resources: {}, strategy: "DEFAULT", maxRestarts: 0, maxTaskRetries: 0, ...extra,
  });
  const create = (actorId: string, owner: string, extra: Partial<ActorSpec>) => g.message(owner, { type: "CreateActor", spec: spec(actorId, owner, extra) });
  let req = 0;
  const lookup = (name: string, namespace?: string): ActorInfo | undefined => {
    const reqId = ++req;
    g.message("head/driver", { type: "GetNamedActor", reqId, name, ...(namespace !== undefined ? { namespace } : {}) });
    const m = sent.filter((s) => s.m.type === "NamedActor" && s.m.reqId === reqId).at(-1)?.m as Extract<Msg, { type: "NamedActor" }> | undefined;
    return m?.info;
  };
  const stateOf = (id: string) => (g.model.state.actors.get(id)?.state);
  return { g, sent, rows, create, lookup, stateOf };
}

test("a name is unique within its namespace; a lookup looks only in the namespace asked", () => {
  const { create, lookup, stateOf } = gcs();
  create("a1", "head/driver", { name: "x", namespace: "ns1" });
  create("a2", "head/driver", { name: "x", namespace: "ns2" });
  create("a3", "head/driver", { name: "x", namespace: "ns1" });
  assert.equal(lookup("x", "ns1")?.actorId, "a1");
  assert.equal(lookup("x", "ns2")?.actorId, "a2");
  assert.equal(lookup("x", "ns3"), undefined);
  assert.equal(lookup("x"), undefined, "the default namespace holds no name given in another");
  assert.equal(stateOf("a3"), "DEAD", "the duplicate is refused at registration");
  const refused = gcs();
  refused.create("b1", "head/driver", { name: "y", namespace: "n" });
  refused.create("b2", "head/driver", { name: "y", namespace: "n" });
  const update = refused.sent.filter((s) => s.m.type === "ActorUpdate" && s.m.info.actorId === "b2").at(-1)!.m as Extract<Msg, { type: "ActorUpdate" }>;
  assert.equal(update.info.error?.name, "ValueError");
  assert.match(update.info.error!.message, /an actor named "y" already exists in the namespace "n"/);
});

test("the seeded bug names-ignore-namespace finds a name in another namespace", () => {
  const { create, lookup } = gcs(new Set(["names-ignore-namespace"]));
  create("a1", "head/driver", { name: "x", namespace: "ns1" });
  assert.equal(lookup("x", "ns2")?.actorId, "a1");
});

test("a detached actor outlives its owner; a non-detached one dies with it; a dead actor's name is free again", () => {
  for (const bug of [false, true]) {
    const { g, create, lookup, stateOf } = gcs(bug ? new Set(["detached-dies-with-owner"]) : NO_BUGS);
    create("keep", "head/w1", { name: "keep", namespace: "n", detached: true });
    create("temp", "head/w1", { name: "temp", namespace: "n" });
    g.message("head/raylet", { type: "WorkerDied", worker: "head/w1" });
    assert.equal(stateOf("temp"), "DEAD");
    assert.equal(stateOf("keep") === "DEAD", bug, bug ? "the seeded bug kills it" : "the detached actor lives on");
    if (bug) continue;
    assert.equal(lookup("keep", "n")?.actorId, "keep");
    assert.equal(lookup("temp", "n"), undefined, "a dead actor's name is released");
    create("temp2", "head/driver", { name: "temp", namespace: "n" });
    assert.equal(lookup("temp", "n")?.actorId, "temp2");
    g.message("head/driver", { type: "KillActor", actorId: "keep" });
    assert.equal(stateOf("keep"), "DEAD", "ray.kill ends a detached actor");
  }
});

test("names survive a GCS restart, namespaces included; GetClusterInfo answers with the node table", () => {
  const first = gcs();
  first.create("a1", "head/driver", { name: "x", namespace: "ns1", detached: true });
  const restarted = gcs(NO_BUGS, first.rows as Map<GcsTable, Map<string, unknown>>);
  assert.equal(restarted.lookup("x", "ns1")?.actorId, "a1");
  assert.equal(restarted.lookup("x", "ns2"), undefined);
  restarted.g.message("head/driver", { type: "GetClusterInfo", reqId: 9 });
  const info = restarted.sent.find((s) => s.m.type === "ClusterInfo")!;
  assert.equal(info.to, "head/driver");
  const nodes = (info.m as Extract<Msg, { type: "ClusterInfo" }>).nodes;
  assert.deepEqual(nodes.map((n) => [n.node, n.alive, n.total.CPU]), [["head", true, 4]]);
});

test("a name whose actor died is free after a GCS restart too, and an unnamed actor takes no name", () => {
  const first = gcs();
  first.create("gone", "head/driver", { name: "x", namespace: "n", detached: true });
  first.create("anon", "head/driver", { detached: true });
  first.g.message("head/driver", { type: "KillActor", actorId: "gone" });
  assert.equal(first.stateOf("gone"), "DEAD");
  const restarted = gcs(NO_BUGS, first.rows as Map<GcsTable, Map<string, unknown>>);
  assert.equal(restarted.lookup("x", "n"), undefined, "the dead actor's name came back with the restart");
  restarted.create("again", "head/driver", { name: "x", namespace: "n" });
  assert.equal(restarted.lookup("x", "n")?.actorId, "again");
  assert.notEqual(restarted.stateOf("again"), "DEAD");
});

test("KillActor with noRestart: false restarts the actor (within maxRestarts); without it the actor dies for good", () => {
  const { g, create, stateOf } = gcs();
  create("r", "head/driver", { maxRestarts: 1 });
  create("k", "head/driver", { maxRestarts: 1 });
  g.message("head/driver", { type: "KillActor", actorId: "r", noRestart: false, epoch: 0 });
  g.message("head/driver", { type: "KillActor", actorId: "k" });
  assert.notEqual(stateOf("r"), "DEAD", "a kill with restart ended the actor");
  assert.equal(stateOf("k"), "DEAD");
});

test("ListNamedActors answers the live names of one namespace, or of all, sorted; a killed actor's name goes", () => {
  const { g, sent, create } = gcs();
  create("a1", "head/driver", { name: "y", namespace: "ns2" });
  create("a2", "head/driver", { name: "x", namespace: "ns2" });
  create("a3", "head/driver", { name: "z", namespace: "ns1" });
  create("a4", "head/driver", { namespace: "ns1" }); // no name: not listed
  let req = 0;
  const list = (namespace?: string) => {
    const reqId = ++req;
    g.message("head/driver", { type: "ListNamedActors", reqId, ...(namespace !== undefined ? { namespace } : {}) });
    return (sent.find((s) => s.m.type === "NamedActorList" && s.m.reqId === reqId)!.m as Extract<Msg, { type: "NamedActorList" }>).actors;
  };
  assert.deepEqual(list("ns2"), [{ name: "x", namespace: "ns2" }, { name: "y", namespace: "ns2" }]);
  assert.deepEqual(list(), [{ name: "z", namespace: "ns1" }, { name: "x", namespace: "ns2" }, { name: "y", namespace: "ns2" }]);
  g.message("head/driver", { type: "KillActor", actorId: "a2" });
  assert.deepEqual(list("ns2"), [{ name: "y", namespace: "ns2" }]);
  assert.deepEqual(list("ns3"), []);
});
