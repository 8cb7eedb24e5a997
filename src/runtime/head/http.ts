// Small helpers shared by the head's HTTP servers (dashboard, node agent, metrics): replies,
// bounded request bodies, listening and closing.

import http from "node:http";
import { ConnectionGuard, DEFAULT_LIMITS, type ConnectionLimits } from "../daemon/limits.ts";

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

export function sendText(res: http.ServerResponse, status: number, body: string, type = "text/plain; charset=utf-8"): void {
  res.writeHead(status, { "content-type": type }).end(body);
}

/** An error whose message goes back to the client with this HTTP status. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string) { super(message); }
}

/** The request body as JSON (at most `limit` bytes); a 400 HttpError if it is not JSON. */
export async function readJson(req: http.IncomingMessage, limit = 1 << 20): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > limit) throw new HttpError(413, `request body larger than ${limit} bytes`);
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new HttpError(400, `request body is not JSON: ${(e as Error).message}`);
  }
}

export interface Listening {
  readonly port: number;
  readonly server: http.Server;
  close(): Promise<void>;
}

/**
 * Puts every connection of `server` on a connection guard (limits.ts): one that has not shown the
 * cluster token is closed after the handshake timeout, and at most a bounded number wait at once,
 * so a flood of idle sockets cannot take the process's file descriptors. Paths open by design
 * (probes, metrics) are answered within the timeout, so they need no exemption.
 */
export function guardServer(server: http.Server, name: string, limits: Partial<ConnectionLimits> = {}, log: (line: string) => void = (l) => console.error(`tsray: ${l}`)): ConnectionGuard {
  const l = { ...DEFAULT_LIMITS, ...limits };
  const guard = new ConnectionGuard(name, l, log);
  server.on("connection", (socket) => guard.admit(socket));
  server.on("close", () => guard.close());
  server.headersTimeout = l.handshakeMs;
  server.requestTimeout = Math.max(30_000, l.handshakeMs);
  return guard;
}

/** Listens on host:port (0: any free port) and resolves with the port taken. */
export function listen(server: http.Server, host: string, port: number): Promise<Listening> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      const a = server.address();
      resolve({
        port: typeof a === "object" && a ? a.port : port, server,
        close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
      });
    });
  });
}

/** The address to reach a server on this machine at: a wildcard bind (0.0.0.0, ::) is reached on loopback. */
export function localAddress(host: string): string {
  return host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
}
