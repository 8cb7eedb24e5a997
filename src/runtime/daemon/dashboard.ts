// A small dashboard on the head (default port 8265): the cluster's status as a page and as
// JSON. Like every daemon call it requires the cluster token (Ray's unauthenticated job API was
// an exploited hole): `Authorization: Bearer TOKEN`, or `?token=TOKEN` for a browser.

import http from "node:http";
import { tokensEqual } from "./transport.ts";
import { ConnectionGuard, DEFAULT_LIMITS, type ConnectionLimits } from "./limits.ts";

export interface Dashboard {
  readonly port: number;
  close(): Promise<void>;
}

export function startDashboard(opts: { host?: string; port: number; token: string; status: () => object; limits?: Partial<ConnectionLimits>; log?: (line: string) => void }): Promise<Dashboard> {
  // A connection is on the guard's clock until it sends a request with the token (limits.ts).
  const guard = new ConnectionGuard("dashboard", { ...DEFAULT_LIMITS, ...opts.limits }, opts.log ?? ((l) => console.error(`tsray: ${l}`)));
  const server = http.createServer((req, res) => {
    try {
      const url = new URL(req.url ?? "/", "http://localhost");
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
      const token = bearer ?? url.searchParams.get("token") ?? "";
      if (!tokensEqual(token, opts.token)) {
        res.writeHead(401, { "content-type": "text/plain", "www-authenticate": "Bearer" }).end("tsray dashboard: the cluster token is required (Authorization: Bearer TOKEN, or ?token=TOKEN)\n");
        return;
      }
      guard.authenticated(req.socket);
      if (req.method !== "GET") { res.writeHead(405, { allow: "GET" }).end(); return; }
      const status = opts.status();
      if (url.pathname === "/api/status") { res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(status)); return; }
      if (url.pathname !== "/") { res.writeHead(404, { "content-type": "text/plain" }).end("not found\n"); return; }
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(page(status));
    } catch (e) {
      res.writeHead(500, { "content-type": "text/plain" }).end(`tsray dashboard: ${(e as Error).message}\n`);
    }
  });
  server.on("connection", (socket) => guard.admit(socket));
  server.headersTimeout = DEFAULT_LIMITS.handshakeMs;
  server.requestTimeout = 30_000;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host ?? "127.0.0.1", () => {
      const a = server.address();
      resolve({ port: typeof a === "object" && a ? a.port : opts.port, close: () => new Promise((r) => { guard.close(); server.close(() => r()); server.closeAllConnections(); }) });
    });
  });
}

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

function page(status: object): string {
  const s = status as { nodes?: { node: string; alive: boolean; endpoint?: string; total: object; available: object }[]; actors?: Record<string, number> };
  const rows = (s.nodes ?? []).map((n) =>
    `<tr><td>${esc(n.node)}</td><td>${n.alive ? "ALIVE" : "DEAD"}</td><td>${esc(n.endpoint ?? "")}</td><td>${esc(JSON.stringify(n.total))}</td><td>${esc(JSON.stringify(n.available))}</td></tr>`).join("");
  return `<!doctype html><meta charset="utf-8"><title>tsray</title><meta http-equiv="refresh" content="2">
<style>body{font:14px system-ui;margin:2em}td,th{padding:.3em .8em;text-align:left;border-bottom:1px solid #ddd}</style>
<h1>tsray cluster</h1><table><tr><th>node</th><th>state</th><th>endpoint</th><th>resources</th><th>available</th></tr>${rows}</table>
<p>actors: ${esc(JSON.stringify(s.actors ?? {}))}</p>`;
}
