// The owner's reference table: every object this worker owns (its state, handles and pending
// uses, where its copies live, who waits for it, how to make it again), and the status of
// objects owned elsewhere that it asked about. As an owner it is also the directory that
// raylets and borrowers ask where an object lives.

import { nextObjectState, type ObjectState } from "../lifecycle/object.ts";
import type { ObjectStatus } from "../messages.ts";
import { InvariantError, assertNever } from "../assert.ts";
import { actorOfHandleId, handleIdOf, isGeneratorItemId, rayletAddr, type Addr, type ErrorInfo, type NodeId, type ObjectId, type RefInfo, type TaskSpec } from "../types.ts";
import type { Ctx } from "./context.ts";
import { getStatus, waitNews, type GetCall, type WaitCall } from "./object-requests.ts";
import { isDead } from "./object-recovery.ts";
import { argKnown, type ArgResolution, type OwnedTask } from "./task-manager.ts";
import { generatorFreed, generatorUnreferenced } from "./generators.ts";
import { itemFreed } from "./generator-lineage.ts";
import { handleOutOfScope } from "./actor-submitter.ts";

export type InlineStatus = Extract<ObjectStatus, { kind: "inline" }>;
export type ErrorStatus = Extract<ObjectStatus, { kind: "error" }>;

export interface Owned {
  state: ObjectState;
  /** Handles held by the program, and the holds of `nested` (which outlive a task's scope). */
  local: number;
  /** Of `local`, the holds of owned objects whose values contain it (containRefs): they end when those objects are freed. */
  nested: number;
  /** Pending tasks that take it as an argument. */
  submitted: number;
  /** Inline value or error, once known: the very status that gets and borrowers are answered with. */
  value?: InlineStatus | ErrorStatus;
  /** Nodes holding a copy in their store (NO_NODES, shared, until the first copy). */
  nodes: readonly NodeId[];
  size: number;
  hash: string;
  /**
   * Whoever waits for it to be ready (gets, waits, dependent tasks, raylets, borrowers). Most
   * objects have one waiter: it is kept as itself, and a list is made only for a second one.
   */
  waiters?: StatusWaiter | StatusWaiter[];
  /** How to make it again if every copy is lost: the task that made it and its retry budget. */
  lineage?: { spec: TaskSpec; retriesLeft: number };
  /** Arguments of that task, kept in scope for as long as this object may need re-making. */
  deps?: readonly ObjectId[];
  /**
   * The task making it, until that task is done: replies find their task through the object
   * (one map for both, rather than a second map of every pending task).
   */
  task: OwnedTask | undefined;
  /** Borrowers (other processes, or this one through a value it owns) and how many holds each registered. */
  borrowers?: Map<Addr, number>;
  /** Refs nested in its value: held (owned or borrowed) for as long as it is in scope. */
  contains?: readonly RefInfo[];
}

/** An object owned elsewhere: its owner, and its status once the owner said. */
export interface Borrowed {
  readonly owner: Addr;
  status?: ObjectStatus;
  readonly waiters: StatusWaiter[];
  /**
   * Holds on it here (handles the program got inside a value, values and pending tasks that
   * contain it): the owner counts this worker as a borrower from the first hold to the last.
   */
  held: number;
  /** Of those, the holds of pending tasks this worker submitted (their arguments): a task's scope end leaves them. */
  pending: number;
  /** Of those, the holds of owned objects whose values contain it (containRefs): a task's scope end leaves them too. */
  nested: number;
}

/** Someone waiting for an object's status, and what to do with it when it comes. */
export type StatusWaiter =
  /** Slot `i` of a get. */
  | { readonly kind: "get"; readonly g: GetCall; readonly i: number }
  /** Ref `i` of a wait, which counts again. */
  | { readonly kind: "wait"; readonly w: WaitCall; readonly i: number }
  /** Argument `i` of a task or actor constructor whose arguments are being resolved. */
  | { readonly kind: "arg"; readonly r: ArgResolution; readonly i: number }
  /** A raylet (Locations) or a borrower (Status) asked `to`. */
  | { readonly kind: "reply"; readonly to: Addr; readonly id: ObjectId; readonly as: "Locations" | "Status" }
  /** Nobody: a get with timeoutMs 0 asked a borrowed ref's owner, for the status to be kept here (borrowedStatus). */
  | { readonly kind: "kept" };

