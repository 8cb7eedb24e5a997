// A node as a daemon: its raylet, object store and workers (the embedded host, reduced to one
// node, with no GCS or driver of its own) behind a gRPC server. Messages for other processes
// go out on links: to the GCS, to other nodes' daemons (found through the cluster view), and
// back to drivers attached here. A message for an address on another node is forwarded there,
// so a driver needs only its own node's daemon and the GCS. Object chunks for other nodes take
// the object channel (plain TCP, object-channel.ts) instead of the gRPC links.

import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import type { Msg } from "../../core/messages.ts";
import type { RayletInput } from "../../core/raylet.ts";
import { checkResources } from "../../core/resources.ts";
import { daemonTuning } from "../../core/tuning.ts";
import { gcsAddr, nodeOf, rayletAddr, type Addr, type NodeId, type NodeView } from "../../core/types.ts";
import type { TraceEvent } from "../../../spec/trace.ts";
import { EmbeddedCluster, defaultEmbeddedConfig, defaultStoreCapacity } from "../embedded/cluster.ts";
import type { Arena } from "../embedded/arena.ts";
import type { Transport } from "../embedded/transport.ts";
import { seededBugs, type Stoppable } from "./main.ts";
import { NO_BUGS, type Bugs } from "../../core/bugs.ts";
import { NodeState } from "../head/node-state.ts";
import { nodeStatus, startNodeServices, type NodeServices } from "../head/node-services.ts";
import { LoopPoller, STORE_POLL_MICROS } from "./loop-poll.ts";
import { ObjectChannelServer, ObjectLink, STORE_ANSWERS, STORE_REQUESTS, formatEndpoint, parseEndpoint } from "./object-channel.ts";
import { DaemonServer, PeerLink, getStatus, type Logger } from "./transport.ts";
import { nextIncarnation } from "../kernel.ts";
import { declaredDead, refuseDuplicate } from "./fencing.ts";
import { isDriverAddr } from "./driver-addr.ts";
import { NET_FAULTS_SERVICE, NetFaults, netFaultsImplementation } from "./net-faults.ts";
import { drop, hold } from "../embedded/pins.ts";

export interface RayletDaemonOptions {
  /** host:port of the GCS. */
  readonly gcs: string;
  readonly node: NodeId;
  readonly resources: Record<string, number>;
  readonly token: string;
  /** Interface to serve on, and the host other daemons reach this one at (unless advertiseHost). */
  readonly host?: string;
  /** The host other daemons and drivers reach this node at, when it serves on a wildcard (0.0.0.0 in a pod). */
  readonly advertiseHost?: string;
  readonly port?: number;
  /** Port of the object channel (default 0: any free port). */
  readonly objectPort?: number;
  /**
   * The Unix socket the object channel also listens on, for drivers on this machine (default:
   * a fresh path in the temp directory; false: none).
   */
  readonly objectSocket?: string | false;
  readonly storeCapacity?: number;
  readonly traceFile?: string;
  readonly log?: Logger;
  /** Seeded bugs switched on (mutation testing only). */
  readonly bugs?: Bugs;
  /** Sees the node's trace events (its live state and metrics are built from them). */
  readonly traceListener?: (e: TraceEvent) => void;
  /** More for the status reply (the node's state, its HTTP ports). */
  readonly extraStatus?: () => object;
  /**
   * The GCS declared this life of the node dead (fencing.ts): the daemon has stopped; the
   * process should exit so that its supervisor starts a new incarnation.
   */
  readonly onFenced?: (reason: string) => void;
}

