// Runs the autoscaler model on a host: every period it hands the model the GCS's view, turns
// the model's launches and terminations into calls on the host's node provider, and its drains
// into GCS inputs. Every answer reaches the model later, as a fresh input (never inside a step).

import { Autoscaler, type AutoscalerStatus, type WorkerGroup } from "../../core/autoscaler/autoscaler.ts";
import { NO_BUGS, type Bugs } from "../../core/bugs.ts";
import type { AutoscalingState, NodeId } from "../../core/types.ts";
import type { TraceBody } from "../../../spec/trace.ts";
import type { Autoscaling } from "./config.ts";

/** Starts and stops the nodes of worker groups: a machine, a process, a pod, or a simulated node. */
export interface NodeProvider {
  /** Starts a node of `group`; `done` gets the node's id once its raylet is starting, or why it could not start. */
  launch(launch: string, group: WorkerGroup, done: (r: { ok: true; node: NodeId } | { ok: false; reason: string }) => void): void;
  /** Stops a node (drained, or already dead); `done` once it is gone. */
  terminate(node: NodeId, group: WorkerGroup, done: () => void): void;
  /** The worker nodes running at start-up, by group (KubeRay's initial replicas). */
  initial(): readonly { node: NodeId; group: string }[];
}

/** What the host gives the autoscaler: its clock, trace, scheduling, and the GCS next to it. */
export interface AutoscalerPorts {
  now(): number;
  trace(body: TraceBody): void;
  /** Runs `fn` soon, after the current step. */
  defer(fn: () => void): void;
  /** Runs `fn` every `ms` (housekeeping: not pending work); returns a stop function. */
  every(ms: number, fn: () => void): () => void;
  /**
   * The GCS's view for the autoscaler; undefined while the GCS is down. In the GCS's process (the
   * head, the simulator, embedded) it is at hand; a remote GCS (KubeRay's sidecar,
   * src/runtime/daemon/autoscaling-service.ts) answers later, through a promise that never
   * rejects (undefined when the GCS cannot be read: the port says why).
   */
  cluster(): AutoscalingState | undefined | Promise<AutoscalingState | undefined>;
  /** Hands the GCS a drain-node input. */
  drain(node: NodeId, reason: string): void;
}

export class AutoscalerHost {
  readonly model: Autoscaler;
  private stopTicks?: () => void;
  /** A remote GCS's answer is awaited: the next period waits for it rather than asking twice. */
  private reading = false;

  constructor(private readonly a: Autoscaling, private readonly ports: AutoscalerPorts, provider: NodeProvider, bugs: Bugs = NO_BUGS) {
    const groups = new Map(a.config.groups.map((g) => [g.name, g]));
    this.model = new Autoscaler(a.config, {
      now: () => ports.now(),
      trace: (b) => ports.trace(b),
      launch: (launch, group) => ports.defer(() => provider.launch(launch, groups.get(group)!, (r) => ports.defer(() => {
        this.model.step(r.ok ? { kind: "node-started", launch, node: r.node } : { kind: "launch-failed", launch, reason: r.reason });
      }))),
      drain: (node, reason) => ports.defer(() => ports.drain(node, reason)),
      terminate: (node, group) => ports.defer(() => provider.terminate(node, groups.get(group)!, () => ports.defer(() => this.model.step({ kind: "node-terminated", node })))),
    }, provider.initial(), bugs);
  }

  start(): void {
    this.stopTicks = this.ports.every(this.a.periodMs, () => this.period());
  }

  /** A method, not a closure per host: its optimised code outlives each host (a simulation makes many). */
  private period(): void {
    if (this.reading) return;
    const cluster = this.ports.cluster();
    if (!(cluster instanceof Promise)) {
      if (cluster) this.model.step({ kind: "tick", cluster });
      return;
    }
    this.reading = true;
    void cluster.then((c) => {
      this.reading = false;
      if (c && this.stopTicks) this.model.step({ kind: "tick", cluster: c });
    });
  }

  stop(): void {
    this.stopTicks?.();
    this.stopTicks = undefined;
  }

  status(): AutoscalerStatus { return this.model.status(); }
}
