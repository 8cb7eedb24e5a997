// Streaming generators (Ray's ObjectRefGenerator), both halves. The executor reports each value
// its generator yields, in order, as item `index` (ReportGeneratorItem); the owner records items
// by index, so a retried attempt's reports of items it already has are dropped, and the caller
// gets one ref per item as it comes, then the end (or the task's error as a last item).
// Back-pressure: the owner tells the executor how many items the caller consumed
// (GeneratorAck), and the executor holds its code's next yield while `backpressure` items are
// reported but not consumed.

import { InvariantError } from "../assert.ts";
import type { ItemResult, TaskResult } from "../messages.ts";
import { generatorItemIdOf, generatorItemOf, rayletAddr, returnIdOf, type Addr, type NodeId, type ObjectId, type Payload, type TaskId, type TaskSpec } from "../types.ts";
import type { Ctx } from "./context.ts";
import { itemRestored, itemStored, rerunNextItem, rerunOf, rerunReported } from "./generator-lineage.ts";
import { isDead } from "./object-recovery.ts";
import { storePut } from "./object-requests.ts";
import { containRefs, lendReturned, own, ready, releaseRef, returnLoans } from "./reference-table.ts";
import type { OwnedTask } from "./task-manager.ts";
import { block, endBlock, unblock, type Execution } from "./task-receiver.ts";

/** Owner: one streaming generator task it submitted, from submission until its object is freed. */
export interface OwnedGenerator {
  readonly taskId: TaskId;
  /** The items recorded, by index. */
  readonly items: ObjectId[];
  /** Items handed to the program (a prefix of `items`): the rest are released with the generator. */
  consumed: number;
  /** Set once the stream ended: how many items it has (the task's error, last, included). */
  end: number | undefined;
  readonly backpressure: number | undefined;
  /** The executor that reported last, and its attempt: told how far the caller consumed. */
  executor: { readonly addr: Addr; readonly attempt: number } | undefined;
  /** Reports received from that attempt: the next index it yields (and may have stored before dying). */
  attemptReports: number;
  /** The program's next() calls waiting for an item. */
  readonly nexts: PendingNext[];
  /** The program dropped the generator while its task ran: items that come are dropped, and back-pressure is off. */
  dropped?: true;
  /**
   * An item the attempt under way had already yielded was lost, so that attempt will not yield it
   * again: back-pressure is off for it, so it can end and a re-run remake the item (the program
   * may be waiting on that very item, consuming nothing).
   */
  unbounded?: true;
}

/** A next() call waiting for its item; `blocked`: the task it blocked, which lent its CPU back meanwhile. */
interface PendingNext {
  readonly index: number;
  readonly callId: number;
  readonly blocked: Execution | undefined;
}

/** What the owner tells the executor of a generator nobody reads: consume as if everything was. */
const ALL_CONSUMED = Number.MAX_SAFE_INTEGER;

/** Executor: the progress of a running generator attempt. */
export interface ExecutingGenerator {
  reported: number;
  consumed: number;
  /** The yield its code waits on while back-pressure holds it. */
  paused: number | undefined;
}

export interface Generators {
  readonly generators: Map<ObjectId, OwnedGenerator>;
}

export function newGenerators(): Generators {
  return { generators: new Map() };
}

// ---- owner ----------------------------------------------------------------------------------

/** A streaming generator task was submitted: its items will be recorded here. */
export function generatorSubmitted(w: Ctx, spec: TaskSpec): void {
  w.generators.set(spec.returnId, {
    taskId: spec.taskId, items: [], consumed: 0, end: undefined, backpressure: spec.streaming?.backpressure, executor: undefined, attemptReports: 0, nexts: [],
  });
}

