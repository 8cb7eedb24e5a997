// The pods KubeRay v1.7's operator builds from a RayCluster, rendered here from the rules its
// controller follows (common/pod.go, common/service.go): each Ray container's command
// (`ulimit …; ray start …` with the flags made from rayStartParams and the container's
// resources), its environment, the workers' `wait-gcs-ready` init container, the liveness and
// readiness probes, and the head Service's DNS name. The KubeRay contract test
// (test/containers/kuberay-contract.test.ts) runs what this renders as containers, so the image
// is tested against the commands KubeRay would really give it. The manifest is assumed valid
// (src/k8s/validate.ts); operator-level switches (ENABLE_* environment of the operator) are at
// their defaults. Not rendered: RayService's extras and TLS (the image refuses RAY_USE_TLS).

import type { V1Container, V1EnvVar, V1PodTemplateSpec, V1Probe, V1ResourceRequirements } from "@kubernetes/client-node";

export const KUBERAY_VERSION = "v1.7.0";

/** The RayCluster fields the operator reads to build pods (ray.io/v1). */
export interface RayClusterManifest {
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly uid?: string; readonly annotations?: Record<string, string> };
  readonly spec: {
    readonly rayVersion?: string;
    readonly enableInTreeAutoscaling?: boolean;
    readonly autoscalerOptions?: { readonly version?: "v1" | "v2"; readonly image?: string };
    readonly headGroupSpec: GroupSpec & { readonly serviceType?: string };
    readonly workerGroupSpecs?: readonly (GroupSpec & { readonly groupName: string; readonly replicas?: number; readonly minReplicas?: number; readonly maxReplicas?: number })[];
    readonly gcsFaultToleranceOptions?: { readonly redisAddress: string; readonly redisPassword?: { readonly value?: string; readonly valueFrom?: V1EnvVar["valueFrom"] }; readonly externalStorageNamespace?: string };
    readonly authOptions?: { readonly mode?: "disabled" | "token" };
  };
}

export interface GroupSpec {
  readonly rayStartParams?: Record<string, string>;
  readonly template: V1PodTemplateSpec;
  readonly labels?: Record<string, string>;
}

export interface RenderedPod {
  readonly name: string;
  readonly role: "head" | "worker";
  /** `headgroup` for the head, else the worker group's name. */
  readonly group: string;
  readonly labels: Record<string, string>;
  readonly initContainers: V1Container[];
  /** The Ray container first, then the template's others (and the autoscaler sidecar on the head). */
  readonly containers: V1Container[];
}

export interface RenderedCluster {
  readonly headService: { readonly name: string; readonly fqdn: string; readonly headless: boolean; readonly ports: { readonly name: string; readonly port: number }[] };
  readonly pods: RenderedPod[];
}

export interface RenderOptions {
  /** The namespace when the manifest names none (default "default"). */
  readonly namespace?: string;
  /** The 5-character suffix the API server gives pod `i` of `group` (default deterministic: 00000, 00001, …). */
  readonly podSuffix?: (group: string, i: number) => string;
}

const DEFAULT_PORTS: Record<string, number> = { "gcs-server": 6379, dashboard: 8265, client: 10001, metrics: 8080, serve: 8000 };
const AGENT_PORT = 52365;
const DASHBOARD_PORT = 8265;
/** rayStartParams whose "false" KubeRay passes on as `--k=false` (any other "false" is dropped). */
const KEPT_FALSE = new Set(["log-color", "include-dashboard", "include-log-monitor"]);

/** A Kubernetes quantity ("500m", "2Gi", "1e3", "4") as a number. */
export function parseQuantity(q: string | number): number {
  if (typeof q === "number") return q;
  const m = /^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.exec(q.trim());
  if (!m) throw new Error(`not a Kubernetes quantity: ${JSON.stringify(q)}`);
  const scale: Record<string, number> = {
    m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
    Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
  };
  return Number(m[1]) * (m[2] ? scale[m[2]]! : 1);
}

/** Whether `rayVersion` is at least 2.53.0 (KubeRay then probes /api/healthz over HTTP). */
function httpProbes(rayVersion: string | undefined): boolean {
  const [a = 0, b = 0] = (rayVersion ?? "").split(".").map(Number);
  return a > 2 || (a === 2 && b >= 53);
}

/** The flags KubeRay adds from the container's resources (limits first, then requests for CPU). */
export function resourceParams(r: V1ResourceRequirements | undefined, group: GroupSpec): Record<string, string> {
  const out: Record<string, string> = {};
  const cpu = r?.limits?.cpu ?? r?.requests?.cpu;
  if (cpu !== undefined) out["num-cpus"] = String(Math.ceil(parseQuantity(cpu)));
  if (r?.limits?.memory !== undefined) out.memory = String(Math.round(parseQuantity(r.limits.memory)));
  const gpus = Object.entries(r?.limits ?? {}).filter(([k]) => k.endsWith("gpu") || k.startsWith("nvidia.com/mig-"));
  if (gpus.length > 0) out["num-gpus"] = String(gpus.reduce((s, [, v]) => s + parseQuantity(v), 0));
  const custom: Record<string, number> = {};
  if (r?.limits?.["google.com/tpu"] !== undefined) custom.TPU = parseQuantity(r.limits["google.com/tpu"]);
  if (r?.limits?.["aws.amazon.com/neuroncore"] !== undefined) custom.neuron_cores = parseQuantity(r.limits["aws.amazon.com/neuroncore"]);
  if (Object.keys(custom).length > 0) out.resources = `'${JSON.stringify(custom)}'`;
  if (group.labels && Object.keys(group.labels).length > 0) out.labels = Object.entries(group.labels).map(([k, v]) => `${k}=${v}`).join(",");
  return out;
}

