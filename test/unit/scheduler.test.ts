// The scheduling policies (src/core/scheduler.ts): examples of each rule, and properties over
// random cluster views that every placement must satisfy.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { checkResources, fits, utilization, type ResourceSet } from "../../src/core/resources.ts";
import {
  SPREAD_THRESHOLD, TOP_K_FRACTION, hybrid, inBundle, localityNode, nodeAffinity, place, placeBundles, spread, type PlacementInput,
} from "../../src/core/scheduler.ts";
import type { NodeView, SchedulingStrategy } from "../../src/core/types.ts";

const nv = (node: string, total: ResourceSet, available: ResourceSet = total, alive = true): NodeView => ({ node, incarnation: 0, total, available, alive });
const cpu = (n: number) => ({ CPU: n });

function input(nodes: NodeView[], over: Partial<PlacementInput> = {}): PlacementInput {
  return { resources: cpu(1), strategy: "DEFAULT", local: nodes[0]?.node ?? "head", nodes, random: () => 0, spreadCursor: 0, ...over };
}

function chosen(p: { kind: string; node?: string }): string {
  assert.equal(p.kind, "node", `expected a node, got ${JSON.stringify(p)}`);
  return p.node!;
}

/** The policy's score: below the threshold every node counts as empty (pack there). */
const score = (n: NodeView) => {
  const u = utilization(n.total, n.available);
  return u < SPREAD_THRESHOLD ? 0 : u;
};

describe("hybrid", () => {
  const others = [nv("n1", cpu(8)), nv("n2", cpu(8)), nv("n3", cpu(8))];

  test("packs onto the local node while it is below half utilization", () => {
    // Local: 3 of 8 CPUs used (0.375); the others are empty, but packing wins.
    for (const r of [0, 0.5, 0.999]) {
      const p = hybrid(input([nv("head", cpu(8), cpu(5)), ...others], { random: () => r }));
      assert.equal(chosen(p), "head");
    }
  });

  test("spreads once the local node reaches half utilization", () => {
    // Local: 4 of 8 used (0.5). Ten nodes → top 20% = 2 candidates, both empty remote nodes.
    const nodes = [nv("head", cpu(8), cpu(4)), ...Array.from({ length: 9 }, (_, i) => nv(`n${i + 1}`, cpu(8)))];
    assert.equal(chosen(hybrid(input(nodes, { random: () => 0 }))), "n1");
    assert.equal(chosen(hybrid(input(nodes, { random: () => 0.99 }))), "n2");
  });

  test("prefers the least utilized nodes when every node is past the threshold", () => {
    const nodes = [nv("head", cpu(10), cpu(2)), nv("a", cpu(10), cpu(1)), nv("b", cpu(10), cpu(4)), nv("c", cpu(10), cpu(3))];
    assert.equal(chosen(hybrid(input(nodes))), "b"); // 60% used, the least
  });

  test("queues where it is feasible when no node can run it now: locally first", () => {
    const busy = [nv("head", cpu(4), cpu(0)), nv("n1", cpu(4), cpu(0))];
    assert.equal(chosen(hybrid(input(busy))), "head");
    // Local node can never run it (no GPU): the least utilized feasible node instead.
    const gpu = [nv("head", cpu(4), cpu(0)), nv("g1", { CPU: 4, GPU: 2 }, { CPU: 0, GPU: 0 }), nv("g2", { CPU: 4, GPU: 2 }, { CPU: 2, GPU: 1 })];
    assert.equal(chosen(hybrid(input(gpu, { resources: { GPU: 2 } }))), "g2"); // half used, g1 full
    // Equally utilized: the first in the view's order, so the choice depends only on the inputs.
    const tie = [nv("head", cpu(4), cpu(0)), nv("g1", { GPU: 2 }, { GPU: 0 }), nv("g2", { GPU: 2 }, { GPU: 0 })];
    assert.equal(chosen(hybrid(input(tie, { resources: { GPU: 2 } }))), "g1");
  });

  test("never picks a dead node", () => {
    const nodes = [nv("head", cpu(8), cpu(0)), nv("dead", cpu(8), cpu(8), false), nv("n2", cpu(8), cpu(1))];
    assert.equal(chosen(hybrid(input(nodes))), "n2");
  });
});

