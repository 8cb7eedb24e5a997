// What `tsray sim` adds to a run beyond seed and node count: explicit node shapes
// (`--node head:CPU=0`), seeded bugs (`--bug NAME`, src/core/bugs.ts), and the report's tally of
// what happened (faults, retries, reconstructions, transfers, spills), so that a fault with no
// effect shows as one.
import { SEEDED_BUGS, type SeededBug } from "../core/bugs.ts";
import type { TraceEvent } from "../../spec/trace.ts";

export class SimOptionError extends Error {}

export interface NodeShape {
  readonly id: string;
  readonly resources: Record<string, number>;
}

/** `ID:RES=N,RES=N` (e.g. `head:CPU=0`, `node-1:CPU=2,GPU=1`); `ID` alone has no resources. */
export function parseNodeShape(spec: string): NodeShape {
  const [id, rest, ...extra] = spec.split(":");
  if (extra.length > 0 || !/^[A-Za-z0-9][\w.-]*$/.test(id ?? "")) throw new SimOptionError(`--node ${JSON.stringify(spec)}: expected ID:RESOURCE=N,… (e.g. head:CPU=0 or node-1:CPU=2,GPU=1), with an id of letters, digits, ".", "_" or "-"`);
  const resources: Record<string, number> = {};
  for (const part of (rest ?? "").split(",").map((p) => p.trim()).filter((p) => p !== "")) {
    const m = /^([A-Za-z_][\w:.-]*)=(\S+)$/.exec(part);
    const n = m ? Number(m[2]) : NaN;
    if (!m || !Number.isFinite(n) || n < 0) throw new SimOptionError(`--node ${JSON.stringify(spec)}: ${JSON.stringify(part)} is not RESOURCE=N with N a number >= 0`);
    if (Object.hasOwn(resources, m[1])) throw new SimOptionError(`--node ${JSON.stringify(spec)}: resource ${m[1]} is given twice`);
    resources[m[1]] = n;
  }
  return { id, resources };
}

export function parseNodeShapes(specs: readonly string[]): NodeShape[] {
  const nodes = specs.map(parseNodeShape);
  const seen = new Set<string>();
  for (const n of nodes) {
    if (seen.has(n.id)) throw new SimOptionError(`--node: node ${n.id} is given twice`);
    seen.add(n.id);
  }
  return nodes;
}

/** `--bug NAME` (repeatable, or comma-separated): each must be one of src/core/bugs.ts's. */
export function parseBugFlags(specs: readonly string[]): Set<SeededBug> {
  const out = new Set<SeededBug>();
  for (const name of specs.flatMap((s) => s.split(",")).map((s) => s.trim()).filter((s) => s !== "")) {
    if (!Object.hasOwn(SEEDED_BUGS, name)) throw new SimOptionError(`--bug: unknown seeded bug ${JSON.stringify(name)}; known: ${Object.keys(SEEDED_BUGS).join(", ")}`);
    out.add(name as SeededBug);
  }
  return out;
}

export interface Tally {
  tasks: number;
  faults: number;
  retries: number;
  reconstructions: number;
  spillbacks: number;
  transfers: number;
  spills: number;
  restores: number;
  nodesDead: number;
  actorRestarts: number;
  failedTasks: number;
  gcsRecoveries: number;
}

/** Counts what happened in a run, from its trace. */
export function tally(trace: readonly TraceEvent[]): Tally {
  const t: Tally = { tasks: 0, faults: 0, retries: 0, reconstructions: 0, spillbacks: 0, transfers: 0, spills: 0, restores: 0, nodesDead: 0, actorRestarts: 0, failedTasks: 0, gcsRecoveries: 0 };
  for (const e of trace) {
    switch (e.kind) {
      case "task.submitted": t.tasks++; break;
      case "fault": t.faults++; break;
      // The owner re-runs a finished task to re-make a lost object: a reconstruction, not a retry.
      case "task.retry": if (e.reason.startsWith("reconstructing")) t.reconstructions++; else t.retries++; break;
      case "task.spillback": t.spillbacks++; break;
      case "object.transferred": t.transfers++; break;
      case "object.spilled": t.spills++; break;
      case "object.restored": t.restores++; break;
      case "node.dead": t.nodesDead++; break;
      case "actor.state": if (e.state === "RESTARTING") t.actorRestarts++; break;
      case "task.failed": t.failedTasks++; break;
      case "gcs.recovered": t.gcsRecoveries++; break;
      default: break;
    }
  }
  return t;
}

/** The report's lines: what happened, and a warning when faults were injected but changed nothing. */
export function formatTally(t: Tally): string[] {
  const lines = [
    `${t.tasks} tasks submitted, ${t.spillbacks} spillbacks, ${t.transfers} object transfers, ${t.spills} spills, ${t.restores} restores`,
    `${t.faults} faults injected, ${t.nodesDead} nodes declared dead, ${t.retries} task retries, ${t.reconstructions} reconstructions, ${t.actorRestarts} actor restarts, ${t.gcsRecoveries} GCS recoveries, ${t.failedTasks} tasks failed`,
  ];
  if (t.faults > 0 && t.nodesDead + t.retries + t.reconstructions + t.actorRestarts + t.gcsRecoveries + t.failedTasks === 0) {
    lines.push("the faults changed nothing the program depended on (no retry, reconstruction, restart, recovery or death happened before it ended)");
  }
  return lines;
}
