// `simulate()`: run a Ray program on a simulated cluster from a seed and get back its result,
// its trace and the trace's hash, and what the invariant checkers found.

import type { Ray } from "../src/api/ray.ts";
import type { ResourceSet } from "../src/core/resources.ts";
import { checkTrace, type Violation } from "../spec/invariants/index.ts";
import type { TraceEvent } from "../spec/trace.ts";
import { SimCluster, defaultSimConfig, type SimConfig, type SimNode } from "./cluster.ts";
import { validatePlan, type FaultPlan } from "./faults.ts";
import { standbyNodes } from "./autoscaling.ts";
import { explainBlocked } from "./blocked.ts";

/** What the simulator offers a program besides its driver's API. */
export interface SimHost {
  /**
   * Runs `program` as another job: a driver of its own on the head, gone (its job ended) once
   * the program settles. Its tasks never share a worker with the first driver's.
   */
  runJob<T>(program: (ray: Ray) => Promise<T>): Promise<T>;
}

export type Program<T = unknown> = (ray: Ray, host: SimHost) => Promise<T> | T;

export interface SimulateOptions<T> {
  readonly program: Program<T>;
  /** Default 1. */
  readonly seed?: number;
  /** A node count (ids "head", "node-1", …, each with `resources`) or explicit nodes. Default 1. */
  readonly nodes?: number | readonly SimNode[];
  /** Resources of each node when `nodes` is a count. Default { CPU: 4 }. */
  readonly resources?: ResourceSet;
  /** Overrides of the simulated cluster's timing and sizes. */
  readonly config?: Partial<Omit<SimConfig, "seed" | "nodes">>;
  /** Give up (with an error) past this virtual time. Default one virtual hour. */
  readonly maxVirtualMs?: number;
  /**
   * Give up (with an error) past this many events. Default: no limit. A run caught in a storm
   * (a task retried without end, every attempt a few events apart) passes a virtual-time limit
   * only after millions of events; this bound ends it sooner.
   */
  readonly maxEvents?: number;
  /** Run the invariant checkers over the trace. Default true (needs config.keepTrace). */
  readonly check?: boolean;
  /** With only housekeeping left for this long while the program waits, the run is a hang. Default: ten failure-detection periods. */
  readonly hangAfterMs?: number;
  /** Called with the cluster before it boots: tests use it to reach into a model. */
  readonly setup?: (sim: SimCluster) => void;
  /** Faults to inject (validated against the nodes). */
  readonly faults?: FaultPlan;
}

export interface SimResult<T> {
  readonly result?: T;
  /** The program's error, or a model's (an InvariantError or UnexpectedInputError: a bug in tsray). */
  readonly error?: Error;
  readonly traceHash: string;
  /** Empty when config.keepTrace is false. */
  readonly trace: TraceEvent[];
  readonly traceLength: number;
  readonly violations: Violation[];
  readonly virtualTimeMs: number;
  /** Simulated events processed. */
  readonly events: number;
  readonly seed: number;
  readonly nodes: readonly SimNode[];
}

export function nodeList(nodes: number | readonly SimNode[] | undefined, resources: ResourceSet = { CPU: 4 }): SimNode[] {
  if (nodes === undefined) nodes = 1;
  if (typeof nodes === "number") {
    if (!Number.isInteger(nodes) || nodes < 1) throw new RangeError(`nodes must be a positive integer, got ${nodes}`);
    return Array.from({ length: nodes }, (_, i) => ({ id: i === 0 ? "head" : `node-${i}`, resources }));
  }
  return nodes.slice();
}

const drain = () => new Promise<void>((r) => setImmediate(r));