/** An executor reported item `index`: recorded if it is the next one, dropped if already had. */
export function generatorItem(w: Ctx, from: Addr, taskId: TaskId, returnId: ObjectId, attempt: number, index: number, result: ItemResult): void {
  const g = w.generators.get(returnId);
  // The generator is gone (freed, or its program exited) or the stream has ended: nobody will
  // read it, and back-pressure must not hold its executor for ever.
  // So is one from an attempt the owner has given up on (its worker died): the retry yields it
  // again, and a stored copy is dropped here, as its lost lease's copy was (generatorAttemptLost).
  const task = w.owned.get(returnId)?.task;
  const current = task?.spec.attempt;
  // A re-run of a generator task done already, remaking its lost items: nobody reads its stream.
  const rerun = current === undefined && w.lineages.size > 0 ? rerunOf(w, taskId) : undefined;
  if (rerun !== undefined) {
    if (attempt === rerun.spec.attempt) rerunReported(w, taskId, attempt, index);
    if (attempt !== rerun.spec.attempt || !itemRestored(w, taskId, index, attempt, result)) dropItem(w, generatorItemIdOf(taskId, index), result, attempt === rerun.spec.attempt);
    return w.fx.send(from, { type: "GeneratorAck", taskId, attempt, consumed: ALL_CONSUMED });
  }
  if (!g || g.taskId !== taskId || g.end !== undefined || w.exited || (current !== undefined && attempt < current)) {
    dropItem(w, generatorItemIdOf(taskId, index), result);
    return w.fx.send(from, { type: "GeneratorAck", taskId, attempt, consumed: ALL_CONSUMED });
  }
  // A new attempt yields from the start again, the lost item included.
  if (g.executor?.attempt !== attempt) g.unbounded = undefined;
  g.executor = { addr: from, attempt };
  g.attemptReports = index + 1;
  // An item lost while the task runs: this attempt yielded it again.
  if (index < g.items.length && w.lineages.size > 0 && itemRestored(w, taskId, index, attempt, result)) return acknowledge(w, g);
  if (g.dropped) {
    dropItem(w, generatorItemIdOf(taskId, index), result);
    return acknowledge(w, g);
  }
  const duplicate = index < g.items.length && !w.cfg.bugs.has("generator-duplicate-items");
  if (duplicate || index > g.items.length) {
    // Already had (a retry yields again what an earlier attempt reported), or a report lost on
    // the way left a gap: the attempt's reply shows the gap, and the task is retried.
    if (duplicate) w.fx.trace({ kind: "generator.duplicate", comp: "owner", task: taskId, index, attempt });
    dropItem(w, generatorItemIdOf(taskId, index), result, duplicate);
    return acknowledge(w, g);
  }
  const id = generatorItemIdOf(taskId, g.items.length);
  // One handle: the generator's, handed to the program by next().
  const o = own(w, id);
  containRefs(w, o, result.kind === "inline" ? result.payload.refs : result.refs, true);
  if (result.kind === "inline") ready(w, id, o, result, undefined, result.payload.size, result.payload.hash);
  else ready(w, id, o, undefined, result.node, result.size, result.hash);
  w.fx.trace({ kind: "generator.item", comp: "owner", task: taskId, index: g.items.length, obj: id, attempt, hash: o.hash });
  if (result.kind === "stored") itemStored(w, task, id);
  g.items.push(id);
  answerNexts(w, g);
  acknowledge(w, g);
}

/**
 * An item report nobody records; the refs lent with it go back. A stored copy, from the attempt
 * under way (`live`), of an item the owner has with the same value (a retry yielding again what
 * an earlier attempt did) is kept as one more copy of it: the first may be on a node that died and
 * is not yet declared dead, and the item must not be lost with it while a copy lives. Any other
 * stored copy is orphaned: a late report of an attempt given up on may come after its lost lease
 * had that copy freed (generatorAttemptLost), and a node declared dead keeps nothing.
 */
function dropItem(w: Ctx, id: ObjectId, result: ItemResult, live = false): void {
  if (result.kind === "stored") {
    const o = w.owned.get(id);
    const sameValue = live && o !== undefined && o.state === "READY" && o.value === undefined && o.hash === result.hash && !w.deadNodes.has(result.node);
    if (sameValue) {
      if (!o.nodes.includes(result.node)) o.nodes = [...o.nodes, result.node];
    } else if (!o?.nodes.includes(result.node)) w.fx.send(rayletAddr(result.node), { type: "FreeObjects", ids: [id], orphaned: true });
  }
  returnLoans(w, result.kind === "inline" ? result.payload.refs : result.refs);
}

/**
 * The lease of an attempt of a streaming task was lost with its worker: the item it was about to
 * report may be stored on `node` with no report to come. Free such a copy, as a task's stored
 * result whose reply never came (one item at most: the code yields the next only once the
 * report of the last is out).
 */
export function generatorAttemptLost(w: Ctx, spec: TaskSpec, node: NodeId): void {
  const g = w.generators.get(spec.returnId);
  // A re-run remaking lost items (the stream ended, or was freed) counts its own reports.
  const rerunNext = w.lineages.size > 0 ? rerunNextItem(w, spec) : undefined;
  if (!g && rerunNext === undefined) return;
  const id = generatorItemIdOf(spec.taskId, rerunNext ?? (g?.executor?.attempt === spec.attempt ? g.attemptReports : 0));
  if (!w.owned.get(id)?.nodes.includes(node)) w.fx.send(rayletAddr(node), { type: "FreeObjects", ids: [id], orphaned: true });
}

/**
 * An attempt of a streaming task succeeded having reported `items` items. If some never reached
 * the owner (a report lost on the way), the attempt failed: retried, it reports them again.
 */
