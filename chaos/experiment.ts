// A chaos experiment: one of the simulator's workloads run against a real daemon cluster (on any
// target: target.ts) while real faults hit its processes and network, judged as a simulated scenario is — every invariant over the
// processes' merged traces, and each value against the simulator's fault-free run of the same
// workload (the functions are deterministic, so the simulator says what the values must be).
// Unlike a scenario, a run is not replayable exactly: the same experiment meets the faults at
// other moments of the work each time. After the last round the experiment marks the simulator's
// two quiet points (quiet.ts), so the leases and references checkers judge what is left held.

import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { DaemonDriver } from "../src/runtime/daemon/driver.ts";
import { DRIVER_GRACE_MS, RESTORED_DRIVER_GRACE_MS } from "../src/runtime/daemon/gcs-daemon.ts";
import { checkTrace } from "../spec/invariants/index.ts";
import { formatTrace, mergeTraces, parseTraceTolerant, type TraceBody, type TraceEvent } from "../spec/trace.ts";
import { ONE_DRIVER_FEATURES, workloadArb } from "../sim/arbitraries.ts";
import { compareResults } from "../sim/scenario.ts";
import { simulate } from "../sim/simulate.ts";
import { workloadProgram, type Observed, type Workload } from "../sim/workload.ts";
import type { SeededBug } from "../src/core/bugs.ts";
import type { NetFaultRule } from "../src/runtime/daemon/net-faults.ts";
import { POD_RESTART_MS, describe, faultArb, healsAt, netRule, type ChaosFault } from "./faults.ts";
import { QUIET_BOUND_MS, cpusInUse, jobOver, programSettled, type ClusterStatus } from "./quiet.ts";
import { startCluster, type ChaosCluster, type ChaosNode, type ChaosTargetName } from "./target.ts";

export { describe, type ChaosFault };

export interface ChaosExperiment {
  /** The head first. */
  readonly nodes: readonly ChaosNode[];
  readonly workload: Workload;
  readonly faults: readonly ChaosFault[];
  /** Seeded bugs to switch on in every process (mutation testing: the judge must catch them). */
  readonly bugs?: readonly SeededBug[];
}

export interface ChaosReport {
  readonly ok: boolean;
  readonly problems: readonly string[];
  /** What the last round returned. */
  readonly observed: Observed | undefined;
  readonly reference: Observed | undefined;
  /** Each fault, when it was applied (ms after the start), or why it could not be. */
  readonly applied: readonly { readonly fault: ChaosFault; readonly atMs: number; readonly error?: string }[];
  /** Nodes the GCS declared dead during the run (from the merged trace). */
  readonly deadNodes: readonly string[];
  /** How many times each node registered with the GCS (a node started again under its id: more than once). */
  readonly registrations: Readonly<Record<string, number>>;
  /** The nodes whose processes' traces were judged (every node's, when the target collected them all). */
  readonly tracedNodes: readonly string[];
  /** Times the workload ran: again and again until the last fault was over. */
  readonly rounds: number;
  /** The drivers a kill-driver fault killed (their addresses), each with the round it cut short (not compared). */
  readonly killedDrivers: readonly { readonly driver: string; readonly round: number }[];
  /** Drivers the GCS declared dead during the run (from the merged trace): every killed one, and the last when its job ended. */
  readonly deadDrivers: readonly string[];
  /** What `tsray status` showed once the job was over (every driver gone): CPUs in use per live node, actors by state, drivers. */
  readonly finalStatus: { readonly cpusInUse: Readonly<Record<string, number>>; readonly actors: Readonly<Record<string, number>>; readonly drivers: readonly string[] } | undefined;
  readonly traceEvents: number;
  /** How long the workload's rounds ran. */
  readonly workMs: number;
  readonly wallMs: number;
}