export interface ReferenceTable {
  readonly owned: Map<ObjectId, Owned>;
  /** Objects owned elsewhere that this worker holds or waits for, with their status once asked. */
  readonly borrowed: Map<ObjectId, Borrowed>;
  /**
   * The process ended (releaseAll): it owns nothing any more and answers as a dead owner; every
   * pending-task count was zeroed at once, so the releases that still come (a pending task
   * finishing, a freed object's lineage arguments) must not count again.
   */
  exited: boolean;
  /** Borrower messages this worker sent (each carries the count so far as its `seq`). */
  borrowMsgs: number;
  /**
   * sender -> the last `seq` of its borrower messages handled here: a repeated copy is no new
   * count. A dead sender's goes when its death is forgotten (workerDied): a repeat is expected soon after its death, not long after.
   */
  readonly borrowSeqs: Map<Addr, number>;
}

export function newReferenceTable(): ReferenceTable {
  return { owned: new Map(), borrowed: new Map(), exited: false, borrowMsgs: 0, borrowSeqs: new Map() };
}

/** Whether this borrower message from `from` was handled before (the network repeated it). */
export function repeatedBorrowMsg(w: Ctx, from: Addr, seq: number): boolean {
  if (seq <= (w.borrowSeqs.get(from) ?? 0)) return true;
  w.borrowSeqs.set(from, seq);
  return false;
}

/**
 * Most objects are inline and never get a copy in a store, and most tasks take no owned refs:
 * they share these empty lists. Readonly by type, not frozen: V8 iterates a frozen array on a
 * slow path that allocates.
 */
const NO_NODES: readonly NodeId[] = [];

export function own(w: Ctx, id: ObjectId): Owned {
  const o: Owned = { state: "PENDING", local: 1, nested: 0, submitted: 0, value: undefined, nodes: NO_NODES, size: 0, hash: "", waiters: undefined, lineage: undefined, deps: undefined, task: undefined };
  w.owned.set(id, o);
  return o;
}

/** Marks an owned object ready: inline (`value`) or stored on `node`. */
export function ready(w: Ctx, id: ObjectId, o: Owned, value: Owned["value"], node: NodeId | undefined, size: number, hash: string): void {
  o.state = nextObjectState(o.state, value?.kind === "error" ? { type: "ERRORED" } : { type: "CREATED" });
  o.value = value;
  o.size = size;
  o.hash = hash;
  if (node !== undefined) o.nodes = [...o.nodes, node];
  if (value?.kind === "inline") w.fx.trace({ kind: "object.created", comp: "owner", obj: id, size, hash, where: "inline" });
  wake(w, o);
  maybeFree(w, id, o);
}

export function waitFor(o: Owned, x: StatusWaiter): void {
  const ws = o.waiters;
  if (ws === undefined) o.waiters = x;
  else if (Array.isArray(ws)) ws.push(x);
  else o.waiters = [ws, x];
}

/** The object is ready (or lost for good): everyone waiting hears its status. */
export function wake(w: Ctx, o: Owned): void {
  const waiters = o.waiters;
  if (waiters === undefined) return;
  o.waiters = undefined;
  const s = statusOf(o)!;
  if (!Array.isArray(waiters)) return notify(w, waiters, s);
  for (const x of w.cfg.bugs.has("wake-first-waiter-only") ? waiters.slice(0, 1) : waiters) notify(w, x, s);
}

/** Tells one waiter an object's status. */
function notify(w: Ctx, x: StatusWaiter, s: ObjectStatus | { readonly kind: "unknown" }): void {
  switch (x.kind) {
    case "get": return getStatus(w, x.g, x.i, s as ObjectStatus);
    case "wait": return waitNews(w, x.w, x.i, s as ObjectStatus);
    case "arg": return argKnown(w, x.r, x.i, s as ObjectStatus);
    case "kept": return;
    case "reply":
      if (x.as === "Locations") return w.fx.send(x.to, { type: "Locations", id: x.id, status: s });
      return w.fx.send(x.to, {
        type: "Status", id: x.id,
        status: s.kind === "unknown" ? { kind: "error", error: freedError(w, x.id) } : s,
      });
    default: return assertNever("an object's waiter", x);
  }
}