export class RayletDaemon {
  private readonly links = new Map<string, PeerLink>();
  private readonly endpoints = new Map<NodeId, { readonly grpc: string; readonly objects?: string }>();
  private readonly objectLinks = new Map<NodeId, ObjectLink>();
  private dropped = 0;
  private fencedOnce = false;
  /** A driver that was just answered tends to ask again within tens of µs: poll for it. */
  private readonly storePoll = new LoopPoller(STORE_POLL_MICROS);
  /** Where messages from outside go in (the node's transport, once it exists). */
  private inbound: Transport | undefined;
  private arena: Arena | undefined;
  /** Tells the node's raylet what the network did (its transport posts it). */
  private report: ((input: RayletInput) => void) | undefined;
  private cluster: EmbeddedCluster | undefined;
  /** This node as the GCS last published it. */
  view: NodeView | undefined;
  private constructor(
    readonly node: NodeId,
    readonly endpoint: string,
    private readonly server: DaemonServer,
    private readonly objects: ObjectChannelServer,
    private readonly token: string,
    private readonly log: Logger,
    /** The network fault layer between this node's models and other nodes (off unless set). */
    readonly faults: NetFaults,
    private readonly extraStatus?: () => object,
  ) {}

  static async start(o: RayletDaemonOptions): Promise<RayletDaemon> {
    let status: { gcs: string; nodes: NodeView[] };
    try {
      status = (await getStatus(o.gcs, o.token)) as typeof status;
    } catch (e) {
      throw new Error(`cannot reach the GCS at ${o.gcs}: ${(e as Error).message}`);
    }
    const head = nodeOf(status.gcs);
    await refuseDuplicate(o.node, status.nodes);
    // Which start of this node this is: one more than the GCS's node table records (kernel.ts).
    const incarnation = nextIncarnation(status.nodes.find((n) => n.node === o.node)?.incarnation);
    let self!: RayletDaemon;
    const log = o.log ?? ((line: string) => console.error(`tsray: ${line}`));
    // A Chunk that waits in the layer keeps its arena slot (it is encoded only when it goes).
    const faults = new NetFaults(o.node, { retain: (m) => (m.type === "Chunk" && hold(m.payload) ? () => drop(m.payload) : undefined) });
    const server = new DaemonServer({
      token: o.token, host: o.host, port: o.port ?? 0, services: ["NodeManager", "CoreWorker"], addrs: [o.node],
      onFrame: (f) => faults.inbound(nodeOf(f.from), f.msg, () => self.inbound?.send(f.from, f.to, f.msg)),
      status: () => self.status(),
      extraServices: [{ definition: NET_FAULTS_SERVICE, implementation: netFaultsImplementation(faults, log) }],
    });
    const localPath = o.objectSocket === false ? undefined
      : o.objectSocket ?? path.join(os.tmpdir(), `tsray-${o.node.replace(/[^\w.-]/g, "_")}-${process.pid}-${Math.random().toString(36).slice(2, 8)}.sock`);
    const objects = new ObjectChannelServer({
      token: o.token, host: o.host, port: o.objectPort, log, localPath,
      // This node's drivers' store requests, for this node's raylet only.
      accepts: STORE_REQUESTS,
      onMsg: (from, to, m) => {
        if (to !== rayletAddr(o.node) || !self?.inbound) return false;
        self.storePoll.arrived();
        self.inbound.send(from, to, m);
        return true;
      },
    });
    const port = await server.start();
    const endpoint = formatEndpoint(`${o.advertiseHost ?? o.host ?? "127.0.0.1"}:${port}`, await objects.start(), localPath);
    self = new RayletDaemon(o.node, endpoint, server, objects, o.token, log, faults, o.extraStatus);
    self.learn(status.nodes);
    const gcs = gcsAddr(head);
    const gcsLink = new PeerLink({
      target: o.gcs, service: "Gcs", token: o.token, addrs: [o.node],
      // A new GCS process (it crashed, or was restarted): tell the raylet, which re-registers.
      onConnect: (info) => { if (info.restarted) self.inbound?.send(gcs, rayletAddr(o.node), { type: "GcsRestarted" }); },
      onFrame: (f) => faults.inbound(nodeOf(f.from), f.msg, () => {
        // The cluster view tells where every node's daemon listens.
        if (f.msg.type === "ClusterView") self.learn(f.msg.nodes);
        self.inbound?.send(f.from, f.to, f.msg);
        if (declaredDead(f.msg, o.node, incarnation)) self.fenced(o, incarnation);
      }),
    });
    self.links.set(gcs, gcsLink);
    const send = (from: Addr, to: Addr, m: Msg) => faults.outbound(nodeOf(to), m, () => self.route(from, to, m, gcs));
    self.cluster = await EmbeddedCluster.start({
      ...defaultEmbeddedConfig,
      ...daemonTuning,
      nodes: [{ id: o.node, resources: o.resources }],
      storeCapacity: o.storeCapacity ?? defaultStoreCapacity(),
      prestartWorkers: Math.max(1, Math.ceil(o.resources.CPU ?? 1)),
      traceFile: o.traceFile,
      traceListener: o.traceListener,
      bugs: o.bugs ?? NO_BUGS,
      remote: { head, endpoint, incarnation, send, attach: (t, arena, report) => { self.inbound = t; self.arena = arena; self.report = report; } },
    });
    return self;
  }

