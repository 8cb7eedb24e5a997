// The custom resources tsray's manifests use, as the subset of their CRDs that the manifests may
// contain: KubeRay v1.7's RayCluster and RayJob (ray.io/v1), Chaos Mesh's PodChaos and
// NetworkChaos (chaos-mesh.org/v1alpha1) and kind's cluster config. Field names and enums are
// those of the projects' Go types; a field outside the subset is refused, so adding one here is
// a deliberate act.

import type { Schema } from "./schema.ts";

const str = "string", int = "integer", bool = "boolean";
const strMap: Schema = { map: str };
const pod: Schema = { k8s: "V1PodTemplateSpec" };

const headGroupSpec: Schema = {
  object: {
    template: pod, rayStartParams: strMap, serviceType: { enum: ["ClusterIP", "NodePort", "LoadBalancer"] },
    headService: { k8s: "V1Service" }, enableIngress: bool, resources: strMap, labels: strMap,
  },
  required: ["template"],
};

const workerGroupSpec: Schema = {
  object: {
    groupName: str, template: pod, rayStartParams: strMap, replicas: int, minReplicas: int, maxReplicas: int,
    numOfHosts: int, idleTimeoutSeconds: int, suspend: bool, resources: strMap, labels: strMap,
    scaleStrategy: { object: { workersToDelete: { array: str } } },
  },
  required: ["groupName", "template"],
};

const redisCredential: Schema = { object: { value: str, valueFrom: { k8s: "V1EnvVarSource" } } };

export const rayClusterSpec: Schema = {
  object: {
    headGroupSpec, workerGroupSpecs: { array: workerGroupSpec }, rayVersion: str, suspend: bool,
    enableInTreeAutoscaling: bool, headServiceAnnotations: strMap,
    autoscalerOptions: {
      object: {
        image: str, imagePullPolicy: { enum: ["Always", "IfNotPresent", "Never"] }, resources: { k8s: "V1ResourceRequirements" },
        env: { k8s: "Array<V1EnvVar>" }, envFrom: { k8s: "Array<V1EnvFromSource>" }, volumeMounts: { k8s: "Array<V1VolumeMount>" },
        securityContext: { k8s: "V1SecurityContext" }, idleTimeoutSeconds: int,
        upscalingMode: { enum: ["Default", "Aggressive", "Conservative"] }, version: { enum: ["v1", "v2"] },
        command: { array: str }, args: { array: str },
      },
    },
    gcsFaultToleranceOptions: {
      object: { redisAddress: str, redisUsername: redisCredential, redisPassword: redisCredential, externalStorageNamespace: str },
      required: ["redisAddress"],
    },
    // KubeRay >= 1.5.1: mode token makes the operator generate a Secret (named after the cluster,
    // key auth_token), set RAY_AUTH_MODE/RAY_AUTH_TOKEN on every Ray container and send the token
    // with its own Jobs API calls.
    authOptions: { object: { mode: { enum: ["disabled", "token"] } } },
  },
  required: ["headGroupSpec"],
};

const rayJobSpec: Schema = {
  object: {
    entrypoint: str, rayClusterSpec, clusterSelector: strMap,
    submissionMode: { enum: ["K8sJobMode", "HTTPMode", "SidecarMode", "InteractiveMode"] },
    submitterPodTemplate: pod, submitterConfig: { object: { backoffLimit: int } },
    shutdownAfterJobFinishes: bool, ttlSecondsAfterFinished: int, activeDeadlineSeconds: int, suspend: bool,
    runtimeEnvYAML: str, metadata: strMap, jobId: str,
    entrypointNumCpus: "number", entrypointNumGpus: "number", entrypointResources: str,
  },
};

// Chaos Mesh: which pods a chaos selects, and how many of them.
const selector: Schema = {
  object: {
    namespaces: { array: str }, labelSelectors: strMap, annotationSelectors: strMap, fieldSelectors: strMap,
    pods: { map: { array: str } }, nodes: { array: str }, podPhaseSelectors: { array: str },
    expressionSelectors: { array: { object: { key: str, operator: { enum: ["In", "NotIn", "Exists", "DoesNotExist"] }, values: { array: str } }, required: ["key", "operator"] } },
  },
};
const mode: Schema = { enum: ["one", "all", "fixed", "fixed-percent", "random-max-percent"] };
const podSelection = { selector, mode, value: str } as const;

const podChaosSpec: Schema = {
  object: {
    ...podSelection, action: { enum: ["pod-kill", "pod-failure", "container-kill"] },
    duration: str, gracePeriod: int, containerNames: { array: str },
  },
  required: ["action", "selector", "mode"],
};

const networkChaosSpec: Schema = {
  object: {
    ...podSelection, action: { enum: ["netem", "delay", "loss", "duplicate", "corrupt", "partition", "bandwidth"] },
    duration: str, direction: { enum: ["to", "from", "both"] },
    target: { object: podSelection, required: ["selector", "mode"] },
    delay: { object: { latency: str, jitter: str, correlation: str } },
    loss: { object: { loss: str, correlation: str } },
    duplicate: { object: { duplicate: str, correlation: str } },
  },
  required: ["action", "selector", "mode"],
};

// Chaos Mesh's Workflow: templates that run chaos in order (Serial), together (Parallel) or wait
// (Suspend); a chaos template's `deadline` is how long it lasts, its spec has no `duration`.
const withoutDuration = (spec: Schema): Schema => {
  const o = spec as { object: Record<string, Schema>; required?: readonly string[] };
  const { duration: _, ...rest } = o.object;
  return { object: rest, required: o.required };
};
const workflowSpec: Schema = {
  object: {
    entry: str,
    templates: {
      array: {
        object: {
          name: str, templateType: { enum: ["Serial", "Parallel", "Suspend", "PodChaos", "NetworkChaos"] }, deadline: str,
          children: { array: str }, podChaos: withoutDuration(podChaosSpec), networkChaos: withoutDuration(networkChaosSpec),
        },
        required: ["name", "templateType"],
      },
    },
  },
  required: ["entry", "templates"],
};

const kindNode: Schema = {
  object: {
    role: { enum: ["control-plane", "worker"] }, image: str, labels: strMap,
    extraPortMappings: { array: { object: { containerPort: int, hostPort: int, listenAddress: str, protocol: { enum: ["TCP", "UDP", "SCTP"] } } } },
  },
};

/** A custom kind: its spec's schema (kind's config has no spec: its fields are top-level). */
export interface CustomKind { readonly spec?: Schema; readonly topLevel?: Readonly<Record<string, Schema>> }

export const customKinds: Readonly<Record<string, CustomKind>> = {
  "ray.io/v1 RayCluster": { spec: rayClusterSpec },
  "ray.io/v1 RayJob": { spec: rayJobSpec },
  "chaos-mesh.org/v1alpha1 PodChaos": { spec: podChaosSpec },
  "chaos-mesh.org/v1alpha1 NetworkChaos": { spec: networkChaosSpec },
  "chaos-mesh.org/v1alpha1 Workflow": { spec: workflowSpec },
  "kind.x-k8s.io/v1alpha4 Cluster": { topLevel: { name: str, nodes: { array: kindNode } } },
};