/** Why an object this owner no longer holds cannot be had: freed, or gone with its exited owner. */
function freedError(w: Ctx, id: ObjectId): ErrorInfo {
  return w.exited
    ? { type: "OwnerDiedError", message: `the owner of object ${id} (${w.addr}) exited` }
    : { type: "ObjectLostError", message: `object ${id} was already freed by its owner` };
}

export function maybeFree(w: Ctx, id: ObjectId, o: Owned): void {
  // A streaming generator's task still runs, but the program let go of it.
  if (o.state === "PENDING" && o.local === 0 && w.generators.size > 0) generatorUnreferenced(w, id);
  if (o.local > (w.cfg.bugs.has("free-off-by-one") ? 1 : 0) || o.submitted > 0 || o.state === "PENDING" || o.state === "FREED") return;
  if (o.borrowers !== undefined && o.borrowers.size > (w.cfg.bugs.has("free-with-one-borrower") ? 1 : 0) && !w.cfg.bugs.has("free-borrowed")) return;
  if (o.waiters !== undefined) throw new InvariantError(`owner ${w.addr} frees object ${id} while ${Array.isArray(o.waiters) ? o.waiters.length : 1} still wait for it`);
  o.state = nextObjectState(o.state, { type: "OUT_OF_SCOPE" });
  w.owned.delete(id);
  w.fx.trace({ kind: "object.out-of-scope", comp: "owner", obj: id });
  for (const n of o.nodes) w.fx.send(rayletAddr(n), { type: "FreeObjects", ids: [id] });
  if (o.deps) releaseArgs(w, o.deps);
  if (o.contains) releaseNested(w, o.contains);
  if (w.generators.size > 0) generatorFreed(w, id);
  if (w.lineages.size > 0 && isGeneratorItemId(id)) itemFreed(w, id);
  const actor = actorOfHandleId(id);
  if (actor !== undefined) handleOutOfScope(w, actor);
}

export function releaseArgs(w: Ctx, ids: readonly ObjectId[]): void {
  // After releaseAll these uses were already released (set to 0): releasing again would count
  // one task twice. releaseAll visits every object it zeroed, so nothing is left unfreed.
  if (w.exited) return;
  const twice = w.cfg.bugs.has("double-decref");
  for (const r of ids) {
    const a = w.owned.get(r);
    if (!a) continue;
    a.submitted -= twice && a.submitted > 1 ? 2 : 1;
    if (a.submitted < 0) throw new InvariantError(`owner ${w.addr}: object ${r} is an argument of ${a.submitted} pending tasks`);
    maybeFree(w, r, a);
  }
}

export function statusOf(o: Owned): ObjectStatus | undefined {
  if (o.state === "PENDING" || o.state === "LOST") return undefined;
  if (o.value) return o.value;
  return { kind: "stored", nodes: o.nodes, size: o.size };
}

/** Answers a raylet (Locations) or a borrower (Status) with an owned object's status once it is ready. */
export function serveStatus(w: Ctx, to: Addr, id: ObjectId, as: "Locations" | "Status"): void {
  const o = w.owned.get(id);
  const x: StatusWaiter = { kind: "reply", to, id, as };
  // An exited owner answers as Ray's dead owner does (its borrowers see OwnerDiedError), not
  // "freed": it freed everything on exit, whatever its borrowers still held.
  if (!o) return notify(w, x, w.exited ? { kind: "error", error: freedError(w, id) } : { kind: "unknown" });
  const s = statusOf(o);
  if (s) return notify(w, x, s);
  waitFor(o, x);
}

/** Tells `x` the status of any ref once it is ready (asking a remote owner if needed). */
export function whenKnown(w: Ctx, ref: RefInfo, x: StatusWaiter): void {
  const o = w.owned.get(ref.id);
  if (o) {
    const s = statusOf(o);
    if (s) return notify(w, x, s);
    waitFor(o, x);
    return;
  }
  const s = heardOf(w, ref);
  if (s) return notify(w, x, s);
  askOwner(w, ref, x);
}

