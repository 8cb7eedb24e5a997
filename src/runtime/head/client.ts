// A client of the head's dashboard port (jobs, state API, timeline), for the CLI and for code
// (src/api/state.ts). The dashboard is found from the address given (http://HOST:PORT, as Ray's
// job CLI takes it), else $TSRAY_DASHBOARD_ADDRESS, else by asking the GCS of this machine's
// cluster (or $TSRAY_ADDRESS) where it serves it.

import { resolveAddress, resolveToken } from "../daemon/session.ts";
import { getStatus } from "../daemon/transport.ts";

export class CliError extends Error {
  constructor(message: string, readonly code = 1) { super(message); }
}

export interface DashboardClient {
  readonly base: string;
  request<T = unknown>(method: "GET" | "POST" | "DELETE", path: string, body?: unknown): Promise<T>;
}

/** The HTTP status of a failed request, for callers that tell "not found" apart. */
export class HttpStatusError extends CliError {
  constructor(readonly status: number, message: string) { super(message); }
}

export async function dashboardClient(address: string | undefined): Promise<DashboardClient> {
  const token = resolveToken();
  if (!token) throw new CliError("no cluster token: set TSRAY_TOKEN (`tsray start --head` printed it)", 2);
  let base = address ?? process.env.TSRAY_DASHBOARD_ADDRESS;
  if (base === undefined) {
    const gcs = resolveAddress();
    if (!gcs) throw new CliError("no cluster: give --address http://HOST:8265, set TSRAY_DASHBOARD_ADDRESS, or start one with `tsray start --head`", 2);
    let status: { dashboard?: string };
    try {
      status = (await getStatus(gcs, token, 5000)) as typeof status;
    } catch (e) {
      throw new CliError(`cannot reach the GCS at ${gcs}: ${(e as Error).message}`);
    }
    if (!status.dashboard) throw new CliError(`the cluster at ${gcs} serves no dashboard (started with --dashboard-port -1?)`);
    base = status.dashboard;
  }
  if (!/^https?:\/\//.test(base)) base = `http://${base}`;
  base = base.replace(/\/+$/, "");
  const root = base;
  return {
    base,
    async request<T>(method: "GET" | "POST" | "DELETE", path: string, body?: unknown): Promise<T> {
      let res: Response;
      try {
        res = await fetch(root + path, {
          method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
          body: body !== undefined ? JSON.stringify(body) : undefined,
        });
      } catch (e) {
        throw new CliError(`cannot reach the dashboard at ${root}: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}`);
      }
      const text = await res.text();
      if (!res.ok) throw new HttpStatusError(res.status, `${method} ${path}: ${res.status} ${text.trim()}`);
      return JSON.parse(text) as T;
    },
  };
}
