// The autoscaling configuration, shaped like a KubeRay RayCluster's autoscaling fields
// (`enableInTreeAutoscaling`, `autoscalerOptions`, `workerGroupSpecs[]` with min/max replicas),
// checked field by field: anything wrong or unknown is refused with an error naming the field.

import { z } from "zod";
import type { AutoscalerConfig } from "../../core/autoscaler/autoscaler.ts";

/** KubeRay's upscalingMode and the upscaling speed Ray's KubeRay integration gives each. */
const UPSCALING_SPEED = { Conservative: 1, Default: 1000, Aggressive: 1000 } as const;

const seconds = z.number().finite().gte(0);
const resources = z.record(z.string().min(1), z.number().finite().gte(0));

const groupSchema = z.object({
  groupName: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "a group name is letters, digits, '.', '_' or '-'"),
  /** The replicas the group starts with (KubeRay's `replicas`); the autoscaler owns it afterwards. */
  replicas: z.number().int().gte(0).optional(),
  minReplicas: z.number().int().gte(0).default(0),
  maxReplicas: z.number().int().gte(0).default(2147483647),
  /** Each node's resources (KubeRay reads them from the pod's limits and `rayStartParams`). */
  resources: resources.refine((r) => Object.values(r).some((v) => v > 0), "a worker node needs some resource"),
  idleTimeoutSeconds: seconds.optional(),
}).strict();

const configSchema = z.object({
  enableInTreeAutoscaling: z.boolean(),
  autoscalerOptions: z.object({
    idleTimeoutSeconds: seconds.default(60),
    upscalingMode: z.enum(["Conservative", "Default", "Aggressive"]).default("Default"),
    /** tsray's own: how often the autoscaler reads the cluster (Ray's monitor: every 5 s). */
    periodSeconds: z.number().finite().gt(0).default(5),
  }).strict().default({}),
  workerGroupSpecs: z.array(groupSchema).min(1),
  /**
   * tsray's own: who starts and stops the nodes on the daemons. "local" (default): raylet
   * processes on the head's machine; "kuberay": the RayCluster's worker groups; "deployments":
   * a Deployment `<cluster>-<group>` per group. Namespace and cluster default to KubeRay's
   * RAY_CLUSTER_NAMESPACE and RAY_CLUSTER_NAME.
   */
  provider: z.discriminatedUnion("type", [
    z.object({ type: z.literal("local") }).strict(),
    z.object({ type: z.enum(["kuberay", "deployments"]), namespace: z.string().min(1).optional(), cluster: z.string().min(1).optional() }).strict(),
  ]).default({ type: "local" }),
}).strict();

export type AutoscalingFile = z.input<typeof configSchema>;

/** The autoscaler's configuration, its period, and the replicas each group starts with. */
export interface Autoscaling {
  readonly config: AutoscalerConfig;
  readonly periodMs: number;
  readonly initialReplicas: ReadonlyMap<string, number>;
  readonly provider: { readonly type: "local" } | { readonly type: "kuberay" | "deployments"; readonly namespace?: string; readonly cluster?: string };
}

/** Checks a parsed JSON (or YAML) configuration; throws an Error naming the first wrong field. */
export function parseAutoscaling(raw: unknown): Autoscaling {
  const r = configSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue.path.length > 0 ? issue.path.join(".") : "(configuration)";
    throw new Error(`autoscaling configuration: ${where}: ${issue.message}`);
  }
  const c = r.data;
  if (!c.enableInTreeAutoscaling) throw new Error("autoscaling configuration: enableInTreeAutoscaling is false (remove --autoscaling-config to run without an autoscaler)");
  const names = new Set<string>();
  c.workerGroupSpecs.forEach((g, i) => {
    const at = `autoscaling configuration: workerGroupSpecs.${i}`;
    if (names.has(g.groupName)) throw new Error(`${at}.groupName: "${g.groupName}" appears twice`);
    names.add(g.groupName);
    if (g.minReplicas > g.maxReplicas) throw new Error(`${at}.minReplicas: ${g.minReplicas} is more than maxReplicas ${g.maxReplicas}`);
    if (g.replicas !== undefined && (g.replicas < g.minReplicas || g.replicas > g.maxReplicas)) {
      throw new Error(`${at}.replicas: ${g.replicas} is outside [minReplicas ${g.minReplicas}, maxReplicas ${g.maxReplicas}]`);
    }
  });
  const opts = c.autoscalerOptions;
  return {
    config: {
      groups: c.workerGroupSpecs.map((g) => ({
        name: g.groupName, minReplicas: g.minReplicas, maxReplicas: g.maxReplicas, resources: g.resources,
        idleTimeoutMs: (g.idleTimeoutSeconds ?? opts.idleTimeoutSeconds) * 1000,
      })),
      upscalingSpeed: UPSCALING_SPEED[opts.upscalingMode],
      drainTimeoutMs: 3 * opts.periodSeconds * 1000,
    },
    periodMs: opts.periodSeconds * 1000,
    initialReplicas: new Map(c.workerGroupSpecs.map((g) => [g.groupName, g.replicas ?? g.minReplicas])),
    provider: c.provider,
  };
}