/** Experiments like the simulator's scenarios: a head and 1–2 worker nodes, a workload of up to 24 steps, 1 to 3 faults (never none: an experiment without a fault tests nothing chaos adds) in the first 1.5 s. */
export function experimentArb(opts: { maxSteps?: number; maxFaults?: number } = {}): fc.Arbitrary<ChaosExperiment> {
  const maxFaults = opts.maxFaults ?? 3;
  if (!Number.isInteger(maxFaults) || maxFaults < 1) throw new TypeError(`experimentArb: maxFaults must be an integer >= 1, got ${maxFaults}`);
  return fc.integer({ min: 2, max: 3 }).chain((n) => {
    const nodes: ChaosNode[] = Array.from({ length: n }, (_, i) => ({ id: i === 0 ? "head" : `node-${i}`, cpus: i === 0 ? 1 : 2 }));
    return fc.record({
      nodes: fc.constant(nodes),
      workload: workloadArb(n, opts.maxSteps ?? 24, false, ONE_DRIVER_FEATURES).filter((w) => w.steps.length > 0),
      faults: fc.array(faultArb(nodes.map((x) => x.id)), { minLength: 1, maxLength: maxFaults }),
    });
  });
}

/**
 * How soon a killed driver must be declared dead: the GCS's grace period for a driver's stream
 * (docs/ownership.md), or for a driver a restarted GCS restored, with room for a loaded machine.
 */
const DEATH_SLACK_MS = 5_000;
const DRIVER_DEATH_BOUND_MS = DRIVER_GRACE_MS + DEATH_SLACK_MS;
const RESTORED_DRIVER_DEATH_BOUND_MS = RESTORED_DRIVER_GRACE_MS + DEATH_SLACK_MS;
const QUIET_BOUND_S = QUIET_BOUND_MS / 1000;
/** What a round whose driver was killed under it returns. */
const KILLED: unique symbol = Symbol("killed");

/** How long a killed driver's successor keeps trying to reach the GCS. */
const SUCCESSOR_WAIT_MS = 30_000;

/** Rounds at most (a workload that finishes at once would otherwise run thousands of times). */
const MAX_ROUNDS = 100;

export interface RunOptions {
  /** Where the cluster runs (default local processes). */
  readonly target?: ChaosTargetName;
  readonly timeoutMs?: number;
  readonly log?: (line: string) => void;
  readonly keep?: boolean;
  /** Redis GCS fault tolerance (containers, kubernetes): the head's pod-kill then restarts the head on Redis. */
  readonly redis?: boolean;
}

