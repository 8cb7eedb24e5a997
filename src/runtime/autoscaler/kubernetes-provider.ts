// The Kubernetes node provider. With KubeRay it scales a RayCluster as KubeRay's own autoscaler
// does: one JSON patch on the RayCluster that replaces `spec.workerGroupSpecs[i].replicas` (and,
// to remove a given worker, `spec.workerGroupSpecs[i].scaleStrategy` = { workersToDelete: [pod] }),
// leaving pod creation and deletion to the operator; once the pod is gone the list is cleared.
// Without KubeRay each worker group is a Deployment `<cluster>-<group>`: scaling patches its
// replicas, and a pod chosen for removal is marked with the lowest pod-deletion-cost first, so
// the ReplicaSet removes that pod and no other. A worker's node id is its pod name (as Ray's
// instance id is the pod name, RAY_CLOUD_INSTANCE_ID).

import { AppsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, Observable, PatchStrategy, type ConfigurationOptions, type ObservableMiddleware } from "@kubernetes/client-node";
import type { WorkerGroup } from "../../core/autoscaler/autoscaler.ts";
import type { NodeId } from "../../core/types.ts";
import type { NodeProvider } from "./host.ts";

export interface KubernetesProviderOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  /** The RayCluster's name (KubeRay), or the prefix of the Deployments `<cluster>-<group>`. */
  readonly cluster: string;
  /** "raycluster": KubeRay is installed; "deployment": plain Deployments. */
  readonly mode: "raycluster" | "deployment";
  /** How often to look for a new pod or a deleted one, and for how long (default 1 s, 10 min). */
  readonly pollMs?: number;
  readonly waitMs?: number;
  /**
   * A request to the API server not answered within this long fails (default 60 s, as KubeRay's
   * autoscaler's KUBERAY_REQUEST_TIMEOUT_S): changes go one at a time, so a request held for
   * good by a connection gone silent would stop every later one.
   */
  readonly requestTimeoutMs?: number;
  readonly log: (line: string) => void;
}

/** A JSON-patch operation (RFC 6902), as KubeRay's autoscaler sends them. */
type PatchOp = { op: "replace"; path: string; value: unknown };

interface RayClusterSpec { spec: { workerGroupSpecs: { groupName: string; replicas?: number; scaleStrategy?: { workersToDelete?: string[] } }[] } }

const GROUP = "ray.io";
const VERSION = "v1";
const PLURAL = "rayclusters";
/** The lowest pod-deletion-cost: the ReplicaSet deletes this pod first when scaled down. */
const DELETE_ME_FIRST = "-2147483648";
/** KubeRay's autoscaler's request timeout (its KUBERAY_REQUEST_TIMEOUT_S). */
export const REQUEST_TIMEOUT_MS = 60_000;

/** A request's options: aborted if not answered within `timeoutMs`, with a content type for a patch. */
export function requestOptions(timeoutMs: number, contentType?: string): ConfigurationOptions {
  const bounded: ObservableMiddleware = {
    pre: (req) => {
      req.setSignal(AbortSignal.timeout(timeoutMs));
      if (contentType !== undefined) req.setHeaderParam("Content-Type", contentType);
      return new Observable(Promise.resolve(req));
    },
    post: (res) => new Observable(Promise.resolve(res)),
  };
  return { middleware: [bounded], middlewareMergeStrategy: "append" };
}

