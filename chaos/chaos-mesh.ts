// Chaos experiments as Chaos Mesh YAML: one Workflow (chaos-mesh.org/v1alpha1) whose entry runs
// every fault in parallel, each a Serial of a Suspend (the fault's `at`) and a PodChaos or
// NetworkChaos template (its `deadline` the fault's length). The cluster and workload, which
// Chaos Mesh has no word for, ride in the Workflow's annotations. Pods are selected by the label
// `tsray.io/node` (the tsray node id) within `ray.io/cluster`.
//
// The subset written and read:
//   pod-kill, container-kill           PodChaos action pod-kill / container-kill
//   pod-failure {ms}                   PodChaos pod-failure, deadline ms
//   restart-gcs {downMs}               PodChaos pod-failure of the head, containerNames [gcs], deadline downMs
//   partition/delay/loss/duplicate     NetworkChaos, direction, target = the peers (absent: all traffic)
// kill-node, restart-node and pause have no Chaos Mesh action and are refused by the writer
// (pod-failure is restart-node's equivalent), and so is kill-driver: the experiment's driver is
// the process that runs it, outside the cluster's pods (no pod for a PodChaos to select).

import { parseAllDocuments, stringify } from "yaml";
import { validateManifests } from "../src/k8s/validate.ts";
import type { Workload } from "../sim/workload.ts";
import type { ChaosExperiment } from "./experiment.ts";
import type { ChaosFault, NetChaosFault } from "./faults.ts";
import type { ChaosNode } from "./target.ts";

const API = "chaos-mesh.org/v1alpha1";
export const NODE_LABEL = "tsray.io/node";
const NODES_ANNOTATION = "tsray.io/nodes";
const WORKLOAD_ANNOTATION = "tsray.io/workload";
const GCS_CONTAINER = "gcs";

type Obj = Record<string, unknown>;

const ms = (n: number) => `${n}ms`;

/** A Go duration ("1.5s", "300ms", "1m30s") in ms. */
export function parseDuration(d: unknown, where: string): number {
  if (typeof d !== "string" || !/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(d)) throw new TypeError(`${where}: expected a duration such as "300ms" or "2s", got ${JSON.stringify(d)}`);
  const unit: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
  let total = 0;
  for (const [, n, , u] of d.matchAll(/(\d+(\.\d+)?)(ms|s|m|h)/g)) total += Number(n) * unit[u];
  return Math.round(total);
}

function selector(cluster: string, nodes: readonly string[]): Obj {
  return nodes.length === 1
    ? { labelSelectors: { "ray.io/cluster": cluster, [NODE_LABEL]: nodes[0] } }
    : { labelSelectors: { "ray.io/cluster": cluster }, expressionSelectors: [{ key: NODE_LABEL, operator: "In", values: [...nodes] }] };
}

function nodesOf(sel: unknown, where: string): string[] {
  const s = (sel ?? {}) as Obj;
  const one = (s.labelSelectors as Obj | undefined)?.[NODE_LABEL];
  if (typeof one === "string") return [one];
  const expr = (s.expressionSelectors as Obj[] | undefined)?.find((e) => e.key === NODE_LABEL && e.operator === "In");
  if (expr && Array.isArray(expr.values) && expr.values.every((v) => typeof v === "string")) return expr.values as string[];
  throw new TypeError(`${where}: selects no tsray node (a labelSelector ${NODE_LABEL}: ID, or an expressionSelector ${NODE_LABEL} In [...])`);
}

const percent = (rate: number) => String(Math.round(rate * 10_000) / 100);

