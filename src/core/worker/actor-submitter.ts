// The owner's actor submitter: actors this worker created or holds handles to, as the GCS
// reports them, and the calls made on them: numbered per caller, held while the actor is not
// alive, pushed to its worker in order, resent to a restarted actor within budget, failed
// when it is dead for good.

import { nextTaskState } from "../lifecycle/task.ts";
import {
  handleIdOf, nodeOf, rayletAddr, returnIdOf, type ActorId, type ActorInfo, type ActorSpec, type Addr, type Arg, type ErrorInfo, type FunctionDescriptor, type Mutable, type NodeView, type ActorCallOptions, type RefInfo, type TaskSpec,
} from "../types.ts";
import { invariant } from "../assert.ts";
import { defaultTuning } from "../tuning.ts";
import type { NamedActorEntry } from "../messages.ts";
import type { Ctx } from "./context.ts";
import type { ActorOptions, ArgIn } from "./inputs.ts";
import { dropOutputWhenDead, settleCancelled } from "./cancellation.ts";
import { placementOf } from "./placement-groups.ts";
import { actorJob, submitterJob } from "./job.ts";
import { generatorAttemptLost } from "./generators.ts";
import { isDead } from "./object-recovery.ts";
import { own, ready } from "./reference-table.ts";
import { endUses, finishTask, nextAttempt, registerFunction, resolveArgs, trackTask, useArgs, type ArgUses, type OwnedTask } from "./task-manager.ts";

/**
 * A map keyed by sequence numbers that finds its lowest key in amortized O(1). It holds a Map
 * rather than extending one: a subclass's `super.set` is not inlined, and it runs per call.
 */
export class SeqMap<V> {
  private readonly map = new Map<number, V>();
  /** No key is below this. */
  private low = 0;
  get size(): number { return this.map.size; }
  get(k: number): V | undefined { return this.map.get(k); }
  set(k: number, v: V): void {
    if (k < this.low) this.low = k;
    this.map.set(k, v);
  }
  delete(k: number): void { this.map.delete(k); }
  values(): IterableIterator<V> { return this.map.values(); }
  lowestKey(): number | undefined {
    if (this.map.size === 0) return undefined;
    while (!this.map.has(this.low)) this.low++;
    return this.low;
  }
}

export interface CallerActor {
  info?: ActorInfo;
  /** The registration, for actors this worker created (resent if the GCS restarts). */
  created?: ActorSpec;
  /** Its constructor's arguments failed: registered dead, with this error. */
  createFailed?: ErrorInfo;
  /**
   * For actors created here: the refs the constructor's arguments pass, in use until the actor is
   * dead for good (a restart runs the constructor again, with the same arguments).
   */
  ctorUses?: ArgUses;
  nextSeq: number;
  /** Calls open (submitted, not yet ended: waiting for arguments, for the actor, or for its answer), by seq. */
  readonly inflight: SeqMap<OwnedTask>;
  /** Calls ended while an earlier one is still open: an incarnation that has not heard of them would wait for them. */
  readonly closed: Set<number>;
  /** The incarnation that was sent `closed` (with this caller's first push to it). */
  toldEpoch?: number;
  /** Calls whose dependencies are resolved, waiting for the actor to be alive. */
  readonly unsent: OwnedTask[];
  /** This worker killed the actor for good (ray.kill): later calls fail at once, as Ray's do. */
  killed?: true;
  /** The incarnation this worker killed to restart it (ray.kill with noRestart: false), until a later one is heard of. */
  restartKill?: number;
  /** API calls waiting for the GCS's first word on an actor created here (taken, or refused: a duplicate name). */
  registeredCalls?: number[];
  /** Created here, every handle to it went out of scope: the GCS was (or, once registered, will be) told to end it. */
  outOfScope?: true;
}

function newCallerActor(): CallerActor {
  return { nextSeq: 0, inflight: new SeqMap(), closed: new Set(), unsent: [] };
}

