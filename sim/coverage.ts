// What an exploration covered: how many generated scenarios combined each workload feature with
// each fault kind, so that a combination the generator never produces shows up as a zero.

import type { Scenario } from "./scenario.ts";

/** feature → fault kind → scenarios that had both ("none" for a scenario without faults). */
export type Coverage = Record<string, Record<string, number>>;

/** The workload features of a scenario: its step kinds and the cluster settings it varies. */
export function scenarioFeatures(s: Scenario): string[] {
  const f = new Set<string>();
  for (const st of s.workload.steps) {
    if (st.op === "task") f.add(`task:${st.fn}`);
    else if (st.op === "put") f.add(st.big ? "put:stored" : "put:inline");
    else f.add(st.op);
    if ((st.op === "task" || st.op === "nested") && st.args.some((a) => "ref" in a)) f.add("ref-argument");
    if (st.op === "call" && st.ref !== undefined) f.add("call:ref-argument");
    if (st.op === "actor" && st.ref !== undefined) f.add(st.direct ? "actor:direct-ref" : "actor:ref-argument");
    if (st.op === "rebox" && st.fanout) f.add("rebox:fanout");
    if (st.op === "rebox" && st.viaPut) f.add("rebox:via-put");
    if (st.op === "task" && st.spread) f.add("spread");
    if (st.op === "task" && st.retryExceptions) f.add("retry-exceptions");
    if (st.op === "task" && st.numCpus !== undefined) f.add(`cpus:${st.numCpus}`);
    if (st.op === "wait" && st.timeoutMs !== undefined) f.add("wait:timeout");
    if ((st.op === "task" || st.op === "actor") && st.node !== undefined) f.add("node-affinity");
    if ((st.op === "own-box" || st.op === "spawn") && st.actor !== undefined) f.add(`${st.op}:actor`);
    if (st.op === "spawn" && st.lend) f.add("spawn:lend");
    if (st.op === "spawn" && st.bigChild) f.add("spawn:big-child");
    if (st.op === "exit" && st.terminate) f.add("exit:terminate");
    if (st.op === "kill" && st.callAfter) f.add("kill:call-after");
    if (st.op === "actor-stream" && st.inTask) f.add("actor-stream:in-task");
  }
  if (s.pipelineMaxTaskMs !== undefined) f.add("pipelining");
  if (s.storeCapacity !== undefined) f.add("small-store");
  return [...f].sort();
}

export function scenarioFaults(s: Scenario): string[] {
  const kinds = [...new Set(s.faults.schedule.map((x) => x.kind))].sort();
  return kinds.length > 0 ? kinds : ["none"];
}

export function addCoverage(c: Coverage, s: Scenario): void {
  const faults = scenarioFaults(s);
  for (const f of scenarioFeatures(s)) {
    const row = (c[f] ??= {});
    for (const k of faults) row[k] = (row[k] ?? 0) + 1;
  }
}

export function mergeCoverage(into: Coverage, from: Coverage): void {
  for (const [f, row] of Object.entries(from)) {
    const to = (into[f] ??= {});
    for (const [k, n] of Object.entries(row)) to[k] = (to[k] ?? 0) + n;
  }
}

/** A features × faults table, with every fault kind seen as a column. */
export function formatCoverage(c: Coverage, allFaults: readonly string[] = []): string {
  const features = Object.keys(c).sort();
  const faults = [...new Set([...allFaults, ...features.flatMap((f) => Object.keys(c[f]))])].sort();
  const w = Math.max(8, ...features.map((f) => f.length));
  const widths = faults.map((k) => Math.max(k.length, 4));
  const lines = [`${"".padEnd(w)}  ${faults.map((k, i) => k.padStart(widths[i])).join(" ")}`];
  for (const f of features) lines.push(`${f.padEnd(w)}  ${faults.map((k, i) => String(c[f][k] ?? 0).padStart(widths[i])).join(" ")}`);
  return lines.join("\n");
}
