// A driver connected to running daemons (`ray.init({ address })`): this process hosts just the
// driver's CoreWorker model. It talks to the GCS directly, to every node's raylet daemon that was
// alive when it connected, and to the rest through the daemon of the node it attaches to (the
// head by default), which routes onward. Its store requests (put, get) take that node's object
// channel: one round trip over plain TCP.

import fs from "node:fs";
import { createRay, type Ray } from "../../api/ray.ts";
import type { Invoker } from "../../api/handles.ts";
import { parseBugs } from "../../core/bugs.ts";
import { daemonTuning } from "../../core/tuning.ts";
import type { CoreWorker } from "../../core/core-worker.ts";
import { gcsAddr, nodeOf, rayletAddr, type NodeId, type NodeView } from "../../core/types.ts";
import { hostCoreWorker } from "../kernel.ts";
import { DriverClient, KeepAlive } from "../embedded/driver.ts";
import { TraceSink } from "../embedded/trace.ts";
import { Timers, Transport } from "../embedded/transport.ts";
import { LoopPoller, STORE_POLL_MICROS } from "./loop-poll.ts";
import { ObjectLink, STORE_ANSWERS, STORE_REQUESTS, parseEndpoint } from "./object-channel.ts";
import { PeerLink, getStatus } from "./transport.ts";
import { driverDeclaredDead, newDriverAddr } from "./driver-addr.ts";

export interface ConnectOptions {
  /** host:port of the GCS. */
  readonly address: string;
  readonly token: string;
  /** The node to attach to (default: the head). */
  readonly node?: NodeId;
  /** Write the driver's trace events here (merge them with the daemons' for `tsray check`). */
  readonly traceFile?: string;
}

export class DaemonDriver {
  readonly ray: Ray & Invoker;
  private closed = false;
  /** Why this driver ended, when it was not shut down (killed, or declared dead by the GCS). */
  private endedBy: string | undefined;
  private nodes: readonly NodeView[] = [];
  private address = "";

  private constructor(
    private readonly model: CoreWorker,
    private readonly client: DriverClient,
    private readonly keepAlive: KeepAlive,
    private readonly transport: Transport,
    private readonly timers: Timers,
    /** The GCS's link, then our node's raylet's. */
    private readonly links: readonly PeerLink[],
    /** Links straight to other nodes' raylets, while those processes live. */
    private readonly direct: ReadonlyMap<NodeId, { readonly link: PeerLink }>,
    private readonly store: ObjectLink | undefined,
    private readonly sink: TraceSink,
  ) {
    this.ray = createRay(client, { releaseOnCollect: true });
  }

