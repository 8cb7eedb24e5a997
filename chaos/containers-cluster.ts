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
// With Redis GCS fault tolerance (KubeRay's gcsFaultToleranceOptions), a Redis container runs at
// the alias `redis`, the head keeps the GCS's tables there (RAY_REDIS_ADDRESS), and the head's
// pod-kill is what KubeRay does on a real one: the head container dies (GCS and head raylet) and
// a new one comes up under the alias `head` (the head Service's name), on the tables in Redis,
// while the workers wait for it and carry on. The driver then attaches to the first worker (a
// driver in the head pod dies with it) and reaches the GCS through a port of this machine mapped
// to whichever head container runs, as a client reaches the head Service.

import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { GenericContainer, Network, Wait, getContainerRuntimeClient, type StartedNetwork, type StartedTestContainer } from "testcontainers";
import type { SeededBug } from "../src/core/bugs.ts";
import type { NetFaultSpec } from "../src/runtime/daemon/net-faults.ts";
import { lastIncarnation, untilAlive } from "./node-incarnations.ts";
import { setNodeNetFaults } from "./node-net-faults.ts";
import { podmanService } from "./podman-service.ts";
import { freePort } from "../src/runtime/free-port.ts";
import type { ChaosCluster, ChaosNode, ClusterOptions } from "./target.ts";

