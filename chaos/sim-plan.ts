// Chaos and simulation meet: a chaos run's fault schedule becomes a simulator scenario (the same
// nodes, workload and faults at the times they were applied; `tsray sim --replay FILE` runs it),
// and a simulator scenario (a failure the property tests or `tsray sim` found) becomes a chaos
// experiment for real processes.
//
// The two vocabularies do not match one to one:
// - the simulator's delay acts on every message to or from its nodes (no peers, no direction);
//   its drop and duplicate act on every link. A chaos delay, loss or duplicate scoped to some
//   peers or one direction becomes the broader simulator fault.
// - going the other way, a simulator delay on several nodes delays a message between two of
//   them twice on real processes (each side's layer adds it); drop and duplicate become a loss or
//   duplicate on every node's outbound messages, which is the same thing.
// - the simulator's kill-worker, clock-skew and store-full have no chaos fault yet, nor do its
//   network conditions for a whole run: they are refused, by name.
// - kill-driver is the same fault both ways, but what follows differs: the simulator's program
//   stops for good (its run is judged on what it saw before), while a chaos experiment connects
//   a new driver and goes on with its rounds. The dead driver's cleanup is judged alike.

import type { SimNode } from "../sim/cluster.ts";
import type { Fault } from "../sim/faults.ts";
import type { Scenario } from "../sim/scenario.ts";
import type { ChaosExperiment } from "./experiment.ts";
import { POD_RESTART_MS, type ChaosFault } from "./faults.ts";
import type { ChaosNode } from "./target.ts";

/** The simulator's nodes for chaos nodes. */
export function simNodes(nodes: readonly ChaosNode[]): SimNode[] {
  return nodes.map((n) => ({ id: n.id, resources: { CPU: n.cpus } }));
}

/**
 * The simulator scenario of a chaos run: `applied` (the report's) gives each fault's real time
 * and leaves out those that could not be applied; without it, the experiment's own times.
 */
export function chaosToScenario(
  e: ChaosExperiment,
  applied?: readonly { readonly fault: ChaosFault; readonly atMs: number; readonly error?: string }[],
  seed = 1,
): Scenario {
  const nodes = e.nodes.map((n) => n.id);
  const others = (n: string) => nodes.filter((x) => x !== n);
  const schedule: Fault[] = [];
  const timed = applied ? applied.filter((a) => !a.error).map((a) => ({ f: a.fault, at: a.atMs })) : e.faults.map((f) => ({ f, at: f.at }));
  for (const { f, at } of timed) {
    const down = (node: string, ms: number) => {
      if (node === "head") schedule.push({ at, kind: "restart-gcs", downMs: ms });
      else schedule.push({ at, kind: "kill-node", node }, { at: at + ms, kind: "restart-node", node });
    };
    switch (f.kind) {
      case "kill-node": schedule.push({ at, kind: "kill-node", node: f.node }); break;
      case "restart-node": down(f.node, f.downMs); break;
      case "pause": schedule.push({ at, until: at + f.ms, kind: "pause", node: f.node }); break;
      case "restart-gcs": schedule.push({ at, kind: "restart-gcs", downMs: f.downMs }); break;
      case "pod-kill": case "container-kill": down(f.node, POD_RESTART_MS); break;
      case "pod-failure": down(f.node, f.ms); break;
      case "partition": {
        const peers = f.peers ? [...f.peers] : others(f.node);
        const groups = f.direction === "from" ? [peers, [f.node]] : [[f.node], peers];
        schedule.push({ at, until: at + f.ms, kind: "partition", groups, ...(f.direction === "both" ? {} : { oneWay: true }) });
        break;
      }
      case "delay": schedule.push({ at, until: at + f.ms, kind: "delay", ms: f.latencyMs, nodes: [f.node] }); break;
      case "loss": schedule.push({ at, until: at + f.ms, kind: "drop", rate: f.rate }); break;
      case "duplicate": schedule.push({ at, until: at + f.ms, kind: "duplicate", rate: f.rate }); break;
      case "kill-driver": schedule.push({ at, kind: "kill-driver" }); break;
    }
  }
  schedule.sort((a, b) => a.at - b.at);
  return { seed, nodes: simNodes(e.nodes), workload: e.workload, faults: { schedule } };
}