  /**
   * Where the cluster's nodes listen. Links to a node that died or moved are dropped: a node
   * restarted on another port is reached at the new one, not retried at the old one forever.
   * What waited on the old link goes to the new address: it was sent while this node still
   * knew only the old one (its GCS link was down: a head pod-kill), and may be for the node's
   * new process (a driver's call forwarded to an actor there), which nothing would resend.
   * Whatever was meant for the old process is dropped or ignored by the new one (its workers'
   * addresses name their incarnation).
   */
  private learn(nodes: readonly NodeView[]): void {
    for (const n of nodes) {
      if (n.node === this.node) this.view = n;
      if (!n.endpoint) continue;
      const e = parseEndpoint(n.endpoint);
      const known = this.endpoints.get(n.node);
      const link = this.objectLinks.get(n.node);
      if (link && (!n.alive || e.objects !== known?.objects)) {
        link.close();
        this.objectLinks.delete(n.node);
      }
      const grpc = this.links.get(n.node);
      this.endpoints.set(n.node, e);
      if (grpc && known && e.grpc !== known.grpc) {
        const waiting = grpc.takeQueued();
        void grpc.close();
        this.links.delete(n.node);
        if (waiting.length > 0 && n.alive) {
          const moved = this.grpcLink(n.node)!;
          for (const f of waiting) moved.send(f);
        }
      }
    }
  }

  /** A Chunk from another node's object channel: into the node, then its slot is unstaged unless the store adopted it. */
  private objectArrived(from: Addr, to: Addr, m: Msg): void {
    const inbound = this.inbound;
    const data = m.type === "Chunk" ? m.payload?.data as Uint8Array | undefined : undefined;
    if (!inbound || nodeOf(to) !== this.node) {
      this.dropped++;
      if (data) this.arena?.unstage(data);
      if (inbound) this.log(`object channel: a Chunk for ${to} reached node ${this.node}; dropped`);
      return;
    }
    inbound.send(from, to, m);
    if (data) inbound.post(() => this.arena?.unstage(data));
  }

  private route(from: Addr, to: Addr, m: Msg, gcs: Addr): void {
    if (to === gcs) return this.links.get(gcs)!.sendMsg(from, to, m);
    const node = nodeOf(to);
    if (node !== this.node) {
      // A puller: have the holder's object channel connected before the Pull goes.
      if (m.type === "Pull") {
        const link = this.objectLink(node);
        if (link) return link.whenReady(() => this.viaGrpc(from, to, m));
      }
      if (m.type === "Chunk" && this.objects.send(node, from, to, m)) return;
    }
    // A driver of this node that asked on the object channel is answered there.
    if (STORE_ANSWERS.has(m.type) && this.objects.send(to, from, to, m)) return this.storePoll.expect();
    this.viaGrpc(from, to, m);
  }

