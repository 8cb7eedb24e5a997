// The kubernetes target of chaos experiments: a chaos cluster as the pods KubeRay would build
// for a RayCluster with the experiment's nodes (chaos/kube-pods.ts), made through the API server
// in KUBECONFIG (kind with the tsray image loaded, or any cluster). The KubeRay operator is not
// needed: this target creates the pods and the head Service itself and plays the operator's
// reconcile, creating a node's pod again after a pod-kill. The faults go through the API — pod
// deletion for pod-kill and pod-failure (the head's too, with Redis GCS fault tolerance), Chaos
// Mesh's PodChaos for container-kill when Chaos Mesh is installed — and network faults through
// each daemon's NetFaults call, at the pod IPs the GCS's node table holds. This process is the
// driver, so it must reach pod IPs (run it in a pod of the cluster, or on Linux route kind's pod
// network through its node: docs/chaos.md); the GCS it reaches through a port of this machine
// forwarded to whichever head pod runs. Each pod's traces are copied out (an exec of node in its
// Ray container) before the pod is deleted and when the run ends.

import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { Exec, KubeConfig } from "@kubernetes/client-node";
import type { SeededBug } from "../src/core/bugs.ts";
import type { NetFaultSpec } from "../src/runtime/daemon/net-faults.ts";
import { lastIncarnation, untilAlive } from "./node-incarnations.ts";
import { GCS_PORT, KubePods, TRACE_DIR, chaosPod, headService, redisObjects, type KubeChaosSpec } from "./kube-pods.ts";
import { setNodeNetFaults } from "./node-net-faults.ts";
import type { ChaosCluster, ChaosNode, ClusterOptions } from "./target.ts";
import { TcpForward } from "./tcp-forward.ts";

/** The image of every Ray pod (k8s/kind/up.sh loads tsray:<version>); TSRAY_CHAOS_IMAGE names another. */
const IMAGE = process.env.TSRAY_CHAOS_IMAGE ?? `tsray:${JSON.parse(fs.readFileSync(new URL("../package.json", import.meta.url), "utf8")).version as string}`;
const REDIS_IMAGE = process.env.TSRAY_CHAOS_REDIS_IMAGE ?? "redis:7";
const STARTUP_MS = 240_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The namespace of the chaos cluster: $TSRAY_CHAOS_NAMESPACE, else the kubeconfig context's, else "default". */
export function chaosNamespace(kc: KubeConfig): string {
  return process.env.TSRAY_CHAOS_NAMESPACE ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? "default";
}

export class KubernetesCluster implements ChaosCluster {
  readonly target = "kubernetes";
  /** Node id → its pods' names, the newest last. */
  private readonly pods = new Map<string, string[]>();

  private constructor(
    readonly home: string,
    readonly dir: string,
    private readonly spec: KubeChaosSpec,
    private readonly api: KubePods,
    private readonly kc: KubeConfig,
    private readonly gcs: TcpForward,
    private readonly log: (line: string) => void,
  ) {}

  get token(): string { return this.spec.token; }
  get address(): string { return this.gcs.address; }
  /** With Redis, the head's pod may be killed: the driver attaches to the first worker. */
  get driverNode(): string | undefined { return this.spec.redis ? this.spec.nodes[1]?.id : undefined; }