describe("SPREAD", () => {
  test("round-robins over the nodes that can run the task now", () => {
    const nodes = [nv("head", cpu(4)), nv("n1", cpu(4)), nv("n2", cpu(4)), nv("n3", cpu(4))];
    let cursor = 0;
    const seen: string[] = [];
    for (let i = 0; i < 8; i++) {
      const p = spread(input(nodes, { strategy: "SPREAD", spreadCursor: cursor }));
      seen.push(chosen(p));
      cursor = p.spreadCursor;
    }
    assert.deepEqual(seen, ["head", "n1", "n2", "n3", "head", "n1", "n2", "n3"]);
  });

  test("skips full and dead nodes; falls back to feasible ones when none is free", () => {
    const nodes = [nv("head", cpu(4), cpu(0)), nv("n1", cpu(4)), nv("dead", cpu(4), cpu(4), false), nv("n3", cpu(4))];
    const picks = [0, 1, 2, 3].map((c) => chosen(spread(input(nodes, { strategy: "SPREAD", spreadCursor: c }))));
    assert.deepEqual(picks, ["n1", "n3", "n1", "n3"]);
    const allBusy = [nv("head", cpu(4), cpu(0)), nv("n1", cpu(4), cpu(0))];
    assert.deepEqual([0, 1].map((c) => chosen(spread(input(allBusy, { strategy: "SPREAD", spreadCursor: c })))), ["head", "n1"]);
  });

  test("place() threads the cursor through", () => {
    const nodes = [nv("a", cpu(1)), nv("b", cpu(1))];
    const p1 = place(input(nodes, { strategy: "SPREAD", spreadCursor: 5 }));
    assert.equal(p1.spreadCursor, 6);
    assert.equal(chosen(p1), "b");
    assert.equal(place(input(nodes, { spreadCursor: 5 })).spreadCursor, 5, "DEFAULT leaves the cursor alone");
  });
});

describe("node affinity", () => {
  const nodes = [nv("head", cpu(4)), nv("n1", cpu(4), cpu(0)), nv("gone", cpu(4), cpu(4), false)];
  const affinity = (nodeId: string, soft: boolean): SchedulingStrategy => ({ nodeId, soft });

  test("hard affinity to a dead or unknown node is infeasible", () => {
    for (const target of ["gone", "never-was"]) {
      const p = place(input(nodes, { strategy: affinity(target, false) }));
      assert.equal(p.kind, "infeasible");
      assert.match((p as { reason: string }).reason, new RegExp(`node ${target} is not alive`));
    }
  });

  test("a demand no live node has waits; hard affinity to a dead node fails for good", () => {
    const none = place(input(nodes, { resources: { TPU: 1 } }));
    assert.deepEqual(none.kind === "infeasible" && none.waits, true);
    const dead = place(input(nodes, { strategy: affinity("gone", false) }));
    assert.deepEqual(dead.kind === "infeasible" && dead.waits, false);
  });

  test("hard affinity to a node that lacks the resources is infeasible", () => {
    const p = nodeAffinity(input(nodes, { resources: { GPU: 1 } }), "head", false);
    assert.equal(p.kind, "infeasible");
    assert.match((p as { reason: string }).reason, /does not have/);
  });

  test("hard affinity to a busy node waits there", () => {
    assert.equal(chosen(nodeAffinity(input(nodes), "n1", false)), "n1");
  });

  test("soft affinity takes the node while it is alive and could run the task (queueing there when busy), else falls back to hybrid", () => {
    assert.equal(chosen(place(input(nodes, { strategy: affinity("head", true), local: "n1" }))), "head");
    assert.equal(chosen(place(input(nodes, { strategy: affinity("gone", true) }))), "head");
    assert.equal(chosen(place(input(nodes, { strategy: affinity("never-was", true) }))), "head");
    assert.equal(chosen(place(input(nodes, { strategy: affinity("n1", true) }))), "n1"); // busy, but alive and big enough: it waits there, as in Ray
    const gpu = [nv("head", { CPU: 4, GPU: 1 }), nv("n1", cpu(4))];
    assert.equal(chosen(place(input(gpu, { strategy: affinity("n1", true), resources: { GPU: 1 }, local: "n1" }))), "head"); // n1 could never run it
  });
});