  static async connect(opts: ConnectOptions): Promise<DaemonDriver> {
    let status: { gcs: string; nodes: NodeView[] };
    try {
      status = (await getStatus(opts.address, opts.token)) as typeof status;
    } catch (e) {
      throw new Error(`ray.init: cannot reach the GCS at ${opts.address}: ${(e as Error).message}`);
    }
    const head = nodeOf(status.gcs);
    const nodeId = opts.node ?? head;
    const node = status.nodes.find((n) => n.node === nodeId && n.alive);
    if (!node?.endpoint) throw new Error(`ray.init: node "${nodeId}" is not alive in the cluster at ${opts.address} (nodes: ${status.nodes.map((n) => n.node).join(", ") || "none yet"})`);
    const addr = newDriverAddr(nodeId);
    const gcs = gcsAddr(head);
    const transport = new Transport();
    const up: Promise<void>[] = [];
    let driver: DaemonDriver | undefined;
    const link = (target: string, service: "Gcs" | "NodeManager") => {
      let connected!: () => void;
      up.push(new Promise((resolve) => { connected = resolve; }));
      return new PeerLink({
        target, service, token: opts.token, addrs: [addr],
        onFrame: (f) => {
          if (service === "Gcs" && driverDeclaredDead(f.msg, addr)) return driver?.declaredDead();
          if (f.msg.type === "NodeDead") dropDirect(f.msg.node, f.msg.incarnation);
          transport.send(f.from, f.to, f.msg);
        },
        onConnect: (info) => {
          connected();
          // A restarted GCS lost what was in flight to it: the model resends and resubscribes.
          if (service === "Gcs" && info.restarted) transport.send(gcs, addr, { type: "GcsRestarted" });
        },
      });
    };
    const gcsLink = link(opts.address, "Gcs");
    const rayletLink = link(parseEndpoint(node.endpoint).grpc, "NodeManager");
    // Work on another node goes straight to its daemon, a hop shorter each way than through
    // ours (which forwards); a node that joined later, or whose link never connected, through ours.
    const direct = new Map<NodeId, { link: PeerLink; incarnation: number }>();
    for (const n of status.nodes) if (n.alive && n.endpoint && n.node !== nodeId) direct.set(n.node, { link: link(parseEndpoint(n.endpoint).grpc, "NodeManager"), incarnation: n.incarnation });
    // Once that process is dead, its address is of no more use (a node's next process, a new
    // pod, serves elsewhere): the link is closed, and the node is reached through ours, which
    // also takes what still waited on it.
    function dropDirect(node: NodeId, incarnation: number): void {
      const d = direct.get(node);
      if (!d || incarnation < d.incarnation) return;
      direct.delete(node);
      for (const f of d.link.takeQueued()) rayletLink.send(f);
      void d.link.close(0);
    }
    // Store requests to our node's raylet on its object channel, as long as it is open: on its
    // Unix socket when we share its machine (the socket's file is here), else over TCP.
    const { objects: objectsTcp, local } = parseEndpoint(node.endpoint);
    const objects = local !== undefined && fs.existsSync(local) ? local : objectsTcp;
    // The answer to a store request comes within tens of µs: poll for it rather than sleep.
    const poller = new LoopPoller(STORE_POLL_MICROS);
    const ours = rayletAddr(nodeId);
    const store = objects === undefined ? undefined : new ObjectLink({
      target: objects, token: opts.token, node: addr, accepts: STORE_ANSWERS,
      alloc: (size) => Buffer.allocUnsafe(size), release: () => {},
      onMsg: (from, to, m) => { poller.arrived(); transport.send(from, to, m); },
      // A reset while both live: a request or its answer on the connection is lost, and the
      // raylet, alive, would never say so. The model sends its unanswered requests again once
      // the channel is back (or on gRPC if it is not): the raylet answers where we connected last.
      onBroken: () => store?.whenReady(() => transport.post(() => driver?.model.step({ kind: "raylet-requests-lost" }))),
      log: (line) => console.error(`tsray: ${line}`),
    });
    if (store) up.push(new Promise((resolve) => store.whenReady(resolve)));
    transport.remote = (from, to, m) => {
      if (to === gcs) return gcsLink.sendMsg(from, to, m);
      if (to === ours && STORE_REQUESTS.has(m.type) && store?.send(from, to, m)) return poller.expect();
      // Once a node's link has connected, it is the one path there (it keeps what it sends
      // through a reset, and resends it in order); until then, our raylet forwards.
      const d = direct.get(nodeOf(to))?.link;
      (d?.everConnected ? d : rayletLink).sendMsg(from, to, m);
    };
    // Wait for the links (a while at most): a reply that came the long way round could
    // otherwise overtake one that comes directly.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(up), new Promise((r) => { timer = setTimeout(r, 5_000); })]);
    clearTimeout(timer);
    const keepAlive = new KeepAlive();
    const sink = new TraceSink({ file: opts.traceFile });
    const timers = new Timers(transport, new Set());
    let client!: DriverClient;
    // $TSRAY_BUGS switches seeded bugs on in this driver's model too (mutation testing only).
    const hosted = hostCoreWorker(addr, nodeId, head, daemonTuning, parseBugs(process.env.TSRAY_BUGS), {
      now: () => performance.now(),
      random: Math.random,
      send: (to, m) => transport.send(addr, to, m),
      schedule: (ms, fire, periodic) => timers.schedule(ms, fire, periodic),
      cancel: (t) => timers.cancel(t),
      trace: sink.enabled ? (body) => sink.emit(nodeId, body) : () => {},
      complete: (callId, result) => client.complete(callId, result),
      execute: () => { throw new Error("a driver does not execute tasks"); },
      interrupt: () => { throw new Error("a driver runs no tasks to interrupt"); },
    });
    const model: CoreWorker = hosted.model;
    transport.register(addr, hosted);
    client = new DriverClient(model, addr, nodeId, keepAlive, () => { if (driver!.closed) throw new Error(driver!.endedBy ?? "this connection was shut down: call ray.init() again"); });
    driver = new DaemonDriver(model, client, keepAlive, transport, timers, [gcsLink, rayletLink], direct, store, sink);
    driver.nodes = status.nodes;
    driver.address = opts.address;
    transport.post(() => model.start(false));
    return driver;
  }