export interface ActorSubmitter {
  readonly callerActors: Map<ActorId, CallerActor>;
  /** getActor calls waiting for the GCS, by request id. */
  readonly namedReqs: Map<number, { readonly callId: number; readonly name: string; readonly namespace?: string }>;
  /** ray.nodes() calls waiting for the GCS's node table, by request id. */
  readonly clusterReqs: Map<number, number>;
  /** ray.listNamedActors calls waiting for the GCS, by request id: the call and the namespace asked (absent: all). */
  readonly listReqs: Map<number, { readonly callId: number; readonly namespace?: string }>;
  /** Actors dead for good whose records stay (forgetIfDone did not drop them), in the order they died. */
  readonly deadRecords: ActorId[];
  /** How many of those records stay (ModelTuning.deadActorRecordsKept). */
  readonly deadRecordsKept: number;
}

export function newActorSubmitter(deadRecordsKept = defaultTuning.deadActorRecordsKept): ActorSubmitter {
  if (!Number.isInteger(deadRecordsKept) || deadRecordsKept < 1) throw new Error(`core worker: deadActorRecordsKept must be an integer of at least 1, not ${deadRecordsKept}`);
  return { callerActors: new Map(), namedReqs: new Map(), clusterReqs: new Map(), listReqs: new Map(), deadRecords: [], deadRecordsKept };
}

export function createActor(w: Ctx, actorId: ActorId, cls: FunctionDescriptor, args: readonly ArgIn[], opts: ActorOptions): void {
  registerFunction(w, cls);
  const spec: ActorSpec = {
    actorId, fn: cls.id, className: cls.name, args: args as Arg[], owner: w.addr, job: actorJob(w, actorId, opts.detached === true), resources: opts.resources,
    strategy: placementOf(w, { actor: actorId }, opts.strategy), maxRestarts: opts.maxRestarts, maxTaskRetries: opts.maxTaskRetries, name: opts.name,
    ...(opts.maxConcurrency !== 1 ? { maxConcurrency: opts.maxConcurrency } : {}),
    ...(opts.concurrencyGroups !== undefined ? { concurrencyGroups: opts.concurrencyGroups } : {}),
    ...(opts.namespace !== undefined ? { namespace: opts.namespace } : {}),
    ...(opts.detached === true ? { detached: true } : {}),
    ...(opts.generators !== undefined && opts.generators.length > 0 ? { generators: opts.generators } : {}),
    ...(opts.maxPendingCalls !== undefined ? { maxPendingCalls: opts.maxPendingCalls } : {}),
  };
  const a = newCallerActor();
  w.callerActors.set(actorId, a);
  // The handle's object: its references are the handle's (see handleOutOfScope). Made ready at
  // once, so that it is freed when the last one goes; a detached actor's handles count nothing.
  if (opts.detached !== true) {
    const hid = handleIdOf(actorId);
    ready(w, hid, own(w, hid), HANDLE_VALUE, undefined, 0, "");
  }
  a.ctorUses = useArgs(w, args as Arg[]);
  // Resolve the constructor's arguments first, as for a task, then register with the GCS.
  resolveArgs(w, args as Arg[], { kind: "actor", actorId, spec });
}

/** The constructor's arguments are resolved (or one failed). */
export function actorArgsResolved(w: Ctx, actorId: ActorId, spec: ActorSpec, resolved: readonly Arg[], error: ErrorInfo | undefined): void {
  const a = w.callerActors.get(actorId)!;
  if (error) {
    // The constructor cannot run (Ray's creation task fails on its argument): the GCS registers
    // the actor dead, and its news ends the calls, here and wherever a handle was passed on.
    a.created = spec;
    a.createFailed = { type: "ActorDiedError", message: `the actor ${spec.className} cannot be created: its constructor's argument failed (${error.type}: ${error.message})` };
    w.fx.send(w.cfg.gcs, { type: "CreateActor", spec, failed: a.createFailed });
    return endCtorUses(w, a);
  }
  a.created = { ...spec, args: resolved };
  w.fx.send(w.cfg.gcs, { type: "CreateActor", spec: a.created });
  // Its handles went while the arguments were resolved: the GCS ends it once it has it (same link, in order).
  if (a.outOfScope) w.fx.send(w.cfg.gcs, { type: "ActorOutOfScope", actorId });
}

