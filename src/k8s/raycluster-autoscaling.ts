// The autoscaling configuration of a live RayCluster, as KubeRay's autoscaler sidecar derives it
// from the object it reads from the API server: each worker group's min/max replicas and
// idle timeout, and the resources each of its nodes will offer. Those are what the group's pods'
// `ray start` makes of them: the flags KubeRay adds from the Ray container's resources
// (resourceParams, kuberay-pods.ts), overridden by rayStartParams, read by the same rules as the
// image's `ray start` (nodeResources, ray-shim.ts). Every field read is checked; a malformed one is
// refused with an error naming its path in the RayCluster.

import { z } from "zod";
import { nodeResources } from "../cli/ray-shim.ts";
import { parseAutoscaling, type Autoscaling, type AutoscalingFile } from "../runtime/autoscaler/config.ts";
import { resourceParams } from "./kuberay-pods.ts";

const count = z.number().int().gte(0);
const quantity = z.union([z.string(), z.number()]);

/** The fields the autoscaler reads; the rest of the RayCluster is the operator's (pod templates, services…). */
const workerGroup = z.object({
  groupName: z.string().min(1),
  replicas: count.default(0),
  minReplicas: count.default(0),
  maxReplicas: count.default(2147483647),
  numOfHosts: count.default(1),
  idleTimeoutSeconds: z.number().finite().gte(0).optional(),
  rayStartParams: z.record(z.string(), z.string()).default({}),
  suspend: z.boolean().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  template: z.object({
    spec: z.object({
      containers: z.array(z.object({
        resources: z.object({ limits: z.record(z.string(), quantity).optional(), requests: z.record(z.string(), quantity).optional() }).passthrough().optional(),
      }).passthrough()).min(1, "the Ray container (containers[0]) is missing"),
    }).passthrough(),
  }).passthrough(),
}).passthrough();

const rayCluster = z.object({
  metadata: z.object({ name: z.string().min(1), namespace: z.string().min(1).optional() }).passthrough(),
  spec: z.object({
    enableInTreeAutoscaling: z.boolean().optional(),
    autoscalerOptions: z.object({
      idleTimeoutSeconds: z.number().finite().gte(0).optional(),
      upscalingMode: z.enum(["Conservative", "Default", "Aggressive"]).optional(),
      // v1 and v2 name Ray's two autoscaler implementations; tsray has one, run for either.
      version: z.enum(["v1", "v2"]).optional(),
    }).passthrough().optional(),
    workerGroupSpecs: z.array(workerGroup).min(1, "no worker group to scale"),
  }).passthrough(),
}).passthrough();

/** The worker group's node resources, or an error naming the group. */
function groupResources(g: z.infer<typeof workerGroup>, at: string): Record<string, number> {
  const ray = g.template.spec.containers[0]!;
  let flags: Record<string, string>;
  try {
    flags = { ...resourceParams(ray.resources as never, { template: {}, ...(g.labels ? { labels: g.labels } : {}) }), ...g.rayStartParams };
  } catch (e) {
    throw new Error(`${at}.template.spec.containers[0].resources: ${(e as Error).message}`);
  }
  let r: Record<string, number>;
  try {
    r = nodeResources(flags);
  } catch (e) {
    throw new Error(`${at}.rayStartParams: ${(e as Error).message}`);
  }
  // Ray's autoscaler needs the CPU count too: without it, `ray start` would count the machine's.
  if (r.CPU === undefined) throw new Error(`${at}: no CPU count for group ${g.groupName}: set rayStartParams num-cpus, or a cpu limit or request on the Ray container`);
  return r;
}

/**
 * The autoscaling of `raw` (a RayCluster as the API server returns it), scaled through the
 * RayCluster itself (provider "kuberay"); `periodSeconds` is how often the autoscaler runs.
 */
export function autoscalingFromRayCluster(raw: unknown, periodSeconds: number): Autoscaling {
  const r = rayCluster.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new Error(`RayCluster: ${issue.path.length > 0 ? issue.path.join(".") : "(object)"}: ${issue.message}`);
  }
  const rc = r.data;
  const where = `RayCluster ${rc.metadata.namespace ?? ""}/${rc.metadata.name}`;
  if (rc.spec.enableInTreeAutoscaling !== true) throw new Error(`${where}: spec.enableInTreeAutoscaling is not true: KubeRay runs no autoscaler for it`);
  const file: AutoscalingFile = {
    enableInTreeAutoscaling: true,
    autoscalerOptions: {
      idleTimeoutSeconds: rc.spec.autoscalerOptions?.idleTimeoutSeconds ?? 60,
      upscalingMode: rc.spec.autoscalerOptions?.upscalingMode ?? "Default",
      periodSeconds,
    },
    workerGroupSpecs: rc.spec.workerGroupSpecs.map((g, i) => {
      const at = `${where}: spec.workerGroupSpecs.${i}`;
      if (g.numOfHosts !== 1) throw new Error(`${at}.numOfHosts: ${g.numOfHosts} is not supported by tsray (one host per replica)`);
      if (g.suspend === true) throw new Error(`${at}.suspend: a suspended worker group is not supported by tsray's autoscaler`);
      return {
        groupName: g.groupName, replicas: g.replicas, minReplicas: g.minReplicas, maxReplicas: g.maxReplicas,
        resources: groupResources(g, at),
        ...(g.idleTimeoutSeconds !== undefined ? { idleTimeoutSeconds: g.idleTimeoutSeconds } : {}),
      };
    }),
    provider: { type: "kuberay", cluster: rc.metadata.name, ...(rc.metadata.namespace ? { namespace: rc.metadata.namespace } : {}) },
  };
  try {
    return parseAutoscaling(file);
  } catch (e) {
    throw new Error((e as Error).message.replace(/^autoscaling configuration: /, `${where}: spec.`));
  }
}