describe("infeasible demands", () => {
  const nodes = [nv("head", cpu(4)), nv("n1", cpu(4))];
  for (const strategy of ["DEFAULT", "SPREAD", { nodeId: "n1", soft: true }] as SchedulingStrategy[]) {
    test(`${JSON.stringify(strategy)}: a demand no node has is infeasible, and says what is missing`, () => {
      for (const resources of [{ GPU: 1 }, cpu(5), { CPU: 1, custom: 2 }] as ResourceSet[]) {
        const p = place(input(nodes, { resources, strategy }));
        assert.equal(p.kind, "infeasible");
        assert.ok((p as { reason: string }).reason.includes(JSON.stringify(resources)));
      }
    });
  }

  test("a dead node's capacity does not make a demand feasible", () => {
    const p = place(input([nv("head", cpu(4)), nv("big", cpu(64), cpu(64), false)], { resources: cpu(32) }));
    assert.equal(p.kind, "infeasible");
  });
});

test("localityNode: the node holding the most argument bytes", () => {
  assert.equal(localityNode(new Map([["a", 10], ["b", 30], ["c", 20]])), "b");
  assert.equal(localityNode(new Map([["a", 10], ["b", 10]])), "a"); // ties: the first seen
  assert.equal(localityNode(new Map()), undefined);
  assert.equal(localityNode(new Map([["a", 0]])), undefined);
});

// ---- properties ----------------------------------------------------------------------------

const arbNode = (id: string) =>
  fc.record({ cpus: fc.integer({ min: 0, max: 16 }), gpus: fc.integer({ min: 0, max: 2 }), usedFrac: fc.double({ min: 0, max: 1, noNaN: true }), alive: fc.boolean() })
    .map(({ cpus, gpus, usedFrac, alive }) => {
      const total: Record<string, number> = { CPU: cpus };
      if (gpus > 0) total.GPU = gpus;
      const available: Record<string, number> = { CPU: Math.floor(cpus * (1 - usedFrac)) };
      if (gpus > 0) available.GPU = usedFrac > 0.5 ? 0 : gpus;
      return nv(id, total, available, alive);
    });

const arbCluster = fc.integer({ min: 1, max: 12 }).chain((n) =>
  fc.tuple(...Array.from({ length: n }, (_, i) => arbNode(i === 0 ? "head" : `n${i}`))));

const arbDemand = fc.oneof(
  fc.integer({ min: 1, max: 6 }).map((c) => ({ CPU: c }) as ResourceSet),
  fc.integer({ min: 1, max: 2 }).map((g) => ({ CPU: 1, GPU: g }) as ResourceSet),
);

const arbInput = fc.record({
  nodes: arbCluster,
  resources: arbDemand,
  localIndex: fc.nat(),
  r: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
  cursor: fc.nat({ max: 1000 }),
}).map(({ nodes, resources, localIndex, r, cursor }) =>
  input(nodes as NodeView[], { resources, local: nodes[localIndex % nodes.length].node, random: () => r, spreadCursor: cursor }));

const feasible = (p: PlacementInput) => p.nodes.filter((n) => n.alive && fits(p.resources, n.total));
const ready = (p: PlacementInput) => feasible(p).filter((n) => fits(p.resources, n.available));

