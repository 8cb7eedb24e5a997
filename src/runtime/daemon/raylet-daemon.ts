// A node as a daemon: its raylet, object store and workers (the embedded host, reduced to one
// node, with no GCS or driver of its own) behind a gRPC server. Messages for other processes
// go out on links: to the GCS, to other nodes' daemons (found through the cluster view), and
// back to drivers attached here. A message for an address on another node is forwarded there,
// so a driver needs only its own node's daemon and the GCS.

import { parseArgs } from "node:util";
import type { Msg } from "../../core/messages.ts";
import { checkResources } from "../../core/resources.ts";
import { gcsAddr, nodeOf, rayletAddr, type Addr, type NodeId, type NodeView } from "../../core/types.ts";
import { EmbeddedCluster, defaultEmbeddedConfig, defaultStoreCapacity } from "../embedded/cluster.ts";
import type { Transport } from "../embedded/transport.ts";
import type { Stoppable } from "./main.ts";
import { DaemonServer, PeerLink, getStatus } from "./transport.ts";

export interface RayletDaemonOptions {
  /** host:port of the GCS. */
  readonly gcs: string;
  readonly node: NodeId;
  readonly resources: Record<string, number>;
  readonly token: string;
  /** Interface to serve on, and the host other daemons reach this one at. */
  readonly host?: string;
  readonly port?: number;
  readonly storeCapacity?: number;
  readonly traceFile?: string;
}

export class RayletDaemon {
  private readonly links = new Map<string, PeerLink>();
  private readonly endpoints = new Map<NodeId, string>();
  private dropped = 0;
  /** Where messages from outside go in (the node's transport, once it exists). */
  private inbound: Transport | undefined;
  private cluster: EmbeddedCluster | undefined;
  private constructor(readonly node: NodeId, readonly endpoint: string, private readonly server: DaemonServer) {}

  static async start(o: RayletDaemonOptions): Promise<RayletDaemon> {
    let status: { gcs: string; nodes: NodeView[] };
    try {
      status = (await getStatus(o.gcs, o.token)) as typeof status;
    } catch (e) {
      throw new Error(`cannot reach the GCS at ${o.gcs}: ${(e as Error).message}`);
    }
    const head = nodeOf(status.gcs);
    let self!: RayletDaemon;
    const server = new DaemonServer({
      token: o.token, host: o.host, port: o.port ?? 0, services: ["NodeManager", "CoreWorker"], addrs: [o.node],
      onFrame: (f) => self.inbound?.send(f.from, f.to, f.msg),
      status: () => ({ node: o.node, endpoint: self.endpoint, links: [...self.links.keys()], dropped: self.dropped }),
    });
    const port = await server.start();
    const endpoint = `${o.host ?? "127.0.0.1"}:${port}`;
    self = new RayletDaemon(o.node, endpoint, server);
    for (const n of status.nodes) if (n.endpoint) self.endpoints.set(n.node, n.endpoint);
    const gcs = gcsAddr(head);
    const gcsLink = new PeerLink({
      target: o.gcs, service: "Gcs", token: o.token, addrs: [o.node],
      // A new GCS process (it crashed, or was restarted): tell the raylet, which re-registers.
      onConnect: (info) => { if (info.restarted) self.inbound?.send(gcs, rayletAddr(o.node), { type: "GcsRestarted" }); },
      onFrame: (f) => {
        // The cluster view tells where every node's daemon listens.
        if (f.msg.type === "ClusterView") for (const n of f.msg.nodes) if (n.endpoint) self.endpoints.set(n.node, n.endpoint);
        self.inbound?.send(f.from, f.to, f.msg);
      },
    });
    self.links.set(gcs, gcsLink);
    const send = (from: Addr, to: Addr, m: Msg) => self.route(from, to, m, gcs, o.token);
    // The incarnation must grow across restarts of this node: the start time does.
    self.cluster = await EmbeddedCluster.start({
      ...defaultEmbeddedConfig,
      nodes: [{ id: o.node, resources: o.resources }],
      storeCapacity: o.storeCapacity ?? defaultStoreCapacity(),
      prestartWorkers: Math.max(1, Math.ceil(o.resources.CPU ?? 1)),
      traceFile: o.traceFile,
      remote: { head, endpoint, incarnation: Date.now(), send, attach: (t) => { self.inbound = t; } },
    });
    return self;
  }

  private route(from: Addr, to: Addr, m: Msg, gcs: Addr, token: string): void {
    if (to === gcs) return this.links.get(gcs)!.sendMsg(from, to, m);
    // A driver attached here, or a daemon that connected to us: answer on its own stream.
    const peer = this.server.route(to);
    if (peer) { this.server.sendMsg(peer, from, to, m); return; }
    const node = nodeOf(to);
    // An address of this node that is not here (a worker that exited): nowhere to go.
    if (node === this.node) { this.dropped++; return; }
    let link = this.links.get(node);
    if (!link) {
      const target = this.endpoints.get(node);
      if (!target) { this.dropped++; return; } // no such node (yet): lost, as on a network
      link = new PeerLink({
        target, service: "NodeManager", token, addrs: [this.node],
        onFrame: (f) => this.inbound?.send(f.from, f.to, f.msg),
      });
      this.links.set(node, link);
    }
    link.sendMsg(from, to, m);
  }

  async close(): Promise<void> {
    const c = this.cluster;
    this.cluster = undefined;
    this.inbound = undefined;
    await c?.shutdown();
    await Promise.all([...this.links.values()].map((l) => l.close()));
    await this.server.close();
  }
}

export async function runRaylet(argv: string[], log: (line: string) => void = console.log): Promise<Stoppable> {
  const { values } = parseArgs({
    args: argv, strict: true,
    options: {
      gcs: { type: "string" },
      node: { type: "string" },
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "0" },
      "num-cpus": { type: "string" },
      "num-gpus": { type: "string" },
      resources: { type: "string" },
      "store-bytes": { type: "string" },
      trace: { type: "string" },
    },
  });
  const token = process.env.TSRAY_TOKEN;
  if (!token) throw new Error("tsray raylet: set TSRAY_TOKEN to the cluster token");
  if (!values.gcs) throw new Error("tsray raylet: --gcs HOST:PORT is required");
  if (!values.node) throw new Error("tsray raylet: --node ID is required");
  const resources: Record<string, number> = { ...(values.resources ? JSON.parse(values.resources) : {}) };
  resources.CPU = values["num-cpus"] !== undefined ? Number(values["num-cpus"]) : (resources.CPU ?? 1);
  if (values["num-gpus"] !== undefined) resources.GPU = Number(values["num-gpus"]);
  checkResources(resources, "tsray raylet");
  const d = await RayletDaemon.start({
    gcs: values.gcs, node: values.node, resources, token, host: values.host, port: Number(values.port),
    storeCapacity: values["store-bytes"] ? Number(values["store-bytes"]) : undefined, traceFile: values.trace,
  });
  log(`tsray raylet: node ${d.node} serving on ${d.endpoint} with ${JSON.stringify(resources)}`);
  return d;
}