/** The handle object's inline value: nobody reads it (a handle's data travels in the value holding it). */
const HANDLE_VALUE = { kind: "inline", payload: { size: 0, hash: "", data: undefined } } as const;

/**
 * Every reference to the handle of an actor created here is gone: its program's copies, its
 * borrowers' and its pending calls' (as Ray's owner counts the handle object). The actor ends
 * for good once the GCS hears of it; an owner that exits says nothing: the GCS ends its actors
 * with it.
 */
export function handleOutOfScope(w: Ctx, actorId: ActorId): void {
  const a = w.callerActors.get(actorId);
  if (w.exited || !a || a.outOfScope) return;
  a.outOfScope = true;
  if (a.info?.state === "DEAD") return forgetIfDone(w, actorId, a); // dead already (its constructor failed, say): nothing to end
  w.fx.trace({ kind: "actor.out-of-scope", comp: "owner", actor: actorId, owner: w.addr });
  // Not yet registered (its constructor's arguments are resolved first): told after the registration.
  if (a.created !== undefined) w.fx.send(w.cfg.gcs, { type: "ActorOutOfScope", actorId });
}

export function submitActorTask(w: Ctx, taskId: string, actorId: ActorId, method: string, args: readonly ArgIn[], maxRetries: number, call?: ActorCallOptions): void {
  let a = w.callerActors.get(actorId);
  if (!a) {
    // A handle that came from elsewhere (getActor, or passed in): follow the actor's updates.
    a = newCallerActor();
    w.callerActors.set(actorId, a);
    w.fx.send(w.cfg.gcs, { type: "SubscribeActor", actorId });
  }
  const seq = a.nextSeq++;
  // A literal with the optional field set after, not spread in (V8's slow copy per call).
  const spec: Mutable<TaskSpec> = {
    taskId, kind: "actor-task", fn: actorId, method, name: method, args: args as Arg[], returnId: returnIdOf(taskId),
    owner: w.addr, job: submitterJob(w), resources: {}, strategy: "DEFAULT", maxRetries, retryExceptions: false, attempt: 0,
    actorId, seq, caller: w.addr,
  };
  if (call?.streaming !== undefined) spec.streaming = call.streaming;
  if (call?.concurrencyGroup !== undefined) spec.concurrencyGroup = call.concurrencyGroup;
  trackTask(w, own(w, spec.returnId), spec, maxRetries, heldHandle(w, actorId));
}

/**
 * The handle a call is made through, if it is counted here: owned (created here, still in scope)
 * or borrowed (held). A pending call keeps it in use, as Ray's actor task depends on the handle
 * object; a lookup handle (ray.getActor) counts nothing.
 */
function heldHandle(w: Ctx, actorId: ActorId): RefInfo | undefined {
  const hid = handleIdOf(actorId);
  if (w.owned.has(hid)) return { id: hid, owner: w.addr };
  const b = w.borrowed.get(hid);
  return b !== undefined && b.held > 0 ? { id: hid, owner: b.owner } : undefined;
}

/** A call is submitted: the actor waits for its seq until it is pushed or closed (see actorCallEnded). */
export function actorCallOpened(w: Ctx, t: OwnedTask): void {
  w.callerActors.get(t.spec.actorId!)!.inflight.set(t.spec.seq!, t);
}

