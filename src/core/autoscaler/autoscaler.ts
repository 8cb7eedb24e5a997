// The autoscaler: each period it reads the cluster as the GCS sees it (nodes, their idle time,
// the demands no node can meet and the requests queued for room) and decides which worker
// group's nodes to add and which idle ones to remove, as Ray's autoscaler does for KubeRay.
// It only decides: a node provider of the host launches and terminates nodes and reports back,
// and removal goes through the GCS's drain, which an idle raylet alone accepts.

import { assertNever, invariant } from "../assert.ts";
import { NO_BUGS, type Bugs } from "../bugs.ts";
import type { ResourceSet } from "../resources.ts";
import type { AutoscalingState, NodeId } from "../types.ts";
import type { TraceBody } from "../../../spec/trace.ts";
import { packInto, planLaunches } from "./binpack.ts";

/** A worker group (KubeRay's `workerGroupSpecs[i]`): nodes of one shape, between min and max replicas. */
export interface WorkerGroup {
  readonly name: string;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  /** What each node of the group has (its raylet's resources). */
  readonly resources: ResourceSet;
  /** An idle node of the group is removed after this long (KubeRay's `idleTimeoutSeconds`). */
  readonly idleTimeoutMs: number;
}

export interface AutoscalerConfig {
  readonly groups: readonly WorkerGroup[];
  /**
   * How fast to scale up: at most max(5, upscalingSpeed × running workers) launches in flight
   * (Ray's `upscaling_speed`; KubeRay's upscalingMode Conservative is 1, Default and Aggressive 1000).
   */
  readonly upscalingSpeed: number;
  /** How long a drain may stay unanswered before the autoscaler may ask again. */
  readonly drainTimeoutMs: number;
}

/** Everything the autoscaler can be handed: its period with the GCS's view, and its provider's reports. */
export type AutoscalerInput =
  | { readonly kind: "tick"; readonly cluster: AutoscalingState }
  | { readonly kind: "node-started"; readonly launch: string; readonly node: NodeId }
  | { readonly kind: "launch-failed"; readonly launch: string; readonly reason: string }
  | { readonly kind: "node-terminated"; readonly node: NodeId };

/** What the autoscaler asks of its host. */
export interface AutoscalerEffects {
  now(): number;
  trace(body: TraceBody): void;
  /** Start a node of `group`; answered by node-started or launch-failed with the same `launch`. */
  launch(launch: string, group: string): void;
  /** Ask the GCS to drain an idle node (the node refuses if it holds work). */
  drain(node: NodeId, reason: string): void;
  /** Stop the node's machine or process; answered by node-terminated. */
  terminate(node: NodeId, group: string, reason: string): void;
}

interface Launch { readonly group: string; readonly at: number; node?: NodeId }
/** `joined`: seen alive in the GCS (until then, a dead row under its id is an earlier node's). */
interface Member { readonly group: string; joined: boolean; drainingSince?: number; terminating?: string }

/** What `tsray status` shows under "Autoscaler". */
export interface AutoscalerStatus {
  readonly groups: readonly { readonly name: string; readonly running: number; readonly pending: number; readonly min: number; readonly max: number }[];
  readonly pendingLaunches: readonly { readonly group: string; readonly launch: string; readonly node?: NodeId; readonly ageMs: number }[];
  readonly draining: readonly NodeId[];
  readonly recentFailures: readonly { readonly group: string; readonly reason: string; readonly ageMs: number }[];
  /** Demands no worker group can ever meet (they wait for nothing the autoscaler can add). */
  readonly unmet: readonly ResourceSet[];
}

const RECENT_FAILURES = 5;

export class Autoscaler {
  private readonly launches = new Map<string, Launch>();
  private readonly members = new Map<NodeId, Member>();
  private readonly failures: { group: string; reason: string; at: number }[] = [];
  private unmet: ResourceSet[] = [];
  private nextLaunch = 1;