/**
 * What this worker knows of a ref's status now, waiting for nothing (a get with timeoutMs 0):
 * "pending" for an object of its own not ready (not made yet, or lost and being made again),
 * undefined for a borrowed one whose owner has not answered. That owner is asked then, once, as
 * Ray's borrower asks when it receives a ref: its answer is kept for later gets while the ref is held.
 */
export function statusNow(w: Ctx, ref: RefInfo): ObjectStatus | "pending" | undefined {
  const o = w.owned.get(ref.id);
  if (o) return statusOf(o) ?? "pending";
  const s = heardOf(w, ref);
  if (s) return s;
  if (!(w.borrowed.get(ref.id)?.waiters.length)) askOwner(w, ref, { kind: "kept" });
  return undefined;
}

/** The status of a ref not owned here, if known without asking: freed here, gone with its dead owner, or told by its owner. */
function heardOf(w: Ctx, ref: RefInfo): ObjectStatus | undefined {
  if (ref.owner === w.addr) return { kind: "error", error: { type: "ObjectLostError", message: `object ${ref.id} was already freed` } };
  if (isDead(w, ref.owner)) return { kind: "error", error: { type: "OwnerDiedError", message: `the owner of object ${ref.id} (${ref.owner}) died` } };
  return w.borrowed.get(ref.id)?.status;
}

function askOwner(w: Ctx, ref: RefInfo, x: StatusWaiter): void {
  let b = w.borrowed.get(ref.id);
  if (!b) w.borrowed.set(ref.id, (b = { owner: ref.owner, waiters: [], held: 0, pending: 0, nested: 0 }));
  // Asked already if someone waits (a borrow alone asks nothing).
  if (b.waiters.length === 0) w.fx.send(ref.owner, { type: "GetStatus", id: ref.id });
  b.waiters.push(x);
}

export function borrowedStatus(w: Ctx, id: ObjectId, status: ObjectStatus): void {
  const b = w.borrowed.get(id);
  if (!b) return;
  b.status = status;
  const waiting = b.waiters.splice(0);
  for (const x of waiting) notify(w, x, status);
  // Asked about without a hold (the program released the ref it reads): nothing keeps it here.
  if (b.held === 0 && b.waiters.length === 0) w.borrowed.delete(id);
}

// ---- the borrower protocol ----------------------------------------------------------------
// A worker that holds a ref it does not own (got inside a value, or passed on as an argument)
// is a borrower: its first hold registers it with the owner (AddBorrower), its last hold's end
// tells the owner it is done (RemoveBorrower). Both go on the one link borrower → owner, which
// delivers in order. A value's nested refs are held by whoever holds the value: the owner of a
// put or of a task's return object holds them until it frees that object, and a task returning
// refs registers its caller as a borrower before its reply leaves (so the refs never go
// unprotected between the executor's scope end and the caller's hold).

/**
 * One more hold on `ref` here (owned: a program handle; borrowed: a borrow). Every borrowed
 * hold is one count at the owner: `registered` says someone already sent its AddBorrower (a
 * task that returned the ref lent it to us).
 */
export function holdRef(w: Ctx, ref: RefInfo, registered = false): void {
  if (ref.owner === w.addr) {
    const o = w.owned.get(ref.id);
    if (o) o.local++;
    return;
  }
  let b = w.borrowed.get(ref.id);
  if (!b) w.borrowed.set(ref.id, (b = { owner: ref.owner, waiters: [], held: 0, pending: 0, nested: 0 }));
  if (b.held++ === 0) w.fx.trace({ kind: "ref.borrowed", comp: "owner", obj: ref.id, borrower: w.addr, owner: ref.owner });
  if (!registered) w.fx.send(ref.owner, { type: "AddBorrower", id: ref.id, borrower: w.addr, seq: ++w.borrowMsgs });
}

/**
 * The refs nested in a value this worker's program received (a task's arguments, a value it
 * got): one hold each. The handle of the actor this worker hosts is no hold: an actor's handle
 * to itself does not keep it alive (as in Ray).
 */
export function holdRefs(w: Ctx, refs: readonly RefInfo[] | undefined): void {
  if (!refs) return;
  const self = w.actor === undefined ? undefined : handleIdOf(w.actor.actorId);
  for (const r of refs) if (r.id !== self) holdRef(w, r);
}

