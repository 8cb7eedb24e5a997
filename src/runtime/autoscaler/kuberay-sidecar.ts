// `ray kuberay-autoscaler`: the autoscaler KubeRay runs in the head pod's `autoscaler` sidecar
// when a RayCluster has `enableInTreeAutoscaling: true`. As Ray's, it waits for the GCS (the
// same pod's network: 127.0.0.1:6379), reads the RayCluster from the API server (in-cluster
// service account, or KUBECONFIG when set), derives the worker groups from it, and scales them by
// patching the RayCluster (KubernetesProvider, mode "raycluster"). It is the same AutoscalerHost
// and model as on the head, whose two GCS ports here go over the network (RemoteGcs).

import * as grpc from "@grpc/grpc-js";
import type { KubeConfig } from "@kubernetes/client-node";
import { autoscalingFromRayCluster } from "../../k8s/raycluster-autoscaling.ts";
import { RemoteGcs } from "../daemon/autoscaling-service.ts";
import { ServingStatus, SERVICE_NAMES, healthCheck } from "../daemon/transport.ts";
import { AutoscalerHost } from "./host.ts";
import { KubernetesProvider, REQUEST_TIMEOUT_MS, requestOptions } from "./kubernetes-provider.ts";

export interface SidecarOptions {
  readonly cluster: string;
  readonly namespace: string;
  /** The GCS (default 127.0.0.1:6379: the head's, in the same pod). */
  readonly gcs: string;
  readonly token: string;
  readonly kubeConfig: KubeConfig;
  /** How often the autoscaler runs (Ray's AUTOSCALER_UPDATE_INTERVAL_S, 5 s). */
  readonly periodSeconds: number;
  /** How long to wait between checks of the GCS while it does not answer (Ray's: 5 s). */
  readonly healthBackoffMs?: number;
  /** A request to the API server not answered within this long fails (Ray's KUBERAY_REQUEST_TIMEOUT_S, 60 s). */
  readonly requestTimeoutMs?: number;
  readonly log: (line: string) => void;
}

/** Whether the GCS at `address` serves (as `ray health-check`): undefined if so, else why not. */
export async function gcsProblem(address: string, timeoutMs = 5_000): Promise<string | undefined> {
  try {
    const [server, gcs] = await Promise.all([healthCheck(address, "", timeoutMs), healthCheck(address, SERVICE_NAMES.Gcs, timeoutMs)]);
    if (server === ServingStatus.SERVING && gcs === ServingStatus.SERVING) return undefined;
    return `the GCS at ${address} is not serving (server ${ServingStatus[server]}, ${SERVICE_NAMES.Gcs} ${ServingStatus[gcs]})`;
  } catch (e) {
    return `the GCS at ${address} does not answer: ${(e as Error).message}`;
  }
}

/** Ray's sidecar tries this often, this far apart, to read the RayCluster before giving up. */
const RAYCLUSTER_TRIES = 5;

async function readRayCluster(o: SidecarOptions): Promise<unknown> {
  const { CustomObjectsApi } = await import("@kubernetes/client-node");
  const api = o.kubeConfig.makeApiClient(CustomObjectsApi);
  for (let i = 1; ; i++) {
    try {
      return await api.getNamespacedCustomObject({ group: "ray.io", version: "v1", namespace: o.namespace, plural: "rayclusters", name: o.cluster }, requestOptions(o.requestTimeoutMs ?? REQUEST_TIMEOUT_MS));
    } catch (e) {
      const why = `reading RayCluster ${o.namespace}/${o.cluster}: ${(e as { code?: number }).code === 404 ? "not found" : (e as Error).message}`;
      if (i >= RAYCLUSTER_TRIES) throw new Error(why);
      o.log(`ray kuberay-autoscaler: ${why}; trying again (${i} of ${RAYCLUSTER_TRIES})`);
      await new Promise((r) => setTimeout(r, o.healthBackoffMs ?? 5_000));
    }
  }
}

/** Starts the sidecar's autoscaler; resolves once it runs, with its stop. Rejects, naming why, if it may not run. */
export async function runKubeRayAutoscaler(o: SidecarOptions): Promise<{ stop(): Promise<void> }> {
  for (let problem = await gcsProblem(o.gcs); problem !== undefined; problem = await gcsProblem(o.gcs)) {
    o.log(`ray kuberay-autoscaler: ${problem}; checking again in ${(o.healthBackoffMs ?? 5_000) / 1000} s`);
    await new Promise((r) => setTimeout(r, o.healthBackoffMs ?? 5_000));
  }
  const autoscaling = autoscalingFromRayCluster(await readRayCluster(o), o.periodSeconds);
  const gcs = new RemoteGcs(o.gcs, o.token);
  // Refused here, before anything is patched, if the head runs its own autoscaler or the token is wrong.
  await gcs.state().catch((e: Error & { code?: number }) => {
    if (e.code !== grpc.status.FAILED_PRECONDITION && e.code !== grpc.status.UNAUTHENTICATED) return; // read again each period
    gcs.close();
    throw new Error(`the GCS at ${o.gcs} refuses this autoscaler: ${e.message}`);
  });
  const provider = new KubernetesProvider({ kubeConfig: o.kubeConfig, namespace: o.namespace, cluster: o.cluster, mode: "raycluster", requestTimeoutMs: o.requestTimeoutMs, log: o.log });
  await provider.discover();
  let failing: string | undefined;
  const host: AutoscalerHost = new AutoscalerHost(autoscaling, {
    now: () => Date.now(),
    // The decisions, one line each, in the container's log (the head's trace does not see them).
    trace: (b) => o.log(`ray kuberay-autoscaler: ${JSON.stringify(b)}`),
    defer: (fn) => { setImmediate(fn); },
    every: (ms, fn) => { const t = setInterval(fn, ms); return () => clearInterval(t); },
    cluster: () => gcs.state(host.status()).then((s) => {
      if (failing !== undefined) o.log(`ray kuberay-autoscaler: the GCS answers again`);
      failing = undefined;
      return s;
    }, (e: Error) => {
      // Said once per outage: the autoscaler waits (no decision on a view it does not have).
      if (failing !== e.message) o.log(`ray kuberay-autoscaler: reading the GCS: ${e.message}; waiting`);
      failing = e.message;
      return undefined;
    }),
    drain: (node, reason) => { gcs.drain(node, reason).catch((e: Error) => o.log(`ray kuberay-autoscaler: drain ${node}: ${e.message}`)); },
  }, provider);
  host.start();
  o.log(`ray kuberay-autoscaler: scaling RayCluster ${o.namespace}/${o.cluster} through the GCS at ${o.gcs}: ${autoscaling.config.groups.map((g) => `${g.name} [${g.minReplicas}, ${g.maxReplicas}] ${JSON.stringify(g.resources)} idle ${g.idleTimeoutMs / 1000} s`).join(", ")}`);
  return { stop: async () => { host.stop(); gcs.close(); } };
}
