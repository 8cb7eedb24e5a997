// Invariant 8 (GCS durability): a GCS restart loses no registered node or actor. Judged twice:
// against what the cluster saw (every node registered, every actor published), and against the
// host's oracle — the rows its storage acknowledged (`storage.acknowledged`) — compared row by
// row with the tables the restarted GCS holds (`gcs.recovered`), never with counts the GCS
// reports about itself.
import type { TraceEvent } from "../trace.ts";
import { violationAt, type Checker, type Violation } from "./types.ts";

const NAME = "gcs-durability";

type Acked = Extract<TraceEvent, { kind: "storage.acknowledged" }>;

export const checkGcsDurability: Checker = (events) => {
  const out: Violation[] = [];
  const nodes = new Set<string>();
  const actors = new Set<string>();
  let acked: Acked | undefined;

  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    switch (e.kind) {
      case "node.registered":
        nodes.add(e.id);
        break;
      case "actor.state":
        actors.add(e.actor);
        break;
      case "storage.acknowledged":
        acked = e;
        break;
      case "gcs.recovered": {
        const has = { nodes: new Set(e.nodeIds ?? []), actors: new Set(e.actorIds ?? []) };
        const lost: string[] = [];
        const missing = (seen: Iterable<string>, held: Set<string>) => [...seen].filter((x) => !held.has(x));
        if (e.nodeIds === undefined) {
          if (e.nodes < nodes.size) lost.push(`${nodes.size - e.nodes} registered node(s) (recovered ${e.nodes} of ${nodes.size}: ${[...nodes].join(", ")})`);
        } else if (missing(nodes, has.nodes).length > 0) lost.push(`registered node(s) ${missing(nodes, has.nodes).join(", ")} (recovered ${e.nodeIds.length} of ${nodes.size})`);
        if (e.actorIds === undefined) {
          if (e.actors < actors.size) lost.push(`${actors.size - e.actors} actor(s) (recovered ${e.actors} of ${actors.size}: ${[...actors].join(", ")})`);
        } else if (missing(actors, has.actors).length > 0) lost.push(`actor(s) ${missing(actors, has.actors).join(", ")} (recovered ${e.actorIds.length} of ${actors.size})`);
        if (acked && e.nodeIds !== undefined && e.actorIds !== undefined) {
          const n = missing(acked.nodes, has.nodes), a = missing(acked.actors, has.actors);
          if (n.length > 0) lost.push(`node row(s) ${n.join(", ")} that storage acknowledged`);
          if (a.length > 0) lost.push(`actor row(s) ${a.join(", ")} that storage acknowledged`);
        }
        acked = undefined;
        if (lost.length > 0) out.push(violationAt(NAME, events, i, `the GCS restart lost ${lost.join(" and ")}`));
        break;
      }
    }
  }
  return out;
};
