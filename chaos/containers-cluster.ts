// The containers target of chaos experiments: one container of the tsray image per node on a
// network of their own, started through testcontainers (podman here, Docker elsewhere) with the
// `ray start --block` lines a KubeRay pod runs — the head at the network alias `head`, each
// worker joining it under its node id (RAY_CLOUD_INSTANCE_ID, as KubeRay names a worker after
// its pod). This process drives the workload: it reaches every daemon at its container's
// address on the bridge network, as a client pod reaches pod IPs. The faults are Chaos Mesh's,
// done to containers: pod-kill and pod-failure SIGKILL a worker's container and start a new one
// under the node's id (its restart policy's new pod), container-kill restarts the same container
// in place (the kubelet's restart), a pause freezes it (the cgroup freezer), and network faults
// go through each daemon's NetFaults call. Every container writes its traces into the node's
// directory under `dir` (a bind mount), so the checkers judge them with the driver's.

import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { GenericContainer, Network, Wait, getContainerRuntimeClient, type StartedNetwork, type StartedTestContainer } from "testcontainers";
import type { SeededBug } from "../src/core/bugs.ts";
import type { NodeView } from "../src/core/types.ts";
import type { NetFaultSpec } from "../src/runtime/daemon/net-faults.ts";
import { getStatus } from "../src/runtime/daemon/transport.ts";
import { setNodeNetFaults } from "./node-net-faults.ts";
import { podmanService } from "./podman-service.ts";
import type { ChaosCluster, ChaosNode } from "./target.ts";