/** `holds` holds on a borrowed ref end (at most as many as it has); the owner hears how many. */
function dropBorrowed(w: Ctx, id: ObjectId, b: Borrowed, holds: number): void {
  if (holds > b.held) holds = b.held;
  if (holds <= 0) return;
  b.held -= holds;
  if (b.pending > b.held) b.pending = b.held;
  if (b.nested > b.held) b.nested = b.held;
  if (!isDead(w, b.owner)) w.fx.send(b.owner, { type: "RemoveBorrower", id, borrower: w.addr, holds, seq: ++w.borrowMsgs });
  if (b.held > 0) return;
  w.fx.trace({ kind: "ref.unborrowed", comp: "owner", obj: id, borrower: w.addr, owner: b.owner });
  // Its status goes too (an inline one holds the value): a long-lived worker borrows without end.
  if (b.waiters.length === 0) w.borrowed.delete(id);
}

/** Ends one hold on each of `refs` (owned or borrowed). */
export function dropRefs(w: Ctx, refs: readonly RefInfo[]): void {
  for (const r of refs) {
    if (r.owner === w.addr) { releaseRef(w, r.id); continue; }
    const b = w.borrowed.get(r.id);
    if (b) dropBorrowed(w, r.id, b, 1);
  }
}

/**
 * A pending task this worker submitted takes the borrowed `refs` (its arguments): one hold each,
 * which the submitting task's scope end leaves (Ray's submitted-task references), until
 * `endTaskHolds`.
 */
export function takeTaskHolds(w: Ctx, refs: readonly RefInfo[]): void {
  for (const r of refs) {
    holdRef(w, r);
    w.borrowed.get(r.id)!.pending++;
  }
}

/** The task that took `refs` (takeTaskHolds) ended: their holds end. */
export function endTaskHolds(w: Ctx, refs: readonly RefInfo[]): void {
  for (const r of refs) {
    const b = w.borrowed.get(r.id);
    if (b === undefined) continue;
    if (b.pending > 0) b.pending--;
    dropBorrowed(w, r.id, b, 1);
  }
}

/**
 * A task returns `refs` inside its value to `caller`: the caller gets one borrow of each
 * (counted here for refs we own, by their owner for borrowed ones) before the reply leaves,
 * so no ref goes unheld between this task's scope end and the caller's. Refs the caller owns
 * need nothing: the caller holds them while the task is pending.
 */
export function lendReturned(w: Ctx, refs: readonly RefInfo[] | undefined, caller: Addr): void {
  if (!refs) return;
  for (const r of refs) {
    if (r.owner === caller) continue;
    if (r.owner === w.addr) addBorrower(w, r.id, caller);
    else w.fx.send(r.owner, { type: "AddBorrower", id: r.id, borrower: caller, seq: ++w.borrowMsgs });
  }
}

/** A reply whose value was lent to us was not taken (a stale attempt): give the loans back. */
export function returnLoans(w: Ctx, refs: readonly RefInfo[] | undefined): void {
  if (refs) for (const r of refs) if (r.owner !== w.addr) w.fx.send(r.owner, { type: "RemoveBorrower", id: r.id, borrower: w.addr, holds: 1, seq: ++w.borrowMsgs });
}

/**
 * The owner hears of a borrower. An object already freed stays freed: the borrower's reads fail.
 * So does one of an owner that exited: it goes, whatever its borrowers hold (releaseAll); one
 * still pending then (a task's result yet to come) is freed when it comes.
 */
export function addBorrower(w: Ctx, id: ObjectId, borrower: Addr): void {
  const o = w.owned.get(id);
  // A borrower already known dead holds nothing: its registration came after the news (held on
  // the way, say), and borrowersDied, which drops a dead borrower's holds, has already run.
  if (!o || w.exited || isDead(w, borrower)) return;
  (o.borrowers ??= new Map()).set(borrower, (o.borrowers.get(borrower) ?? 0) + 1);
}

export function removeBorrower(w: Ctx, id: ObjectId, borrower: Addr, holds: number): void {
  const o = w.owned.get(id);
  const n = o?.borrowers?.get(borrower);
  if (!o || n === undefined) return;
  if (n > holds) o.borrowers!.set(borrower, n - holds);
  else o.borrowers!.delete(borrower);
  maybeFree(w, id, o);
}

