// Shared by the fault checkers: who died, read from the trace alone.
//
// Addresses are `<node>/<process>`; a worker is `<node>/w<incarnation>-<n>`. Only workers die
// with their node: a driver (`head/driver`) and the GCS outlive its raylet.
import type { TraceEvent } from "../trace.ts";

const WORKER = /\/w(\d+)-\d+$/;

export function nodeOfAddr(addr: string): string {
  const i = addr.indexOf("/");
  return i < 0 ? addr : addr.slice(0, i);
}

export function isWorkerAddr(addr: string): boolean {
  return WORKER.test(addr);
}

/** The node incarnation a worker was started in, or undefined for a non-worker address. */
export function workerIncarnation(addr: string): number | undefined {
  const m = WORKER.exec(addr);
  return m ? Number(m[1]) : undefined;
}

/**
 * Whether an owner is alive at the end of the trace. Feed it every event in order (`see`),
 * then ask `deadAtEnd`. A worker is dead if a `worker.died` names it, or if its node died
 * while it lived: a `node.dead` of its node after the worker first appeared, or its first
 * appearance fell while the node was down (after a `node.dead` and before the next
 * `node.registered`, so it belongs to the life that was declared dead). A worker first seen
 * after its node re-registered belongs to the new life and is not killed by the old death.
 */
export class OwnerLives {
  private readonly died = new Set<string>();
  /** address -> index of the first event that names it (as a worker, owner or caller). */
  private readonly firstSeen = new Map<string, number>();
  /** Addresses first seen while their node was declared dead and not yet re-registered. */
  private readonly zombie = new Set<string>();
  private readonly lastDead = new Map<string, number>();
  private readonly down = new Set<string>();

  private saw(addr: string | undefined, i: number): void {
    if (addr === undefined || this.firstSeen.has(addr)) return;
    this.firstSeen.set(addr, i);
    if (this.down.has(nodeOfAddr(addr))) this.zombie.add(addr);
  }

  see(e: TraceEvent, i: number): void {
    switch (e.kind) {
      case "node.dead":
        this.lastDead.set(e.id, i);
        this.down.add(e.id);
        break;
      case "node.registered":
        this.down.delete(e.id);
        break;
      case "worker.died":
        this.saw(e.worker, i);
        this.died.add(e.worker);
        break;
      case "driver.dead":
        this.died.add(e.driver);
        break;
      case "lease.granted":
      case "task.started":
      case "task.finished":
        this.saw(e.worker, i);
        break;
      case "task.submitted":
        this.saw(e.owner, i);
        break;
      case "actor.result":
        this.saw(e.caller, i);
        break;
    }
  }

  deadAtEnd(addr: string): boolean {
    if (this.died.has(addr)) return true;
    if (!isWorkerAddr(addr)) return false;
    if (this.zombie.has(addr)) return true;
    const last = this.lastDead.get(nodeOfAddr(addr));
    if (last === undefined) return false;
    const first = this.firstSeen.get(addr);
    return first === undefined || last > first;
  }
}
