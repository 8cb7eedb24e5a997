// Invariant 2, first half (errors only when earned): a system error reaches the program only
// when an injected fault, or the program's own doing (killing an actor), explains it, and
// never while the retry budget still covers the failure. The budget is judged through every
// fault: a task that failed with WorkerCrashedError must have used up its retries (every
// task.retry counts, a reconstruction's included, as the owner counts them), and an actor call
// that failed with ActorDiedError must have found its actor dead, or restarted with the call's
// own retries used up (its caller may have pushed it to an incarnation that was already gone).
import { handleIdOf, isGeneratorItemId } from "../../src/core/types.ts";
import { OwnerLives, nodeOfAddr, workerIncarnation } from "./owners.ts";
import { violationAt, type Checker, type Violation } from "./types.ts";

const NAME = "errors-earned";

/** Errors that only a fault can cause. */
const FAULT_ONLY = new Set(["WorkerCrashedError", "ObjectLostError", "OwnerDiedError"]);

interface Task {
  actor?: string;
  owner: string;
  maxRetries?: number;
  returns: string;
  args: readonly string[];
  /** The objects its arguments pass that its owner borrowed. */
  borrowed: readonly string[];
  /** Index of the task's first task.failed, if any. */
  failed?: number;
  /** task.retry events seen so far (the owner's budget counts every one). */
  retries: number;
  /** ray.cancel reached its owner: TaskCancelledError is earned. */
  cancelled?: true;
  /** The placement group it runs in (asked, or captured from its parent). */
  group?: string;
  /** Index of its task.submitted. */
  submittedAt: number;
}

