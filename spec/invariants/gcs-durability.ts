// Invariant 8 (GCS durability): a GCS restart loses no registered node or actor.
import { violationAt, type Checker, type Violation } from "./types.ts";

const NAME = "gcs-durability";

export const checkGcsDurability: Checker = (events) => {
  const out: Violation[] = [];
  const nodes = new Set<string>();
  const actors = new Set<string>();

  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    switch (e.kind) {
      case "node.registered":
        nodes.add(e.id);
        break;
      case "actor.state":
        actors.add(e.actor);
        break;
      case "gcs.recovered": {
        const lost: string[] = [];
        if (e.nodes < nodes.size) lost.push(`${nodes.size - e.nodes} registered node(s) (recovered ${e.nodes} of ${nodes.size}: ${[...nodes].join(", ")})`);
        if (e.actors < actors.size) lost.push(`${actors.size - e.actors} actor(s) (recovered ${e.actors} of ${actors.size}: ${[...actors].join(", ")})`);
        if (lost.length > 0) out.push(violationAt(NAME, events, i, `the GCS restart lost ${lost.join(" and ")}`));
        break;
      }
    }
  }
  return out;
};