/** The chaos template of one fault: its kind, its spec, and how long it lasts. */
function chaosTemplate(f: ChaosFault, cluster: string): { templateType: string; deadline?: string; podChaos?: Obj; networkChaos?: Obj } {
  const pod = (action: string, node: string, extra: Obj = {}) => ({ action, mode: "all", selector: selector(cluster, [node]), ...extra });
  const net = (x: NetChaosFault, action: string, extra: Obj) => ({
    templateType: "NetworkChaos", deadline: ms(x.ms),
    networkChaos: {
      action, mode: "all", selector: selector(cluster, [x.node]), direction: x.direction,
      ...(x.peers ? { target: { mode: "all", selector: selector(cluster, x.peers) } } : {}), ...extra,
    },
  });
  switch (f.kind) {
    case "pod-kill": case "container-kill": return { templateType: "PodChaos", podChaos: pod(f.kind, f.node) };
    case "pod-failure": return { templateType: "PodChaos", deadline: ms(f.ms), podChaos: pod("pod-failure", f.node) };
    case "restart-gcs": return { templateType: "PodChaos", deadline: ms(f.downMs), podChaos: pod("pod-failure", "head", { containerNames: [GCS_CONTAINER] }) };
    case "partition": return net(f, "partition", {});
    case "delay": return net(f, "delay", { delay: { latency: ms(f.latencyMs), jitter: ms(f.jitterMs), correlation: "0" } });
    case "loss": return net(f, "loss", { loss: { loss: percent(f.rate), correlation: "0" } });
    case "duplicate": return net(f, "duplicate", { duplicate: { duplicate: percent(f.rate), correlation: "0" } });
    case "kill-node": case "restart-node": case "pause":
      throw new TypeError(`chaos-mesh: fault ${f.kind} has no Chaos Mesh action (use pod-failure for a node that goes down and comes back)`);
    case "kill-driver":
      throw new TypeError("chaos-mesh: fault kill-driver has no Chaos Mesh action: the driver is the experiment's own process, outside the cluster's pods (run it with npm run chaos)");
  }
}

/** `e` as one Chaos Mesh Workflow document; `name` is the Workflow's, `cluster` the RayCluster's. */
export function experimentToYaml(e: ChaosExperiment, opts: { name?: string; cluster?: string } = {}): string {
  const cluster = opts.cluster ?? "ray-cluster";
  const templates: Obj[] = [{ name: "experiment", templateType: "Parallel", children: e.faults.map((_, i) => `fault-${i}`) }];
  e.faults.forEach((f, i) => {
    templates.push({ name: `fault-${i}`, templateType: "Serial", children: [`fault-${i}-wait`, `fault-${i}-chaos`] });
    templates.push({ name: `fault-${i}-wait`, templateType: "Suspend", deadline: ms(f.at) });
    templates.push({ name: `fault-${i}-chaos`, ...chaosTemplate(f, cluster) });
  });
  const doc = {
    apiVersion: API, kind: "Workflow",
    metadata: {
      name: opts.name ?? "tsray-experiment",
      annotations: { [NODES_ANNOTATION]: JSON.stringify(e.nodes), [WORKLOAD_ANNOTATION]: JSON.stringify(e.workload) },
    },
    spec: { entry: "experiment", templates },
  };
  return `# A tsray chaos experiment (chaos/chaos-mesh.ts): each fault waits for its time, then runs.\n${stringify(doc)}`;
}

function fault(t: Obj, at: number, where: string): ChaosFault {
  const deadline = () => parseDuration(t.deadline, `${where}.deadline`);
  if (t.templateType === "PodChaos") {
    const p = (t.podChaos ?? {}) as Obj;
    const [node] = nodesOf(p.selector, `${where}.podChaos.selector`);
    if (p.action === "pod-failure" && Array.isArray(p.containerNames) && p.containerNames.includes(GCS_CONTAINER)) {
      if (node !== "head") throw new TypeError(`${where}: the ${GCS_CONTAINER} container is the head's`);
      return { kind: "restart-gcs", at, downMs: deadline() };
    }
    switch (p.action) {
      case "pod-kill": case "container-kill": return { kind: p.action, at, node };
      case "pod-failure": return { kind: "pod-failure", at, node, ms: deadline() };
      default: throw new TypeError(`${where}.podChaos.action: one of pod-kill, pod-failure, container-kill, got ${JSON.stringify(p.action)}`);
    }
  }
  if (t.templateType === "NetworkChaos") {
    const n = (t.networkChaos ?? {}) as Obj;
    const [node] = nodesOf(n.selector, `${where}.networkChaos.selector`);
    const direction = n.direction ?? "to"; // Chaos Mesh's default
    if (direction !== "to" && direction !== "from" && direction !== "both") throw new TypeError(`${where}.networkChaos.direction: to, from or both, got ${JSON.stringify(direction)}`);
    const scope = { at, node, direction, ms: deadline(), ...(n.target ? { peers: nodesOf((n.target as Obj).selector, `${where}.networkChaos.target.selector`) } : {}) } as const;
    const rate = (v: unknown, field: string) => {
      const r = Number(v) / 100;
      if (typeof v !== "string" || !Number.isFinite(r) || r < 0 || r > 0.9) throw new TypeError(`${where}.networkChaos.${field}: a percentage string from "0" to "90", got ${JSON.stringify(v)}`);
      return r;
    };
    switch (n.action) {
      case "partition": return { kind: "partition", ...scope };
      case "delay": {
        const d = (n.delay ?? {}) as Obj;
        return { kind: "delay", ...scope, latencyMs: parseDuration(d.latency, `${where}.networkChaos.delay.latency`), jitterMs: d.jitter === undefined ? 0 : parseDuration(d.jitter, `${where}.networkChaos.delay.jitter`) };
      }
      case "loss": return { kind: "loss", ...scope, rate: rate((n.loss as Obj | undefined)?.loss, "loss.loss") };
      case "duplicate": return { kind: "duplicate", ...scope, rate: rate((n.duplicate as Obj | undefined)?.duplicate, "duplicate.duplicate") };
      default: throw new TypeError(`${where}.networkChaos.action: one of partition, delay, loss, duplicate, got ${JSON.stringify(n.action)}`);
    }
  }
  throw new TypeError(`${where}.templateType: PodChaos or NetworkChaos, got ${JSON.stringify(t.templateType)}`);
}

