// What the head serves beside the GCS: the job manager (its records in the GCS's storage), the
// state API, the GCS's metrics and the dashboard port that exposes them all.

import path from "node:path";
import type { GcsDaemon } from "../daemon/gcs-daemon.ts";
import { startDashboard } from "./dashboard.ts";
import { localAddress, type Listening } from "./http.ts";
import { gcsHealth } from "./gcs-health.ts";
import { JobManager } from "./jobs.ts";
import type { GcsMetrics } from "./metrics.ts";
import { StateApi } from "./state-api.ts";

export interface HeadServicesOptions {
  readonly gcs: GcsDaemon;
  readonly metrics: GcsMetrics;
  readonly head: string;
  readonly token: string;
  /** host:port drivers reach the GCS at. */
  readonly address: string;
  readonly dashboardHost: string;
  readonly dashboardPort: number;
  /** The session directory: job logs go to its `logs/`. */
  readonly sessionDir: string;
  readonly version: string;
  readonly log: (line: string) => void;
}

export interface HeadServices {
  readonly jobs: JobManager;
  readonly dashboard: Listening;
  close(): Promise<void>;
}

/** How long the GCS probe may take before the GCS counts as unhealthy (Ray's: 0.1 s; storage writes need more). */
const GCS_PROBE_MS = 2_000;

export async function startHeadServices(o: HeadServicesOptions): Promise<HeadServices> {
  let dashboardPort = o.dashboardPort;
  const jobs = await JobManager.start({
    kv: { load: () => o.gcs.storedRows("job:"), put: (id, rec) => o.gcs.putRow(id, rec) },
    logDir: path.join(o.sessionDir, "logs"), address: o.address, token: o.token, nodeId: o.head,
    dashboardAddress: () => `${localAddress(o.dashboardHost)}:${dashboardPort}`, log: o.log, trace: (body) => o.gcs.trace(body),
  });
  const state = new StateApi({
    token: o.token, head: o.head, status: () => o.gcs.status() as ReturnType<StateApiStatus>, actors: () => o.gcs.actorRows(), placementGroups: () => o.gcs.placementGroupRows(), jobs: () => jobs.list(),
  });
  let dashboard: Listening;
  try {
    dashboard = await startDashboard({
      host: o.dashboardHost, port: o.dashboardPort, token: o.token, status: () => o.gcs.status(), jobs, state,
      metrics: o.metrics.registry, gcsProblem: gcsHealth(o.gcs, GCS_PROBE_MS),
      sessionName: path.basename(o.sessionDir), version: o.version,
    });
  } catch (e) {
    await jobs.close();
    throw e;
  }
  dashboardPort = dashboard.port;
  return { jobs, dashboard, close: async () => { await dashboard.close(); await jobs.close(); } };
}

type StateApiStatus = ConstructorParameters<typeof StateApi>[0]["status"];