  /** `initial`: worker nodes the cluster started with, by group (KubeRay's initial `replicas`). */
  constructor(
    readonly cfg: AutoscalerConfig, private readonly fx: AutoscalerEffects, initial: readonly { node: NodeId; group: string }[] = [],
    private readonly bugs: Bugs = NO_BUGS,
  ) {
    for (const { node, group } of initial) {
      invariant(cfg.groups.some((g) => g.name === group), `autoscaler: node ${node} of unknown group ${group}`);
      this.members.set(node, { group, joined: false });
    }
  }

  /** The one door. */
  step(input: AutoscalerInput): void {
    switch (input.kind) {
      case "tick": return this.tick(input.cluster);
      case "node-started": return this.started(input.launch, input.node);
      case "launch-failed": return this.launchFailed(input.launch, input.reason);
      case "node-terminated": return this.terminated(input.node);
      default: return assertNever("the autoscaler", input);
    }
  }

  /** The state, as plain records (for tests and debugging: do not change it). */
  get state() { return { launches: this.launches, members: this.members, failures: this.failures, unmet: this.unmet } as const; }

  status(): AutoscalerStatus {
    const now = this.fx.now();
    return {
      groups: this.cfg.groups.map((g) => ({
        name: g.name, min: g.minReplicas, max: g.maxReplicas,
        running: [...this.members.values()].filter((m) => m.group === g.name && m.terminating === undefined).length,
        pending: [...this.launches.values()].filter((l) => l.group === g.name).length,
      })),
      pendingLaunches: [...this.launches].map(([launch, l]) => ({ group: l.group, launch, ageMs: now - l.at, ...(l.node !== undefined ? { node: l.node } : {}) })),
      draining: [...this.members].filter(([, m]) => m.drainingSince !== undefined && m.terminating === undefined).map(([n]) => n),
      recentFailures: this.failures.map((f) => ({ group: f.group, reason: f.reason, ageMs: now - f.at })),
      unmet: this.unmet,
    };
  }

  private group(name: string): WorkerGroup {
    const g = this.cfg.groups.find((x) => x.name === name);
    invariant(g !== undefined, `autoscaler: unknown group ${name}`);
    return g;
  }

  // ---- the provider's reports ---------------------------------------------------------------

  private started(launch: string, node: NodeId): void {
    const l = this.launches.get(launch);
    if (!l || l.node !== undefined) return;
    l.node = node;
    this.members.set(node, { group: l.group, joined: false });
    this.fx.trace({ kind: "autoscaler.started", comp: "autoscaler", launch, group: l.group, id: node });
  }

  private launchFailed(launch: string, reason: string): void {
    const l = this.launches.get(launch);
    if (!l) return;
    this.launches.delete(launch);
    if (l.node !== undefined) this.members.delete(l.node);
    this.failures.push({ group: l.group, reason, at: this.fx.now() });
    if (this.failures.length > RECENT_FAILURES) this.failures.shift();
    this.fx.trace({ kind: "autoscaler.launch-failed", comp: "autoscaler", launch, group: l.group, reason });
  }

  private terminated(node: NodeId): void {
    const m = this.members.get(node);
    if (!m) return;
    this.members.delete(node);
    this.fx.trace({ kind: "autoscaler.terminated", comp: "autoscaler", id: node, group: m.group, reason: m.terminating ?? "terminated" });
  }

  // ---- the period -----------------------------------------------------------------------------

  private tick(cluster: AutoscalingState): void {
    const nodes = new Map(cluster.nodes.map((n) => [n.node, n]));
    this.reconcile(nodes);
    this.scaleUp(cluster, nodes);
    this.scaleDown(nodes);
  }

