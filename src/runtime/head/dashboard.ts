// The dashboard port of the head (8265 by default): Ray's Jobs API, the GCS health probe, the
// state API, the timeline, the GCS's metrics and the web page. Everything but the probe and the
// metrics requires the cluster token (Ray's unauthenticated job API was an exploited hole):
// `Authorization: Bearer TOKEN`, Ray's `x-ray-authorization: Bearer TOKEN`, or `?token=TOKEN`.

import http from "node:http";
import type { Socket } from "node:net";
import type { Registry } from "prom-client";
import { tokensEqual } from "../daemon/transport.ts";
import type { ConnectionGuard, ConnectionLimits } from "../daemon/limits.ts";
import { HttpError, guardServer, listen, readJson, sendJson, sendText, type Listening } from "./http.ts";
import type { JobManager } from "./jobs.ts";
import { requestToken } from "./node-http.ts";
import { DASHBOARD_PAGE } from "./page.ts";
import { RESOURCE_KINDS, parseFilter, type ResourceKind, type StateApi } from "./state-api.ts";
import { acceptWebSocket } from "./websocket.ts";

/** The Jobs API version and the Ray release whose Jobs API this one follows (Ray's clients require ≥ 1.9). */
export const JOBS_API_VERSION = "4";
export const RAY_API_COMPAT = "2.53.0";

export interface DashboardOptions {
  readonly host: string;
  readonly port: number;
  readonly token: string;
  readonly status: () => object;
  readonly jobs: JobManager;
  readonly state: StateApi;
  readonly metrics: Registry;
  /** Why the GCS is not healthy (undefined: it is). */
  readonly gcsProblem: () => Promise<string | undefined>;
  readonly sessionName: string;
  readonly version: string;
  /** Bounds on connections that have not shown the token (limits.ts defaults). */
  readonly limits?: Partial<ConnectionLimits>;
  readonly log?: (line: string) => void;
}

export function startDashboard(o: DashboardOptions): Promise<Listening> {
  const server = http.createServer((req, res) => {
    handle(o, guard, req, res).catch((e: Error) => {
      // A bad %-escape in the path is the client's mistake.
      const status = e instanceof HttpError ? e.status : e instanceof URIError ? 400 : 500;
      if (!res.headersSent) sendText(res, status, `${e.message}\n`);
      else res.end();
    });
  });
  const guard = guardServer(server, "dashboard", o.limits, o.log);
  server.on("upgrade", (req, socket) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const m = /^\/api\/jobs\/([^/]+)\/logs\/tail$/.exec(url.pathname);
    if (!m || !tokensEqual(requestToken(req, url), o.token)) {
      socket.end(`HTTP/1.1 ${m ? "401 Unauthorized" : "404 Not Found"}\r\nconnection: close\r\n\r\n`);
      return;
    }
    guard.authenticated(socket as Socket); // a log tail stays open as long as the job runs
    const id = decodeURIComponent(m[1]);
    if (!o.jobs.get(id)) { socket.end("HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n"); return; }
    const ws = acceptWebSocket(req, socket);
    if (!ws) return;
    const stop = o.jobs.tail(id, (text) => ws.send(text), () => ws.close());
    ws.onClose(stop);
  });
  return listen(server, o.host, o.port);
}

async function handle(o: DashboardOptions, guard: ConnectionGuard, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://localhost");
  const path = url.pathname;
  const method = req.method ?? "GET";
  // Unauthenticated: what probes and scrapers call.
  if (path === "/api/gcs_healthz") {
    const problem = await o.gcsProblem();
    return problem === undefined ? sendText(res, 200, "success") : sendText(res, 503, `${problem}\n`);
  }
  if (path === "/metrics") return sendText(res, 200, await o.metrics.metrics(), o.metrics.contentType);
  if (!tokensEqual(requestToken(req, url), o.token)) {
    guard.refused("token", "a request without the cluster token");
    res.writeHead(401, { "content-type": "text/plain", "www-authenticate": "Bearer" })
      .end("tsray dashboard: the cluster token is required (Authorization: Bearer TOKEN, or ?token=TOKEN)\n");
    return;
  }
  guard.authenticated(req.socket);
  const allow = (...methods: string[]) => {
    if (!methods.includes(method)) throw new HttpError(405, `${method} ${path}: allowed ${methods.join(", ")}`);
  };
  if (path === "/") { allow("GET"); return sendText(res, 200, DASHBOARD_PAGE, "text/html; charset=utf-8"); }
  if (path === "/api/status") { allow("GET"); return sendJson(res, 200, o.status()); }
  if (path === "/api/version") {
    allow("GET");
    return sendJson(res, 200, { version: JOBS_API_VERSION, ray_version: RAY_API_COMPAT, ray_commit: `tsray-${o.version}`, session_name: o.sessionName, tsray_version: o.version });
  }
  if (path === "/api/jobs" || path === "/api/jobs/") {
    allow("GET", "POST");
    if (method === "GET") return sendJson(res, 200, o.jobs.list());
    return sendJson(res, 200, await o.jobs.submit(await readJson(req)));
  }
  const job = /^\/api\/jobs\/([^/]+)(\/logs|\/stop)?\/?$/.exec(path);
  if (job) {
    const id = decodeURIComponent(job[1]);
    if (job[2] === "/logs") { allow("GET"); return sendJson(res, 200, { logs: o.jobs.logs(id) }); }
    if (job[2] === "/stop") { allow("POST"); return sendJson(res, 200, { stopped: await o.jobs.stop(id) }); }
    allow("GET", "DELETE");
    if (method === "DELETE") return sendJson(res, 200, { deleted: await o.jobs.delete(id) });
    const details = o.jobs.get(id);
    if (!details) throw new HttpError(404, `Job ${id} does not exist`);
    return sendJson(res, 200, details);
  }
  if (path === "/api/v0/timeline") { allow("GET"); return sendJson(res, 200, await o.state.timeline()); }
  const state = /^\/api\/v0\/([\w-]+)(?:\/(summarize|[^/]+))?\/?$/.exec(path);
  if (state) {
    allow("GET");
    const kind = state[1] as ResourceKind;
    if (!RESOURCE_KINDS.includes(kind)) throw new HttpError(404, `no such resource ${JSON.stringify(state[1])} (resources: ${RESOURCE_KINDS.join(", ")}, timeline)`);
    if (state[2] === "summarize") {
      if (kind !== "tasks" && kind !== "actors" && kind !== "objects") throw new HttpError(400, "summaries exist for tasks, actors and objects");
      return sendJson(res, 200, await o.state.summary(kind));
    }
    if (state[2] !== undefined) return sendJson(res, 200, await o.state.get(kind, decodeURIComponent(state[2])));
    const limit = Number(url.searchParams.get("limit") ?? 100);
    if (!Number.isInteger(limit) || limit < 1) throw new HttpError(400, `limit must be a positive integer, got ${url.searchParams.get("limit")}`);
    return sendJson(res, 200, await o.state.list(kind, url.searchParams.getAll("filter").map(parseFilter), limit));
  }
  throw new HttpError(404, `not found: ${path}`);
}