/** `ray start …` as KubeRay writes it: the params sorted, "true" as a switch, "false" dropped (but for three). */
export function rayStartCommand(head: boolean, params: Record<string, string>): string {
  const flags = Object.keys(params).sort().flatMap((k) => {
    const v = params[k]!;
    if (v.toLowerCase() === "true") return [`--${k}`];
    if (v.toLowerCase() === "false") return KEPT_FALSE.has(k) ? [`--${k}=false`] : [];
    return [`--${k}=${v}`];
  });
  return ["ray start", ...(head ? ["--head"] : []), ...flags].join(" ");
}

function probe(head: boolean, liveness: boolean, rayVersion: string | undefined): V1Probe {
  const timing = liveness
    ? { initialDelaySeconds: 30, timeoutSeconds: head ? 5 : 2, periodSeconds: 5, successThreshold: 1, failureThreshold: 120 }
    : { initialDelaySeconds: 10, timeoutSeconds: head ? 5 : 2, periodSeconds: 5, successThreshold: 1, failureThreshold: 10 };
  if (httpProbes(rayVersion)) return { ...timing, httpGet: { path: "/api/healthz", port: AGENT_PORT } };
  const checks = [[AGENT_PORT, "api/local_raylet_healthz"], ...(head ? [[DASHBOARD_PORT, "api/gcs_healthz"]] : [])]
    .map(([port, p]) => `wget --tries 1 -T ${timing.timeoutSeconds} -q -O- http://localhost:${port}/${p} | grep success`);
  return { ...timing, exec: { command: ["bash", "-c", checks.join(" && ")] } };
}

/** The init container that holds a worker back until the GCS answers `ray health-check`. */
function waitGcsReady(ray: V1Container, gcs: string): V1Container {
  const script = [
    "SECONDS=0",
    "until ray health-check --address " + gcs + " >/tmp/health-check.out 2>&1; do",
    // quiet for the first two minutes, as KubeRay's, then says why it is still waiting
    "  if [ \"$SECONDS\" -gt 120 ]; then cat /tmp/health-check.out; fi",
    `  echo "$SECONDS s: waiting for the GCS at ${gcs}"`,
    "  sleep 5",
    "done",
  ].join("\n");
  return {
    name: "wait-gcs-ready", image: ray.image, imagePullPolicy: ray.imagePullPolicy,
    command: ["/bin/bash", "-c", "--"], args: [script],
    env: ray.env, volumeMounts: ray.volumeMounts,
    resources: { limits: { cpu: "200m", memory: "256Mi" }, requests: { cpu: "200m", memory: "256Mi" } },
  };
}