export function generatorReplied(w: Ctx, t: OwnedTask, items: number, result: TaskResult): TaskResult {
  const g = w.generators.get(t.spec.returnId);
  // (A re-run remaking lost items, after the stream ended, answers for nothing else.)
  if (!g || g.dropped || g.end !== undefined || result.kind === "error" || items <= g.items.length) return result;
  return { kind: "error", error: { type: "RayError", message: `streaming generator ${t.spec.name}: ${items - g.items.length} of its ${items} items never reached the caller` }, retryable: true };
}

/** The task is done for good: the stream ends, after one more item holding its error if it failed. */
export function generatorEnded(w: Ctx, spec: TaskSpec, result: TaskResult): void {
  const g = w.generators.get(spec.returnId);
  if (!g || g.end !== undefined) return;
  if (result.kind === "error" && !g.dropped) {
    const id = generatorItemIdOf(spec.taskId, g.items.length);
    const o = own(w, id);
    ready(w, id, o, { kind: "error", error: result.error }, undefined, 0, "");
    g.items.push(id);
    g.end = g.items.length;
    w.fx.trace({ kind: "generator.end", comp: "owner", task: spec.taskId, items: g.end, error: result.error.type, obj: id });
  } else {
    g.end = g.items.length;
    w.fx.trace({ kind: "generator.end", comp: "owner", task: spec.taskId, items: g.end });
  }
  answerNexts(w, g);
}

/** The program asks for item `index` (next()): answered now if it is known or the stream ended, else when it comes. */
export function generatorNext(w: Ctx, returnId: ObjectId, index: number, callId: number): void {
  const g = w.generators.get(returnId);
  if (!g) {
    return w.fx.complete(callId, { kind: "error", error: { type: "RayError", message: `no streaming generator ${returnId} is owned here: it was released, or made by another worker (only its caller iterates it)` } });
  }
  // A task that must wait for the item lends its CPU back, as in a get: the generator's own task
  // may need that CPU (Ray's next() is a wait on the item's ref, which does the same).
  const waits = index >= g.items.length && g.end === undefined;
  g.nexts.push({ index, callId, blocked: waits ? block(w) : undefined });
  answerNexts(w, g);
}

/** Answers a next() call (after its task has its CPU back, if it lent it). */
function answerNext(w: Ctx, n: PendingNext, id?: ObjectId): void {
  unblock(w, n.blocked, { kind: "call", callId: n.callId, result: id === undefined ? { kind: "item" } : { kind: "item", id } });
}

/** A next() call the caller withdrew (its task was cancelled): it waits no more (a call no generator holds was answered already). */
export function withdrawNext(w: Ctx, callId: number): void {
  for (const g of w.generators.values()) {
    const i = g.nexts.findIndex((n) => n.callId === callId);
    if (i >= 0) return endBlock(w, g.nexts.splice(i, 1)[0].blocked);
  }
}

function answerNexts(w: Ctx, g: OwnedGenerator): void {
  if (g.nexts.length === 0) return;
  let moved = false;
  for (let i = 0; i < g.nexts.length;) {
    const n = g.nexts[i];
    if (n.index < g.items.length) {
      g.nexts.splice(i, 1);
      if (n.index >= g.consumed) { g.consumed = n.index + 1; moved = true; }
      answerNext(w, n, g.items[n.index]);
    } else if (g.end !== undefined) {
      g.nexts.splice(i, 1);
      answerNext(w, n);
    } else i++;
  }
  if (moved) acknowledge(w, g);
}

/** Tells the executor how far the caller consumed, when back-pressure may hold it. */
function acknowledge(w: Ctx, g: OwnedGenerator): void {
  if (g.backpressure === undefined || g.executor === undefined || g.end !== undefined) return;
  w.fx.send(g.executor.addr, { type: "GeneratorAck", taskId: g.taskId, attempt: g.executor.attempt, consumed: g.dropped || g.unbounded ? ALL_CONSUMED : g.consumed });
}

/**
 * Generator item `id` was lost, to be yielded again. If the attempt under way reported it already,
 * it will not yield it again: it is let go of back-pressure, to end, after which a re-run remakes
 * the item (lineageTaskEnded).
 */
export function generatorItemLostBehind(w: Ctx, id: ObjectId): void {
  const { task, index } = generatorItemOf(id);
  const returnId = returnIdOf(task);
  const g = w.generators.get(returnId);
  const current = w.owned.get(returnId)?.task?.spec.attempt;
  if (!g || g.end !== undefined || g.executor?.attempt !== current || g.attemptReports <= index || g.unbounded) return;
  g.unbounded = true;
  acknowledge(w, g);
}

/**
 * The program dropped its last handle to a generator whose task still runs (Python's `del gen`):
 * the items it never took are released, those still to come will be dropped, and the task runs
 * to its end without back-pressure (nobody will consume).
 */
