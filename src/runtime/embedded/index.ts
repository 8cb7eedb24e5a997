// The embedded host's public face: options for ray.init() turned into a cluster config.

import os from "node:os";
import type { ResourceSet } from "../../core/resources.ts";
import { EmbeddedCluster, defaultEmbeddedConfig, defaultStoreCapacity, type EmbeddedConfig, type NodeSpec } from "./cluster.ts";
import type { DrainMode } from "./transport.ts";
import { parseAutoscaling, type Autoscaling, type AutoscalingFile } from "../autoscaler/config.ts";
import { initialNodeIds } from "../autoscaler/embedded-provider.ts";

export { EmbeddedCluster, defaultEmbeddedConfig, defaultStoreCapacity, type EmbeddedConfig, type NodeSpec };

export interface InitOptions {
  /** CPUs of the (single) node. Default: os.availableParallelism(). */
  numCpus?: number;
  numGpus?: number;
  /** Custom resources of the node. */
  resources?: Record<string, number>;
  /** Several logical nodes instead (the first is the head, where the driver runs). */
  nodes?: readonly NodeSpec[];
  /** Object store bytes per node. Default: 30% of memory, at most 2 GiB, per node. */
  storeCapacity?: number;
  /** Write the trace as JSONL here. */
  traceFile?: string;
  /** Keep the trace in memory (cluster.trace). */
  keepTrace?: boolean;
  /** Worker threads started ahead of need. Default: the cluster's CPUs (at most 2 × cores). */
  prestartWorkers?: number;
  /** Connect to daemons started with `tsray start` instead (host:port of the GCS; also $TSRAY_ADDRESS). */
  address?: string;
  /**
   * Run an autoscaler that adds and removes logical worker nodes in this process: the same
   * KubeRay-shaped configuration as `tsray start --head --autoscaling-config` (docs/autoscaling.md),
   * without `provider` (the embedded cluster is its own). Each group starts with `replicas`
   * (default `minReplicas`) nodes, named `<groupName>-<n>`.
   */
  autoscalingConfig?: AutoscalingFile;
  /** Advanced: transport and model timing. */
  config?: Partial<Pick<EmbeddedConfig, "heartbeatMs" | "viewPeriodMs" | "heartbeatMissLimit" | "chunkBytes" | "maxInlineBytes" | "maxPendingLeases" | "maxTasksInFlightPerWorker" | "pipelineMaxTaskMs" | "storeFullTimeoutMs" | "quietTimeoutMs" | "logWorkerCrashes" | "spinMicros">> & { drain?: DrainMode };
}

function checkCount(name: string, v: number | undefined): void {
  if (v !== undefined && !(Number.isFinite(v) && v >= 0)) throw new TypeError(`ray.init: ${name} must be a number >= 0, got ${v}`);
}

export function embeddedConfig(opts: InitOptions = {}): EmbeddedConfig {
  if (opts.address !== undefined) {
    // ray.init() routes an address to the daemon host before it gets here.
    throw new Error(`an embedded cluster has no address (got "${opts.address}"): connect to daemons with ray.init({ address })`);
  }
  checkCount("numCpus", opts.numCpus);
  checkCount("numGpus", opts.numGpus);
  let nodes: NodeSpec[];
  if (opts.nodes !== undefined) {
    if (opts.numCpus !== undefined || opts.numGpus !== undefined || opts.resources !== undefined) {
      throw new TypeError("ray.init: give either nodes or numCpus/numGpus/resources, not both");
    }
    if (!Array.isArray(opts.nodes) || opts.nodes.length === 0) throw new TypeError("ray.init: nodes must be a non-empty array of { id, resources }");
    nodes = opts.nodes.map((n) => ({ id: n.id, resources: { ...n.resources } }));
  } else {
    const r: ResourceSet = { CPU: opts.numCpus ?? os.availableParallelism(), ...(opts.numGpus ? { GPU: opts.numGpus } : {}), ...(opts.resources ?? {}) };
    nodes = [{ id: "head", resources: r }];
  }
  const autoscaling = opts.autoscalingConfig === undefined ? undefined : embeddedAutoscaling(opts.autoscalingConfig, nodes);
  if (autoscaling) nodes.push(...autoscaling.nodes);
  const cpus = nodes.reduce((s, n) => s + (n.resources.CPU ?? 0), 0);
  const storeCapacity = opts.storeCapacity ?? defaultStoreCapacity(nodes.length);
  if (!(Number.isFinite(storeCapacity) && storeCapacity > 0)) throw new TypeError(`ray.init: storeCapacity must be a positive number of bytes, got ${storeCapacity}`);
  const { drain, ...timing } = opts.config ?? {};
  return {
    ...defaultEmbeddedConfig,
    ...timing,
    drain: drain ?? defaultEmbeddedConfig.drain,
    nodes,
    storeCapacity,
    traceFile: opts.traceFile,
    keepTrace: opts.keepTrace ?? false,
    prestartWorkers: opts.prestartWorkers ?? Math.min(Math.ceil(cpus), 2 * os.availableParallelism()),
    ...(autoscaling ? { autoscaling: { config: autoscaling.config, initial: autoscaling.initial } } : {}),
  };
}

/** The autoscaling configuration checked for the embedded host, and the worker nodes each group starts with. */
function embeddedAutoscaling(raw: AutoscalingFile, nodes: readonly NodeSpec[]): { config: Autoscaling; nodes: NodeSpec[]; initial: { node: string; group: string }[] } {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new TypeError("ray.init: autoscalingConfig must be an object shaped like a RayCluster's autoscaling fields (docs/autoscaling.md)");
  if ((raw as { provider?: unknown }).provider !== undefined) throw new TypeError("ray.init: autoscalingConfig.provider is for `tsray start` daemons: the embedded cluster adds its own logical nodes");
  let config: Autoscaling;
  try {
    config = parseAutoscaling(raw);
  } catch (e) {
    throw new TypeError(`ray.init: autoscalingConfig: ${(e as Error).message.replace(/^autoscaling configuration: /, "")}`);
  }
  const added: NodeSpec[] = [];
  const initial: { node: string; group: string }[] = [];
  for (const g of config.config.groups) {
    for (const id of initialNodeIds(g.name, config.initialReplicas.get(g.name) ?? 0)) {
      if (nodes.some((n) => n.id === id)) throw new TypeError(`ray.init: node id "${id}" is taken by worker group ${g.name}'s nodes: rename the node or the group`);
      added.push({ id, resources: { ...g.resources } });
      initial.push({ node: id, group: g.name });
    }
  }
  return { config, nodes: added, initial };
}

export function startEmbedded(opts: InitOptions = {}): Promise<EmbeddedCluster> {
  return EmbeddedCluster.start(embeddedConfig(opts));
}
