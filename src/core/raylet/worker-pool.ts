// The raylet's worker pool: this node's worker processes, each one's place in its lifecycle
// (lifecycle/worker.ts), the job it is bound to, the lease it serves, and which are idle. As in
// Ray's raylet, a worker is started for one job and serves only that job's leases (a later job
// never finds an earlier one's globals or objects in it); a process is started only when a
// granted lease finds no idle worker of its job; and a worker that became an actor never
// returns to the pool. No limit holds the number of workers down: a start never waits for
// another job's idle worker to go.

import { InvariantError } from "../assert.ts";
import { nextWorkerState, type WorkerState } from "../lifecycle/worker.ts";
import type { Addr, JobId, NodeId } from "../types.ts";

export interface Worker {
  state: WorkerState;
  /** The job it was started for: it serves that job's leases only, and dies with it. */
  readonly job: JobId;
  /** The lease it serves, if any: one at a time. */
  lease?: string;
}

export class WorkerPool {
  readonly workers = new Map<Addr, Worker>();
  /** Registered and serving no lease: the next grant takes the last one in. */
  readonly idle: Addr[] = [];
  /** Started and not yet registered. */
  private startingCount = 0;
  private nextWorker = 1;

  /** `incarnation` keeps worker addresses unique across this node's lives. */
  constructor(private readonly node: NodeId, private readonly incarnation: number, private readonly startProcess: (worker: Addr) => void) {}

  get starting(): number { return this.startingCount; }

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
    w.state = nextWorkerState(w.state, { type: "REGISTERED" });
    return true;
  }

  /** A ready worker with nothing to serve waits in the pool. */
  park(worker: Addr): void { this.idle.push(worker); }

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
  leaseEnded(worker: Addr, destroy: boolean): "idle" | "killed" | undefined {
    const w = this.workers.get(worker);
    if (!w) return undefined;
    w.lease = undefined;
    if (destroy || w.state === "ACTOR") {
      w.state = nextWorkerState(w.state, { type: "EXITED" });
      this.workers.delete(worker);
      return "killed";
    }
    w.state = nextWorkerState(w.state, { type: "RETURNED" });
    this.park(worker);
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
    return w;
  }

  /** Every worker leaves at once (the node fenced itself); returns who must be killed. */
  clear(): Addr[] {
    const all = [...this.workers.keys()];
    this.workers.clear();
    this.idle.length = 0;
    this.startingCount = 0;
    return all;
  }
}