  /** Creates the cluster's objects and waits until every node is alive; `kc` defaults to KUBECONFIG's. */
  static async start(nodes: readonly ChaosNode[], bugs: readonly SeededBug[] = [], opts: ClusterOptions & { kubeConfig?: KubeConfig; log?: (line: string) => void } = {}): Promise<KubernetesCluster> {
    if (nodes.length === 0 || nodes[0]!.id !== "head") throw new TypeError("chaos: the first node must be the head");
    if (opts.redis && nodes.length < 2) throw new TypeError("chaos: Redis GCS fault tolerance needs a worker node for the driver to attach to (the head's pod may be killed)");
    const kc = opts.kubeConfig ?? defaultKubeConfig();
    const namespace = chaosNamespace(kc);
    const spec: KubeChaosSpec = {
      cluster: `tsray-chaos-${randomBytes(3).toString("hex")}`, namespace, image: IMAGE, nodes,
      token: randomBytes(16).toString("hex"), bugs: bugs.join(","),
      ...(opts.redis ? { redis: { image: REDIS_IMAGE, password: randomBytes(12).toString("hex") } } : {}),
    };
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "tsray-chaos-"));
    const dir = path.join(home, "cluster");
    fs.mkdirSync(dir);
    const api = new KubePods(kc, namespace);
    const gcs = await TcpForward.start(); // pointed at the head pod once it runs
    const c = new KubernetesCluster(home, dir, spec, api, kc, gcs, opts.log ?? (() => {}));
    try {
      if (spec.redis) {
        const r = redisObjects(spec);
        await api.createService(r.service);
        await api.createPod(r.pod);
        await api.running(r.pod.metadata!.name!, STARTUP_MS);
      }
      await api.createService(headService(spec));
      await c.startHead(-1);
      for (const n of nodes.slice(1)) await c.join(n.id);
    } catch (e) {
      await c.stop(); // nothing left behind
      throw e;
    }
    return c;
  }

  private newest(id: string): string | undefined {
    return this.pods.get(id)?.at(-1);
  }

  /** Creates node `id`'s next pod and waits until it runs; returns its IP. */
  private async createPod(id: string): Promise<string> {
    const k = (this.pods.get(id)?.length ?? 0) + 1;
    const pod = chaosPod(this.spec, id, k);
    await this.api.createPod(pod);
    this.pods.set(id, [...(this.pods.get(id) ?? []), pod.metadata!.name!]);
    return this.api.running(pod.metadata!.name!, STARTUP_MS);
  }

  private async startHead(before: number): Promise<void> {
    const ip = await this.createPod("head");
    this.gcs.retarget(ip, GCS_PORT);
    await this.untilAlive("head", before);
  }

  private lastIncarnation(id: string): Promise<number> { return lastIncarnation(this, id); }

  /** Waits until an incarnation of node `id` newer than `after` is alive in the GCS's table. */
  private untilAlive(id: string, after: number): Promise<void> {
    return untilAlive(this, id, after, STARTUP_MS, () => `kubectl logs ${this.newest(id) ?? "?"} -n ${this.spec.namespace}`);
  }



  private worker(id: string): string {
    if (id === "head" || !this.spec.nodes.some((n) => n.id === id)) throw new TypeError(`chaos: no worker node "${id}"`);
    const pod = this.newest(id);
    if (!pod) throw new Error(`chaos: node "${id}" has no pod`);
    return pod;
  }

  /** A new pod for worker `id` (the one KubeRay's reconcile makes after a pod-kill: a new incarnation). */
  async join(id: string): Promise<void> {
    if (id === "head" || !this.spec.nodes.some((n) => n.id === id)) throw new TypeError(`chaos: no worker node "${id}"`);
    const before = this.pods.has(id) ? await this.lastIncarnation(id) : -1;
    await this.createPod(id);
    await this.untilAlive(id, before);
  }

  /** PodChaos pod-kill: the worker's pod deleted at once (its traces copied out first); it stays down until `join`. */
  async killNode(id: string): Promise<void> {
    const pod = this.worker(id);
    await this.collect(pod);
    await this.api.deletePod(pod);
  }

  /** PodChaos container-kill through Chaos Mesh: the kubelet restarts the Ray container in its pod. */
  async restartContainer(id: string): Promise<void> {
    const pod = this.worker(id);
    const before = await this.lastIncarnation(id);
    await this.api.containerKill(`${pod}-kill-${randomBytes(2).toString("hex")}`, pod, "ray-worker", STARTUP_MS);
    await this.untilAlive(id, before);
  }

  /** Refused: no Kubernetes API (nor Chaos Mesh action) freezes a pod's processes. */
  async pause(): Promise<void> {
    throw new Error("the kubernetes target cannot pause a node (no Kubernetes API or Chaos Mesh action freezes a pod's processes); use --target local or containers");
  }

  /**
   * With Redis GCS fault tolerance: the head's pod-kill — the head pod deleted (its GCS and head
   * raylet), and `downMs` later a new head pod, its GCS on the tables in Redis. Without it, refused.
   */
  async restartGcs(downMs: number): Promise<void> {
    if (!this.spec.redis) throw new Error("the kubernetes target restarts the head (restart-gcs, a fault of the head's pod) only with Redis GCS fault tolerance (--redis): without it the new GCS starts empty");
    const before = await this.lastIncarnation("head");
    const pod = this.newest("head")!;
    await this.collect(pod);
    await this.api.deletePod(pod);
    await sleep(downMs);
    await this.startHead(before);
  }

  async setNetFaults(id: string, spec: NetFaultSpec): Promise<void> {
    await setNodeNetFaults(this.address, this.token, id, spec);
  }

  /**
   * Copies pod `pod`'s trace files into `dir/<pod>/`: an exec of node in its Ray container that
   * prints them as one JSON object (the image has node; it need not have tar). A pod that cannot
   * be read is reported in the log and its traces are missing from the judgement.
   */
  private async collect(pod: string): Promise<void> {
    const container = pod.startsWith(`${this.spec.cluster}-head-`) ? "ray-head" : "ray-worker";
    const script = `const fs=require("fs"),p=require("path");const o={};for(const f of fs.readdirSync(${JSON.stringify(TRACE_DIR)},{recursive:true}))if(String(f).endsWith(".trace.jsonl"))o[f]=fs.readFileSync(p.join(${JSON.stringify(TRACE_DIR)},String(f)),"utf8");process.stdout.write(JSON.stringify(o))`;
    let out = "";
    let err = "";
    const sink = (add: (s: string) => void) => new Writable({ write(chunk, _enc, done) { add(String(chunk)); done(); } });
    try {
      await new Promise<void>((resolve, reject) => {
        new Exec(this.kc).exec(this.spec.namespace, pod, container, ["node", "-e", script], sink((s) => { out += s; }), sink((s) => { err += s; }), null, false,
          (status) => (status.status === "Success" ? resolve() : reject(new Error(`${status.message ?? status.status}: ${err}`))))
          .then((ws) => ws.on("close", () => resolve()), reject);
      });
      const files = JSON.parse(out) as Record<string, string>;
      for (const [f, text] of Object.entries(files)) {
        const to = path.join(this.dir, pod, f);
        fs.mkdirSync(path.dirname(to), { recursive: true });
        fs.writeFileSync(to, text);
      }
    } catch (e) {
      this.log(`  chaos: the traces of pod ${pod} could not be copied (${(e as Error).message}); they are not judged`);
    }
  }

  /** Every trace file under `dir` (each pod's copied under its name; the driver's and the faults' at the top). */
  async traces(): Promise<string[]> {
    return fs.readdirSync(this.dir, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".trace.jsonl")).map((f) => path.join(this.dir, f));
  }

  /** Copies every live pod's traces out, then deletes the cluster's pods and Services. */
  async stop(): Promise<void> {
    const live = [...this.pods.values()].map((names) => names.at(-1)!);
    for (const pod of live) await this.collect(pod);
    for (const pod of [...this.pods.values()].flat().reverse()) await this.api.deletePod(pod).catch(() => undefined);
    this.pods.clear();
    await this.api.deleteService(`${this.spec.cluster}-head-svc`).catch(() => undefined);
    if (this.spec.redis) {
      await this.api.deletePod(`${this.spec.cluster}-redis`).catch(() => undefined);
      await this.api.deleteService(`${this.spec.cluster}-redis`).catch(() => undefined);
    }
    await this.gcs.close();
  }

  remove(): void {
    fs.rmSync(this.home, { recursive: true, force: true });
  }
}

/** KUBECONFIG's (or ~/.kube/config's, or in-cluster) configuration; an error naming what is missing when there is none. */
export function defaultKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  if (!kc.getCurrentCluster()) throw new Error("chaos: the kubernetes target found no cluster (set KUBECONFIG, e.g. after k8s/kind/up.sh, or run it in a pod)");
  return kc;
}