describe("properties", () => {
  for (const strategy of ["DEFAULT", "SPREAD"] as const) {
    test(`${strategy}: infeasible exactly when no live node could ever run it; otherwise a live node that could`, () => {
      fc.assert(fc.property(arbInput, (base) => {
        const p = { ...base, strategy };
        const out = place(p);
        if (feasible(p).length === 0) return out.kind === "infeasible";
        if (out.kind !== "node") return false;
        const n = p.nodes.find((x) => x.node === out.node)!;
        // Prefer nodes that can run it now whenever there is one.
        return n.alive && fits(p.resources, n.total) && (ready(p).length === 0 || fits(p.resources, n.available));
      }), { numRuns: 500 });
    });
  }

  test("DEFAULT packs locally below the threshold, else picks among the top-k scores", () => {
    fc.assert(fc.property(arbInput, (p) => {
      const out = place(p);
      const r = ready(p);
      if (r.length === 0 || out.kind !== "node") return true; // covered above
      const local = r.find((n) => n.node === p.local);
      if (local && utilization(local.total, local.available) < SPREAD_THRESHOLD) return out.node === p.local;
      const k = Math.max(1, Math.ceil(r.length * TOP_K_FRACTION));
      const kth = r.map(score).sort((a, b) => a - b)[k - 1];
      return score(r.find((n) => n.node === out.node)!) <= kth;
    }), { numRuns: 500 });
  });

  test("DEFAULT with nothing free queues locally if it can, else on the least utilized feasible node", () => {
    fc.assert(fc.property(arbInput, (p) => {
      const out = place(p);
      if (ready(p).length > 0 || feasible(p).length === 0) return true;
      const f = feasible(p);
      if (f.some((n) => n.node === p.local)) return out.kind === "node" && out.node === p.local;
      const least = Math.min(...f.map((n) => utilization(n.total, n.available)));
      const n = f.find((x) => out.kind === "node" && x.node === out.node)!;
      return utilization(n.total, n.available) === least;
    }), { numRuns: 500 });
  });

  test("SPREAD visits every free node equally often over whole rounds", () => {
    fc.assert(fc.property(arbInput, fc.integer({ min: 1, max: 3 }), (base, rounds) => {
      const pool = ready(base).length > 0 ? ready(base) : feasible(base);
      if (pool.length === 0) return true;
      const counts = new Map<string, number>();
      let cursor = base.spreadCursor;
      for (let i = 0; i < rounds * pool.length; i++) {
        const out = place({ ...base, strategy: "SPREAD", spreadCursor: cursor });
        if (out.kind !== "node") return false;
        counts.set(out.node, (counts.get(out.node) ?? 0) + 1);
        cursor = out.spreadCursor;
      }
      return cursor === base.spreadCursor + rounds * pool.length && pool.every((n) => counts.get(n.node) === rounds);
    }), { numRuns: 300 });
  });

  test("hard affinity: the node if it is alive and big enough, else infeasible; soft never fails when anything is feasible", () => {
    fc.assert(fc.property(arbInput, fc.nat(), (base, pick) => {
      const target = base.nodes[pick % base.nodes.length];
      const hard = place({ ...base, strategy: { nodeId: target.node, soft: false } });
      const ok = target.alive && fits(base.resources, target.total);
      if (ok ? !(hard.kind === "node" && hard.node === target.node) : hard.kind !== "infeasible") return false;
      const soft = place({ ...base, strategy: { nodeId: target.node, soft: true } });
      return feasible(base).length === 0 ? soft.kind === "infeasible" : soft.kind === "node";
    }), { numRuns: 500 });
  });

  test("placement is a pure function of its inputs", () => {
    fc.assert(fc.property(arbInput, fc.constantFrom<SchedulingStrategy>("DEFAULT", "SPREAD"), (p, strategy) => {
      const a = place({ ...p, strategy });
      const b = place({ ...p, strategy, nodes: p.nodes.map((n) => ({ ...n })) });
      assert.deepEqual(a, b);
    }), { numRuns: 200 });
  });
});