export class KubernetesProvider implements NodeProvider {
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;
  /** Pods already reported as some launch's node. */
  private readonly known = new Set<string>();
  /** One change at a time: each reads the replicas and writes them back, so two must not interleave. */
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly o: KubernetesProviderOptions) {
    this.custom = o.kubeConfig.makeApiClient(CustomObjectsApi);
    this.core = o.kubeConfig.makeApiClient(CoreV1Api);
    this.apps = o.kubeConfig.makeApiClient(AppsV1Api);
  }

  private call(contentType?: string): ConfigurationOptions {
    return requestOptions(this.o.requestTimeoutMs ?? REQUEST_TIMEOUT_MS, contentType);
  }

  private first: { node: NodeId; group: string }[] = [];

  initial() { return this.first; }

  /** Learns the worker pods running now (each a node of its group): call before the autoscaler starts. */
  async discover(): Promise<void> {
    const pods = await this.pods();
    for (const p of pods) this.known.add(p.name);
    this.first = pods.map((p) => ({ node: p.name, group: p.group }));
  }

  launch(launch: string, group: WorkerGroup, done: (r: { ok: true; node: NodeId } | { ok: false; reason: string }) => void): void {
    this.serially(async () => {
      const before = new Set((await this.pods(group.name)).map((p) => p.name));
      await this.scale(group.name, +1);
      return before;
    }).then(async (before) => {
      const node = await this.newPod(group.name, before);
      this.known.add(node);
      this.o.log(`tsray autoscaler: ${launch}: pod ${node} of ${group.name}`);
      done({ ok: true, node });
    }).catch((e: Error) => done({ ok: false, reason: `${this.o.mode === "raycluster" ? "RayCluster" : "Deployment"} ${group.name}: ${e.message}` }));
  }

  terminate(node: NodeId, group: WorkerGroup, done: () => void): void {
    this.serially(() => this.scale(group.name, -1, node))
      .then(() => this.gone(node))
      .then(() => (this.o.mode === "raycluster" ? this.serially(() => this.clearDeletions(group.name, node)) : undefined))
      .catch((e: Error) => this.o.log(`tsray autoscaler: removing pod ${node}: ${e.message}`))
      .finally(() => { this.known.delete(node); done(); });
  }

  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.then(() => undefined, () => undefined);
    return run;
  }

  private async rayCluster(): Promise<RayClusterSpec> {
    return await this.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: this.o.namespace, plural: PLURAL, name: this.o.cluster }, this.call()) as RayClusterSpec;
  }

  private async patchRayCluster(ops: PatchOp[]): Promise<void> {
    await this.custom.patchNamespacedCustomObject(
      { group: GROUP, version: VERSION, namespace: this.o.namespace, plural: PLURAL, name: this.o.cluster, body: ops },
      this.call(PatchStrategy.JsonPatch),
    );
  }

  /** Changes a group's replicas by `delta`; a removal names the pod to delete. */
  private async scale(group: string, delta: 1 | -1, remove?: string): Promise<void> {
    if (this.o.mode === "deployment") {
      const name = `${this.o.cluster}-${group}`;
      if (remove !== undefined) {
        await this.core.patchNamespacedPod(
          // A merge patch: it works whether or not the pod has annotations yet.
          { name: remove, namespace: this.o.namespace, body: { metadata: { annotations: { "controller.kubernetes.io/pod-deletion-cost": DELETE_ME_FIRST } } } },
          this.call(PatchStrategy.MergePatch),
        );
      }
      const d = await this.apps.readNamespacedDeployment({ name, namespace: this.o.namespace }, this.call());
      await this.apps.patchNamespacedDeployment(
        { name, namespace: this.o.namespace, body: [{ op: "replace", path: "/spec/replicas", value: Math.max(0, (d.spec?.replicas ?? 0) + delta) }] },
        this.call(PatchStrategy.JsonPatch),
      );
      return;
    }
    const rc = await this.rayCluster();
    const i = rc.spec.workerGroupSpecs.findIndex((g) => g.groupName === group);
    if (i < 0) throw new Error(`RayCluster ${this.o.cluster} has no worker group ${group}`);
    const g = rc.spec.workerGroupSpecs[i];
    const ops: PatchOp[] = [{ op: "replace", path: `/spec/workerGroupSpecs/${i}/replicas`, value: Math.max(0, (g.replicas ?? 0) + delta) }];
    if (remove !== undefined) {
      const pending = g.scaleStrategy?.workersToDelete ?? [];
      ops.push({ op: "replace", path: `/spec/workerGroupSpecs/${i}/scaleStrategy`, value: { workersToDelete: [...pending.filter((p) => p !== remove), remove] } });
    }
    await this.patchRayCluster(ops);
  }

  /** The pod is gone: take it off workersToDelete (KubeRay's autoscaler clears the list the same way). */
  private async clearDeletions(group: string, pod: string): Promise<void> {
    const rc = await this.rayCluster();
    const i = rc.spec.workerGroupSpecs.findIndex((g) => g.groupName === group);
    if (i < 0) return;
    const pending = rc.spec.workerGroupSpecs[i].scaleStrategy?.workersToDelete ?? [];
    await this.patchRayCluster([{ op: "replace", path: `/spec/workerGroupSpecs/${i}/scaleStrategy`, value: { workersToDelete: pending.filter((p) => p !== pod) } }]);
  }

  /** The cluster's worker pods (of one group), not being deleted. */
  private async pods(group?: string): Promise<{ name: string; group: string }[]> {
    const selector = this.o.mode === "raycluster"
      ? `ray.io/cluster=${this.o.cluster},ray.io/node-type=worker${group !== undefined ? `,ray.io/group=${group}` : ""}`
      : `ray.io/cluster=${this.o.cluster}${group !== undefined ? `,ray.io/group=${group}` : ""}`;
    const list = await this.core.listNamespacedPod({ namespace: this.o.namespace, labelSelector: selector }, this.call());
    return list.items
      .filter((p) => p.metadata?.name !== undefined && p.metadata.deletionTimestamp === undefined)
      .map((p) => ({ name: p.metadata!.name!, group: p.metadata!.labels?.["ray.io/group"] ?? group ?? "" }));
  }

  private async newPod(group: string, before: ReadonlySet<string>): Promise<string> {
    const deadline = Date.now() + (this.o.waitMs ?? 600_000);
    for (;;) {
      const fresh = (await this.pods(group)).find((p) => !before.has(p.name) && !this.known.has(p.name));
      if (fresh) return fresh.name;
      if (Date.now() > deadline) throw new Error("no new pod appeared");
      await new Promise((r) => setTimeout(r, this.o.pollMs ?? 1000));
    }
  }

  private async gone(pod: string): Promise<void> {
    const deadline = Date.now() + (this.o.waitMs ?? 600_000);
    for (;;) {
      try {
        await this.core.readNamespacedPod({ name: pod, namespace: this.o.namespace }, this.call());
      } catch (e) {
        if ((e as { code?: number }).code === 404) return;
        throw e;
      }
      if (Date.now() > deadline) throw new Error(`pod ${pod} still there`);
      await new Promise((r) => setTimeout(r, this.o.pollMs ?? 1000));
    }
  }
}
