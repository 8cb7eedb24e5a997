// The embedded host's node provider: a worker node is a logical node of the embedded cluster
// (a raylet, its store and the worker threads it starts), added and removed in the driver's
// process. Launching is immediate; the node joins once its raylet registers with the GCS, as
// any node does, and is removed only after the GCS drained it (the autoscaler sees to that).

import type { WorkerGroup } from "../../core/autoscaler/autoscaler.ts";
import type { ResourceSet } from "../../core/resources.ts";
import type { NodeId } from "../../core/types.ts";
import type { NodeProvider } from "./host.ts";

/** What the provider needs of the embedded cluster. */
export interface LogicalNodes {
  has(node: NodeId): boolean;
  addNode(spec: { readonly id: NodeId; readonly resources: ResourceSet }): void;
  removeNode(node: NodeId): void;
}

export class EmbeddedNodeProvider implements NodeProvider {
  private readonly used = new Map<string, number>();

  /** `started`: the worker nodes the cluster was started with (each group's initial replicas). */
  constructor(private readonly cluster: LogicalNodes, private readonly started: readonly { node: NodeId; group: string }[] = []) {
    for (const s of started) this.used.set(s.group, (this.used.get(s.group) ?? 0) + 1);
  }

  initial(): readonly { node: NodeId; group: string }[] { return this.started; }

  launch(_launch: string, group: WorkerGroup, done: (r: { ok: true; node: NodeId } | { ok: false; reason: string }) => void): void {
    // Ids are never reused (a new node is a new id, as a new pod is a new name), nor taken from the cluster's own nodes.
    let n = this.used.get(group.name) ?? 0;
    let node: NodeId;
    do node = `${group.name}-${++n}`; while (this.cluster.has(node));
    this.used.set(group.name, n);
    try {
      this.cluster.addNode({ id: node, resources: group.resources });
    } catch (e) {
      return done({ ok: false, reason: `could not add logical node ${node}: ${(e as Error).message}` });
    }
    done({ ok: true, node });
  }

  terminate(node: NodeId, _group: WorkerGroup, done: () => void): void {
    this.cluster.removeNode(node);
    done();
  }
}

/** The ids of a group's nodes started with the cluster (`<group>-1` …), which the provider then counts on from. */
export function initialNodeIds(group: string, replicas: number): NodeId[] {
  return Array.from({ length: replicas }, (_, i) => `${group}-${i + 1}`);
}
