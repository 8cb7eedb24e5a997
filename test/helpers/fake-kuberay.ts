// The KubeRay operator as far as an autoscaler sees it, for FakeKubeApi (fake-kube-api.ts): one
// RayCluster that a JSON patch changes, and its worker pods, which follow each group's replicas
// (the operator deletes the pods named in scaleStrategy.workersToDelete first, and with
// autoscaling on never deletes others at random). Pods are `<cluster>-<group>-worker-NNNNN`,
// labelled as KubeRay labels them; listing honours a label selector of `k=v` terms.

import { notFound, type KubeRequest, type KubeRoute } from "./fake-kube-api.ts";

type Op = { op: string; path: string; value: unknown };
type Group = { groupName: string; replicas?: number; scaleStrategy?: { workersToDelete?: string[] } } & Record<string, unknown>;

export class FakeRayClusterOperator {
  /** Every PATCH of the RayCluster, as received. */
  readonly patches: KubeRequest[] = [];
  readonly pods = new Map<string, { group: string }>();
  private made = 0;

  /** `rayCluster`: the object the API server holds (metadata.name/namespace and spec). */
  constructor(readonly rayCluster: { metadata: { name: string; namespace: string }; spec: { workerGroupSpecs: Group[] } & Record<string, unknown> }, private readonly events: { created?(pod: string, group: string): void; deleted?(pod: string): void } = {}) {}

  private get ns(): string { return this.rayCluster.metadata.namespace; }
  private get name(): string { return this.rayCluster.metadata.name; }

  readonly route: KubeRoute = (req, url) => {
    const p = url.pathname;
    if (p === `/apis/ray.io/v1/namespaces/${this.ns}/rayclusters/${this.name}`) {
      if (req.method === "PATCH") {
        if (req.contentType !== "application/json-patch+json") return { code: 415, body: { kind: "Status", message: `unsupported patch ${req.contentType}` } };
        this.patches.push(req);
        this.apply(req.body as Op[]);
        this.reconcile();
      }
      return { code: 200, body: this.rayCluster };
    }
    if (p === `/api/v1/namespaces/${this.ns}/pods`) {
      const terms = (url.searchParams.get("labelSelector") ?? "").split(",").filter(Boolean).map((t) => t.split("=") as [string, string]);
      return { code: 200, body: { kind: "PodList", apiVersion: "v1", metadata: {}, items: [...this.pods.keys()].map((n) => this.pod(n)).filter((pod) => terms.every(([k, v]) => pod.metadata.labels[k] === v)) } };
    }
    const m = new RegExp(`^/api/v1/namespaces/${this.ns}/pods/([^/]+)$`).exec(p);
    if (m && req.method === "GET") return this.pods.has(m[1]!) ? { code: 200, body: this.pod(m[1]!) } : notFound(`pods "${m[1]}"`);
    return undefined;
  };

  private pod(name: string) {
    const labels: Record<string, string> = { "ray.io/cluster": this.name, "ray.io/node-type": "worker", "ray.io/group": this.pods.get(name)!.group };
    return { kind: "Pod", apiVersion: "v1", metadata: { name, namespace: this.ns, labels } };
  }

  /** `replace` operations (the only kind KubeRay's autoscaler sends), on paths that must exist but for the last key. */
  private apply(ops: Op[]): void {
    for (const o of ops) {
      if (o.op !== "replace") throw new Error(`unexpected patch op ${o.op}`);
      const keys = o.path.split("/").slice(1);
      let at = this.rayCluster as unknown as Record<string, unknown>;
      for (const k of keys.slice(0, -1)) at = at[k] as Record<string, unknown>;
      at[keys[keys.length - 1]!] = o.value;
    }
  }

  /** The operator: listed workers deleted, then each group brought up to its replicas. */
  private reconcile(): void {
    for (const g of this.rayCluster.spec.workerGroupSpecs) {
      for (const pod of g.scaleStrategy?.workersToDelete ?? []) {
        if (this.pods.delete(pod)) this.events.deleted?.(pod);
      }
      const have = [...this.pods.values()].filter((p) => p.group === g.groupName).length;
      for (let i = have; i < (g.replicas ?? 0); i++) {
        const pod = `${this.name}-${g.groupName}-worker-${String(this.made++).padStart(5, "0")}`;
        this.pods.set(pod, { group: g.groupName });
        this.events.created?.(pod, g.groupName);
      }
    }
  }
}