/** Renders the head pod and `replicas` pods of each worker group of `rc`, as KubeRay v1.7 would. */
export function renderRayCluster(rc: RayClusterManifest, o: RenderOptions = {}): RenderedCluster {
  const cluster = rc.metadata.name;
  const ns = rc.metadata.namespace ?? o.namespace ?? "default";
  const suffix = o.podSuffix ?? ((_g: string, i: number) => String(i).padStart(5, "0"));
  const spec = rc.spec;
  const headTemplate = spec.headGroupSpec.template.spec!;
  const headRay = headTemplate.containers[0]!;
  const named = (headRay.ports ?? []).filter((p) => p.name).map((p) => ({ name: p.name!, port: p.containerPort }));
  const ports = named.length > 0 ? named : Object.entries(DEFAULT_PORTS).map(([name, port]) => ({ name, port }));
  if (!ports.some((p) => p.name === "metrics")) ports.push({ name: "metrics", port: DEFAULT_PORTS.metrics! });
  const serviceName = `${cluster}-head-svc`;
  const fqdn = `${serviceName}.${ns}.svc.cluster.local`;
  const gcsPort = spec.headGroupSpec.rayStartParams?.port ?? "6379";
  const ft = spec.gcsFaultToleranceOptions;
  const auth = spec.authOptions?.mode === "token";

  const render = (role: "head" | "worker", group: string, g: GroupSpec, i: number): RenderedPod => {
    const head = role === "head";
    const name = head ? `${cluster}-head-${suffix(group, i)}` : `${cluster}-${group}-worker-${suffix(group, i)}`;
    const tpl = g.template.spec!;
    const [user, ...others] = tpl.containers;
    const params: Record<string, string> = {
      ...resourceParams(user!.resources, g),
      ...(head ? { "dashboard-host": "0.0.0.0" } : { address: `${fqdn}:${gcsPort}` }),
      "metrics-export-port": "8080", "dashboard-agent-listen-port": String(AGENT_PORT),
      ...(head && spec.enableInTreeAutoscaling ? { "no-monitor": "true" } : {}),
      ...(head && ft?.redisPassword ? { "redis-password": "$REDIS_PASSWORD" } : {}),
      ...g.rayStartParams,
      block: "true",
    };
    const generated = rayStartCommand(head, params);
    const userCmd = [...(user!.command ?? []), ...(user!.args ?? [])].join(" ");
    const keep = userCmd.includes("ray start") || rc.metadata.annotations?.["ray.io/overwrite-container-cmd"] === "true";
    const startLine = `ulimit -n \${RAY_START_ULIMIT_OPEN_FILES:-65536}; ${generated}`;
    const env: V1EnvVar[] = [
      ...(user!.env ?? []),
      { name: "RAY_CLUSTER_NAME", value: cluster }, { name: "RAY_CLUSTER_NAMESPACE", value: ns },
      { name: "RAY_CLOUD_INSTANCE_ID", value: name }, { name: "RAY_NODE_TYPE_NAME", value: group },
      ...(head ? [] : [{ name: "FQ_RAY_IP", value: fqdn }, { name: "RAY_IP", value: serviceName }]),
      { name: "RAY_ADDRESS", value: head ? `127.0.0.1:${gcsPort}` : `${fqdn}:${gcsPort}` },
      { name: "RAY_PORT", value: gcsPort },
      { name: "KUBERAY_GEN_RAY_START_CMD", value: generated },
      { name: "RAY_USAGE_STATS_KUBERAY_IN_USE", value: "1" },
      ...(head ? [{ name: "RAY_USAGE_STATS_EXTRA_TAGS", value: `kuberay_version=${KUBERAY_VERSION};kuberay_crd=RayCluster` }] : []),
      { name: "RAY_DASHBOARD_ENABLE_K8S_DISK_USAGE", value: "1" },
      ...(head && spec.autoscalerOptions?.version ? [{ name: "RAY_enable_autoscaler_v2", value: String(spec.autoscalerOptions.version === "v2") }] : []),
      ...(ft && !head ? [{ name: "RAY_gcs_rpc_server_reconnect_timeout_s", value: "600" }] : []),
      ...(ft && head ? [
        { name: "RAY_REDIS_ADDRESS", value: ft.redisAddress },
        { name: "RAY_external_storage_namespace", value: ft.externalStorageNamespace ?? rc.metadata.uid ?? cluster },
        ...(ft.redisPassword ? [{ name: "REDIS_PASSWORD", ...ft.redisPassword }] : []),
      ] : []),
      ...(auth ? [{ name: "RAY_AUTH_MODE", value: "token" }, { name: "RAY_AUTH_TOKEN", valueFrom: { secretKeyRef: { name: cluster, key: "auth_token" } } }] : []),
    ];
    const ray: V1Container = {
      ...user!,
      command: keep ? user!.command : ["/bin/bash", "-c", "--"],
      args: keep ? user!.args : [userCmd ? `${userCmd} && ${startLine}` : startLine],
      env,
      livenessProbe: user!.livenessProbe ?? probe(head, true, spec.rayVersion),
      readinessProbe: user!.readinessProbe ?? probe(head, false, spec.rayVersion),
    };
    const sidecar: V1Container[] = head && spec.enableInTreeAutoscaling ? [{
      name: "autoscaler", image: spec.autoscalerOptions?.image ?? ray.image, imagePullPolicy: ray.imagePullPolicy,
      command: ["/bin/bash", "-lc", "--"],
      args: ["ray kuberay-autoscaler --cluster-name $(RAY_CLUSTER_NAME) --cluster-namespace $(RAY_CLUSTER_NAMESPACE)"],
      env: [{ name: "RAY_CLUSTER_NAME", value: cluster }, { name: "RAY_CLUSTER_NAMESPACE", value: ns }, { name: "KUBERAY_CRD_VER", value: "v1" }, { name: "RAY_HEAD_POD_NAME", value: name },
        ...(auth ? env.filter((e) => e.name === "RAY_AUTH_MODE" || e.name === "RAY_AUTH_TOKEN") : [])],
    }] : [];
    return {
      name, role, group,
      labels: { ...g.template.metadata?.labels, "ray.io/cluster": cluster, "ray.io/node-type": role, "ray.io/group": group },
      initContainers: [...(tpl.initContainers ?? []), ...(head ? [] : [waitGcsReady(ray, `${fqdn}:${gcsPort}`)])],
      containers: [ray, ...others, ...sidecar],
    };
  };

  const pods = [render("head", "headgroup", spec.headGroupSpec, 0)];
  for (const w of spec.workerGroupSpecs ?? []) {
    for (let i = 0; i < (w.replicas ?? 0); i++) pods.push(render("worker", w.groupName, w, i));
  }
  return {
    headService: { name: serviceName, fqdn, headless: spec.headGroupSpec.serviceType === undefined, ports },
    pods,
  };
}
