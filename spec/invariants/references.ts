// Invariant 6 (references): no object is freed while referenced — by its owner's program, a
// pending task, or a live borrower whose owner is still there — or used after it is freed,
// and once every reference is dropped and the cluster is quiet, no store holds anything.
import { nodeOfAddr, workerIncarnation } from "./owners.ts";
import { lastQuietIndex, violationAt, type Checker, type Violation } from "./types.ts";

const NAME = "references";

export const checkReferences: Checker = (events) => {
  const out: Violation[] = [];
  const at = (i: number, msg: string) => out.push(violationAt(NAME, events, i, msg));

  // The first quiet point after the program ended (before its job's end frees what its driver
  // owned, which would hide a leak) and the last one are judged.
  const lastQuiet = lastQuietIndex(events);
  let firstQuiet = -1;
  for (let i = 0, ended = false; i < events.length; i++) {
    if (events[i].kind === "program.end") ended = true;
    if (ended && events[i].kind === "cluster.quiet") { firstQuiet = i; break; }
  }
  const reported = new Set<string>();

  const outOfScope = new Set<string>();
  // Pending tasks and the arguments they hold, until the owner has their result.
  const pending = new Map<string, readonly string[]>();
  const pendingArgs = new Map<string, Set<string>>();
  const returnOf = new Map<string, string>();
  const settle = (task: string) => {
    for (const a of pending.get(task) ?? []) pendingArgs.get(a)?.delete(task);
    pending.delete(task);
  };
  /** Nodes declared dead (until they register again): what still runs there is a zombie. */
  const written = new Set<string>();
  // node -> objects its store holds; per node so a node.dead drops its whole store at once.
  const stores = new Map<string, Set<string>>();
  // object -> borrowers holding it (from their own ref.borrowed / ref.unborrowed).
  const borrowers = new Map<string, Set<string>>();
  /** Processes gone (a dead worker, every process of a dead node, an owner that exited). */
  const goneWorkers = new Set<string>();
  const goneNodes = new Set<string>();
  /** node -> how many of its lives were declared dead: a worker of a later life (`w<life>-n`) still lives. */
  const deadLives = new Map<string, number>();
  const gone = (addr: string) => {
    if (goneWorkers.has(addr)) return true;
    const node = nodeOfAddr(addr), life = workerIncarnation(addr);
    return life === undefined ? goneNodes.has(node) : life <= (deadLives.get(node) ?? 0);
  };
  const ownerOf = new Map<string, string>();
  /** task -> the worker that submitted it; worker -> the submitter of the task it runs, and the holder of its lease. */
  const taskOwner = new Map<string, string>();
  const workingFor = new Map<string, string>();
  const leasedTo = new Map<string, string>();
  /** worker -> the job of its latest lease: a driver's job (its address) ends with it, and Ray ends the job's workers then. */
  const jobOf = new Map<string, string>();
  const forGoneJob = (worker: string) => goneWorkers.has(jobOf.get(worker) ?? "");
  /** A task's argument -> the results of the tasks that took it: their owner keeps it as their lineage (to make them again). */
  const lineageOf = new Map<string, Set<string>>();
  const ownerOfTask = new Map<string, string>();
  /** Workers that host an actor: an actor keeps what it made for its whole life (see docs/ownership.md). */
  const actorWorkers = new Set<string>();
  /** object -> actors not yet dead whose constructor's arguments pass it: their owner keeps it in use. */
  const ctorArgs = new Map<string, Set<string>>();
  const inCtorArgs = (obj: string) => (ctorArgs.get(obj)?.size ?? 0) > 0;
  /** actor -> its owner, for actors that die with it (not detached). */
  const mortalActorOwner = new Map<string, string>();
  /** worker -> the actor it hosts (from its creation's lease on). */
  const hostedBy = new Map<string, string>();
  /** The worker of an actor that dies with its owner, once that owner is gone: on its way out. */
  const doomed = (worker: string) => {
    const owner = mortalActorOwner.get(hostedBy.get(worker) ?? "");
    return owner !== undefined && gone(owner);
  };
  /** The actors constructed with `obj` that may still need it: an actor whose owner is gone dies with it. */
  const ctorNeeds = (obj: string) => [...(ctorArgs.get(obj) ?? [])].filter((a) => !gone(mortalActorOwner.get(a) ?? ""));
  /** actor -> the worker of its latest incarnation; workers whose actor exited or is dead for good. */
  const actorHost = new Map<string, string>();
  const endedActorWorkers = new Set<string>();

  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    switch (e.kind) {
      case "object.out-of-scope": {
        outOfScope.add(e.obj);
        // A task still pending holds a reference to each of its arguments (Ray's submitted-task refs).
        // An exited owner's objects go whatever still uses them (ids are `${owner}#n`).
        const exited = goneWorkers.has(e.obj.slice(0, e.obj.indexOf("#")));
        const holders = pendingArgs.get(e.obj);
        if (holders && holders.size > 0 && !exited) at(i, `object ${e.obj} went out of scope while task ${[...holders][0]} still takes it as an argument`);
        // So does an actor its owner created, until it is dead (a restart runs its constructor again).
        // (An actor whose owner is gone is on its way out, unless detached: the GCS ends it with its owner.)
        const needs = ctorNeeds(e.obj);
        if (needs.length > 0 && !exited) at(i, `object ${e.obj} went out of scope while actor ${needs[0]} may still be constructed with it`);
        // An owner that exited frees what it owns whatever its borrowers hold (they get OwnerDiedError).
        const owner = ownerOf.get(e.obj);
        // So does a borrower running a task for an owner that exited, or leased for the job of a
        // driver that exited (a task its fellow worker of that job submitted): its work reaches
        // nobody (Ray ends a job's workers with its driver; tsray's, once the GCS declares it dead).
        // So does the worker of an actor that exited or is dead for good: its callers fail what
        // they sent it and count no borrow of its (as of a dead worker, Ray's rule), though tsray
        // ends that worker only when the GCS returns its lease, a moment later; and the worker of
        // an actor whose owner is gone (it dies with its owner, unless detached).
        const live = owner !== undefined && !gone(owner)
          ? [...(borrowers.get(e.obj) ?? [])].filter((b) => !gone(b) && !endedActorWorkers.has(b) && !doomed(b) && !goneWorkers.has(workingFor.get(b) ?? "") && !forGoneJob(b))
          : [];
        if (live.length > 0) at(i, `object ${e.obj} went out of scope while ${live[0]} still borrows it`);
        borrowers.delete(e.obj);
        break;
      }
      case "ref.borrowed": {
        ownerOf.set(e.obj, e.owner);
        let h = borrowers.get(e.obj);
        if (!h) borrowers.set(e.obj, (h = new Set()));
        h.add(e.borrower);
        break;
      }
      case "ref.unborrowed":
        borrowers.get(e.obj)?.delete(e.borrower);
        break;
      case "worker.died":
        goneWorkers.add(e.worker);
        break;
      case "owner.exited":
        goneWorkers.add(e.owner);
        break;
      case "driver.dead": // killed, or its job over: its objects go, whoever borrows them
        goneWorkers.add(e.driver);
        break;
      case "task.started": {
        const submitter = taskOwner.get(e.task);
        if (submitter !== undefined) workingFor.set(e.worker, submitter);
        if (e.actor !== undefined) actorWorkers.add(e.worker);
        break;
      }
      case "task.finished":
        workingFor.delete(e.worker);
        break;
      case "lease.granted": // a lease that hosts an actor
        if (e.actor !== undefined) {
          actorWorkers.add(e.worker);
          hostedBy.set(e.worker, e.actor);
        }
        if (e.holder !== undefined) leasedTo.set(e.worker, e.holder);
        jobOf.set(e.worker, e.job);
        break;
      case "lease.returned":
        leasedTo.delete(e.worker);
        break;
      case "task.submitted":
        taskOwner.set(e.task, e.owner);
        pending.set(e.task, e.args);
        returnOf.set(e.returns, e.task);
        ownerOfTask.set(e.returns, e.owner);
        for (const a of e.args) {
          let l = lineageOf.get(a);
          if (!l) lineageOf.set(a, (l = new Set()));
          l.add(e.returns);
          let h = pendingArgs.get(a);
          if (!h) pendingArgs.set(a, (h = new Set()));
          h.add(e.task);
        }
        break;
      case "task.failed":
        settle(e.task);
        break;
      case "object.read":
        // A zombie on a node already declared dead may read its stale local copy: harmless.
        // So may a task still running for an owner that exited (never the owner itself) or for the
        // job of a driver that exited, and a worker fetching the arguments of a task its submitter
        // left behind when it exited: the exit let go of what that task held, and its answer reaches nobody.
        const ownerExited = goneWorkers.has(e.obj.slice(0, e.obj.indexOf("#"))) && e.reader !== e.obj.slice(0, e.obj.indexOf("#"));
        const forExited = [workingFor.get(e.reader), leasedTo.get(e.reader)].some((h) => h !== undefined && goneWorkers.has(h)) || forGoneJob(e.reader);
        if (outOfScope.has(e.obj) && !written.has(e.node) && !ownerExited && !forExited) at(i, `read after free: object ${e.obj} read by ${e.reader} after it went out of scope`);
        break;
      case "node.registered":
        written.delete(e.id);
        break;
      case "object.created": {
        const t = returnOf.get(e.obj);
        if (t !== undefined) settle(t); // the task's result exists: it needs its arguments no more
        if (e.comp !== "store") break;
        // A straggling attempt (say, on a node cut off and declared dead) may still store a copy
        // after the owner freed the object; that is no read, and the leak check below judges it.
        let s = stores.get(e.node);
        if (!s) stores.set(e.node, (s = new Set()));
        s.add(e.obj);
        break;
      }
      case "object.deleted":
        if (e.reason === "freed" && !outOfScope.has(e.obj)) at(i, `object ${e.obj} freed while referenced (on node ${e.node})`);
        stores.get(e.node)?.delete(e.obj);
        break;
      case "node.dead":
        stores.delete(e.id);
        written.add(e.id);
        goneNodes.add(e.id);
        deadLives.set(e.id, (deadLives.get(e.id) ?? 0) + 1);
        break;
      case "actor.registered":
        if (!e.detached) mortalActorOwner.set(e.actor, e.owner);
        for (const a of e.args ?? []) {
          let h = ctorArgs.get(a);
          if (!h) ctorArgs.set(a, (h = new Set()));
          h.add(e.actor);
        }
        break;
      case "actor.state":
        if (e.state === "ALIVE" && e.worker !== undefined) {
          actorWorkers.add(e.worker);
          actorHost.set(e.actor, e.worker);
          hostedBy.set(e.worker, e.actor);
        }
        if (e.state === "DEAD") {
          for (const h of ctorArgs.values()) h.delete(e.actor);
          const host = actorHost.get(e.actor);
          if (host !== undefined) endedActorWorkers.add(host);
        }
        break;
      case "actor.exited":
        endedActorWorkers.add(e.worker);
        break;
      case "cluster.quiet":
        if (i !== lastQuiet && i !== firstQuiet) break;
        for (const [node, objs] of stores) {
          for (const obj of objs) {
            if (reported.has(obj)) continue;
            // Still borrowed by a live actor (it keeps what it was handed, of an owner that outlives
            // the program): in use. Any other borrower has ended its tasks by a quiet point, and with
            // them its borrows.
            const owner = ownerOf.get(obj);
            if (owner !== undefined && !gone(owner) && [...(borrowers.get(obj) ?? [])].some((b) => !gone(b) && actorWorkers.has(b))) continue;
            // Made by an actor that still lives (a detached one, or any before its job ended): the actor's to keep.
            const maker = owner ?? obj.slice(0, obj.indexOf("#"));
            // Passed to the constructor of an actor not yet dead, by an owner still there: kept for its restarts.
            if (inCtorArgs(obj) && !gone(maker)) continue;
            // An argument of a task whose result its owner still holds: kept to make that result again (Ray's lineage pinning).
            if ([...(lineageOf.get(obj) ?? [])].some((r) => !outOfScope.has(r) && !gone(ownerOfTask.get(r)!))) continue;
            if (actorWorkers.has(maker) && !gone(maker)) continue;
            reported.add(obj);
            at(i, `leak: object ${obj} still in node ${node}'s store after the program dropped every reference`);
          }
        }
        break;
    }
  }
  return out;
};