export async function simulate<T>(opts: SimulateOptions<T>): Promise<SimResult<T>> {
  const seed = opts.seed ?? 1;
  if (!Number.isInteger(seed)) throw new TypeError(`seed must be an integer, got ${seed}`);
  if (typeof opts.program !== "function") throw new TypeError("simulate: program must be a function (ray) => result");
  const given = nodeList(opts.nodes, opts.resources);
  // The autoscaler's worker groups bring their standby machines.
  const nodes = opts.config?.autoscaling ? [...given, ...standbyNodes(opts.config.autoscaling.autoscaling)] : given;
  const cfg: SimConfig = { ...defaultSimConfig, ...opts.config, seed, nodes };
  const plan = opts.faults && validatePlan(opts.faults, nodes.map((n) => n.id));
  const sim = new SimCluster(cfg, plan);
  opts.setup?.(sim);
  const maxVirtualMs = opts.maxVirtualMs ?? 3_600_000;
  const maxEvents = opts.maxEvents ?? Infinity;
  if (!(maxEvents > 0)) throw new TypeError(`simulate: maxEvents must be a positive number, got ${opts.maxEvents}`);
  const check = opts.check ?? cfg.keepTrace;
  const finish = (result: T | undefined, error: Error | undefined): SimResult<T> => ({
    result, error, traceHash: sim.traceHash, trace: sim.trace, traceLength: sim.traceLength,
    violations: check ? checkTrace(sim.trace, { expectEnd: true }) : [], virtualTimeMs: sim.now, events: sim.events, seed, nodes,
  });
  try {
    sim.boot();
  } catch (e) {
    return finish(undefined, e instanceof Error ? e : new Error(String(e))); // a model's own check failed while booting
  }

  let done = false;
  let result: T | undefined;
  let error: Error | undefined;
  sim.schedule(0, () => {
    try {
      Promise.resolve(opts.program(sim.driverRay, sim)).then(
        (v) => { done = true; result = v; },
        (e) => { done = true; error = e instanceof Error ? e : new Error(String(e)); },
      );
    } catch (e) {
      done = true;
      error = e instanceof Error ? e : new Error(String(e));
    }
    sim.drainNeeded = true;
  });

  let ended = false;
  let quietSince: number | undefined;
  const hangAfterMs = opts.hangAfterMs ?? 10 * cfg.heartbeatMissLimit * cfg.viewPeriodMs;
  for (;;) {
    if (sim.drainNeeded) {
      sim.drainNeeded = false;
      await drain();
      continue; // settling promises may have scheduled work or finished the program
    }
    // A killed driver's program stops where it is: it is over, though it never returns.
    if (sim.driverKilled) done = true;
    if (done && !ended) {
      ended = true;
      // The program is over: it holds no references any more, and no fault is still to come.
      sim.cancelFaults();
      if (!sim.driverKilled) {
        try {
          sim.driver.releaseAll();
        } catch (e) {
          // A model's own check failed while the driver let go of its references: as in a step.
          error = e instanceof Error ? e : new Error(String(e));
          break;
        }
      }
      sim.emit(sim.head, { kind: "program.end", comp: "host", ok: error === undefined && !sim.driverKilled });
    }
    if (ended && sim.queue.pendingWork === 0) {
      // A death the GCS has not detected yet still has consequences to come (leases granted to
      // a dead node's workers come back on the news, a dead driver's leases, actors and objects
      // go on it): run the housekeeping until it is detected, within the hang bound (a node
      // that never registered is never declared dead).
      quietSince ??= sim.now;
      if (sim.undetected.size === 0 || sim.now - quietSince > hangAfterMs) {
        sim.emit(sim.head, { kind: "cluster.quiet", comp: "host" });
        if (!sim.alive(sim.driverAddr)) break;
        // Then the job ends, as in Ray when its driver exits: the driver process goes, and with
        // it (once the GCS hears) its non-detached actors and whatever leases it still held.
        // The checkers judge the quiet point before this one too (leases returned by the
        // program itself) and this last one (nothing left once the job is over).
        sim.driverGone();
        quietSince = undefined;
      }
    } else if (!done && sim.queue.pendingWork === 0) {
      // Only housekeeping is left. Failure detection runs on it, so give it time to act
      // (a lost message is noticed when its peer is declared dead) before calling it a hang.
      quietSince ??= sim.now;
      if (sim.now - quietSince > hangAfterMs) {
        const demand = sim.gcs.pendingDemands()[0];
        const waits = explainBlocked(sim.liveCoreWorkers()).map((l) => `\n  ${l}`).join("");
        error = new Error(demand
          ? `the program is blocked since virtual time ${quietSince.toFixed(1)} ms: it waits on a demand no node can meet: ${JSON.stringify(demand.resources)} (${demand.count} waiting)${waits}`
          : `the program is blocked since virtual time ${quietSince.toFixed(1)} ms: it waits on work that the cluster will never do (a deadlock or a lost message), or on something the simulator does not drive (a real timer or I/O in the program: use ray.sleep)${waits}`);
        break;
      }
    } else quietSince = undefined;
    if (sim.now > maxVirtualMs) {
      error = new Error(`the simulation passed its limit of ${maxVirtualMs} virtual ms`);
      break;
    }
    if (sim.events > maxEvents) {
      error = new Error(`the simulation passed its limit of ${maxEvents} events, at virtual time ${sim.now.toFixed(1)} ms`);
      break;
    }
    try {
      if (!sim.step()) break;
    } catch (e) {
      // A model's own check failed (or it was handed an input it cannot handle): the run ends
      // there, with that error, and the trace up to it.
      error = e instanceof Error ? e : new Error(String(e));
      break;
    }
  }

  return finish(result, error);
}
