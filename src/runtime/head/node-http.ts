// A node's two HTTP ports, as Ray's: the agent port (52365 by default), which KubeRay probes
// (`/api/local_raylet_healthz`, and `/api/healthz` from Ray 2.53), and the metrics port (8080 by
// default), which Prometheus scrapes. Neither needs the cluster token: they reveal only health
// and counters, and probes and scrapers carry no credentials (as in Ray).

import http from "node:http";
import type { Registry } from "prom-client";
import type { TraceEvent } from "../../../spec/trace.ts";
import { tokensEqual } from "../daemon/transport.ts";
import { guardServer, listen, sendJson, sendText, type Listening } from "./http.ts";

export interface NodeAgentOptions {
  /** Why this node's raylet is not working, or undefined when it is. */
  readonly rayletProblem: () => string | undefined;
  /** On the head: why the GCS is not healthy, or undefined when it is. */
  readonly gcsProblem?: () => Promise<string | undefined>;
  /** The node's recent trace events, for the dashboard's timeline (these need the token). */
  readonly events: () => readonly TraceEvent[];
  readonly token: string;
}

/** The cluster token from `Authorization: Bearer`, Ray's `x-ray-authorization: Bearer`, or `?token=`. */
export function requestToken(req: http.IncomingMessage, url: URL): string {
  const header = req.headers.authorization ?? req.headers["x-ray-authorization"];
  const bearer = /^Bearer (.+)$/.exec(typeof header === "string" ? header : "")?.[1];
  return bearer ?? url.searchParams.get("token") ?? "";
}

export function startNodeAgent(o: NodeAgentOptions & Port): Promise<Listening> {
  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? "/", "http://localhost");
      const path = url.pathname;
      if (req.method !== "GET") return sendText(res, 405, "only GET\n");
      if (path === "/api/v0/trace_events") {
        if (!tokensEqual(requestToken(req, url), o.token)) return sendText(res, 401, "the cluster token is required\n");
        return sendJson(res, 200, o.events());
      }
      if (path !== "/api/local_raylet_healthz" && path !== "/api/healthz") return sendText(res, 404, "not found\n");
      const problem = o.rayletProblem() ?? (path === "/api/healthz" ? await o.gcsProblem?.() : undefined);
      if (problem === undefined) sendText(res, 200, "success");
      else sendText(res, 503, `${problem}\n`);
    })().catch((e: Error) => sendText(res, 500, `${e.message}\n`));
  });
  guardServer(server, "agent");
  return listenPreferring(server, o);
}

export function startMetricsServer(o: { registry: Registry; more?: (text: string) => Promise<string> } & Port): Promise<Listening> {
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    if (req.method !== "GET" || path !== "/metrics") return sendText(res, 404, "metrics are at GET /metrics\n");
    o.registry.metrics().then((text) => o.more?.(text) ?? text)
      .then((text) => sendText(res, 200, text, o.registry.contentType), (e: Error) => sendText(res, 500, `${e.message}\n`));
  });
  guardServer(server, "metrics");
  return listenPreferring(server, o);
}

interface Port {
  readonly host: string;
  readonly port: number;
  /** The port was asked for: if taken, fail. Otherwise (a default) take any free port instead. */
  readonly explicit: boolean;
}

/** Several nodes on one machine cannot all have the default port: the later ones take a free one. */
async function listenPreferring(server: http.Server, p: Port): Promise<Listening> {
  try {
    return await listen(server, p.host, p.port);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EADDRINUSE" || p.explicit) throw e;
    return listen(server, p.host, 0);
  }
}
