// The statecharts as specifications of the trace: each entity's state changes, as the trace
// records them, must follow an edge of its lifecycle chart (src/core/lifecycle). The edges are
// read from the charts themselves, so a chart that changes changes what this checker allows.
// Traced: actors (every actor.state the GCS publishes) and nodes (node.registered begins a life,
// node.dead ends it; a node that registers again after it was declared dead is a new life).
import { actorChart, nodeChart } from "../../src/core/lifecycle/index.ts";
import { violationAt, type Checker, type Violation } from "./types.ts";

const NAME = "lifecycles";

type Config = { initial?: unknown; states?: Record<string, { on?: Record<string, unknown> }> };

/** state → the states one transition of the chart leads to (guards ignored: any branch may fire). */
function edges(chart: { config: unknown }): { initial: string; next: Map<string, Set<string>> } {
  const c = chart.config as Config;
  const next = new Map<string, Set<string>>();
  const targetOf = (t: unknown): string | undefined =>
    typeof t === "string" ? t : typeof t === "object" && t !== null && typeof (t as { target?: unknown }).target === "string" ? (t as { target: string }).target : undefined;
  for (const [s, node] of Object.entries(c.states ?? {})) {
    const out = new Set<string>();
    for (const t of Object.values(node.on ?? {})) {
      for (const branch of Array.isArray(t) ? t : [t]) {
        const target = targetOf(branch);
        if (target !== undefined) out.add(target);
      }
    }
    next.set(s, out);
  }
  return { initial: String(c.initial), next };
}

const ACTOR = edges(actorChart);
const NODE = edges(nodeChart);

export const checkLifecycles: Checker = (events) => {
  const out: Violation[] = [];
  const actors = new Map<string, { state: string; epoch: number }>();
  const nodes = new Map<string, string>();
  const step = (i: number, chart: typeof ACTOR, what: string, from: string, to: string) => {
    if (!(chart.next.get(from)?.has(to) ?? false)) {
      const allowed = [...(chart.next.get(from) ?? [])];
      out.push(violationAt(NAME, events, i, `${what} went ${from} → ${to}, which its chart does not allow (from ${from}: ${allowed.length > 0 ? allowed.join(", ") : "nothing, it is final"})`));
    }
  };
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    if (e.kind === "actor.state") {
      const prev = actors.get(e.actor);
      // The GCS publishes an actor's state again after a restart of its own: the same state of
      // the same incarnation is news repeated, not a transition.
      if (prev && prev.state === e.state && prev.epoch === e.epoch) continue;
      const from = prev?.state ?? ACTOR.initial;
      // The table's first state may be its initial one or one step past it (published on creation).
      if (prev !== undefined || e.state !== ACTOR.initial) step(i, ACTOR, `actor ${e.actor}`, from, e.state);
      if (prev && e.epoch < prev.epoch) out.push(violationAt(NAME, events, i, `actor ${e.actor}'s epoch went back from ${prev.epoch} to ${e.epoch}`));
      actors.set(e.actor, { state: e.state, epoch: e.epoch });
    } else if (e.kind === "node.registered") {
      const prev = nodes.get(e.id);
      // A node declared dead that registers again is a new life: its chart starts over.
      const from = prev === undefined || prev === "DEAD" ? NODE.initial : prev;
      if (from !== "ALIVE") step(i, NODE, `node ${e.id}`, from, "ALIVE");
      nodes.set(e.id, "ALIVE");
    } else if (e.kind === "node.dead") {
      const prev = nodes.get(e.id);
      if (prev === "DEAD") continue; // the same death heard again (e.g. after a GCS restart)
      step(i, NODE, `node ${e.id}`, prev ?? NODE.initial, "DEAD");
      nodes.set(e.id, "DEAD");
    }
  }
  return out;
};
