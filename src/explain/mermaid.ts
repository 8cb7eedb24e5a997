// A mermaid sequence diagram of a trace (owner ↔ raylet ↔ GCS ↔ worker): drawn from the `msg`
// events when the trace has them (`tsray sim --messages`), otherwise inferred from what the
// components traced (a submission is a message from the owner to its raylet, a finished task a
// reply from the worker to the owner, …), which is all a daemon session's traces hold.
import type { TraceEvent } from "../../spec/trace.ts";
import { concerns, short, timeOrigin, type Focus } from "./narrate.ts";

export interface DiagramOptions extends Focus {
  /** Only events at or after this time (ms, from timeOrigin: the start of a wall-clock trace). */
  readonly from?: number;
  /** Only events at or before this time (ms). */
  readonly to?: number;
  /** At most this many arrows and notes (default 150); the rest is summed up in a last note. */
  readonly limit?: number;
}

type Step = { from: string; to: string; label: string } | { note: string; over: string };

/** A lane's name for an address: `driver`, `raylet head`, `GCS`, `worker node-1/w1-2`. */
export function lane(addr: string): string {
  if (addr.endsWith("/gcs")) return "GCS";
  if (addr.endsWith("/raylet")) return `raylet ${addr.slice(0, -"/raylet".length)}`;
  if (/\/driver(-[^/]*)?$/.test(addr)) return addr === "head/driver" ? "driver" : `driver ${addr}`;
  return `worker ${addr}`;
}

const rank = (l: string) => (l.startsWith("driver") ? 0 : l.startsWith("raylet") ? 1 : l === "GCS" ? 2 : 3);

/** Arrows from `msg` events (a trace written with message events). */
function fromMessages(events: readonly TraceEvent[]): Step[] {
  const out: Step[] = [];
  for (const e of events) {
    if (e.kind === "msg") out.push({ from: lane(e.from), to: lane(e.to), label: `${e.type}${e.about ? ` ${short(e.about)}` : ""}` });
    else if (e.kind === "fault") out.push({ note: `fault: ${e.fault}${e.detail ? ` (${e.detail})` : ""}`, over: "GCS" });
    else if (e.kind === "node.dead") out.push({ note: `${e.id} declared dead`, over: "GCS" });
    else if (e.kind === "node.fenced") out.push({ note: `${e.id} fences itself`, over: `raylet ${e.id}` });
    else if (e.kind === "gcs.recovered") out.push({ note: `GCS recovered ${e.nodes} nodes, ${e.actors} actors`, over: "GCS" });
  }
  return out;
}