/** Borrowers that died hold nothing any more (Ray's owner drops a dead borrower's refs). */
export function borrowersDied(w: Ctx, dead: (borrower: Addr) => boolean): void {
  w.owned.forEach((o, id) => {
    if (o.borrowers === undefined) return;
    let changed = false;
    for (const b of o.borrowers.keys()) if (b !== w.addr && dead(b)) { o.borrowers.delete(b); changed = true; }
    if (changed) maybeFree(w, id, o);
  });
}

/**
 * An owned object's value contains `refs`: it holds them until it is freed. `lent`: they came
 * in a task's reply, whose executor already registered our borrows (lendReturned).
 */
export function containRefs(w: Ctx, o: Owned, refs: readonly RefInfo[] | undefined, lent: boolean): void {
  if (!refs || refs.length === 0) return;
  if (o.contains) return lent ? returnLoans(w, refs) : undefined;
  o.contains = refs;
  for (const r of refs) {
    holdRef(w, r, lent);
    const held = r.owner === w.addr ? w.owned.get(r.id) : w.borrowed.get(r.id);
    if (held) held.nested++;
  }
}

/** A freed object's value held `refs` (containRefs): those holds end. */
function releaseNested(w: Ctx, refs: readonly RefInfo[]): void {
  for (const r of refs) {
    const held = r.owner === w.addr ? w.owned.get(r.id) : w.borrowed.get(r.id);
    if (held && held.nested > 0) held.nested--;
  }
  dropRefs(w, refs);
}

/** Borrowed objects whose owner died fail with OwnerDiedError, now and for later gets. */
export function ownerDied(w: Ctx, dead: (owner: Addr) => boolean): void {
  for (const [id, b] of w.borrowed) {
    const owner = b.owner;
    if (!dead(owner)) continue;
    borrowedStatus(w, id, { kind: "error", error: { type: "OwnerDiedError", message: `the owner of object ${id} (${owner}) died` } });
  }
}

export function releaseRef(w: Ctx, id: ObjectId): void {
  const o = w.owned.get(id);
  if (!o) {
    const b = w.borrowed.get(id);
    if (b) dropBorrowed(w, id, b, 1);
    return;
  }
  if (o.local === 0) return;
  o.local--;
  maybeFree(w, id, o);
}

export function releaseAll(w: Ctx): void {
  // The process ends: it borrows nothing more, and what it owns goes with it, borrowed or not
  // (its borrowers hear OwnerDiedError, as in Ray).
  w.fx.trace({ kind: "owner.exited", comp: "owner", owner: w.addr });
  w.exited = true;
  w.borrowed.forEach((b, id) => dropBorrowed(w, id, b, b.held));
  // Freeing deletes entries as the loop goes, which a Map allows (and skipping an object freed
  // along the way is what visiting it would do); forEach makes no [id, o] array per entry.
  // Tasks it submitted and has not heard back from hold nothing either: their results have
  // nobody to go to (a result that still comes frees it then).
  w.owned.forEach((o, id) => {
    o.local = 0;
    o.submitted = 0;
    o.borrowers = undefined;
    maybeFree(w, id, o);
  });
}

/**
 * A task's scope ended: drop the handles it made and the borrows it took, but not the borrows
 * its pending tasks hold (a child, or an actor call through a borrowed handle, still uses them),
 * nor the holds of objects it owns whose values contain refs (a put of a box, a child's answer
 * holding a ref): those last as long as the objects, which may outlive the task (returned, or
 * lent inside a value), as Ray's owner keeps refs nested in an object it owns.
 * Refs it returned inside its value were lent to its caller first (lendReturned), so they stay alive.
 */
export function endScope(w: Ctx): void {
  if (w.borrowed.size > 0) w.borrowed.forEach((b, id) => dropBorrowed(w, id, b, b.held - b.pending - b.nested));
  if (w.owned.size === 0) return; // the common case: the task made no refs
  // As in releaseAll: no copy of the map, no array per entry.
  w.owned.forEach((o, id) => {
    if (o.local === o.nested) return;
    o.local = o.nested;
    maybeFree(w, id, o);
  });
}