  /**
   * One path per destination, never switched while its session lives, so that what goes there
   * keeps its order through a reset: a frame resent when a stream is back must not come after
   * one that went another way meanwhile. A driver that connected to us: its own stream. Another
   * node (and a driver that reached us only through its node): our link to that node. A node
   * whose endpoint the cluster view has not told us yet: the stream it opened to us.
   */
  private viaGrpc(from: Addr, to: Addr, m: Msg): void {
    const node = nodeOf(to);
    const own = isDriverAddr(to) ? this.server.sessionRoute(to) : undefined;
    const link = own === undefined && node !== this.node ? this.grpcLink(node) : undefined;
    if (link) return link.sendMsg(from, to, m);
    const peer = own ?? this.server.sessionRoute(to);
    if (peer) { this.server.sendMsg(peer, from, to, m); return; }
    // An address of this node that is not here (a worker that exited), or a node we know
    // nothing of yet: lost, as on a network.
    this.dropped++;
  }

  /** This node's link to `node`'s daemon, opened at its known endpoint (undefined if none is known). */
  private grpcLink(node: NodeId): PeerLink | undefined {
    let link = this.links.get(node);
    if (link) return link;
    const target = this.endpoints.get(node)?.grpc;
    if (!target) return undefined;
    link = new PeerLink({
      target, service: "NodeManager", token: this.token, addrs: [this.node],
      onFrame: (f) => this.faults.inbound(nodeOf(f.from), f.msg, () => this.inbound?.send(f.from, f.to, f.msg)),
    });
    this.links.set(node, link);
    return link;
  }

  /** This node's connection to `node`'s object channel (undefined if it serves none). */
  private objectLink(node: NodeId): ObjectLink | undefined {
    let link = this.objectLinks.get(node);
    if (link) return link;
    const target = this.endpoints.get(node)?.objects;
    if (!target) return undefined;
    link = new ObjectLink({
      target, token: this.token, node: this.node, log: this.log,
      // Straight into a staged slot of the arena, which the store adopts; the heap if it is full
      // (the store then applies its own back-pressure).
      alloc: (size) => this.arena?.stage(size) ?? Buffer.allocUnsafe(size),
      release: (bytes) => this.arena?.unstage(bytes),
      onMsg: (from, to, msg) => this.faults.inbound(nodeOf(from), msg, () => this.objectArrived(from, to, msg)),
      // A reset between live processes brings no NodeDead: the raylet pulls again what was
      // coming from there (a holder that died is retried the same, then reported dead).
      onBroken: () => { if (this.inbound) this.report?.({ kind: "transfers-lost", node }); },
    });
    this.objectLinks.set(node, link);
    return link;
  }

  private status(): object {
    // staged: arena slots taken for records being read (given back if a connection breaks mid-record).
    const received = { records: 0, bytes: 0, lost: 0, broken: 0, staged: this.arena?.stats().staged ?? 0 };
    for (const l of this.objectLinks.values()) {
      received.records += l.stats.received; received.bytes += l.stats.bytes; received.lost += l.stats.lost; received.broken += l.stats.broken;
    }
    return {
      node: this.node, endpoint: this.endpoint, links: [...this.links.keys()], dropped: this.dropped,
      netFaults: { rules: this.faults.current.rules, waiting: this.faults.waiting, ...this.faults.stats },
      objectChannel: { sent: this.objects.stats, received },
      ...this.extraStatus?.(),
    };
  }

  /** Whether the node's models still run (false once it was closed). */
  get running(): boolean { return this.cluster !== undefined; }

  /** This life is over (fencing.ts): say so, stop, and let the host exit. */
  private fenced(o: RayletDaemonOptions, incarnation: number): void {
    if (this.fencedOnce) return;
    this.fencedOnce = true;
    const reason = `the GCS declared node ${o.node} (incarnation ${incarnation}) dead; exiting so that a supervisor restarts it as a new incarnation`;
    this.log(reason);
    void this.close().finally(() => o.onFenced?.(reason));
  }