/** Arrows inferred from the components' own events (traces without message events). */
function inferred(events: readonly TraceEvent[]): Step[] {
  const owners = new Map<string, string>();
  const out: Step[] = [];
  for (const e of events) {
    const raylet = `raylet ${e.node}`;
    switch (e.kind) {
      case "node.registered": out.push({ from: `raylet ${e.id}`, to: "GCS", label: "register node" }); break;
      case "node.dead": out.push({ note: `${e.id} declared dead (${e.reason})`, over: "GCS" }); break;
      case "node.fenced": out.push({ note: `${e.id} fences itself`, over: `raylet ${e.id}` }); break;
      case "gcs.recovered": out.push({ note: `GCS recovered ${e.nodes} nodes, ${e.actors} actors`, over: "GCS" }); break;
      case "task.submitted":
        owners.set(e.task, lane(e.caller ?? e.owner));
        out.push(e.actor
          ? { from: lane(e.caller ?? e.owner), to: "GCS", label: `call ${short(e.task)} on actor ${short(e.actor)}` }
          : { from: lane(e.owner), to: raylet, label: `lease for ${short(e.task)}` });
        break;
      case "task.spillback": out.push({ from: raylet, to: owners.get(e.task) ?? "driver", label: `spillback ${short(e.task)} to ${e.to}` }); break;
      case "lease.granted": out.push({ note: `lease ${e.lease} on ${e.worker}`, over: raylet }); break;
      case "lease.returned": out.push({ note: `lease ${e.lease} returned`, over: raylet }); break;
      case "task.started": out.push({ from: owners.get(e.task) ?? "driver", to: lane(e.worker), label: `push ${short(e.task)}${e.attempt ? ` (attempt ${e.attempt})` : ""}` }); break;
      case "task.finished": out.push({ from: lane(e.worker), to: owners.get(e.task) ?? "driver", label: `reply ${short(e.task)} ${e.ok ? "ok" : "error"}` }); break;
      case "task.retry": out.push({ note: `retry ${short(e.task)}: ${e.reason}`, over: owners.get(e.task) ?? "driver" }); break;
      case "object.transferred": out.push({ from: `raylet ${e.from}`, to: raylet, label: `chunks of ${short(e.obj)}` }); break;
      case "object.spilled": out.push({ note: `spill ${short(e.obj)}`, over: raylet }); break;
      case "object.restored": out.push({ note: `restore ${short(e.obj)}`, over: raylet }); break;
      case "object.lost": out.push({ note: `${short(e.obj)} lost`, over: "driver" }); break;
      case "actor.state": out.push({ note: `actor ${short(e.actor)} ${e.state}${e.at ? ` on ${e.at}` : ""}`, over: "GCS" }); break;
      case "pg.state": out.push({ note: `group ${short(e.pg)} ${e.state}`, over: "GCS" }); break;
      case "ref.borrowed": out.push({ from: lane(e.borrower), to: lane(e.owner), label: `borrow ${short(e.obj)}` }); break;
      case "ref.unborrowed": out.push({ from: lane(e.borrower), to: lane(e.owner), label: `unborrow ${short(e.obj)}` }); break;
      case "fault": out.push({ note: `fault: ${e.fault}${e.detail ? ` (${e.detail})` : ""}`, over: "GCS" }); break;
      default: break; // the rest happens inside one component: nothing crosses a lane
    }
  }
  return out;
}

/** Mermaid's text must not contain its own syntax characters in labels. */
const clean = (s: string) => s.replace(/[;:<>{}]/g, " ").replace(/\s+/g, " ").trim().replaceAll("#", "#35;");

export function sequenceDiagram(events: readonly TraceEvent[], opts: DiagramOptions = {}): string {
  const t0 = timeOrigin(events);
  const picked = events.filter((e) => (opts.from === undefined || e.t - t0 >= opts.from) && (opts.to === undefined || e.t - t0 <= opts.to) && concerns(e, opts));
  const steps = picked.some((e) => e.kind === "msg") ? fromMessages(picked) : inferred(picked);
  const limit = opts.limit ?? 150;
  const shown = steps.slice(0, limit);
  const lanes = new Set<string>();
  for (const s of shown) {
    if ("note" in s) lanes.add(s.over);
    else { lanes.add(s.from); lanes.add(s.to); }
  }
  const order = [...lanes].sort((a, b) => rank(a) - rank(b));
  const id = new Map(order.map((l, i) => [l, `P${i}`]));
  const lines = ["sequenceDiagram"];
  for (const l of order) lines.push(`  participant ${id.get(l)} as ${clean(l)}`);
  for (const s of shown) {
    if ("note" in s) lines.push(`  Note over ${id.get(s.over)}: ${clean(s.note)}`);
    else lines.push(`  ${id.get(s.from)}->>${id.get(s.to)}: ${clean(s.label)}`);
  }
  if (steps.length > limit && order.length > 0) lines.push(`  Note over ${id.get(order[0])}: … ${steps.length - limit} more steps (narrow with --from, --to or --task)`);
  if (order.length === 0) lines.push("  participant P0 as trace", "  Note over P0: nothing in this window");
  return lines.join("\n") + "\n";
}