export const checkErrorsEarned: Checker = (events) => {
  const out: Violation[] = [];
  const at = (i: number, msg: string) => out.push(violationAt(NAME, events, i, msg));

  const lives = new OwnerLives();
  const tasks = new Map<string, Task>();
  const byReturn = new Map<string, string>(); // obj -> task that returns it
  /** obj -> the error its creation or a read of it already failed with (judged there). */
  const failedWith = new Map<string, string>();
  const deadActors = new Set<string>();
  const restartedActors = new Set<string>();
  /** Killed with noRestart: false: a call it was running may fail (judged by its budget). */
  const killedActors = new Set<string>();
  /** actor -> its owner (who counts its handles). */
  const actorOwners = new Map<string, string>();
  /** actor -> index of the owner's actor.out-of-scope, for an actor nothing else ended before (or since). */
  const outOfScopeAt = new Map<string, number>();
  let faulted = false;
  // ObjectLostError reads judged at the end, once we know whether the owner ever died.
  const lostReads: { i: number; obj: string; task: string }[] = [];
  // TaskPlacementGroupRemoved errors judged at the end, once we know whether their group was removed.
  const groupRemovalErrors: { i: number; group: string; what: string }[] = [];
  const judgedLost = new Set<string>();
  /** Streaming items the owner saw lost (object.lost). */
  const lostItems = new Set<string>();

  /**
   * Whether `error` on task `t` was passed on from one of its arguments (judged at its source).
   * A lost streaming item whose re-run, to remake it, died with its worker on its task's last
   * retry holds that WorkerCrashedError without a trace event of its own: an argument such an
   * item passes it on.
   */
  const propagated = (t: Task | undefined, error: string) => t !== undefined && t.args.some((a) => {
    if (failedWith.get(a) === error) return true;
    const source = isGeneratorItemId(a) ? tasks.get(byReturn.get(a) ?? "") : undefined;
    return source !== undefined && error === "WorkerCrashedError" && lostItems.has(a) && source.retries > 0 && spent(source);
  });

  const judge = (i: number, error: string, what: string, t: Task | undefined) => {
    // Only ray.cancel explains a cancellation, faults or not.
    if (error === "TaskCancelledError") {
      if (!t?.cancelled) at(i, `TaskCancelledError though the task was never cancelled (${what})`);
      return;
    }
    // Only the removal of the task's group explains its removal error, faults or not. The owner
    // that removes a group fails its queued tasks as it asks the GCS, before the GCS says REMOVED:
    // judged at the end. The removal kills the workers leased in the group, so it explains their
    // tasks' crash too.
    if (error === "TaskPlacementGroupRemoved") {
      if (t?.group === undefined) at(i, `TaskPlacementGroupRemoved though the task ran in no placement group (${what})`);
      else groupRemovalErrors.push({ i, group: t.group, what });
      return;
    }
    if (error === "WorkerCrashedError" && t?.group !== undefined && removedGroups.has(t.group)) return;
    if (faulted) return;
    if (FAULT_ONLY.has(error)) {
      at(i, `${error} without any injected fault (${what})`);
    } else if (error === "ActorDiedError") {
      // A call that held a handle to its actor (it took the handle object: its caller held one;
      // or its owner made it, whose handles are all counted) before they went out of scope kept
      // the actor alive, so the actor's end cannot have failed it.
      const ended = t?.actor === undefined ? undefined : outOfScopeAt.get(t.actor);
      if (ended !== undefined && t!.submittedAt < ended && (t!.owner === actorOwners.get(t!.actor!) || tookHandle(t!))) {
        at(i, `ActorDiedError for a call made through a handle to actor ${t!.actor} before every handle to it went out of scope (${what}): a pending call keeps its actor`);
        return;
      }
      if (t?.actor !== undefined && (deadActors.has(t.actor) || killedActors.has(t.actor))) return;
      at(i, `ActorDiedError without any injected fault (${what})` +
        (t?.actor !== undefined ? `, and actor ${t.actor} was never declared DEAD before it` : ""));
    }
  };

  const tookHandle = (t: Task) => {
    const h = handleIdOf(t.actor!);
    return t.args.includes(h) || t.borrowed.includes(h);
  };

  /** Whether the retries were spent: a budget of -1 never is. */
  const spent = (t: Task) => t.maxRetries !== undefined && t.maxRetries >= 0 && t.retries >= t.maxRetries;
  const budgetText = (t: Task) => (t.maxRetries === -1 ? "unlimited retries (-1)" : `${t.retries} of its ${t.maxRetries} retries used`);

  /** No fault makes a task give up with budget left. */
  const judgeBudget = (i: number, error: string, task: string, t: Task) => {
    if (error === "WorkerCrashedError" && !spent(t)) {
      at(i, `task ${task} failed with WorkerCrashedError with ${budgetText(t)}: it must be retried`);
    } else if (error === "ActorDiedError" && t.actor !== undefined && !deadActors.has(t.actor) && !(restartedActors.has(t.actor) && spent(t))) {
      at(i, `call ${task} failed with ActorDiedError, but actor ${t.actor} was not dead` +
        (restartedActors.has(t.actor) ? ` and the call had ${budgetText(t)}` : " and had never restarted"));
    }
  };

  /** Owners that exited: what their still-pending tasks run into afterwards reaches nobody. */
  const exited = new Set<string>();
  /** Each worker's task running now (task.started to task.finished): the owner it works for. */
  const workingFor = new Map<string, string>();
  /** node -> its deaths so far; `node/life` of the lives that ended in the autoscaler's drain. */
  const nodeDeaths = new Map<string, number>();
  const drainedLives = new Set<string>();
  /** The program's own doing, or the autoscaler's: an owner that exited, or a worker of a drained node. */
  const ownerEnded = (owner: string) => exited.has(owner) || drainedLives.has(`${nodeOfAddr(owner)}/${workerIncarnation(owner)}`);
  /** actor -> the worker its live incarnation runs in: the owner of what the actor made. */
  const actorWorker = new Map<string, string>();
  /** An actor killed, or dead without a fault, is the program's doing: its worker is an owner that exited. */
  const actorEnded = (actor: string) => {
    const w = actorWorker.get(actor);
    if (w !== undefined) exited.add(w);
  };
  /** actor -> the epoch of its latest incarnation. */
  const actorEpoch = new Map<string, number>();
  /** Actors whose kill the GCS has not acted on yet (no RESTARTING or DEAD since). */
  const killsInFlight = new Set<string>();
  // A placement group's removal kills the workers leased in its bundles (as Ray's does): what
  // they owned is gone by the program's doing too. The raylet traces the worker's death and
  // the bundle's release together, in either order.
  /** worker -> the bundle its last lease drew on. */
  const leasedIn = new Map<string, string>();
  /** worker -> who holds its last lease. */
  const holderOf = new Map<string, string>();
  const diedWorkers = new Set<string>();
  const releasedBundles = new Set<string>();
  /** task or actor -> the group it runs in, and whether it captures its children into it. */
  const groupOf = new Map<string, { pg: string; capture: boolean }>();
  const removedGroups = new Set<string>();
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    lives.see(e, i);
    switch (e.kind) {
      case "fault":
        faulted = true;
        break;
      case "actor.killed": // the program's own doing
      case "actor.exited": // so is an actor's exit (ray.exitActor): for good, as a kill with noRestart
      case "actor.out-of-scope": // and an actor whose every handle the program let go
        if (e.kind !== "actor.out-of-scope") outOfScopeAt.delete(e.actor);
        else if (!deadActors.has(e.actor) && !killedActors.has(e.actor)) outOfScopeAt.set(e.actor, i);
        if (e.kind !== "actor.killed" || e.noRestart) deadActors.add(e.actor);
        else killedActors.add(e.actor);
        actorEnded(e.actor);
        // The GCS ends the worker it has leased for the actor when the kill arrives, maybe
        // one leased after the kill was sent: judged at the actor's next change of state.
        killsInFlight.add(e.actor);
        break;
      case "owner.exited":
        exited.add(e.owner);
        break;
      case "node.dead": {
        // Life L of a node ends with its L-th death. One the autoscaler drained was idle, but its
        // workers may still own objects others borrow (Ray's idleness counts leases and stored
        // copies, not what a worker owns in its own memory): they go with it, as in Ray.
        const life = (nodeDeaths.get(e.id) ?? 0) + 1;
        nodeDeaths.set(e.id, life);
        if (e.reason.startsWith("drained")) drainedLives.add(`${e.id}/${life}`);
        break;
      }
      case "task.started": { // an actor's creation or call: the worker hosts it (it may die before it is ALIVE)
        if (e.actor !== undefined) actorWorker.set(e.actor, e.worker);
        const owner = tasks.get(e.task)?.owner;
        if (owner !== undefined) workingFor.set(e.worker, owner);
        break;
      }
      case "task.finished":
        workingFor.delete(e.worker);
        break;
      case "lease.granted":
        if (e.bundle !== undefined) leasedIn.set(e.worker, e.bundle);
        else leasedIn.delete(e.worker);
        if (e.holder !== undefined) holderOf.set(e.worker, e.holder);
        if (e.actor !== undefined) {
          // A grant for an incarnation already over (killed, or dead) is given back with its
          // worker destroyed; any other is the actor's worker from now on (it may die before
          // its creation starts there).
          const epoch = Number(e.task?.slice(e.task.lastIndexOf(":") + 1));
          if (deadActors.has(e.actor) || epoch < (actorEpoch.get(e.actor) ?? 0)) exited.add(e.worker);
          else actorWorker.set(e.actor, e.worker);
        }
        break;
      case "worker.died": {
        diedWorkers.add(e.worker);
        const b = leasedIn.get(e.worker);
        if (b !== undefined && releasedBundles.has(b)) exited.add(e.worker);
        // A raylet destroys a worker whose lease holder died (it may run the holder's task): a
        // holder the program ended (an actor it killed or that exited) ends the worker too.
        const holder = holderOf.get(e.worker);
        if (holder !== undefined && exited.has(holder)) exited.add(e.worker);
        break;
      }
      case "bundle.reserved": // a new reservation under the same name
        releasedBundles.delete(e.bundle);
        break;
      case "bundle.released":
        releasedBundles.add(e.bundle);
        for (const [w, b] of leasedIn) if (b === e.bundle && diedWorkers.has(w)) exited.add(w);
        break;
      case "task.cancelled": {
        const t = tasks.get(e.task);
        if (t) t.cancelled = true;
        // A forced cancel destroys the worker: what it owned is lost as if it exited (the program's own doing).
        if (e.worker !== undefined) exited.add(e.worker);
        break;
      }
      case "driver.dead": // a driver whose job ended (or that was killed) is an owner that exited
        exited.add(e.driver);
        break;
      case "job.ended":
        // A job ends with its root: its driver gone, or its detached actor dead for good (the
        // program's doing, or a fault's). Its workers go with it, and what they owned.
        for (const w of e.workers) exited.add(w);
        break;
      case "actor.registered":
        if (!actorOwners.has(e.actor)) actorOwners.set(e.actor, e.owner);
        break;
      case "actor.state":
        actorEpoch.set(e.actor, e.epoch);
        if ((e.state === "RESTARTING" || e.state === "DEAD") && killsInFlight.delete(e.actor)) actorEnded(e.actor);
        if (e.state === "ALIVE" && e.worker !== undefined) actorWorker.set(e.actor, e.worker);
        if (e.state === "DEAD") {
          deadActors.add(e.actor);
          if (!faulted) actorEnded(e.actor);
        }
        // A call may fail on an incarnation that died before or after it was submitted (its
        // caller can push to the old address before the news of the restart reaches it).
        if (e.state === "RESTARTING") restartedActors.add(e.actor);
        break;
      case "task.retry": {
        const t = tasks.get(e.task);
        if (t && e.uncharged !== true) t.retries++;
        break;
      }
      case "task.submitted":
        if (!tasks.has(e.task)) {
          tasks.set(e.task, {
            actor: e.actor, owner: e.owner, maxRetries: e.maxRetries, returns: e.returns, args: e.args ?? [], borrowed: e.borrowed ?? [], retries: 0, submittedAt: i,
            group: groupOf.get(e.task)?.pg,
          });
          byReturn.set(e.returns, e.task);
        }
        break;
      case "placement.asked": {
        const id = e.task ?? e.actor;
        if (id === undefined) break;
        if (e.pg !== undefined) groupOf.set(id, { pg: e.pg, capture: e.capture === true });
        else {
          const parent = e.parent === undefined ? undefined : groupOf.get(e.parent);
          if (parent?.capture) groupOf.set(id, parent);
        }
        break;
      }
      case "pg.state":
        if (e.state === "REMOVED") removedGroups.add(e.pg);
        break;
      case "task.failed": {
        const t = tasks.get(e.task);
        if (t) t.failed ??= i;
        if (t && exited.has(t.owner)) break;
        // An argument borrowed from an owner the program ended (a killed actor's worker, say)
        // fails the task with OwnerDiedError, as a get of it would.
        const ownerEndedArg = t !== undefined && e.error === "OwnerDiedError" && t.borrowed.some((a) => ownerEnded(a.slice(0, a.indexOf("#"))));
        if (!ownerEndedArg && !propagated(t, e.error)) {
          judge(i, e.error, `task ${e.task} failed`, t);
          // Without a fault, judge() has already refused a system error outright.
          if (t && faulted) judgeBudget(i, e.error, e.task, t);
        }
        if (t) failedWith.set(t.returns, e.error);
        break;
      }
      case "object.lost":
        if (isGeneratorItemId(e.obj)) lostItems.add(e.obj);
        break;
      case "generator.item": {
        // A task's generator item is remade as the task's return would be (an actor method's is not).
        const t = tasks.get(e.task);
        if (t && t.actor === undefined) byReturn.set(e.obj, e.task);
        break;
      }
      case "generator.end":
        // A streaming generator's last item holds its task's error, judged at its task.failed.
        if (e.obj !== undefined && e.error !== undefined) {
          byReturn.set(e.obj, e.task);
          failedWith.set(e.obj, e.error);
        }
        break;
      case "get.failed": {
        const id = byReturn.get(e.obj);
        const t = id === undefined ? undefined : tasks.get(id);
        // The task's own failure was judged at its task.failed; a read of it adds nothing.
        // OwnerDiedError for an object whose owner exited is the program's own doing: an ended
        // driver is a dead owner in Ray, and its borrowers (actors it left running) hear so; so
        // is a killed actor, for what it put or submitted.
        const ownerExited = e.error === "OwnerDiedError" && ownerEnded(e.obj.slice(0, e.obj.indexOf("#")));
        // A get inside a task whose owner exited reaches nobody either: what that owner lent
        // its task (a ref, or refs in a value) went with it, whoever still reads it (Ray ends
        // the job's workers with its driver; tsray's, once the GCS declares the driver dead).
        const forExited = exited.has(workingFor.get(e.reader) ?? "");
        if (failedWith.get(e.obj) !== e.error && !ownerExited && !forExited) judge(i, e.error, `a get of object ${e.obj} failed`, t);
        // The object itself was lost (not its task failed on a lost argument: that task.failed
        // names its argument's error) while its budget was unlimited. Actor calls are exempt:
        // this core keeps lineage for normal tasks only.
        if (e.error === "ObjectLostError" && t && t.failed === undefined && t.actor === undefined &&
            t.maxRetries === -1 && !judgedLost.has(e.obj)) {
          judgedLost.add(e.obj);
          lostReads.push({ i, obj: e.obj, task: id! });
        }
        failedWith.set(e.obj, e.error);
        break;
      }
    }
  }

  for (const r of groupRemovalErrors) if (!removedGroups.has(r.group)) at(r.i, `TaskPlacementGroupRemoved though its group ${r.group} was never removed (${r.what})`);
  for (const r of lostReads) {
    const owner = tasks.get(r.task)!.owner;
    if (lives.deadAtEnd(owner)) continue;
    at(r.i, `ObjectLostError for object ${r.obj}, though its task ${r.task} has unlimited retries (maxRetries=-1) and its owner ${owner} lives: it must be reconstructed, not failed`);
  }
  return out.sort((a, b) => a.index! - b.index!);
};