/** The chaos experiment of a simulator scenario (its seeded bugs go along; its seed and tuning stay behind: real processes have their own). */
export function scenarioToChaos(s: Scenario): ChaosExperiment {
  if (s.faults.network && Object.values(s.faults.network).some((v) => v !== undefined)) {
    throw new TypeError("sim → chaos: the scenario's network conditions (for the whole run) have no chaos fault; only its schedule converts");
  }
  const ids = s.nodes.map((n) => n.id);
  if (ids[0] !== "head") throw new TypeError(`sim → chaos: the first node must be "head", got ${JSON.stringify(ids[0])}`);
  const nodes: ChaosNode[] = s.nodes.map((n) => {
    const cpus = n.resources.CPU ?? 0;
    if (Object.keys(n.resources).some((k) => k !== "CPU")) throw new TypeError(`sim → chaos: node ${n.id} has resources besides CPU (${Object.keys(n.resources).join(", ")}); chaos nodes offer CPUs only`);
    return { id: n.id, cpus };
  });
  const faults: ChaosFault[] = [];
  const schedule = [...s.faults.schedule].sort((a, b) => a.at - b.at);
  const used = new Set<number>();
  schedule.forEach((f, i) => {
    if (used.has(i)) return;
    switch (f.kind) {
      case "kill-node": {
        // A kill the schedule later undoes is a node that went down and came back.
        const j = schedule.findIndex((g, k) => k > i && !used.has(k) && g.kind === "restart-node" && g.node === f.node);
        if (j < 0) { faults.push({ kind: "kill-node", at: f.at, node: f.node }); return; }
        used.add(j);
        faults.push({ kind: "pod-failure", at: f.at, node: f.node, ms: Math.max(1, schedule[j].at - f.at) });
        return;
      }
      case "restart-node": faults.push({ kind: "pod-kill", at: f.at, node: f.node }); return;
      case "restart-gcs": faults.push({ kind: "restart-gcs", at: f.at, downMs: f.downMs ?? 200 }); return;
      case "pause": faults.push({ kind: "pause", at: f.at, node: f.node, ms: f.until - f.at }); return;
      case "partition": {
        const [a, b] = [f.groups[0], f.groups.slice(1).flat()];
        if (f.oneWay && f.groups.length > 2) throw new TypeError(`sim → chaos: a one-way partition of ${f.groups.length} groups (only groups[0] → groups[1] is cut)`);
        for (const node of a) faults.push({ kind: "partition", at: f.at, node, peers: [...b], direction: f.oneWay ? "to" : "both", ms: f.until - f.at });
        // Groups past the second are also cut from each other (two-way only).
        for (let g = 1; g < f.groups.length - 1; g++) {
          for (const node of f.groups[g]) faults.push({ kind: "partition", at: f.at, node, peers: f.groups.slice(g + 1).flat(), direction: "both", ms: f.until - f.at });
        }
        return;
      }
      case "delay": {
        const on = f.nodes ? [...f.nodes] : ids;
        for (const node of on) faults.push({ kind: "delay", at: f.at, node, direction: f.nodes ? "both" : "to", latencyMs: f.ms, jitterMs: 0, ms: f.until - f.at });
        return;
      }
      case "drop": for (const node of ids) faults.push({ kind: "loss", at: f.at, node, direction: "to", rate: f.rate, ms: f.until - f.at }); return;
      case "duplicate": for (const node of ids) faults.push({ kind: "duplicate", at: f.at, node, direction: "to", rate: f.rate, ms: f.until - f.at }); return;
      case "kill-driver": faults.push({ kind: "kill-driver", at: f.at }); return;
      case "kill-worker": case "clock-skew": case "store-full":
        throw new TypeError(`sim → chaos: the simulator's ${f.kind} (at ${f.at}) has no chaos fault yet`);
    }
  });
  if (faults.length === 0) throw new TypeError("sim → chaos: the scenario has no fault");
  return { nodes, workload: s.workload, faults, ...(s.bugs && s.bugs.length > 0 ? { bugs: [...s.bugs] } : {}) };
}
