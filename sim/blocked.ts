// Why a blocked program is blocked, read off the core workers' state when the simulator finds
// nothing left to do but housekeeping: what each live process waits on in ray.get or ray.wait,
// and where the task or actor call that would make it stands. An actor that waits on one of
// its own calls, queued behind the running calls that hold its group's every slot, deadlocked
// the program itself (Ray hangs the same way): that is said in so many words, so that a program's
// own deadlock is told apart from a lost message.

import type { CoreWorkerState } from "../src/core/worker/context.ts";
import { DEFAULT_GROUP, groupOf, type HostedActor } from "../src/core/worker/actor-scheduling.ts";
import type { Addr, ObjectId, RefInfo, TaskSpec } from "../src/core/types.ts";

/** A live core worker: its address and its state (CoreWorker#state). */
export interface WorkerState {
  readonly addr: Addr;
  readonly state: CoreWorkerState;
}

/** At most this many awaited objects are described per process: the first say enough. */
const PER_PROCESS = 3;

/** One line per object a live process waits on, saying where what would make it stands. */
export function explainBlocked(workers: readonly WorkerState[]): string[] {
  const byAddr = new Map(workers.map((x) => [x.addr, x]));
  const lines: string[] = [];
  for (const x of workers) {
    const waiter = x.state.actor ? `${x.addr} (actor ${x.state.actor.actorId})` : x.addr;
    for (const ref of awaited(x.state).slice(0, PER_PROCESS)) lines.push(`${waiter} waits on ${ref.id}: ${maker(ref, x, byAddr)}`);
  }
  return lines;
}

/** The refs a process's gets and waits still wait for, each once. */
function awaited(s: CoreWorkerState): RefInfo[] {
  const out = new Map<ObjectId, RefInfo>();
  for (const g of s.gets.values()) g.refs.forEach((r, i) => { if (g.values[i] === undefined) out.set(r.id, r); });
  for (const x of s.waits.values()) {
    x.refs.forEach((r, i) => {
      const o = s.owned.get(r.id);
      if (o ? o.state === "PENDING" : x.heard[i] !== true) out.set(r.id, r);
    });
  }
  return [...out.values()];
}

/** Where the task or call that makes `ref` stands, as its owner and the actor hosting the call know it. */
function maker(ref: RefInfo, waiter: WorkerState, byAddr: ReadonlyMap<Addr, WorkerState>): string {
  const owner = byAddr.get(ref.owner);
  if (!owner) return `its owner ${ref.owner} is gone`;
  const o = owner.state.owned.get(ref.id);
  if (!o) return `its owner ${ref.owner} no longer holds it`;
  const t = o.task;
  if (!t) return `no task is making it (the object is ${o.state})`;
  const what = `${t.spec.kind === "actor-task" ? "call" : "task"} ${t.spec.taskId} (${t.spec.name}), ${t.state} by its owner's record`;
  if (t.spec.kind !== "actor-task") return what;
  const host = [...byAddr.values()].find((x) => x.state.actor?.actorId === t.spec.actorId);
  if (!host) return `${what}; no live worker hosts actor ${t.spec.actorId}`;
  return `${what}; on ${host.addr}: ${callPlace(host.state.actor!, t.spec, host === waiter)}`;
}

/** Where an actor call stands on the worker hosting its actor; `self`: that worker is the one waiting on it. */
function callPlace(h: HostedActor, spec: TaskSpec, self: boolean): string {
  if (h.running.some((e) => e.spec.taskId === spec.taskId)) {
    return self ? "running: the actor waits on one of its own running calls (a call that waits on its own result never ends; Ray hangs the same way)" : "running";
  }
  const g = groupOf(h, spec);
  if (g) {
    for (let i = 0; i < g.runnable.length; i++) {
      if (g.runnable.at(i)!.spec.taskId !== spec.taskId) continue;
      const group = g.name === DEFAULT_GROUP ? "its default group" : `its concurrency group "${g.name}"`;
      const where = `queued in ${group} (${g.running} of ${g.limit} slots taken, ${i} calls ahead)`;
      return self && g.running >= g.limit
        ? `${where}: the actor waits on one of its own calls, which cannot start before a call holding the group's slots ends: a deadlock in the program (Ray hangs the same way)`
        : where;
    }
  }
  const q = spec.caller === undefined ? undefined : h.callers.get(spec.caller);
  if (q && spec.seq !== undefined && q.early.has(spec.seq)) return `arrived early, waiting for its caller's call seq ${q.next}`;
  return "not arrived";
}