/** The image every node runs (k8s/image/build.sh builds it); TSRAY_CHAOS_IMAGE names another. */
const CHAOS_IMAGE = process.env.TSRAY_CHAOS_IMAGE ?? "localhost/tsray:dev";
const GCS_PORT = 6379;
/** Where the cluster's directory is mounted in every container. */
const MOUNT = "/chaos";
const STARTUP_MS = 120_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class ContainersCluster implements ChaosCluster {
  readonly target = "containers";
  /** Node id → its containers, the newest last (a killed pod's container stays, exited, until stop). */
  private readonly containers = new Map<string, StartedTestContainer[]>();
  private readonly paused = new Set<string>();
  private address_ = "";

  private constructor(
    readonly home: string,
    readonly dir: string,
    readonly token: string,
    private readonly nodes: readonly ChaosNode[],
    private readonly bugs: readonly SeededBug[],
    private readonly network: StartedNetwork,
    private readonly service: { stop(): Promise<void> },
    /** Names the containers of this cluster apart from any other's. */
    private readonly suffix: string,
  ) {}

  get address(): string {
    return this.address_;
  }

  /** A head (the first node) and the other nodes, a container each; `bugs` are switched on in every daemon. */
  static async start(nodes: readonly ChaosNode[], bugs: readonly SeededBug[] = []): Promise<ContainersCluster> {
    if (nodes.length === 0 || nodes[0].id !== "head") throw new TypeError("chaos: the first node must be the head");
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "tsray-chaos-"));
    const dir = path.join(home, "cluster");
    fs.mkdirSync(dir);
    const service = await podmanService();
    let network: StartedNetwork | undefined;
    try {
      network = await new Network().start();
    } catch (e) {
      await service.stop();
      throw new Error(`chaos: the containers target cannot create a network (is podman or Docker working? docs/chaos.md): ${(e as Error).message}`);
    }
    const c = new ContainersCluster(home, dir, randomBytes(16).toString("hex"), nodes, bugs, network, service, randomBytes(3).toString("hex"));
    try {
      await c.startHead();
      for (const n of nodes.slice(1)) await c.join(n.id);
    } catch (e) {
      await c.stop(); // no container left behind
      throw e;
    }
    return c;
  }

  /** The container of a node: the tsray image running `ray start … --block`, its traces into `dir/<node>`. */
  private container(node: ChaosNode, args: string[]): GenericContainer {
    fs.mkdirSync(path.join(this.dir, node.id), { recursive: true });
    return new GenericContainer(CHAOS_IMAGE)
      .withName(`tsray-chaos-${this.suffix}-${node.id}-${(this.containers.get(node.id)?.length ?? 0) + 1}`)
      .withNetwork(this.network)
      .withEnvironment({ TSRAY_TOKEN: this.token, TSRAY_BUGS: this.bugs.join(","), ...(node.id === "head" ? {} : { RAY_CLOUD_INSTANCE_ID: node.id }) })
      .withBindMounts([{ source: this.dir, target: MOUNT, mode: "rw" }])
      .withEntrypoint(["ray"])
      .withCommand(["start", "--block", `--num-cpus=${node.cpus}`, `--temp-dir=${MOUNT}/${node.id}`, ...args])
      .withStartupTimeout(STARTUP_MS);
  }

  private async startHead(): Promise<void> {
    const head = this.nodes[0];
    const c = await this.container(head, ["--head", `--port=${GCS_PORT}`]).withNetworkAliases("head")
      .withWaitStrategy(Wait.forLogMessage(/started the head node/)).start();
    this.containers.set("head", [c]);
    this.address_ = `${c.getIpAddress(this.network.getName())}:${GCS_PORT}`;
    await this.untilAlive("head", -1);
  }

  private async views(id: string): Promise<NodeView[]> {
    const status = (await getStatus(this.address, this.token, 2_000)) as { nodes: NodeView[] };
    return status.nodes.filter((n) => n.node === id);
  }

  /** Waits until an incarnation of node `id` newer than `after` is alive in the GCS's table. */
  private async untilAlive(id: string, after: number): Promise<void> {
    const deadline = Date.now() + STARTUP_MS;
    for (;;) {
      try {
        if ((await this.views(id)).some((v) => v.alive && v.incarnation > after)) return;
      } catch { /* the GCS is not answering yet */ }
      if (Date.now() > deadline) throw new Error(`chaos: node "${id}" did not come up in its container within ${STARTUP_MS / 1000} s (logs: podman logs ${this.newest(id)?.getName() ?? "?"})`);
      await sleep(200);
    }
  }

  private async lastIncarnation(id: string): Promise<number> {
    return Math.max(-1, ...(await this.views(id)).map((v) => v.incarnation));
  }

  private newest(id: string): StartedTestContainer | undefined {
    return this.containers.get(id)?.at(-1);
  }

  private worker(id: string): { node: ChaosNode; container: StartedTestContainer | undefined } {
    const node = this.nodes.find((x) => x.id === id);
    if (!node || id === "head") throw new TypeError(`chaos: no worker node "${id}"`);
    return { node, container: this.newest(id) };
  }

  /** The engine's handle on a container, for what testcontainers does not do (kill, pause, start again). */
  private async engine(c: StartedTestContainer) {
    return (await getContainerRuntimeClient()).container.getById(c.getId());
  }

  /** Starts a new container for worker `id` (a new pod under the node's id: a new incarnation). */
  async join(id: string): Promise<void> {
    const { node } = this.worker(id);
    const before = await this.lastIncarnation(id);
    const c = await this.container(node, [`--address=head:${GCS_PORT}`]).start();
    this.containers.set(id, [...(this.containers.get(id) ?? []), c]);
    await this.untilAlive(id, before);
  }

  /** SIGKILLs node `id`'s container (its raylet and workers with it); it stays down until `join`. */
  async killNode(id: string): Promise<void> {
    const { container } = this.worker(id);
    if (!container) throw new Error(`chaos: node "${id}" has no container`);
    this.paused.delete(container.getId());
    await (await this.engine(container)).kill({ signal: "SIGKILL" });
  }

  /** PodChaos container-kill: SIGKILL the node's container and start the same one again, as the kubelet does. */
  async restartContainer(id: string): Promise<void> {
    const { container } = this.worker(id);
    if (!container) throw new Error(`chaos: node "${id}" has no container`);
    const before = await this.lastIncarnation(id);
    const handle = await this.engine(container);
    await handle.kill({ signal: "SIGKILL" });
    await handle.start();
    await this.untilAlive(id, before);
  }

  /** Freezes node `id`'s container (the cgroup freezer: every process in it) for `ms`. */
  async pause(id: string, ms: number): Promise<void> {
    const { container } = this.worker(id);
    if (!container) throw new Error(`chaos: node "${id}" has no container`);
    const handle = await this.engine(container);
    await handle.pause();
    this.paused.add(container.getId());
    await sleep(ms);
    if (this.paused.delete(container.getId())) await handle.unpause();
  }

  /**
   * Refused: the head's container runs its GCS and raylet as one process (`ray start --head
   * --block`, as KubeRay's head pod does), so the GCS cannot be restarted alone, and a new head
   * container would come up at another address than the driver holds.
   */
  async restartGcs(): Promise<void> {
    throw new Error("the containers target cannot restart the GCS alone (restart-gcs, pod-kill/pod-failure/container-kill of the head): the head container's GCS and raylet are one process; use --target local");
  }

  async setNetFaults(id: string, spec: NetFaultSpec): Promise<void> {
    await setNodeNetFaults(this.address, this.token, id, spec);
  }

  /** Every trace file under `dir` (each node's directory is its containers' mount; the driver's and the faults' are at the top). */
  async traces(): Promise<string[]> {
    return fs.readdirSync(this.dir, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".trace.jsonl")).map((f) => path.join(this.dir, f));
  }

  /** Stops every container gracefully (SIGTERM: `ray start --block` stops its daemons, flushing their traces), then the network. */
  async stop(): Promise<void> {
    const all = [...this.containers.values()].flat().reverse(); // the head last
    for (const c of all) {
      if (this.paused.delete(c.getId())) await (await this.engine(c)).unpause().catch(() => undefined);
      await c.stop({ timeout: 10_000 }).catch(() => undefined);
    }
    this.containers.clear();
    await this.network.stop().catch(() => undefined);
    await this.service.stop();
  }

  remove(): void {
    fs.rmSync(this.home, { recursive: true, force: true });
  }
}