  /** Launches whose node joined are done; members the GCS declared dead are terminated. */
  private reconcile(nodes: ReadonlyMap<NodeId, AutoscalingState["nodes"][number]>): void {
    for (const [id, l] of this.launches) if (l.node !== undefined && nodes.get(l.node)?.alive) this.launches.delete(id);
    const now = this.fx.now();
    for (const [node, m] of this.members) {
      const n = nodes.get(node);
      if (m.terminating !== undefined) continue;
      if (n?.alive) m.joined = true;
      if (n && !n.alive && m.joined) {
        m.terminating = m.drainingSince !== undefined ? "drained: idle" : "the node died";
        this.fx.terminate(node, m.group, m.terminating);
      } else if (m.drainingSince !== undefined && now - m.drainingSince > this.cfg.drainTimeoutMs) {
        m.drainingSince = undefined; // refused or unanswered: it may be asked again once idle
      }
    }
  }

  /** Members counted against a group's replicas: not being removed. */
  private replicas(group: string): number {
    let n = 0;
    for (const m of this.members.values()) if (m.group === group && m.terminating === undefined && m.drainingSince === undefined) n++;
    for (const l of this.launches.values()) if (l.group === group && l.node === undefined) n++;
    return n;
  }

  private scaleUp(cluster: AutoscalingState, nodes: ReadonlyMap<NodeId, AutoscalingState["nodes"][number]>): void {
    // minReplicas first.
    for (const g of this.cfg.groups) for (let n = this.replicas(g.name); n < g.minReplicas; n++) this.launch(g.name, `minReplicas ${g.minReplicas}`);
    const demands: ResourceSet[] = [];
    for (const d of [...cluster.demands, ...cluster.backlog]) for (let i = 0; i < d.count && demands.length < 10_000; i++) demands.push(d.resources);
    // What fits in the room of live nodes and of nodes on their way is already met.
    const bins: ResourceSet[] = [];
    for (const n of nodes.values()) if (n.alive && this.members.get(n.node)?.drainingSince === undefined) bins.push(n.available);
    // Every launch left is on its way (reconcile dropped those whose node joined).
    for (const l of this.launches.values()) bins.push(this.group(l.group).resources);
    const left = packInto(bins, demands);
    const shapes = this.cfg.groups.map((g) => ({ group: g.name, resources: g.resources, room: g.maxReplicas - this.replicas(g.name) }));
    const plan = planLaunches(left, shapes);
    this.unmet = plan.unmet;
    const workers = [...this.members.values()].filter((m) => m.terminating === undefined).length;
    const inFlight = Math.max(5, Math.ceil(this.cfg.upscalingSpeed * workers));
    for (const group of plan.launches) {
      if (this.launches.size >= inFlight) break;
      this.launch(group, `pending demands: ${left.length} request(s) need room`);
    }
  }

  private launch(group: string, reason: string): void {
    const g = this.group(group);
    invariant(this.replicas(group) < g.maxReplicas, `autoscaler: launching a node of ${group} past maxReplicas ${g.maxReplicas}`);
    const launch = `launch-${this.nextLaunch++}`;
    this.launches.set(launch, { group, at: this.fx.now() });
    this.fx.trace({ kind: "autoscaler.launch", comp: "autoscaler", launch, group, reason });
    this.fx.launch(launch, group);
  }

  /** Idle members past their group's timeout are drained, while the group stays above minReplicas. */
  private scaleDown(nodes: ReadonlyMap<NodeId, AutoscalingState["nodes"][number]>): void {
    for (const [node, m] of this.members) {
      const n = nodes.get(node);
      if (!n || !n.alive || m.terminating !== undefined || m.drainingSince !== undefined) continue;
      const g = this.group(m.group);
      const idle = n.idleMs >= g.idleTimeoutMs || this.bugs.has("drain-busy-node");
      if (!idle || this.replicas(g.name) <= g.minReplicas) continue;
      m.drainingSince = this.fx.now();
      const reason = `idle for ${Math.round(n.idleMs / 1000)} s (idleTimeoutSeconds ${g.idleTimeoutMs / 1000})`;
      this.fx.trace({ kind: "autoscaler.drain", comp: "autoscaler", id: node, group: m.group, reason });
      this.fx.drain(node, reason);
    }
  }
}