/** Runs `e` on a fresh cluster of the target and judges it. */
export async function runExperiment(e: ChaosExperiment, opts: RunOptions = {}): Promise<ChaosReport> {
  const log = opts.log ?? (() => {});
  const problems: string[] = [];
  const reference = await simulate({
    seed: 1, nodes: e.nodes.map((n) => ({ id: n.id, resources: { CPU: n.cpus } })), program: workloadProgram(e.workload), maxVirtualMs: 120_000, check: false,
  });
  if (reference.error) problems.push(`the fault-free simulation failed: ${reference.error.message}`);
  const t0 = performance.now();
  const cluster = await startCluster(opts.target ?? "local", e.nodes, e.bugs, { redis: opts.redis });
  log(`  ${cluster.target} cluster up (${e.nodes.map((n) => n.id).join(", ")}) at ${cluster.address}; traces in ${cluster.dir}`);
  const applied: { fault: ChaosFault; atMs: number; error?: string }[] = [];
  const saved = { TSRAY_TOKEN: process.env.TSRAY_TOKEN, TSRAY_BUGS: process.env.TSRAY_BUGS };
  /** The experiment's own events (faults, the program's end, quiet points), traced as the simulator's host traces them. */
  const hostEvents: TraceEvent[] = [];
  const mark = (body: TraceBody) => hostEvents.push({ t: performance.timeOrigin + performance.now(), node: "head", ...body } as TraceEvent);
  let driver: DaemonDriver | undefined;
  let drivers = 0;
  const killedDrivers: { driver: string; round: number }[] = [];
  /** When each killed driver died (trace time). */
  const killedAt = new Map<string, number>();
  let finalStatus: ClusterStatus | undefined;
  let observed: Observed | undefined;
  let workMs = 0;
  let rounds = 0;
  const roundsObserved: { round: number; observed: Observed }[] = [];
  const due: NodeJS.Timeout[] = [];
  const injecting: Promise<void>[] = [];
  try {
    // How a driver finds the token, and the bugs its model is to have (the driver's model reads them).
    process.env.TSRAY_TOKEN = cluster.token;
    process.env.TSRAY_BUGS = (e.bugs ?? []).join(",");
    // Attached where the target says (ray.init attaches to the head, which a head pod-kill takes
    // away); each driver is a job of its own with its own trace file, in the directory the target collects.
    const connect = async () => {
      const n = drivers + 1;
      driver = await DaemonDriver.connect({ address: cluster.address, token: cluster.token, node: cluster.driverNode, traceFile: path.join(cluster.dir, n === 1 ? "driver.trace.jsonl" : `driver-${n}.trace.jsonl`) });
      drivers = n;
    };
    await connect();
    const start = performance.now();
    const dead = new Set<string>();
    // Faults run beside the workload, each at its time; one that takes time (a pause, a
    // restart) is awaited before the cluster stops, and one not yet due when the run ends is not run.
    let left = e.faults.length;
    const net = new NetRules(cluster);
    const inject = async (f: ChaosFault): Promise<void> => {
      const atMs = Math.round(performance.now() - start);
      try {
        if ("node" in f && dead.has(f.node)) throw new Error(`node ${f.node} is down already`);
        // Into the trace first, as the simulator does: the checkers judge errors against the faults.
        if (f.kind === "kill-driver" && (!driver || driver.isClosed)) throw new Error("no driver is running (the last one is dead, its successor still connecting)");
        const t = performance.timeOrigin + performance.now();
        const heals = healsAt(f);
        hostEvents.push({ t, node: "head", kind: "fault", comp: "host", fault: f.kind, detail: describe(f), until: heals === undefined ? undefined : t + heals - f.at });
        if (f.kind === "kill-driver") {
          killedDrivers.push({ driver: driver!.addr, round: rounds + 1 });
          killedAt.set(driver!.addr, t);
          driver!.kill();
        } else await applyFault(cluster, f, dead, net);
        applied.push({ fault: f, atMs });
        log(`  t=${atMs} ms: ${describe(f)}`);
      } catch (err) {
        applied.push({ fault: f, atMs, error: (err as Error).message });
        log(`  t=${atMs} ms: ${describe(f)}: not applied (${(err as Error).message})`);
      }
      left--;
    };
    for (const f of e.faults) due.push(setTimeout(() => injecting.push(inject(f)), f.at));
    // The workload runs in rounds until the last fault is over (a pause ended, a node rejoined),
    // so that every fault meets work in progress; each round must give the simulator's values.
    // A round whose driver was killed has partial values (not compared, as the simulator judges
    // a killed program on what it saw); a new driver goes on, for one whole round at least.
    const timeoutMs = opts.timeoutMs ?? 120_000;
    const program = workloadProgram(e.workload);
    let successorOwesRound = false;
    let hung = false;
    do {
      let timer: NodeJS.Timeout | undefined;
      const t = performance.now();
      const d = driver!;
      const out = await Promise.race([
        program(d.ray).catch((err: unknown): typeof KILLED => { if (d.isClosed) return KILLED; throw err; }),
        new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), timeoutMs); }),
      ]);
      clearTimeout(timer);
      rounds++;
      if (d.isClosed) {
        log(`  round ${rounds}: its driver ${d.addr} was killed; a new driver goes on`);
        // As a job submitter does, the successor waits for the GCS (a restart-gcs may be under way).
        for (const until = performance.now() + SUCCESSOR_WAIT_MS; ;) {
          try { await connect(); break; } catch (err) {
            if (performance.now() > until) throw err;
            await sleep(250);
          }
        }
        successorOwesRound = true;
        continue;
      }
      if (out === undefined || out === KILLED) { hung = true; problems.push(`round ${rounds} of the workload did not finish within ${timeoutMs / 1000} s (a hang)`); break; }
      observed = out;
      roundsObserved.push({ round: rounds, observed: out });
      successorOwesRound = false;
      if (performance.now() - t < 20) await new Promise((r) => setTimeout(r, 50)); // a workload with nothing to wait on
    } while ((left > 0 || successorOwesRound) && rounds < MAX_ROUNDS);
    workMs = Math.round(performance.now() - start);
    log(`  the workload ran ${rounds} round(s) in ${workMs} ms`);
    // The program's end, then the simulator's two quiet points: its work settled (the last
    // driver still connected), then its job over (every driver gone and declared dead).
    for (const t of due) clearTimeout(t);
    await Promise.all(injecting);
    if (hung) throw new Error("a round hung: no quiet point to judge");
    const last = driver!;
    await last.releaseAll();
    mark({ kind: "program.end", comp: "host", ok: problems.length === 0 });
    const settled = await programSettled(cluster.address, cluster.token, last, killedDrivers.map((k) => k.driver));
    if (settled.unsettled) problems.push(`the cluster did not settle after the program ended (within ${QUIET_BOUND_S} s): ${settled.unsettled}`);
    else mark({ kind: "cluster.quiet", comp: "host" });
    await last.shutdown();
    // Detached named actors outlive the job: at most one per name the workload makes detached.
    const detached = new Set(e.workload.steps.flatMap((s) => (s.op === "named" && s.detached ? [`${s.ns}/${s.name}`] : []))).size;
    const over = await jobOver(cluster.address, cluster.token, detached);
    finalStatus = over.status;
    if (over.unsettled) problems.push(`the job did not end cleanly (within ${QUIET_BOUND_S} s of its driver's exit): ${over.unsettled}`);
    // Every driver buried: whatever is still held now is the checkers' to name.
    if (over.status && over.status.drivers.length === 0) mark({ kind: "cluster.quiet", comp: "host" });
    log(`  quiet: ${settled.unsettled ? "not" : ""} after the program, ${over.unsettled ? "not" : ""} after the job (CPUs in use: ${JSON.stringify(over.status ? cpusInUse(over.status) : {})})`);
  } catch (err) {
    problems.push(`the workload failed: ${(err as Error).message}`);
  } finally {
    for (const t of due) clearTimeout(t);
    await Promise.all(injecting);
    await driver?.shutdown().catch((err: Error) => problems.push(`the driver did not shut down: ${err.message}`));
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await new Promise((r) => setTimeout(r, 300)); // the frees reach the stores before they stop
    await cluster.stop();
  }
  // The faults' own trace, beside the processes': `tsray check` on the directory judges alike.
  fs.writeFileSync(path.join(cluster.dir, "chaos.trace.jsonl"), formatTrace(hostEvents));
  const traces: TraceEvent[][] = [];
  for (const file of await cluster.traces()) traces.push(parseTraceTolerant(fs.readFileSync(file, "utf8")).events);
  const events = mergeTraces(traces);
  for (const v of checkTrace(events, {})) problems.push(`[${v.invariant}] t=${v.t} ${v.message}`);
  const restarted = events.some((x) => x.kind === "actor.state" && x.state === "RESTARTING");
  for (const { round, observed: o } of roundsObserved) {
    for (const p of compareResults(e.workload, reference.result, o, restarted)) problems.push(`round ${round}: ${p}`);
  }
  // The failure-detection bound: a killed driver is declared dead within the GCS's grace period
  // (and some slack), counted from its death or, if the GCS restarted since, from the GCS's
  // recovery: a GCS that is down declares nothing, and a restarted one grants every driver it
  // restores the grace again.
  for (const k of killedDrivers) {
    const buried = events.find((x) => x.kind === "driver.dead" && x.driver === k.driver);
    const at = killedAt.get(k.driver)!;
    if (!buried) { problems.push(`the killed driver ${k.driver} was never declared dead`); continue; }
    const from = Math.max(at, ...events.filter((x) => x.kind === "gcs.recovered" && x.t > at && x.t <= buried.t).map((x) => x.t));
    const since = from === at ? "its death" : "the GCS recovered";
    const bound = from === at ? DRIVER_DEATH_BOUND_MS : RESTORED_DRIVER_DEATH_BOUND_MS;
    if (buried.t - from > bound) problems.push(`the killed driver ${k.driver} was declared dead ${Math.round(buried.t - from)} ms after ${since} (bound: ${bound} ms)`);
  }
  if (!opts.keep && problems.length === 0) cluster.remove();
  else log(`  kept ${cluster.home}`);
  const deadNodes = [...new Set(events.flatMap((x) => (x.kind === "node.dead" ? [x.id] : [])))];
  const registrations: Record<string, number> = {};
  for (const x of events) if (x.kind === "node.registered") registrations[x.id] = (registrations[x.id] ?? 0) + 1;
  const tracedNodes = [...new Set(events.filter((x) => x.comp !== "host").map((x) => x.node))].sort();
  const deadDrivers = [...new Set(events.flatMap((x) => (x.kind === "driver.dead" ? [x.driver] : [])))];
  const finalView = finalStatus && { cpusInUse: cpusInUse(finalStatus), actors: finalStatus.actors, drivers: finalStatus.drivers };
  return {
    ok: problems.length === 0, problems, observed, reference: reference.result, applied, deadNodes, registrations, tracedNodes, rounds,
    killedDrivers, deadDrivers, finalStatus: finalView, traceEvents: events.length, workMs, wallMs: Math.round(performance.now() - t0),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The network rules in force on each node: faults overlap, and a restarted daemon starts with none. */
class NetRules {
  private readonly rules = new Map<string, NetFaultRule[]>();
  constructor(private readonly cluster: ChaosCluster) {}
  async add(node: string, r: NetFaultRule): Promise<void> {
    this.rules.set(node, [...(this.rules.get(node) ?? []), r]);
    await this.apply(node);
  }
  async remove(node: string, r: NetFaultRule): Promise<void> {
    this.rules.set(node, (this.rules.get(node) ?? []).filter((x) => x !== r));
    await this.apply(node);
  }
  /** Sets node's rules again (after its daemons restarted). */
  async apply(node: string): Promise<void> {
    const rules = this.rules.get(node);
    if (rules) await this.cluster.setNetFaults(node, { rules });
  }
}

/** Injects `f` into `cluster` and waits until it is over (a window healed, a node back). */
async function applyFault(cluster: ChaosCluster, f: ChaosFault, dead: Set<string>, net: NetRules): Promise<void> {
  const rejoin = async (node: string, downMs: number) => {
    dead.add(node);
    await cluster.killNode(node);
    await sleep(downMs);
    await cluster.join(node);
    dead.delete(node);
    await net.apply(node);
  };
  const restartGcs = async (downMs: number) => {
    await cluster.restartGcs(downMs);
    await net.apply("head");
  };
  switch (f.kind) {
    case "kill-node": dead.add(f.node); await cluster.killNode(f.node); return;
    case "restart-node": return rejoin(f.node, f.downMs);
    case "pause": return cluster.pause(f.node, f.ms);
    case "restart-gcs": return restartGcs(f.downMs);
    // The head's pod holds the GCS: with its storage outside (a file here, Redis on a cluster) it comes back.
    case "pod-kill": return f.node === "head" ? restartGcs(POD_RESTART_MS) : rejoin(f.node, POD_RESTART_MS);
    case "pod-failure": return f.node === "head" ? restartGcs(f.ms) : rejoin(f.node, f.ms);
    case "container-kill":
      if (f.node === "head") return restartGcs(POD_RESTART_MS);
      if (cluster.restartContainer) { await cluster.restartContainer(f.node); return net.apply(f.node); }
      return rejoin(f.node, POD_RESTART_MS);
    case "kill-driver": throw new Error("kill-driver strikes the experiment's own driver, not the cluster");
    case "partition": case "delay": case "loss": case "duplicate": {
      const rule = netRule(f);
      await net.add(f.node, rule);
      await sleep(f.ms);
      await net.remove(f.node, rule);
      return;
    }
  }
}