  async close(): Promise<void> {
    const c = this.cluster;
    this.cluster = undefined;
    this.inbound = undefined;
    this.faults.close();
    await c?.shutdown();
    await Promise.all([...this.links.values()].map((l) => l.close()));
    for (const l of this.objectLinks.values()) l.close();
    await Promise.all([this.server.close(), this.objects.close()]);
  }
}

/** Ray's defaults (KubeRay passes them explicitly; probes and scrapers expect them). */
export const DEFAULT_AGENT_PORT = 52365;
export const DEFAULT_METRICS_PORT = 8080;

function portFlag(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`tsray raylet: ${name} must be a port number (0-65535, 0: any free port), got ${JSON.stringify(v)}`);
  return n;
}

export async function runRaylet(argv: string[], log: (line: string) => void = console.log): Promise<Stoppable> {
  const { values } = parseArgs({
    args: argv, strict: true,
    options: {
      gcs: { type: "string" },
      node: { type: "string" },
      host: { type: "string", default: "127.0.0.1" },
      "node-ip-address": { type: "string" },
      port: { type: "string", default: "0" },
      "object-port": { type: "string", default: "0" },
      "num-cpus": { type: "string" },
      "num-gpus": { type: "string" },
      resources: { type: "string" },
      "store-bytes": { type: "string" },
      trace: { type: "string" },
      "dashboard-agent-listen-port": { type: "string" },
      "metrics-export-port": { type: "string" },
      head: { type: "boolean" },
    },
  });
  const token = process.env.TSRAY_TOKEN;
  if (!token) throw new Error("tsray raylet: set TSRAY_TOKEN to the cluster token");
  if (!values.gcs) throw new Error("tsray raylet: --gcs HOST:PORT is required");
  if (!values.node) throw new Error("tsray raylet: --node ID is required");
  const resources: Record<string, number> = { ...(values.resources ? JSON.parse(values.resources) : {}) };
  // As Ray's `ray start`: without --num-cpus, a node offers the cores this process may use.
  resources.CPU = values["num-cpus"] !== undefined ? Number(values["num-cpus"]) : (resources.CPU ?? os.availableParallelism());
  if (values["num-gpus"] !== undefined) resources.GPU = Number(values["num-gpus"]);
  checkResources(resources, "tsray raylet");
  const storeCapacity = values["store-bytes"] ? Number(values["store-bytes"]) : defaultStoreCapacity();
  const ports = { agent: portFlag(values["dashboard-agent-listen-port"], "--dashboard-agent-listen-port"), metrics: portFlag(values["metrics-export-port"], "--metrics-export-port") };
  const state = new NodeState();
  let services: NodeServices | undefined;
  const d = await RayletDaemon.start({
    gcs: values.gcs, node: values.node, resources, token, host: values.host, advertiseHost: values["node-ip-address"], port: Number(values.port), objectPort: Number(values["object-port"]),
    storeCapacity, traceFile: values.trace, bugs: seededBugs("raylet", log),
    traceListener: (e) => state.observe(e), extraStatus: () => nodeStatus(state, services, storeCapacity),
    onFenced: () => process.exit(1),
  });
  try {
    services = await startNodeServices(d, state, {
      host: values.host!, agentPort: ports.agent ?? DEFAULT_AGENT_PORT, metricsPort: ports.metrics ?? DEFAULT_METRICS_PORT,
      explicit: { agent: ports.agent !== undefined, metrics: ports.metrics !== undefined },
      token, gcs: values.gcs, isHead: values.head === true, storeCapacity,
    });
  } catch (e) {
    await d.close();
    throw e;
  }
  log(`tsray raylet: node ${d.node} serving on ${d.endpoint} with ${JSON.stringify(resources)}; agent (health) on port ${services.agentPort}, metrics on port ${services.metricsPort}`);
  return { close: async () => { await services!.close(); await d.close(); } };
}