/** A call ended for good (answered, failed or cancelled): its seq is closed. */
export function actorCallEnded(w: Ctx, t: OwnedTask): void {
  const a = w.callerActors.get(t.spec.actorId!);
  const seq = t.spec.seq!;
  if (a?.inflight.get(seq) !== t) return;
  const low = a.inflight.lowestKey()!;
  a.inflight.delete(seq);
  if (a.inflight.size === 0) forgetIfDone(w, t.spec.actorId!, a);
  if (seq > low) {
    a.closed.add(seq);
    return;
  }
  if (a.closed.size === 0) return;
  // The lowest open call moved up: what is closed below it is covered by minPendingSeq.
  const next = a.inflight.lowestKey();
  if (next === undefined) a.closed.clear();
  else for (const s of a.closed) if (s < next) a.closed.delete(s);
}

export function sendActorTask(w: Ctx, t: OwnedTask): void {
  const a = w.callerActors.get(t.spec.actorId!)!;
  if (a.info?.state === "DEAD") return failActorTask(w, t, a.info);
  if (a.killed) return failActorTask(w, t, killedInfo(w, t.spec.actorId!, a));
  if (a.info?.state === "ALIVE" && a.info.address) return pushActorTask(w, t, a.info.address, a);
  a.unsent.push(t);
}

function pushActorTask(w: Ctx, t: OwnedTask, address: Addr, a: CallerActor): void {
  t.state = nextTaskState(t.state, { type: "DISPATCHED" });
  pushCall(w, t.spec, address, a);
}

/**
 * Pushes a call to the incarnation `a.info` names. Every call below the lowest open seq is done:
 * the actor may skip ahead to it. The first push to an incarnation also names the closed seqs
 * above it; after that the incarnation hears of each close itself (it answered the call, or got
 * its placeholder), over a link that keeps order.
 */
function pushCall(w: Ctx, spec: TaskSpec, address: Addr, a: CallerActor): void {
  // The call pushed (a placeholder too: it is settled after) is open, so the lowest open seq is at most its own.
  const minPendingSeq = a.inflight.lowestKey();
  invariant(minPendingSeq !== undefined && minPendingSeq <= spec.seq!, () => `actor call ${spec.taskId} (seq ${spec.seq}) pushed while not open`);
  const epoch = a.info!.epoch;
  const tell = a.toldEpoch !== epoch && a.closed.size > 0;
  a.toldEpoch = epoch;
  w.fx.send(address, tell ? { type: "PushTask", spec, minPendingSeq, closedSeqs: [...a.closed] } : { type: "PushTask", spec, minPendingSeq });
}

/**
 * A call that ends without being pushed (cancelled, or an argument failed) while the actor is
 * alive: the actor gets it without arguments, marked cancelled, and answers it as such when its
 * turn comes, so that its place in the caller's order is no hole. An incarnation yet to come
 * learns of it from the first push's closedSeqs instead.
 */
export function skipActorCall(w: Ctx, spec: TaskSpec): void {
  const a = w.callerActors.get(spec.actorId!);
  if (!a || a.killed || a.info?.state !== "ALIVE" || !a.info.address) return;
  pushCall(w, { ...spec, args: [], cancelled: true }, a.info.address, a);
}

/**
 * `pushedTo`: the worker of the incarnation the call was pushed to, which may still run it (the
 * GCS names an actor dead before its worker is gone): the call's arguments stay held until that
 * worker is known dead, as for a force-cancelled task, so it never reads an object already freed.
 */
function failActorTask(w: Ctx, t: OwnedTask, info: ActorInfo, pushedTo?: Addr): void {
  t.state = nextTaskState(t.state, { type: "ERRORED", retryable: false });
  const error = info.error ?? { type: "ActorDiedError" as const, message: `actor ${info.actorId} is dead` };
  const running = stillRunning(w, pushedTo);
  finishTask(w, t, { kind: "error", error, retryable: false }, running);
  if (pushedTo === undefined) return;
  // The call may have stored its result on the worker's node before the actor died, and no reply
  // will announce that copy: it is freed once the worker is known dead (now, if it is), as a
  // lost lease's copy is, or it would outlive every reference.
  if (running !== undefined) return dropOutputWhenDead(w, running, t.spec.returnId);
  const node = nodeOf(pushedTo);
  if (!w.owned.get(t.spec.returnId)?.nodes.includes(node)) w.fx.send(rayletAddr(node), { type: "FreeObjects", ids: [t.spec.returnId], orphaned: true });
}

