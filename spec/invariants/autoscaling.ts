// Autoscaling: the autoscaler never removes a node that holds work — no lease, no placement-group
// bundle, no primary copy of an object may be on a node when it accepts a drain — and every
// launch it asks for is answered (the node started, or failed to) before the cluster goes quiet.
// That demands are met when maxReplicas allow it is judged by liveness: the program ends.
import { violationAt, type Checker, type Violation } from "./types.ts";

const NAME = "autoscaling";

export const checkAutoscaling: Checker = (events) => {
  const out: Violation[] = [];
  /** Per node: leases held, bundles reserved, primary copies stored. */
  const leases = new Map<string, Set<string>>();
  const bundles = new Map<string, Set<string>>();
  const primaries = new Map<string, Set<string>>();
  const of = (m: Map<string, Set<string>>, node: string) => {
    let s = m.get(node);
    if (!s) m.set(node, (s = new Set()));
    return s;
  };
  const launches = new Map<string, number>();

  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    switch (e.kind) {
      case "lease.granted": of(leases, e.node).add(e.lease); break;
      case "lease.returned": of(leases, e.node).delete(e.lease); break;
      case "bundle.reserved": of(bundles, e.node).add(e.bundle); break;
      case "bundle.released": of(bundles, e.node).delete(e.bundle); break;
      case "object.created": if (e.comp === "store" && e.primary === true) of(primaries, e.node).add(e.obj); break;
      case "object.deleted": of(primaries, e.node).delete(e.obj); break;
      case "node.dead":
        // Its leases, bundles and copies ended with it (the host traces what a crash takes).
        leases.delete(e.id); bundles.delete(e.id); primaries.delete(e.id);
        break;
      case "node.drain": {
        if (!e.accepted) break;
        const held = [
          ...[...(leases.get(e.id) ?? [])].map((l) => `lease ${l}`),
          ...[...(bundles.get(e.id) ?? [])].map((b) => `bundle ${b}`),
          ...[...(primaries.get(e.id) ?? [])].map((o) => `the primary copy of ${o}`),
        ];
        if (held.length > 0) out.push(violationAt(NAME, events, i, `node ${e.id} was drained for removal while holding ${held.slice(0, 3).join(", ")}${held.length > 3 ? ` and ${held.length - 3} more` : ""}`));
        break;
      }
      case "autoscaler.launch": launches.set(e.launch, i); break;
      case "autoscaler.started":
      case "autoscaler.launch-failed":
        launches.delete(e.launch);
        break;
      case "cluster.quiet":
        for (const [launch, at] of launches) out.push(violationAt(NAME, events, at, `launch ${launch} was never answered (no node started, no failure)`));
        launches.clear();
        break;
      default:
        break;
    }
  }
  return out;
};
