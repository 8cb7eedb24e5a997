// The compiled predicate that validate.ts puts before zod (schema-check.ts) must never be laxer
// than zod: every message it accepts, zod accepts. Real messages come from a simulated run of a
// program that uses tasks, actors, objects, errors and placement groups; each is taken as a
// daemon sees it (its V8 body, payload data an index), and then broken one field at a time.

import assert from "node:assert/strict";
import v8 from "node:v8";
import { test } from "node:test";
import { z } from "zod/v4";
import { simulate } from "../../sim/simulate.ts";
import { Prng } from "../../sim/prng.ts";
import type { SimCluster } from "../../sim/cluster.ts";
import type { ObjectRef } from "../../src/index.ts";
import type { Msg } from "../../src/core/messages.ts";
import { compileCheck } from "../../src/runtime/daemon/schema-check.ts";
import { msgSchema, msgProblem } from "../../src/runtime/daemon/validate.ts";
import { encodeMsg } from "../../src/runtime/daemon/wire/frame.ts";

const wellFormed = compileCheck(msgSchema);
/** zod's verdict; it throws on some malformed values (see msgProblem), which is a refusal. */
const zodAccepts = (v: unknown) => { try { return msgSchema.safeParse(v).success; } catch { return false; } };

/** Every message of a run, as decodeMsg hands it to the validator. */
async function sampleMessages(): Promise<Record<string, unknown>[]> {
  const seen: Msg[] = [];
  const setup = (sim: SimCluster) => {
    const deliver = sim.deliver.bind(sim);
    sim.deliver = (from, to, dest, m, periodic, sent, addressee) => { seen.push(m); deliver(from, to, dest, m, periodic, sent, addressee); };
  };
  const r = await simulate({
    seed: 7, nodes: 2, setup,
    program: async (ray) => {
      const sq = ray.remote((x: number) => x * x);
      const big = ray.remote((n: number) => new Float64Array(n).fill(1), { numCpus: 1 });
      const fail = ray.remote(() => { throw new Error("boom"); }, { maxRetries: 0 });
      const Counter = ray.remote(class { n = 0; add(k: number) { return (this.n += k); } });
      const c = Counter.remote();
      const put = await ray.put({ a: [1, 2, 3] });
      const refs: ObjectRef<unknown>[] = [sq.remote(3), sq.remote(put as never), big.remote(100_000), c.add.remote(2)];
      await ray.get(refs);
      await ray.get(fail.remote()).catch(() => undefined);
      await ray.wait(refs, { numReturns: 2 });
      const pg = ray.placementGroup({ bundles: [{ CPU: 1 }, { CPU: 1 }], strategy: "SPREAD" });
      await ray.get(pg.ready());
      ray.removePlacementGroup(pg);
      ray.kill(c);
    },
  });
  assert.equal(r.error, undefined);
  return seen.map((m) => v8.deserialize(encodeMsg(asReal(m) as Msg).body) as Record<string, unknown>);
}

/** The simulator's payloads may hold the value itself (codec.ts, inProcessPayload); a real host's hold bytes. */
function asReal(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(asReal);
  if (v === null || typeof v !== "object" || v instanceof Uint8Array) return v;
  const o = v as Record<string, unknown>;
  if (typeof o.size === "number" && "data" in o && typeof o.hash === "string") {
    return { size: o.size, hash: o.hash, data: new Uint8Array(1), ...(o.refs !== undefined ? { refs: asReal(o.refs) } : {}), ...(o.marked ? { marked: true } : {}) };
  }
  return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, asReal(x)]));
}

test("every real message is accepted by the compiled check, as by zod", async () => {
  const msgs = await sampleMessages();
  const types = new Set(msgs.map((m) => m.type));
  assert.ok(types.size >= 15, `only ${types.size} message types in the sample`);
  for (const m of msgs) {
    assert.equal(zodAccepts(m), true, `zod refuses a real ${m.type}: ${msgProblem(m)}`);
    assert.equal(wellFormed(m), true, `the compiled check refuses a real ${m.type}`);
  }
});

/** Values that break some field somewhere. */
const BAD: unknown[] = [
  undefined, null, -1, 1.5, NaN, Infinity, -Infinity, 2 ** 60, "", " ", "a b", "x".repeat(600), "__proto__", "no-slash",
  true, false, [], [1], {}, { x: 1 }, new Map(), new Uint8Array(2), 0, 1, "DEFAULT", "inline", "head/driver", "ok",
];

/** Every path to a value inside `v` (object keys and array indices). */
function paths(v: unknown, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (v !== null && typeof v === "object" && !(v instanceof Uint8Array)) {
    for (const k of Object.keys(v)) {
      const p = [...at, Array.isArray(v) ? Number(k) : k];
      out.push(p);
      paths((v as Record<string, unknown>)[k], p, out);
    }
  }
  return out;
}

