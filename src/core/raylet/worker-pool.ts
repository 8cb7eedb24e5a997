// The raylet's worker pool: this node's worker processes, each one's place in its lifecycle
// (lifecycle/worker.ts), the lease it serves, and which are idle. As in Ray's raylet, a process
// is started only when a granted lease finds no idle worker, and a worker that became an actor
// never returns to the pool.

import { InvariantError } from "../assert.ts";
import { nextWorkerState, type WorkerState } from "../lifecycle/worker.ts";
import type { Addr, NodeId } from "../types.ts";

export interface Worker {
  state: WorkerState;
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

  /** Starts a worker process; it joins the pool when it registers. */
  start(): void {
    const worker = `${this.node}/w${this.incarnation}-${this.nextWorker++}`;
    this.workers.set(worker, { state: "STARTING" });
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

  takeIdle(): Addr | undefined { return this.idle.pop(); }

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

  /** The worker's process exited: it leaves the pool. Returns what it was (undefined: not ours). */
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
