// The Kubernetes side of the kubernetes chaos target (chaos/kubernetes-cluster.ts): a chaos
// cluster's pods, built by the rules KubeRay's operator follows (src/k8s/kuberay-pods.ts renders
// a RayCluster with one worker group per worker node), created and deleted through the API
// server in KUBECONFIG (@kubernetes/client-node), and the faults the API can bring about: a pod
// deleted at once (PodChaos pod-kill; this target then plays KubeRay's reconcile and creates the
// node's pod again), and a container killed in its pod (PodChaos container-kill), which only
// Chaos Mesh can do — the API has no call that kills one container — so it is refused without it.

import { CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Pod, type V1Service } from "@kubernetes/client-node";
import { renderRayCluster, type RayClusterManifest, type RenderedPod } from "../src/k8s/kuberay-pods.ts";
import type { ChaosNode } from "./target.ts";

export const GCS_PORT = 6379;
const REDIS_PORT = 6379;
/** Where each Ray container writes its traces: an emptyDir, so a container restarted in its pod keeps them. */
export const TRACE_DIR = "/tmp/ray/chaos";
const CHAOS_MESH = { group: "chaos-mesh.org", version: "v1alpha1", plural: "podchaos" } as const;

export interface KubeChaosSpec {
  /** The RayCluster's name: every object of the chaos cluster is named after it. */
  readonly cluster: string;
  readonly namespace: string;
  readonly image: string;
  readonly nodes: readonly ChaosNode[];
  /** The cluster token and the seeded bugs, in every Ray container's environment. */
  readonly token: string;
  readonly bugs: string;
  /** Redis GCS fault tolerance: the Redis image and password (a Redis pod and Service are made). */
  readonly redis?: { readonly image: string; readonly password: string };
}

/** The RayCluster KubeRay would get for these nodes: the head, and one worker group of one replica per worker node. */
export function chaosRayCluster(s: KubeChaosSpec): RayClusterManifest {
  const container = (name: string) => ({
    name, image: s.image, imagePullPolicy: "IfNotPresent",
    env: [{ name: "TSRAY_TOKEN", value: s.token }, { name: "TSRAY_BUGS", value: s.bugs }],
    volumeMounts: [{ name: "chaos-traces", mountPath: TRACE_DIR }],
  });
  const template = (name: string) => ({ spec: { containers: [container(name)], volumes: [{ name: "chaos-traces", emptyDir: {} }] } });
  return {
    metadata: { name: s.cluster, namespace: s.namespace },
    spec: {
      rayVersion: "2.53.0",
      headGroupSpec: { rayStartParams: { "num-cpus": String(s.nodes[0]!.cpus), "temp-dir": TRACE_DIR }, template: template("ray-head") },
      workerGroupSpecs: s.nodes.slice(1).map((n) => ({
        groupName: n.id, replicas: 1, minReplicas: 1, maxReplicas: 1,
        rayStartParams: { "num-cpus": String(n.cpus), "temp-dir": TRACE_DIR }, template: template("ray-worker"),
      })),
      ...(s.redis ? { gcsFaultToleranceOptions: { redisAddress: `${s.cluster}-redis:${REDIS_PORT}`, redisPassword: { value: s.redis.password }, externalStorageNamespace: s.cluster } } : {}),
    },
  };
}

/**
 * Node `id`'s pod, life `k` (1, 2, … as pod-kills bring new pods): what KubeRay renders, named
 * `<cluster>-<node>-<k>`, with RAY_CLOUD_INSTANCE_ID the experiment's node id (KubeRay's would be
 * the pod's name; the workload places work by node id).
 */
export function chaosPod(s: KubeChaosSpec, id: string, k: number): V1Pod {
  const rendered = renderRayCluster(chaosRayCluster(s)).pods;
  const p: RenderedPod | undefined = id === "head" ? rendered[0] : rendered.find((x) => x.group === id);
  if (!p) throw new TypeError(`chaos: no node "${id}" in the cluster`);
  const [ray, ...others] = p.containers;
  const env = (ray!.env ?? []).map((e) => (e.name === "RAY_CLOUD_INSTANCE_ID" && id !== "head" ? { name: e.name, value: id } : e));
  return {
    apiVersion: "v1", kind: "Pod",
    metadata: { name: `${s.cluster}-${id}-${k}`, namespace: s.namespace, labels: { ...p.labels, "tsray.io/chaos-node": id } },
    spec: {
      restartPolicy: "Always",
      initContainers: p.initContainers,
      containers: [{ ...ray!, env }, ...others],
      volumes: [{ name: "chaos-traces", emptyDir: {} }],
    },
  };
}

/** The head Service KubeRay makes (headless, ready or not), by which workers find the GCS. */
export function headService(s: KubeChaosSpec): V1Service {
  const svc = renderRayCluster(chaosRayCluster(s)).headService;
  return {
    apiVersion: "v1", kind: "Service",
    metadata: { name: svc.name, namespace: s.namespace, labels: { "ray.io/cluster": s.cluster } },
    spec: {
      clusterIP: "None", publishNotReadyAddresses: true,
      selector: { "ray.io/cluster": s.cluster, "ray.io/node-type": "head" },
      ports: svc.ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.port as never })),
    },
  };
}