/** `v` with the value at `path` replaced (or the key deleted, for `del`). */
function withAt(v: unknown, path: (string | number)[], to: unknown, del = false): unknown {
  const copy = structuredClone(v) as Record<string | number, unknown>;
  let o = copy;
  for (const k of path.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
  const last = path[path.length - 1];
  if (del) {
    if (Array.isArray(o)) delete o[last as number]; // a hole
    else delete o[last];
  } else o[last] = to;
  return copy;
}

test("no broken message is accepted by the compiled check that zod refuses", async () => {
  const msgs = await sampleMessages();
  const byType = new Map<unknown, Record<string, unknown>[]>();
  for (const m of msgs) if ((byType.get(m.type)?.length ?? 0) < 4) byType.set(m.type, [...(byType.get(m.type) ?? []), m]);
  const rng = new Prng(20261205, "schema-check");
  let tried = 0, refused = 0;
  for (const samples of byType.values()) {
    for (const m of samples) {
      for (const p of paths(m)) {
        const variants = [withAt(m, p, undefined, true), withAt(m, p.slice(0, -1).length ? p.slice(0, -1) : p, { extra: 1 }), ...BAD.filter(() => rng.next() < 0.5).map((b) => withAt(m, p, b))];
        if (p.length === 1) variants.push({ ...m, unknownField: 1 });
        for (const x of variants) {
          tried++;
          const zod = zodAccepts(x);
          if (!zod) refused++;
          if (wellFormed(x)) assert.equal(zod, true, `compiled check accepts what zod refuses: ${JSON.stringify(x, (_k, val) => (val === undefined ? "<undefined>" : typeof val === "number" && !Number.isFinite(val) ? String(val) : val)).slice(0, 400)}`);
        }
      }
    }
  }
  assert.ok(tried > 2000 && refused > tried / 2, `${tried} variants, ${refused} refused by zod`);
});

test("the compiled check follows zod's rules on the edges", () => {
  const s = z.object({
    n: z.number().int().nonnegative().max(10), f: z.number().gte(-1e-6), t: z.string().regex(/^[a-z]+$/).max(3),
    o: z.string().optional(), l: z.array(z.literal(1)).max(2).readonly(), r: z.record(z.string().regex(/^[A-Z]+$/), z.number()),
    e: z.enum(["A", "B"]), u: z.union([z.literal("x"), z.object({ k: z.boolean() }).strict()]),
  }).strict();
  const check = compileCheck(s);
  const ok = { n: 3, f: -1e-7, t: "abc", l: [1, 1], r: { CPU: 1 }, e: "A", u: { k: true } };
  const cases: [unknown, boolean][] = [
    [ok, true], [{ ...ok, o: undefined }, true], [{ ...ok, o: "s" }, true], [{ ...ok, u: "x" }, true],
    [{ ...ok, n: 11 }, false], [{ ...ok, n: -1 }, false], [{ ...ok, n: 1.5 }, false], [{ ...ok, f: NaN }, false], [{ ...ok, f: Infinity }, false],
    [{ ...ok, f: -1e-5 }, false], [{ ...ok, t: "abcd" }, false], [{ ...ok, t: "A" }, false], [{ ...ok, o: 1 }, false],
    // eslint-disable-next-line no-sparse-arrays
    [{ ...ok, l: [1, , 1].slice(0, 2) }, false], [{ ...ok, l: [1, 1, 1] }, false], [{ ...ok, r: { cpu: 1 } }, false], [{ ...ok, r: { CPU: "1" } }, false],
    [{ ...ok, e: "C" }, false], [{ ...ok, u: { k: 1 } }, false], [{ ...ok, u: { k: true, z: 1 } }, false], [{ ...ok, extra: 1 }, false],
    [{ n: 3 }, false], [null, false], [[ok], false], [new Map(), false],
  ];
  for (const [v, want] of cases) {
    assert.equal(check(v), want, `compiled check on ${JSON.stringify(v)}`);
    assert.equal(s.safeParse(v).success, want, `zod on ${JSON.stringify(v)}`);
  }
});

test("a list sent as a typed array is a problem named, not an exception (zod throws freezing it)", () => {
  for (const ids of [new Uint8Array(2), new Float64Array(1), new Uint8Array(0)]) {
    const m = { type: "FreeObjects", ids };
    assert.equal(wellFormed(m), false);
    assert.match(msgProblem(m) ?? "", /./);
  }
});

test("a schema the compiler does not understand is refused when compiled, not let through", () => {
  assert.throws(() => compileCheck(z.object({ a: z.string() })), /only strict objects/);
  assert.throws(() => compileCheck(z.string().email()), /not supported/);
  assert.throws(() => compileCheck(z.string().regex(/a/g)), /not supported/);
  assert.throws(() => compileCheck(z.number().multipleOf(2)), /not supported/);
  assert.throws(() => compileCheck(z.date()), /not supported/);
  assert.throws(() => compileCheck(z.string().refine((s) => s.length > 0)), /not supported/);
  assert.throws(() => compileCheck(z.object({ a: z.string() }).strict().refine(() => true)), /not supported/);
  assert.throws(() => compileCheck(z.discriminatedUnion("t", [z.object({ t: z.literal("x") }).strict().refine(() => true)])), /not supported/);
});