/**
 * The experiment a Workflow written by experimentToYaml describes (or one written by hand the
 * same way: a Parallel entry of Serials, each an optional Suspend and one chaos). The document
 * must pass the offline manifest validation first; every problem names its place.
 */
export function experimentFromYaml(text: string): ChaosExperiment {
  const { problems } = validateManifests(text);
  if (problems.length > 0) throw new TypeError(`chaos-mesh: ${problems.map((p) => `doc ${p.doc} ${p.kind}: ${p.message}`).join("; ")}`);
  const docs = parseAllDocuments(text).map((d) => d.toJS() as Obj).filter((d) => d);
  if (docs.length !== 1 || docs[0].kind !== "Workflow") throw new TypeError("chaos-mesh: expected one Workflow document");
  const w = docs[0];
  const ann = ((w.metadata as Obj).annotations ?? {}) as Obj;
  const json = (key: string) => {
    if (typeof ann[key] !== "string") throw new TypeError(`chaos-mesh: metadata.annotations["${key}"] is missing`);
    try { return JSON.parse(ann[key] as string) as unknown; } catch (e) { throw new TypeError(`chaos-mesh: metadata.annotations["${key}"]: ${(e as Error).message}`); }
  };
  const nodes = json(NODES_ANNOTATION) as ChaosNode[];
  const workload = json(WORKLOAD_ANNOTATION) as Workload;
  const spec = w.spec as { entry: string; templates: Obj[] };
  const byName = new Map(spec.templates.map((t) => [t.name as string, t]));
  const get = (name: string, where: string) => {
    const t = byName.get(name);
    if (!t) throw new TypeError(`chaos-mesh: ${where}: no template named ${JSON.stringify(name)}`);
    return t;
  };
  const entry = get(spec.entry, "spec.entry");
  const branches = entry.templateType === "Parallel" ? (entry.children as string[] ?? []) : [spec.entry];
  const faults = branches.map((name) => {
    const t = get(name, `template ${spec.entry}`);
    const steps = t.templateType === "Serial" ? (t.children as string[] ?? []).map((c) => get(c, `template ${name}`)) : [t];
    let at = 0;
    const chaos = steps.filter((s) => {
      if (s.templateType !== "Suspend") return true;
      at += parseDuration(s.deadline, `template ${s.name}.deadline`);
      return false;
    });
    if (chaos.length !== 1) throw new TypeError(`chaos-mesh: template ${name}: expected one chaos after its waits, got ${chaos.length}`);
    return fault(chaos[0], at, `template ${chaos[0].name}`);
  });
  const known = new Set(nodes.map((n) => n.id));
  for (const f of faults) {
    for (const n of ["node" in f ? [f.node] : [], "peers" in f && f.peers ? f.peers : []].flat()) {
      if (!known.has(n)) throw new TypeError(`chaos-mesh: a fault names node ${JSON.stringify(n)}, not one of ${[...known].join(", ")}`);
    }
  }
  return { nodes, workload, faults };
}