  get isClosed(): boolean { return this.closed; }

  private allLinks(): PeerLink[] {
    return [...this.links, ...[...this.direct.values()].map((d) => d.link)];
  }

  /** Every link this driver holds and its state (for debugging and tests): the GCS's, our node's raylet's, then one per other live node. */
  linkStates(): { target: string; state: string }[] {
    return this.allLinks().map((l) => ({ target: l.target, state: l.state }));
  }

  /** Why this connection ended, unless by shutdown (then undefined): what a later call is told. */
  get ended(): string | undefined { return this.endedBy; }

  /** The driver's own address (how the GCS, the traces and `tsray status` name it). */
  get addr(): string { return this.model.addr; }

  /** What ray.init() reports: the cluster as it was when we connected. */
  describe(): { address: string; nodes: { id: string; resources: Record<string, number> }[] } {
    return { address: this.address, nodes: this.nodes.filter((n) => n.alive).map((n) => ({ id: n.node, resources: { ...n.total } })) };
  }

  /**
   * Whether this driver's own work is over: no task it submitted is still pending and it holds
   * no lease (what a quiet point needs of it; the cluster's side is judged by the checkers).
   */
  get idle(): boolean {
    const s = this.model.state;
    if (s.granted.size > 0 || s.leaseReqs.size > 0) return false;
    for (const o of s.owned.values()) if (o.task !== undefined) return false;
    return true;
  }

  /** Drops every reference the program holds (as its end does) and lets the frees go out, staying connected. */
  async releaseAll(): Promise<void> {
    if (this.closed) return;
    this.transport.post(() => this.model.releaseAll());
    await new Promise((r) => setTimeout(r, 50));
  }

  /**
   * Dies as a SIGKILLed driver process does (the chaos experiments' kill-driver fault): nothing
   * is released and nothing more is sent. Its timers stop, its model is cut off, and every
   * connection ends, so the GCS sees the driver's own stream end exactly as it sees a killed
   * process's (its server treats a stream's end, cancellation and error alike: onPeerGone) and
   * learns of the death only by its grace period. Frames the model had already handed to a link
   * go out first, as a process killed just after writing them would have sent them. The program's
   * waiting calls fail, and any later call throws: its process is gone.
   */
  kill(): void {
    this.cutOff("the driver process was killed");
  }

  /**
   * The GCS declared this driver gone (its stream stayed away past the grace period): its leases,
   * objects and actors were let go, and the raylets grant it nothing more. It ends as a fenced
   * raylet does, with a clear line, instead of waiting forever: every waiting call fails, and
   * so does any later one, naming why.
   */
  declaredDead(): void {
    if (this.closed) return;
    const why = `the GCS declared this driver (${this.addr}) dead: its connection to the GCS was lost for longer than the grace period, so its tasks, actors and objects are gone; call ray.init() again`;
    console.error(`tsray: ${why}`);
    this.cutOff(why);
  }

  /** Ends this driver at once: nothing more is sent, every waiting call fails with `why`, and so does any later one. */
  private cutOff(why: string): void {
    if (this.closed) return;
    this.closed = true;
    this.endedBy = why;
    this.timers.clearAll();
    this.transport.clear();
    this.transport.remote = undefined;
    this.client.abandon(why);
    this.keepAlive.close();
    for (const l of this.allLinks()) void l.close(0);
    this.store?.close();
    this.sink.close();
  }

  /** Drops every reference the program holds, lets the frees go out, then disconnects. */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.transport.post(() => this.model.releaseAll());
    await new Promise((r) => setTimeout(r, 50));
    this.closed = true;
    this.client.abandon("the connection to the cluster was shut down while this call was waiting");
    this.timers.clearAll();
    this.transport.clear();
    this.keepAlive.close();
    await Promise.all(this.allLinks().map((l) => l.close()));
    this.store?.close();
    this.sink.close();
  }
}