test("a resource request must be finite numbers >= 0: anything else is refused, naming the key", () => {
  assert.deepEqual(checkResources({ CPU: 2, GPU: 0 }, "f"), { CPU: 2, GPU: 0 });
  for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, -1, "2", null]) {
    assert.throws(() => checkResources({ CPU: 1, GPU: bad }, "f"), { name: "TypeError", message: `f: resource "GPU" must be a finite number >= 0, got ${String(bad)}` });
  }
});

describe("placement-group bundles", () => {
  const nodes = [nv("n1", cpu(3)), nv("n2", cpu(3)), nv("n3", cpu(3))];
  test("PACK puts every bundle on one node when one holds them all", () => {
    assert.deepEqual(placeBundles("PACK", [cpu(1), cpu(2)], nodes), ["n1", "n1"]);
  });
  test("PACK that no one node holds fills the group's nodes first, then the next", () => {
    assert.deepEqual(placeBundles("PACK", [cpu(2), cpu(1), cpu(2)], nodes), ["n1", "n1", "n2"]);
    assert.equal(placeBundles("STRICT_PACK", [cpu(2), cpu(2)], nodes), undefined);
    // The group's node comes second in the view: a later bundle still goes there while it has room.
    assert.deepEqual(placeBundles("PACK", [cpu(3), cpu(1), cpu(2)], [nv("n1", cpu(2)), nv("n2", cpu(4))]), ["n2", "n2", "n1"]);
  });
  test("SPREAD and STRICT_SPREAD put bundles on distinct nodes while they can", () => {
    assert.deepEqual(placeBundles("SPREAD", [cpu(1), cpu(1), cpu(1), cpu(1)], nodes), ["n1", "n2", "n3", "n1"]);
    assert.equal(placeBundles("STRICT_SPREAD", [cpu(1), cpu(1), cpu(1), cpu(1)], nodes), undefined);
  });
  test("re-placing a PACK group's lost bundles: onto its one surviving node if it holds them, else as a fresh PACK", () => {
    // Bundle 0 survived on n2: the two lost ones go there, although n1 comes first and would fit.
    assert.deepEqual(placeBundles("PACK", [cpu(1), cpu(1), cpu(1)], [nv("n1", cpu(2)), nv("n2", cpu(3), cpu(2))], new Map([[0, "n2"]])), ["n2", "n2", "n2"]);
    // Bundles survived on two nodes (n1 full, n2 with one CPU free): no single anchor, so the two
    // lost bundles go together to the first node that holds both (n3), not one by one.
    const three = [nv("n1", cpu(2), cpu(0)), nv("n2", cpu(2), cpu(1)), nv("n3", cpu(2))];
    assert.deepEqual(placeBundles("PACK", [cpu(1), cpu(1), cpu(1), cpu(1)], three, new Map([[0, "n1"], [1, "n2"]])), ["n1", "n2", "n3", "n3"]);
  });
});

describe("tasks into a placement group's bundles", () => {
  const withBundles = (node: string, bundles: string[], alive = true): NodeView => ({ ...nv(node, cpu(2)), bundles, alive });
  test("a bundle on the local node is preferred; otherwise the first live node holding one", () => {
    const nodes = [withBundles("n1", ["pg#0"]), withBundles("n2", ["pg#1"])];
    assert.equal(chosen(inBundle(input(nodes, { local: "n2" }), "pg", -1)), "n2");
    assert.equal(chosen(inBundle(input(nodes, { local: "n3" }), "pg", -1)), "n1");
    assert.equal(chosen(inBundle(input(nodes, { local: "n1" }), "pg", 1)), "n2");
    assert.equal(inBundle(input([withBundles("n1", ["pg#0"], false)], { local: "n1" }), "pg", 0).kind, "infeasible", "a dead node's bundle");
  });
});