/** `worker`, unless it is known dead already (then nothing it held has to wait for it). */
function stillRunning(w: Ctx, worker: Addr | undefined): Addr | undefined {
  return worker !== undefined && !isDead(w, worker) ? worker : undefined;
}

/** An actor call answered: false if the answer comes from an incarnation older than the one this caller talks to. */
export function actorTaskReplied(w: Ctx, t: OwnedTask, epoch: number | undefined): boolean {
  // Only the incarnation this caller is talking to may answer (no split brain).
  const a = w.callerActors.get(t.spec.actorId!);
  if (epoch !== undefined && a?.info && epoch < a.info.epoch) return false;
  w.fx.trace({ kind: "actor.result", comp: "owner", task: t.spec.taskId, actor: t.spec.actorId!, caller: w.addr, epoch: epoch ?? 0 });
  return true;
}

export function actorUpdate(w: Ctx, info: ActorInfo): void {
  const a = w.callerActors.get(info.actorId);
  if (!a) return;
  if (a.info && info.epoch < a.info.epoch) return; // an older incarnation's news
  if (info.state === "DEAD" || info.state === "RESTARTING") itemsOfDeadIncarnation(w, a);
  // The worker the calls in flight were pushed to (the incarnation this news replaces).
  const pushedTo = a.info?.address;
  const diedNow = info.state === "DEAD" && a.info?.state !== "DEAD";
  a.info = info;
  answerRegistered(w, a);
  if (a.restartKill !== undefined && info.epoch > a.restartKill) a.restartKill = undefined; // the kill took
  if (info.state === "DEAD") {
    endCtorUses(w, a);
    for (const t of a.unsent.splice(0)) failActorTask(w, t, info);
    // Calls still waiting for arguments fail when they are ready to send; failing one here may
    // fail a later call that takes its result, so each is looked at when its turn comes.
    for (const t of [...a.inflight.values()]) if (t.state === "RUNNING") failActorTask(w, t, info, pushedTo);
    forgetIfDone(w, info.actorId, a);
    if (diedNow && w.callerActors.get(info.actorId) === a) keepDeadRecord(w, info.actorId);
  } else if (info.state === "RESTARTING") {
    // Calls the dead incarnation may or may not have run: resend within budget, else fail them.
    for (const t of [...a.inflight.values()]) {
      if (t.state !== "RUNNING") continue;
      if (t.cancelled) {
        // Settled, it is closed: the next incarnation hears of it from the first push
        // (closedSeqs, or minPendingSeq if it was the lowest open call).
        settleCancelled(w, t, stillRunning(w, pushedTo));
        continue;
      }
      if (t.retriesLeft === 0) {
        failActorTask(w, t, { ...info, error: { type: "ActorDiedError", message: `the actor died while running ${t.spec.name}; it restarts, but the call is not retried (maxTaskRetries=0)` } }, pushedTo);
        continue;
      }
      if (t.retriesLeft > 0) t.retriesLeft--;
      t.state = nextTaskState(nextTaskState(t.state, { type: "ERRORED", retryable: true }), { type: "DEPS_READY" });
      t.spec = nextAttempt(t.spec);
      w.fx.trace({ kind: "task.retry", comp: "owner", task: t.spec.taskId, attempt: t.spec.attempt, reason: "the actor restarted" });
      a.unsent.push(t);
    }
  } else if (info.state === "ALIVE" && info.address) {
    const unsent = a.unsent.splice(0).sort((x, y) => x.spec.seq! - y.spec.seq!);
    for (const t of unsent) pushActorTask(w, t, info.address, a);
  }
}

/**
 * An actor created here that is dead for good, with every handle gone and no call open: nothing
 * here can reach it any more, so its record goes (a program making actors in a loop kept one per
 * actor for its whole life). A handle that was not counted (ray.getActor's) starts a new record,
 * which the GCS's news makes dead, as Ray's caller would learn again.
 */
