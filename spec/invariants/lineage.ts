// Invariant 7 (lineage): a lost object whose owner lives and whose task still has retries
// left is reconstructed (its task re-run), not given up on; so is a lost item of a task's
// streaming generator (yielded again by the attempt under way, or by a re-run: one already
// under way that has not yet come to that item counts).
import { generatorItemOf, isGeneratorItemId } from "../../src/core/types.ts";
import { OwnerLives } from "./owners.ts";
import { violationAt, type Checker, type Violation } from "./types.ts";

const NAME = "lineage";

interface Task {
  owner: string;
  maxRetries?: number;
  actor?: string;
  retries: number; // task.retry events seen so far
}

interface Loss {
  index: number;
  obj: string;
  task: string;
  remaining: number; // retries left at the loss (Infinity when unlimited)
}

export const checkLineage: Checker = (events) => {
  const out: Violation[] = [];
  const lives = new OwnerLives();
  const tasks = new Map<string, Task>();
  const byReturn = new Map<string, string>(); // obj -> task that returns it
  // Losses not yet answered by a retry of their task or a new copy of the object, by task.
  const open = new Map<string, Loss>();
  // Re-runs of a task under way: their attempt, and the highest item index they yielded so far.
  const rerunning = new Map<string, { attempt: number; yielded: number }>();
  const failed = new Set<string>();

  // Owners that exited cleanly (their program returned and they let go of everything).
  const exited = new Set<string>();
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    if (e.kind === "owner.exited") exited.add(e.owner);
    // The job's end (the driver exits after its program returned) does not excuse a loss the
    // living driver left unrepaired before it: only a death does (a driver killed, by a
    // kill-driver fault or with its node, never exits cleanly).
    if (!(e.kind === "driver.dead" && exited.has(e.driver))) lives.see(e, i);
    switch (e.kind) {
      case "task.submitted":
        if (!tasks.has(e.task)) {
          tasks.set(e.task, { owner: e.owner, maxRetries: e.maxRetries, actor: e.actor, retries: 0 });
          byReturn.set(e.returns, e.task);
        }
        break;
      case "task.retry": {
        const t = tasks.get(e.task);
        if (t && e.uncharged !== true) t.retries++;
        open.delete(e.task);
        rerunning.set(e.task, { attempt: e.attempt, yielded: -1 });
        break;
      }
      case "task.finished":
        if (rerunning.get(e.task)?.attempt === e.attempt) rerunning.delete(e.task);
        break;
      case "object.created": {
        // A store copy of a generator's item may be a duplicate the owner drops: its restoring says.
        const id = isGeneratorItemId(e.obj) ? undefined : byReturn.get(e.obj);
        if (id !== undefined) open.delete(id);
        break;
      }
      // A task's generator items are remade by running the generator again (an actor method's
      // are not: its state moved on); the attempt under way may yield a lost one again.
      case "generator.item": {
        if (tasks.get(e.task)?.actor === undefined) byReturn.set(e.obj, e.task);
        const r = rerunning.get(e.task);
        if (r?.attempt === e.attempt) r.yielded = Math.max(r.yielded, e.index);
        break;
      }
      case "generator.restored": {
        open.delete(e.task);
        const r = rerunning.get(e.task);
        if (r?.attempt === e.attempt) r.yielded = Math.max(r.yielded, e.index);
        break;
      }
      // A task that failed for good remakes nothing, then or later (its lost items hold its
      // error; those lost after it cannot be remade).
      case "task.failed":
        open.delete(e.task);
        failed.add(e.task);
        break;
      case "object.lost": {
        const id = byReturn.get(e.obj);
        if (id === undefined) break; // a ray.put: no lineage, no obligation
        const t = tasks.get(id)!;
        // Actor calls are not re-run to rebuild their results here (the actor's state moved on);
        // an unknown budget (an older trace) promises nothing.
        if (t.actor !== undefined || typeof t.maxRetries !== "number" || failed.has(id)) break;
        // A re-run under way that has not yet come to this item will yield it again.
        const r = rerunning.get(id);
        if (r !== undefined && isGeneratorItemId(e.obj) && generatorItemOf(e.obj).index > r.yielded) break;
        const remaining = t.maxRetries < 0 ? Infinity : t.maxRetries - t.retries;
        if (remaining > 0 && !open.has(id)) open.set(id, { index: i, obj: e.obj, task: id, remaining });
        break;
      }
    }
  }

  for (const l of open.values()) {
    const owner = tasks.get(l.task)!.owner;
    if (lives.deadAtEnd(owner)) continue;
    const left = l.remaining === Infinity ? "unlimited" : String(l.remaining);
    out.push(violationAt(NAME, events, l.index,
      `lost object ${l.obj} was not reconstructed though its owner lives and ${left} retries remained (task ${l.task}, owner ${owner})`));
  }
  return out.sort((a, b) => a.index! - b.index!);
};
