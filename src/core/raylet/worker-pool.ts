// The raylet's worker pool: this node's worker processes, each one's place in its lifecycle
// (lifecycle/worker.ts), the job it is bound to, the lease it serves, and which are idle. As in
// Ray's raylet, a worker is started for one job and serves only that job's leases (a later job
// never finds an earlier one's globals or objects in it); a process is started only when a
// granted lease finds no idle worker of its job; and a worker that became an actor never
// returns to the pool. A start never waits for another job's idle worker to go: the workers
// beyond the node's soft limit are asked to exit once they idled long enough (raylet.ts).

import { InvariantError } from "../assert.ts";
import { nextWorkerState, type WorkerState } from "../lifecycle/worker.ts";
import type { Addr, JobId, NodeId } from "../types.ts";

export interface Worker {
  state: WorkerState;
  /** The job it was started for: it serves that job's leases only, and dies with it. */
  readonly job: JobId;
  /** The lease it serves, if any: one at a time. */
  lease?: string;
  /** When it last joined the idle list. */
  idleSince?: number;
  /** The raylet's request that it exit (Exit's `ask`), while the answer is awaited: it is out of the idle list meanwhile. */
  exiting?: number;
}

export class WorkerPool {
  readonly workers = new Map<Addr, Worker>();
  /** Registered and serving no lease, longest idle first: the next grant takes the last one in. */
  readonly idle: Addr[] = [];
  /** Registered workers (leased, idle, actors') that were not asked to exit: what the soft limit counts. */
  private liveCount = 0;
  /** Started and not yet registered. */
  private startingCount = 0;
  private nextWorker = 1;

  /** `incarnation` keeps worker addresses unique across this node's lives. */
  constructor(private readonly node: NodeId, private readonly incarnation: number, private readonly startProcess: (worker: Addr) => void) {}

  get starting(): number { return this.startingCount; }

  /** Registered workers not asked to exit, of every job, leased or idle (as Ray counts them for its soft limit). */
  get live(): number { return this.liveCount; }

  /** How many workers are starting for `job`. */
  startingFor(job: JobId): number {
    let n = 0;
    if (this.startingCount > 0) for (const w of this.workers.values()) if (w.state === "STARTING" && w.job === job) n++;
    return n;
  }

  /** Starts a worker process for `job`; it joins the pool when it registers. */
  start(job: JobId): void {
    const worker = `${this.node}/w${this.incarnation}-${this.nextWorker++}`;
    this.workers.set(worker, { state: "STARTING", job });
    this.startingCount++;
    this.startProcess(worker);
  }

  /** A worker this pool started registered: true if it is newly ready, to lease or park (false for a stranger or a repeat). */
  registered(worker: Addr): boolean {
    const w = this.workers.get(worker);
    if (!w || w.state !== "STARTING") return false;
    this.startingCount--;
    this.liveCount++;
    w.state = nextWorkerState(w.state, { type: "REGISTERED" });
    return true;
  }

  /** A ready worker with nothing to serve waits in the pool, idle since `now`. */
  park(worker: Addr, now: number): void {
    this.workers.get(worker)!.idleSince = now;
    this.idle.push(worker);
  }

  /** The longest idle worker leaves the idle list while it is asked (`ask`) to exit. */
  askExit(ask: number): Addr {
    const worker = this.idle.shift()!;
    this.workers.get(worker)!.exiting = ask;
    this.liveCount--;
    return worker;
  }

  /** The worker asked to exit by `ask` refused (it owns something): it idles again, from `now`. */
  exitRefused(worker: Addr, now: number): void {
    this.workers.get(worker)!.exiting = undefined;
    this.liveCount++;
    this.park(worker, now);
  }

  /** The idle worker of `job` that came in last (`anyJob`: of whatever job, seeded bug `shared-workers`). */
  takeIdle(job: JobId, anyJob: boolean): Addr | undefined {
    for (let i = this.idle.length - 1; i >= 0; i--) {
      if (anyJob || this.workers.get(this.idle[i])!.job === job) return this.idle.splice(i, 1)[0];
    }
    return undefined;
  }

  /** The registered workers bound to `job` (idle, leased, or actors'), in the order they started. */
  ofJob(job: JobId): Addr[] {
    const out: Addr[] = [];
    for (const [addr, w] of this.workers) if (w.job === job && w.state !== "STARTING") out.push(addr);
    return out;
  }

  /** The worker now serves `leaseId` (and, for an actor, serves it until it dies). */
  lease(worker: Addr, leaseId: string, actor: boolean): void {
    const w = this.workers.get(worker)!;
    if (w.lease !== undefined) throw new InvariantError(`worker pool of ${this.node}: lease ${leaseId} granted on ${worker}, which holds ${w.lease}`);
    w.state = nextWorkerState(w.state, { type: "LEASED" });
    if (actor) w.state = nextWorkerState(w.state, { type: "BECAME_ACTOR" });
    w.lease = leaseId;
  }

  /**
   * The worker's lease ended: it goes back to the pool, or, when `destroy` is asked or it is an
   * actor's, it leaves the pool and the caller kills it ("killed"). Undefined: not in the pool.
   */
  leaseEnded(worker: Addr, destroy: boolean, now: number): "idle" | "killed" | undefined {
    const w = this.workers.get(worker);
    if (!w) return undefined;
    w.lease = undefined;
    if (destroy || w.state === "ACTOR") {
      w.state = nextWorkerState(w.state, { type: "EXITED" });
      this.workers.delete(worker);
      this.liveCount--;
      return "killed";
    }
    w.state = nextWorkerState(w.state, { type: "RETURNED" });
    this.park(worker, now);
    return "idle";
  }

  /** The worker's process exited, or the raylet kills it: it leaves the pool. Returns what it was (undefined: not ours). */
  exited(worker: Addr): Worker | undefined {
    const w = this.workers.get(worker);
    if (!w) return undefined;
    this.workers.delete(worker);
    const i = this.idle.indexOf(worker);
    if (i >= 0) this.idle.splice(i, 1);
    if (w.state === "STARTING") this.startingCount--;
    else if (w.exiting === undefined) this.liveCount--;
    return w;
  }

  /** Every worker leaves at once (the node fenced itself); returns who must be killed. */
  clear(): Addr[] {
    const all = [...this.workers.keys()];
    this.workers.clear();
    this.idle.length = 0;
    this.startingCount = 0;
    this.liveCount = 0;
    return all;
  }
}