function forgetIfDone(w: Ctx, actorId: ActorId, a: CallerActor): void {
  if (a.outOfScope && a.info?.state === "DEAD" && a.inflight.size === 0 && a.unsent.length === 0) w.callerActors.delete(actorId);
}

/**
 * The record of an actor dead for good stays (a handle not counted here may still call it, and
 * fails at once); past `deadRecordsKept` such records, the one dead longest goes. One with a call
 * still open waits its turn again. A call through a forgotten one's handle starts a new record,
 * and the GCS's news makes it dead again.
 */
function keepDeadRecord(w: Ctx, actorId: ActorId): void {
  w.deadRecords.push(actorId);
  for (let turns = w.deadRecords.length; w.deadRecords.length > w.deadRecordsKept && turns > 0; turns--) {
    const oldest = w.deadRecords.shift()!;
    const a = w.callerActors.get(oldest);
    if (a?.info?.state !== "DEAD") continue; // forgotten already (forgetIfDone)
    if (a.inflight.size > 0 || a.unsent.length > 0) w.deadRecords.push(oldest);
    else w.callerActors.delete(oldest);
  }
}

/** An actor created here is dead for good: no restart will need its constructor's arguments. */
function endCtorUses(w: Ctx, a: CallerActor): void {
  if (a.ctorUses === undefined) return;
  endUses(w, a.ctorUses);
  a.ctorUses = undefined;
}

/**
 * The incarnation this caller talked to died: a streaming call running there may have stored
 * its next item with no report to come (as a task's lost lease may, see generatorAttemptLost):
 * free such a copy on the node the actor's worker lived on.
 */
function itemsOfDeadIncarnation(w: Ctx, a: CallerActor): void {
  const was = a.info;
  if (was?.state !== "ALIVE" || was.address === undefined) return;
  const node = nodeOf(was.address);
  for (const t of a.inflight.values()) if (t.state === "RUNNING" && t.spec.streaming) generatorAttemptLost(w, t.spec, node);
}

/**
 * `ray.kill`: the GCS ends the actor. Killed for good, the actor takes no more calls from here:
 * calls made after the kill (and those not yet sent) fail at once, without waiting for the
 * GCS's news, which on a real network may come after the next call reached the actor.
 */
export function killActor(w: Ctx, actorId: ActorId, noRestart: boolean): void {
  const a = w.callerActors.get(actorId);
  w.fx.trace({ kind: "actor.killed", comp: "owner", actor: actorId, caller: w.addr, noRestart });
  if (!noRestart) {
    // The incarnation this worker knows of: the kill is then idempotent, and can be resent.
    const epoch = a?.info?.epoch ?? 0;
    if (a) a.restartKill = epoch;
    return w.fx.send(w.cfg.gcs, { type: "KillActor", actorId, noRestart: false, epoch });
  }
  w.fx.send(w.cfg.gcs, { type: "KillActor", actorId });
  if (!a || w.cfg.bugs.has("call-after-kill")) return;
  a.killed = true;
  for (const t of a.unsent.splice(0)) failActorTask(w, t, killedInfo(w, actorId, a));
}

function killedInfo(w: Ctx, actorId: ActorId, a: CallerActor): ActorInfo {
  return { actorId, state: "DEAD", epoch: a.info?.epoch ?? 0, owner: a.info?.owner ?? w.addr, error: { type: "ActorDiedError", message: `actor ${actorId} was killed by ray.kill()` } };
}

export function getNamedActor(w: Ctx, name: string, namespace: string | undefined, callId: number): void {
  const reqId = w.nextReq++;
  w.namedReqs.set(reqId, { callId, name, namespace });
  w.fx.send(w.cfg.gcs, namedRequest(reqId, name, namespace));
}

function namedRequest(reqId: number, name: string, namespace: string | undefined) {
  return { type: "GetNamedActor", reqId, name, ...(namespace !== undefined ? { namespace } : {}) } as const;
}