/** The Redis of GCS fault tolerance: a pod and a Service named `<cluster>-redis`, as the RayCluster's redisAddress says. */
export function redisObjects(s: KubeChaosSpec): { pod: V1Pod; service: V1Service } {
  if (!s.redis) throw new TypeError("chaos: no Redis in this cluster's spec");
  const name = `${s.cluster}-redis`;
  const labels = { "ray.io/cluster": s.cluster, "tsray.io/chaos-node": "redis" };
  return {
    pod: {
      apiVersion: "v1", kind: "Pod", metadata: { name, namespace: s.namespace, labels },
      spec: { containers: [{ name: "redis", image: s.redis.image, imagePullPolicy: "IfNotPresent", command: ["redis-server"], args: ["--requirepass", s.redis.password, "--save", "", "--appendonly", "no", "--protected-mode", "no"], ports: [{ containerPort: REDIS_PORT }] }] },
    },
    service: {
      apiVersion: "v1", kind: "Service", metadata: { name, namespace: s.namespace, labels },
      spec: { selector: labels, ports: [{ name: "redis", port: REDIS_PORT, targetPort: REDIS_PORT as never }] },
    },
  };
}

const isNotFound = (e: unknown) => (e as { code?: number }).code === 404;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The API calls of the kubernetes target, on one namespace. */
export class KubePods {
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;
  private chaosMesh: boolean | undefined;

  constructor(kc: KubeConfig, readonly namespace: string, private readonly pollMs = 500) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.custom = kc.makeApiClient(CustomObjectsApi);
  }

  async createPod(pod: V1Pod): Promise<void> {
    await this.core.createNamespacedPod({ namespace: this.namespace, body: pod });
  }

  async createService(svc: V1Service): Promise<void> {
    await this.core.createNamespacedService({ namespace: this.namespace, body: svc });
  }

  /** Deletes a pod at once (grace period 0: PodChaos pod-kill); a pod already gone is no error. */
  async deletePod(name: string): Promise<void> {
    try {
      await this.core.deleteNamespacedPod({ name, namespace: this.namespace, gracePeriodSeconds: 0 });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  async deleteService(name: string): Promise<void> {
    try {
      await this.core.deleteNamespacedService({ name, namespace: this.namespace });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  /** Waits until the pod runs with an IP; returns it. A pod that failed, or is not running within `withinMs`, is an error naming it. */
  async running(name: string, withinMs: number): Promise<string> {
    const deadline = Date.now() + withinMs;
    for (;;) {
      const p = await this.core.readNamespacedPod({ name, namespace: this.namespace });
      const phase = p.status?.phase;
      if (phase === "Running" && p.status?.podIP) return p.status.podIP;
      if (phase === "Failed" || phase === "Succeeded") throw new Error(`chaos: pod ${name} is ${phase}: ${p.status?.message ?? p.status?.reason ?? ""}`);
      if (Date.now() > deadline) throw new Error(`chaos: pod ${name} is not running within ${withinMs / 1000} s (phase ${phase ?? "unknown"}; kubectl describe pod ${name} -n ${this.namespace})`);
      await sleep(this.pollMs);
    }
  }

  /** The Ray container's restarts (the kubelet's count), of a pod that exists. */
  async restarts(name: string): Promise<number> {
    const p = await this.core.readNamespacedPod({ name, namespace: this.namespace });
    return p.status?.containerStatuses?.[0]?.restartCount ?? 0;
  }

  /** Whether Chaos Mesh's PodChaos is served here (asked once). */
  async hasChaosMesh(): Promise<boolean> {
    if (this.chaosMesh === undefined) {
      try {
        await this.custom.listNamespacedCustomObject({ ...CHAOS_MESH, namespace: this.namespace });
        this.chaosMesh = true;
      } catch (e) {
        if (!isNotFound(e)) throw e;
        this.chaosMesh = false;
      }
    }
    return this.chaosMesh;
  }

  /**
   * PodChaos container-kill of `container` in pod `pod`, through Chaos Mesh: creates the
   * experiment (named `name`), and deletes it once the kubelet has restarted the container.
   */
  async containerKill(name: string, pod: string, container: string, withinMs: number): Promise<void> {
    if (!(await this.hasChaosMesh())) {
      throw new Error("container-kill on the kubernetes target needs Chaos Mesh (its PodChaos kills a container; the Kubernetes API has no call for it): install it, or use pod-kill");
    }
    const before = await this.restarts(pod);
    await this.custom.createNamespacedCustomObject({
      ...CHAOS_MESH, namespace: this.namespace,
      body: {
        apiVersion: `${CHAOS_MESH.group}/${CHAOS_MESH.version}`, kind: "PodChaos",
        metadata: { name, namespace: this.namespace },
        spec: { action: "container-kill", mode: "one", containerNames: [container], selector: { pods: { [this.namespace]: [pod] } } },
      },
    });
    try {
      const deadline = Date.now() + withinMs;
      while ((await this.restarts(pod)) <= before) {
        if (Date.now() > deadline) throw new Error(`chaos: PodChaos ${name} did not restart ${container} in ${pod} within ${withinMs / 1000} s`);
        await sleep(this.pollMs);
      }
    } finally {
      await this.custom.deleteNamespacedCustomObject({ ...CHAOS_MESH, namespace: this.namespace, name }).catch(() => undefined);
    }
  }
}