/** The image every node runs (k8s/image/build.sh builds it); TSRAY_CHAOS_IMAGE names another. */
const CHAOS_IMAGE = process.env.TSRAY_CHAOS_IMAGE ?? "localhost/tsray:dev";
/** The Redis of GCS fault tolerance (k8s/image/build-redis.sh builds it); TSRAY_CHAOS_REDIS_IMAGE names another. */
const REDIS_IMAGE = process.env.TSRAY_CHAOS_REDIS_IMAGE ?? "localhost/tsray-redis:dev";
const REDIS_PORT = 6379;
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
  private redis_: StartedTestContainer | undefined;

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
    /** With Redis GCS fault tolerance: the Redis password, and the port of this machine the GCS is mapped to. */
    private readonly ft: { readonly password: string; readonly hostPort: number } | undefined,
  ) {}

  get driverNode(): string | undefined {
    return this.ft ? this.nodes[1]?.id : undefined;
  }

  get address(): string {
    return this.address_;
  }

  /** A head (the first node) and the other nodes, a container each; `bugs` are switched on in every daemon. */
  static async start(nodes: readonly ChaosNode[], bugs: readonly SeededBug[] = [], opts: ClusterOptions = {}): Promise<ContainersCluster> {
    if (nodes.length === 0 || nodes[0].id !== "head") throw new TypeError("chaos: the first node must be the head");
    if (opts.redis && nodes.length < 2) throw new TypeError("chaos: Redis GCS fault tolerance needs a worker node for the driver to attach to (the head's pod may be killed)");
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
    const ft = opts.redis ? { password: randomBytes(12).toString("hex"), hostPort: await freePort() } : undefined;
    const c = new ContainersCluster(home, dir, randomBytes(16).toString("hex"), nodes, bugs, network, service, randomBytes(3).toString("hex"), ft);
    try {
      if (ft) await c.startRedis(ft.password);
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
    // Each container of the node its own directory (a new head's GCS would overwrite the killed one's trace).
    const k = (this.containers.get(node.id)?.length ?? 0) + 1;
    const sub = k === 1 ? node.id : `${node.id}-${k}`;
    fs.mkdirSync(path.join(this.dir, sub), { recursive: true });
    return new GenericContainer(CHAOS_IMAGE)
      .withName(`tsray-chaos-${this.suffix}-${node.id}-${k}`)
      .withNetwork(this.network)
      .withEnvironment({ TSRAY_TOKEN: this.token, TSRAY_BUGS: this.bugs.join(","), ...(node.id === "head" ? this.headFtEnv() : { RAY_CLOUD_INSTANCE_ID: node.id }) })
      .withBindMounts([{ source: this.dir, target: MOUNT, mode: "rw" }])
      .withEntrypoint(["ray"])
      .withCommand(["start", "--block", `--num-cpus=${node.cpus}`, `--temp-dir=${MOUNT}/${sub}`, ...args])
      // What the daemons print (links lost and found, refusals) beside the container's traces:
      // the container is gone when a failed experiment is read.
      .withLogConsumer((out) => out.pipe(fs.createWriteStream(path.join(this.dir, sub, "container.log"))))
      .withStartupTimeout(STARTUP_MS);
  }

  /** What KubeRay gives the head with gcsFaultToleranceOptions (the Redis password as `--redis-password` would). */
  private headFtEnv(): Record<string, string> {
    if (!this.ft) return {};
    return { RAY_REDIS_ADDRESS: `redis:${REDIS_PORT}`, REDIS_PASSWORD: this.ft.password, RAY_external_storage_namespace: `tsray-chaos-${this.suffix}` };
  }

  /** The Redis beside the cluster (KubeRay's samples run one as a Deployment and Service named redis). */
  private async startRedis(password: string): Promise<void> {
    this.redis_ = await new GenericContainer(REDIS_IMAGE)
      .withName(`tsray-chaos-${this.suffix}-redis`)
      .withNetwork(this.network).withNetworkAliases("redis")
      .withCommand(["redis-server", "--port", String(REDIS_PORT), "--requirepass", password, "--save", "", "--appendonly", "no", "--protected-mode", "no"])
      .withWaitStrategy(Wait.forLogMessage(/Ready to accept connections/))
      .withStartupTimeout(STARTUP_MS)
      .start();
  }

  /** Starts a head container (again, after a pod-kill: the new pod) under the alias `head`, and waits for a head raylet newer than `before`. */
  private async startHead(before = -1): Promise<void> {
    const head = this.nodes[0];
    let spec = this.container(head, ["--head", `--port=${GCS_PORT}`]).withNetworkAliases("head")
      .withWaitStrategy(Wait.forLogMessage(/started the head node/));
    if (this.ft) spec = spec.withExposedPorts({ container: GCS_PORT, host: this.ft.hostPort });
    const c = await spec.start();
    this.containers.set("head", [...(this.containers.get("head") ?? []), c]);
    this.address_ = this.ft ? `127.0.0.1:${this.ft.hostPort}` : `${c.getIpAddress(this.network.getName())}:${GCS_PORT}`;
    await this.untilAlive("head", before);
  }

  private lastIncarnation(id: string): Promise<number> { return lastIncarnation(this, id); }

  /** Waits until an incarnation of node `id` newer than `after` is alive in the GCS's table. */
  private untilAlive(id: string, after: number): Promise<void> {
    return untilAlive(this, id, after, STARTUP_MS, () => `in its container; logs: podman logs ${this.newest(id)?.getName() ?? "?"}`);
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
   * With Redis GCS fault tolerance: the head's pod-kill — SIGKILL the head container (its GCS and
   * raylet are one process, `ray start --head --block`, as in KubeRay's head pod) and, `downMs`
   * later, a new head container under the alias `head`, its GCS on the tables in Redis. Without
   * it, refused: a new GCS would start empty, which no KubeRay cluster without FT survives either.
   */
  async restartGcs(downMs: number): Promise<void> {
    if (!this.ft) throw new Error("the containers target restarts the head (restart-gcs, pod-kill/pod-failure/container-kill of the head) only with Redis GCS fault tolerance (--redis): without it the new GCS starts empty");
    const before = await this.lastIncarnation("head");
    await (await this.engine(this.newest("head")!)).kill({ signal: "SIGKILL" });
    await sleep(downMs);
    await this.startHead(before);
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
    await this.redis_?.stop({ timeout: 2_000 }).catch(() => undefined);
    await this.network.stop().catch(() => undefined);
    await this.service.stop();
  }

  remove(): void {
    fs.rmSync(this.home, { recursive: true, force: true });
  }
}