export function listNamedActors(w: Ctx, namespace: string | undefined, callId: number): void {
  const reqId = w.nextReq++;
  w.listReqs.set(reqId, namespace === undefined ? { callId } : { callId, namespace });
  w.fx.send(w.cfg.gcs, listRequest(reqId, namespace));
}

function listRequest(reqId: number, namespace: string | undefined) {
  return { type: "ListNamedActors", reqId, ...(namespace !== undefined ? { namespace } : {}) } as const;
}

export function namedActorList(w: Ctx, reqId: number, actors: readonly NamedActorEntry[]): void {
  const r = w.listReqs.get(reqId);
  w.listReqs.delete(reqId);
  if (r) w.fx.complete(r.callId, { kind: "named-actors", actors });
}

/** Answers once the GCS has said how it took the registration of an actor created here (at once if it has). */
export function actorRegistered(w: Ctx, actorId: ActorId, callId: number): void {
  const a = w.callerActors.get(actorId);
  if (!a?.created && !a?.info) return w.fx.complete(callId, { kind: "actor", info: a?.info });
  (a.registeredCalls ??= []).push(callId);
  answerRegistered(w, a);
}

function answerRegistered(w: Ctx, a: CallerActor): void {
  if (!a.info || !a.registeredCalls) return;
  for (const callId of a.registeredCalls) w.fx.complete(callId, { kind: "actor", info: a.info });
  a.registeredCalls = undefined;
}

/** ray.nodes(): the GCS's node table. */
export function getClusterInfo(w: Ctx, callId: number): void {
  const reqId = w.nextReq++;
  w.clusterReqs.set(reqId, callId);
  w.fx.send(w.cfg.gcs, { type: "GetClusterInfo", reqId });
}

export function clusterInfo(w: Ctx, reqId: number, nodes: readonly NodeView[]): void {
  const callId = w.clusterReqs.get(reqId);
  w.clusterReqs.delete(reqId);
  if (callId !== undefined) w.fx.complete(callId, { kind: "nodes", nodes });
}

export function namedActor(w: Ctx, reqId: number, info: ActorInfo | undefined): void {
  const r = w.namedReqs.get(reqId);
  w.namedReqs.delete(reqId);
  if (!r) return;
  w.fx.trace({ kind: "actor.lookup", comp: "owner", caller: w.addr, name: r.name, namespace: r.namespace ?? "", ...(info && info.state !== "DEAD" ? { found: info.actorId } : {}) });
  w.fx.complete(r.callId, { kind: "actor", info });
}

/** A restarted GCS lost what was in flight to it: register the actors again, or follow them again. */
export function resubscribeActors(w: Ctx): void {
  for (const [actorId, a] of w.callerActors) {
    if (a.created && !a.info) w.fx.send(w.cfg.gcs, { type: "CreateActor", spec: a.created, ...(a.createFailed ? { failed: a.createFailed } : {}) });
    else w.fx.send(w.cfg.gcs, { type: "SubscribeActor", actorId });
    // A kill the GCS may have lost (sent while it was down) is sent again; killing twice is harmless.
    if (a.killed && a.info?.state !== "DEAD") w.fx.send(w.cfg.gcs, { type: "KillActor", actorId });
    else if (a.outOfScope && a.created && a.info?.state !== "DEAD") w.fx.send(w.cfg.gcs, { type: "ActorOutOfScope", actorId });
    else if (a.restartKill !== undefined && a.info?.state !== "DEAD") w.fx.send(w.cfg.gcs, { type: "KillActor", actorId, noRestart: false, epoch: a.restartKill });
  }
  for (const [reqId, r] of w.namedReqs) w.fx.send(w.cfg.gcs, namedRequest(reqId, r.name, r.namespace));
  for (const [reqId, r] of w.listReqs) w.fx.send(w.cfg.gcs, listRequest(reqId, r.namespace));
  for (const reqId of w.clusterReqs.keys()) w.fx.send(w.cfg.gcs, { type: "GetClusterInfo", reqId });
}
