// What a node daemon serves besides its raylet: the agent port (health probes, its trace events
// for the timeline) and the metrics port, both fed by the node's live state (node-state.ts).

import os from "node:os";
import { ServingStatus, getStatus, healthCheck } from "../daemon/transport.ts";
import type { RayletDaemon } from "../daemon/raylet-daemon.ts";
import type { Listening } from "./http.ts";
import { mergeExposition, nodeMetrics } from "./metrics.ts";
import { startMetricsServer, startNodeAgent } from "./node-http.ts";
import type { NodeState } from "./node-state.ts";

/** Rows of each kind a node puts in its status reply (the state API's page size at most). */
export const STATUS_ROWS = 1000;

export interface NodeServicesOptions {
  readonly host: string;
  readonly agentPort: number;
  readonly metricsPort: number;
  /** Which ports were given on the command line (a busy default is replaced by a free port). */
  readonly explicit: { readonly agent: boolean; readonly metrics: boolean };
  readonly token: string;
  /** host:port of the GCS: the head's /api/healthz checks it too. */
  readonly gcs: string;
  readonly isHead: boolean;
  readonly storeCapacity: number;
}

export interface NodeServices {
  readonly agentPort: number;
  readonly metricsPort: number;
  close(): Promise<void>;
}

export async function startNodeServices(daemon: RayletDaemon, state: NodeState, o: NodeServicesOptions): Promise<NodeServices> {
  const agent = await startNodeAgent({
    host: o.host, port: o.agentPort, explicit: o.explicit.agent, token: o.token,
    rayletProblem: () => {
      if (!daemon.running) return `node ${daemon.node}: its raylet has stopped`;
      if (daemon.view && !daemon.view.alive) return `node ${daemon.node}: the GCS declared it dead`;
      if (state.fenced) return `node ${daemon.node}: fenced (the GCS declared it dead)`;
      return undefined;
    },
    gcsProblem: o.isHead ? async () => {
      try {
        const st = await healthCheck(o.gcs, "", 1000);
        return st === ServingStatus.SERVING ? undefined : `the GCS at ${o.gcs} is not serving`;
      } catch (e) {
        return `the GCS at ${o.gcs} does not answer: ${(e as Error).message}`;
      }
    } : undefined,
    events: () => state.recentEvents(),
  });
  let metrics: Listening;
  try {
    metrics = await startMetricsServer({
      host: o.host, port: o.metricsPort, explicit: o.explicit.metrics,
      registry: nodeMetrics({ node: daemon.node, state, storeCapacity: o.storeCapacity, resources: () => daemon.view }),
      more: o.isHead ? (text) => withGcsMetrics(text, o.gcs, o.token) : undefined,
    });
  } catch (e) {
    await agent.close();
    throw e;
  }
  return {
    agentPort: agent.port, metricsPort: metrics.port,
    close: async () => { await Promise.all([agent.close(), metrics.close()]); },
  };
}

/**
 * The head's metrics port also carries the GCS's metrics (from the dashboard's /metrics, found
 * through the GCS's status), as Ray's head exports the GCS's on 8080. Without them if the GCS
 * does not answer within a second: a scrape then shows the node alone.
 */
async function withGcsMetrics(text: string, gcs: string, token: string): Promise<string> {
  try {
    const { dashboard } = (await getStatus(gcs, token, 1000)) as { dashboard?: string };
    if (!dashboard) return text;
    const res = await fetch(`http://${dashboard}/metrics`, { signal: AbortSignal.timeout(1000) });
    return res.ok ? mergeExposition(text, await res.text()) : text;
  } catch {
    return text;
  }
}

/** The node's part of its status reply: HTTP ports, store usage, and its latest task and object rows. */
export function nodeStatus(state: NodeState, services: NodeServices | undefined, storeCapacity: number): object {
  const tasks = state.taskRows();
  const objects = [...state.objects.values()];
  return {
    agentPort: services?.agentPort, metricsPort: services?.metricsPort,
    store: { capacity: storeCapacity, ...state.storeBytes(), objects: state.objects.size },
    memory: { rss: process.memoryUsage.rss(), total: os.totalmem(), available: os.freemem() },
    tasks: tasks.slice(-STATUS_ROWS), objects: objects.slice(-STATUS_ROWS),
    counters: { ...state.counters, finished: Object.fromEntries(state.counters.finished) },
  };
}