export function generatorUnreferenced(w: Ctx, returnId: ObjectId): void {
  const g = w.generators.get(returnId);
  if (!g || g.dropped || g.end !== undefined) return;
  g.dropped = true;
  for (const n of g.nexts) answerNext(w, n);
  g.nexts.length = 0;
  const untaken = g.items.slice(g.consumed);
  g.consumed = g.items.length;
  for (const id of untaken) releaseRef(w, id);
  acknowledge(w, g);
}

/** The object of a generator's task was freed: items never handed out go with it. */
export function generatorFreed(w: Ctx, returnId: ObjectId): void {
  const g = w.generators.get(returnId);
  if (!g) return;
  w.generators.delete(returnId);
  for (const n of g.nexts) answerNext(w, n);
  for (let i = g.consumed; i < g.items.length; i++) releaseRef(w, g.items[i]);
}

// ---- executor -------------------------------------------------------------------------------

/** The code of running generator `e` yielded item `index`: report it (storing it first if large). */
export function itemYielded(w: Ctx, e: Execution | undefined, index: number, payload: Payload, callId: number): void {
  // The attempt is over here (answered already): its code stops.
  if (!e) return w.fx.complete(callId, { kind: "yielded", stop: true });
  const st = (e.generator ??= { reported: 0, consumed: 0, paused: undefined });
  if (index !== st.reported) throw new InvariantError(`worker ${w.addr}: generator ${e.spec.taskId} yielded item ${index} after ${st.reported}`);
  if (payload.size <= w.cfg.maxInlineBytes) return reportItem(w, e, index, { kind: "inline", payload }, callId);
  storePut(w, { kind: "item", e, index, callId, size: payload.size, hash: payload.hash, refs: payload.refs }, generatorItemIdOf(e.spec.taskId, index), payload, e.spec.owner);
}

/** Sends item `index` to the owner; the code goes on unless back-pressure holds it. */
export function reportItem(w: Ctx, e: Execution, index: number, result: ItemResult, callId: number): void {
  const s = e.spec, st = e.generator!;
  lendReturned(w, result.kind === "inline" ? result.payload.refs : result.refs, s.owner);
  const bound = s.streaming?.backpressure;
  // Its owner died before its first item (see generatorOwnersDied).
  if (bound !== undefined && st.reported === 0 && isDead(w, s.owner)) st.consumed = ALL_CONSUMED;
  if (bound !== undefined) w.fx.trace({ kind: "generator.reported", comp: "worker", task: s.taskId, attempt: s.attempt, index, consumed: st.consumed, bound });
  w.fx.send(s.owner, { type: "ReportGeneratorItem", taskId: s.taskId, returnId: s.returnId, attempt: s.attempt, index, result });
  st.reported = index + 1;
  if (mayGoOn(w, e, st)) return goOn(w, e, callId);
  st.paused = callId;
  w.fx.trace({ kind: "generator.paused", comp: "worker", task: s.taskId, attempt: s.attempt, reported: st.reported, consumed: st.consumed });
}

/** Back-pressure: a cancelled generator is never held (its code must get to see its signal). */
function mayGoOn(w: Ctx, e: Execution, st: ExecutingGenerator): boolean {
  const bound = e.spec.streaming?.backpressure;
  return bound === undefined || e.cancelled || w.cfg.bugs.has("generator-ignores-backpressure") || st.reported - st.consumed < bound;
}

/**
 * Executor: a generator whose owner is known dead is consumed as if everything was, as one its
 * program dropped: no ack will ever come, and an actor's call held by back-pressure would hold
 * the actor's other calls for ever.
 */
export function generatorOwnersDied(w: Ctx, dead: (owner: Addr) => boolean): void {
  const release = (e: Execution) => {
    if (e.generator === undefined || !dead(e.spec.owner)) return;
    e.generator.consumed = ALL_CONSUMED;
    resume(w, e);
  };
  if (w.current !== undefined) release(w.current);
  if (w.actor !== undefined) for (const e of [...w.actor.running]) release(e);
}

/** The owner says the caller consumed `consumed` items: a paused generator may go on. */
export function generatorAcked(w: Ctx, e: Execution | undefined, consumed: number): void {
  const st = e?.generator;
  if (!e || !st) return;
  if (consumed > st.consumed) st.consumed = consumed;
  if (st.paused !== undefined && mayGoOn(w, e, st)) resume(w, e);
}

/** Lets a paused generator's code go on (back-pressure lifted, or it was cancelled and must stop). */
export function resume(w: Ctx, e: Execution): void {
  const callId = e.generator?.paused;
  if (callId === undefined) return;
  e.generator!.paused = undefined;
  goOn(w, e, callId);
}

/** Answers a yield: go on, or stop once the owner cancelled it (it ends with TaskCancelledError). */
function goOn(w: Ctx, e: Execution, callId: number): void {
  w.fx.complete(callId, e.cancelled ? { kind: "yielded", stop: true } : { kind: "yielded" });
}
