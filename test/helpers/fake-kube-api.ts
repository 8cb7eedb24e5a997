// A fake Kubernetes API server for tests (node:http on 127.0.0.1): it records every request
// (method, path with query, content type, JSON body) and answers through the test's `route`,
// which plays the API server and whatever controller the test needs (an operator, a kubelet);
// a request no route answers gets the API server's 404 Status, and one it answers "hang" gets
// nothing at all (an API server behind a connection gone silent). `kubeConfig()` points
// @kubernetes/client-node at it.

import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";

export interface KubeRequest {
  readonly method: string;
  /** The path and query string, as sent. */
  readonly path: string;
  readonly contentType?: string;
  readonly body?: unknown;
}

/** An answer (status code and JSON body); undefined: not found; "hang": no answer. */
export type KubeRoute = (req: KubeRequest, url: URL) => { code: number; body: unknown } | "hang" | undefined;

/** The Status body the API server sends with a 404. */
export function notFound(what: string): { code: number; body: unknown } {
  return { code: 404, body: { kind: "Status", apiVersion: "v1", status: "Failure", reason: "NotFound", message: `${what} not found`, code: 404 } };
}

export class FakeKubeApi {
  readonly requests: KubeRequest[] = [];
  /** Requests left unanswered ("hang"), ended on close. */
  private readonly hanging = new Set<http.ServerResponse>();

  private constructor(private readonly server: http.Server) {}

  static async start(route: KubeRoute): Promise<FakeKubeApi> {
    const server = http.createServer();
    const api = new FakeKubeApi(server);
    server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
      let text = "";
      req.on("data", (c) => { text += c; });
      req.on("end", () => {
        const url = new URL(req.url!, "http://x");
        const r: KubeRequest = { method: req.method!, path: url.pathname + (url.search || ""), contentType: req.headers["content-type"], body: text ? JSON.parse(text) : undefined };
        api.requests.push(r);
        const answer = route(r, url) ?? notFound(url.pathname);
        if (answer === "hang") { api.hanging.add(res); res.on("close", () => api.hanging.delete(res)); return; }
        res.writeHead(answer.code, { "content-type": "application/json" });
        res.end(JSON.stringify(answer.body));
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    return api;
  }

  /** A kubeconfig whose only cluster is this server (token auth). */
  kubeConfig(namespace?: string): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "fake", server: `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`, skipTLSVerify: true }],
      users: [{ name: "u", token: "t" }], contexts: [{ name: "c", cluster: "fake", user: "u", ...(namespace ? { namespace } : {}) }], currentContext: "c",
    });
    return kc;
  }

  /** The same as a kubeconfig file (JSON is YAML) for a child process's KUBECONFIG; returns its path. */
  kubeConfigFile(file: string, namespace?: string): string {
    fs.writeFileSync(file, this.kubeConfig(namespace).exportConfig(), { mode: 0o600 });
    return file;
  }

  close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    return new Promise((r) => this.server.close(() => r()));
  }
}
