// The raylet's object manager: the node's object store and its clients. It takes puts (holding
// them while the store is full), serves local gets, makes objects local by pulling them from
// another node in chunks (asking their owner where copies are) or restoring them from spill,
// serves other nodes' pulls, and frees copies when their owners say.

import type { ObjectStatus } from "../messages.ts";
import type { PutOutcome } from "../object-store.ts";
import type { QueuedLease, Raylet } from "../raylet.ts";
import { nodeOf, rayletAddr, type Addr, type ErrorInfo, type NodeId, type ObjectId, type Payload } from "../types.ts";
import type { RayletTimer } from "./inputs.ts";

/** Someone on this node waiting for objects to be local: a queued lease or a worker's get. */
export type Waiter =
  | { readonly kind: "lease"; readonly q: QueuedLease }
  | { readonly kind: "get"; readonly get: PendingGet }
  /** Another node pulling a copy that is spilled here. */
  | { readonly kind: "serve"; readonly to: Addr };

export interface PendingGet {
  readonly from: Addr;
  readonly reqId: number;
  readonly ids: readonly ObjectId[];
  readonly values: (Payload | ErrorInfo | undefined)[];
  missing: number;
  /** Copies handed to this get while it waits for others: pinned so memory is not reused under it. */
  pinned?: ObjectId[];
  /** Only to make the objects local (a ray.wait's fetchLocal): answered StoreLocal, without the values. */
  readonly local: boolean;
}

/** Answers a get whose every object is here or failed. */
function answerGet(rl: Raylet, g: PendingGet): void {
  rl.fx.send(g.from, g.local ? { type: "StoreLocal", reqId: g.reqId } : { type: "StoreGetReply", reqId: g.reqId, values: g.values as (Payload | ErrorInfo)[] });
}

export interface Pull {
  readonly owner: Addr;
  readonly waiters: Waiter[];
  /** Times the pull has asked the owner for locations. */
  tries: number;
  from?: NodeId;
  received: number;
}

export interface PendingPut {
  readonly from: Addr;
  readonly reqId: number;
  readonly id: ObjectId;
  readonly payload: Payload;
  readonly owner: Addr;
  /**
   * How long it has waited, counted in retry periods rather than read off the clock: a clock
   * that jumps (skew) must not expire it early.
   */
  waitedMs: number;
}

/** What the object manager is in the middle of. */
export interface ObjectManagerState {
  readonly pulls: Map<ObjectId, Pull>;
  /** Owner of every object this store holds, to tell it about evictions. */
  readonly owners: Map<ObjectId, Addr>;
  /** Spilled copies being read back, and who waits for each. */
  readonly restoring: Map<ObjectId, Waiter[]>;
  /** Puts waiting for store space. */
  puts: PendingPut[];
  /** Whether the "puts" timer is set (it is set once for all waiting puts, never pushed back). */
  putTimer: boolean;
}

export function newObjectManagerState(): ObjectManagerState {
  return { pulls: new Map(), owners: new Map(), restoring: new Map(), puts: [], putTimer: false };
}

export function ownerDied(id: ObjectId, owner: Addr): ErrorInfo {
  return { type: "OwnerDiedError", message: `the owner of object ${id} (${owner}) died, so the object cannot be fetched or reconstructed` };
}

export const PULL_RETRY_MS = 50;
/** The longest wait between a failed pull and the next question to the owner. */
export const PULL_RETRY_MAX_MS = 1000;
/** How often a put that the store refused is tried again while it waits (see storePut). */
export const PUT_RETRY_MS = 50;
const PUTS: RayletTimer = { kind: "puts" };

export function storePut(rl: Raylet, p: PendingPut): void {
  if (tryPut(rl, p)) return;
  // Back-pressure: hold the put until frees make room, or until it has waited
  // storeFullTimeoutMs. It is also tried again every PUT_RETRY_MS: a store may refuse for a
  // moment for reasons no free here will announce (the host's memory busy, slots waiting for
  // their last reader to go).
  rl.objects.puts.push(p);
  armPutTimer(rl);
}

export function armPutTimer(rl: Raylet): void {
  if (rl.objects.putTimer || rl.objects.puts.length === 0) return;
  rl.objects.putTimer = true;
  rl.fx.setTimer(PUTS, PUT_RETRY_MS);
}

export function tryPut(rl: Raylet, p: PendingPut): boolean {
  const r = storeCopy(rl, p.id, p.payload, true);
  if (!r.ok) return false;
  rl.objects.owners.set(p.id, p.owner);
  rl.fx.trace({ kind: "object.created", comp: "store", obj: p.id, size: p.payload.size, hash: p.payload.hash, where: "store", primary: true });
  rl.fx.send(p.from, { type: "StorePutReply", reqId: p.reqId, id: p.id });
  // Someone here was already fetching it (say, a lost object just re-made on this node).
  if (rl.objects.pulls.has(p.id)) finishPull(rl, p.id, p.payload);
  return true;
}

export function retryPuts(rl: Raylet): void {
  const waiting = rl.objects.puts;
  rl.objects.puts = [];
  for (const p of waiting) {
    if (tryPut(rl, p)) continue;
    if (p.waitedMs >= rl.cfg.storeFullTimeoutMs) {
      const error: ErrorInfo = { type: "ObjectStoreFullError", message: `object store on ${rl.cfg.node} is full: ${rl.store.usedBytes} of ${rl.store.capacity} bytes are in use and cannot be evicted or spilled; cannot fit ${p.payload.size} bytes` };
      rl.fx.send(p.from, { type: "StorePutReply", reqId: p.reqId, id: p.id, error });
    } else rl.objects.puts.push(p);
  }
  armPutTimer(rl);
}

/** Puts a copy in the store; traces what it spilled and tells owners what it evicted to make room. */
function storeCopy(rl: Raylet, id: ObjectId, payload: Payload, primary: boolean): PutOutcome {
  const r = rl.store.put(id, payload, primary);
  for (const s of r.spilled) rl.fx.trace({ kind: "object.spilled", comp: "store", obj: s });
  evicted(rl, r.evicted);
  return r;
}

/** Tells owners about secondary copies that made room for others (spills were traced as they happened). */
export function evicted(rl: Raylet, ids: readonly ObjectId[]): void {
  for (const id of ids) {
    rl.fx.trace({ kind: "object.deleted", comp: "store", obj: id, reason: "evicted" });
    const owner = rl.objects.owners.get(id);
    rl.objects.owners.delete(id);
    if (owner) rl.fx.send(owner, { type: "RemoveLocation", id, node: rl.cfg.node });
  }
}

export function storeGet(rl: Raylet, from: Addr, reqId: number, ids: readonly { id: ObjectId; owner: Addr }[], local: boolean): void {
  const get: PendingGet = { from, reqId, ids: ids.map((x) => x.id), values: new Array(ids.length), missing: 0, local };
  for (let i = 0; i < ids.length; i++) {
    const v = rl.store.read(ids[i].id) ?? lostWithOwner(rl, ids[i].id, ids[i].owner);
    if (v) { get.values[i] = v; continue; }
    get.missing++;
    fetch(rl, ids[i].id, ids[i].owner, { kind: "get", get });
  }
  if (get.missing === 0) return answerGet(rl, get);
  for (let i = 0; i < ids.length; i++) if (get.values[i] !== undefined) pinForGet(rl, get, ids[i].id);
}

/**
 * A get with timeoutMs 0 reads what this store holds now, as Ray's read of its node's store
 * with no wait: the values if every object is in memory here (or lost with its owner), else
 * the ones it lacks. Nothing is pulled, restored or pinned: a spilled copy counts as absent
 * (reading it back is not at once), and so does one a pull is bringing.
 */
export function storePeek(rl: Raylet, from: Addr, reqId: number, ids: readonly { id: ObjectId; owner: Addr }[]): void {
  const values: (Payload | ErrorInfo)[] = [];
  const absent: ObjectId[] = [];
  for (const { id, owner } of ids) {
    const v = rl.store.read(id) ?? lostWithOwner(rl, id, owner);
    if (v) values.push(v);
    else absent.push(id);
  }
  rl.fx.send(from, absent.length > 0 ? { type: "StoreAbsent", reqId, ids: absent } : { type: "StoreGetReply", reqId, values });
}

export function pinForGet(rl: Raylet, g: PendingGet, id: ObjectId): void {
  if (!rl.store.has(id)) return;
  rl.store.pin(id);
  (g.pinned ??= []).push(id);
}

/**
 * The error a read of `id` gets at once when this raylet has heard that its owner died: the owner
 * would never answer a pull's GetLocations (the pulls under way failed when the news came, but a
 * read sent before the news may arrive after it).
 */
export function lostWithOwner(rl: Raylet, id: ObjectId, owner: Addr): ErrorInfo | undefined {
  return rl.holderDead(owner) ? ownerDied(id, owner) : undefined;
}

/** Makes `id` local: restore it if spilled here, else pull it from a node that has it. */
export function fetch(rl: Raylet, id: ObjectId, owner: Addr, w: Waiter): void {
  if (rl.store.isSpilled(id)) {
    const r = rl.objects.restoring.get(id);
    if (r) r.push(w);
    else {
      rl.objects.restoring.set(id, [w]);
      rl.fx.trace({ kind: "object.restored", comp: "store", obj: id });
      rl.fx.restore(id);
    }
    return;
  }
  const p = rl.objects.pulls.get(id);
  if (p) { p.waiters.push(w); return; }
  rl.objects.pulls.set(id, { owner, waiters: [w], tries: 1, received: 0 });
  rl.fx.send(owner, { type: "GetLocations", id });
}

/** The host read a spilled copy back. */
export function restored(rl: Raylet, id: ObjectId, payload: Payload): void {
  const waiters = rl.objects.restoring.get(id) ?? [];
  rl.objects.restoring.delete(id);
  if (!rl.store.isSpilled(id)) return; // freed meanwhile
  // Bring it back into memory if it fits; a copy larger than memory is served from storage.
  const spilledEntry = rl.store.spilledCopies.get(id)!;
  rl.store.spilledCopies.delete(id);
  const r = storeCopy(rl, id, payload, true);
  if (r.ok && rl.store.has(id)) rl.fx.deleteSpilled(id);
  else if (!rl.store.isSpilled(id)) rl.store.spilledCopies.set(id, spilledEntry);
  satisfy(rl, id, payload, waiters);
}

export function satisfy(rl: Raylet, id: ObjectId, v: Payload | ErrorInfo, waiters: readonly Waiter[]): void {
  for (const w of waiters) {
    if (w.kind === "serve") {
      if ("hash" in v) sendChunks(rl, w.to, id, v);
      else rl.fx.send(w.to, { type: "PullFailed", id });
    } else if (w.kind === "lease") {
      if (w.q.dropped) continue;
      if ("hash" in v) rl.store.pin(id);
      if (--w.q.missing === 0) rl.dispatch();
    } else {
      const g = w.get;
      const i = g.ids.indexOf(id);
      for (let j = i; j < g.ids.length; j++) {
        if (g.ids[j] === id && g.values[j] === undefined) { g.values[j] = v; g.missing--; }
      }
      if (g.missing > 0) { if ("hash" in v) pinForGet(rl, g, id); continue; }
      for (const p of g.pinned ?? []) rl.store.unpin(p);
      answerGet(rl, g);
    }
  }
}

export function locations(rl: Raylet, id: ObjectId, status: ObjectStatus | { readonly kind: "unknown" }): void {
  const p = rl.objects.pulls.get(id);
  if (!p) return;
  if (status.kind === "inline") return finishPull(rl, id, status.payload);
  if (status.kind === "error") return finishPull(rl, id, status.error);
  if (status.kind === "unknown") return finishPull(rl, id, { type: "ObjectLostError", message: `object ${id} was already freed by its owner ${p.owner}` });
  if (status.kind === "stored") {
    // Not from a node this raylet already knows is dead: the owner may not have heard yet, and a
    // Pull sent there would never be answered.
    const others = status.nodes.filter((n) => n !== rl.cfg.node && rl.view.find((v) => v.node === n)?.alive !== false);
    if (others.length > 0) {
      p.from = others[Math.floor(rl.fx.random() * others.length)];
      p.received = 0;
      rl.fx.send(rayletAddr(p.from), { type: "Pull", id });
      return;
    }
  }
  pullFailed(rl, id);
}

/**
 * No copy could be had this time: ask the owner again, backing off. Only the owner may say
 * the object is gone (it answers with an error, or does not know it); until then a copy it
 * lists may be on a node whose death it has not heard of yet (the GCS down, say), and the
 * object it re-makes then is worth waiting for.
 */
export function pullFailed(rl: Raylet, id: ObjectId): void {
  const p = rl.objects.pulls.get(id);
  if (!p) return;
  p.from = undefined;
  rl.fx.setTimer({ kind: "pull", id }, Math.min(PULL_RETRY_MS * 2 ** (p.tries - 1), PULL_RETRY_MAX_MS));
  p.tries++;
}

/**
 * What `node` was sending here is lost (the host's connection from it reset, both processes
 * alive): the pulls from there start over, as after a PullFailed. A chunk of the lost transfer
 * that still arrives (it went another way) is stale once the pull has no source, and a pull
 * that had everything is finished already.
 */
export function transfersLost(rl: Raylet, node: NodeId): void {
  for (const [id, p] of rl.objects.pulls) if (p.from === node) pullFailed(rl, id);
}

export function servePull(rl: Raylet, from: Addr, id: ObjectId): void {
  const payload = rl.store.read(id);
  if (!payload) {
    if (rl.store.isSpilled(id)) return fetch(rl, id, rl.objects.owners.get(id) ?? from, { kind: "serve", to: from });
    return rl.fx.send(from, { type: "PullFailed", id });
  }
  sendChunks(rl, from, id, payload);
}

export function sendChunks(rl: Raylet, from: Addr, id: ObjectId, payload: Payload): void {
  const total = Math.max(1, Math.ceil(payload.size / rl.cfg.chunkBytes));
  for (let i = 0; i < total; i++) {
    const size = i < total - 1 ? rl.cfg.chunkBytes : payload.size - rl.cfg.chunkBytes * (total - 1);
    rl.fx.send(from, { type: "Chunk", id, index: i, total, size, payload: i === total - 1 ? payload : undefined });
  }
}

/** Chunks arrive in order on a FIFO link; the last one carries the sealed payload. */
export function chunk(rl: Raylet, from: Addr, id: ObjectId, total: number, payload: Payload | undefined): void {
  const p = rl.objects.pulls.get(id);
  if (!p || p.from !== nodeOf(from)) return; // stale chunks of an abandoned transfer
  p.received++;
  if (p.received < total || !payload) return;
  const r = storeCopy(rl, id, payload, false);
  if (r.ok) {
    rl.objects.owners.set(id, p.owner);
    rl.fx.trace({ kind: "object.created", comp: "store", obj: id, size: payload.size, hash: payload.hash, where: "store", primary: false });
    rl.fx.trace({ kind: "object.transferred", comp: "raylet", obj: id, from: p.from!, size: payload.size });
    rl.fx.send(p.owner, { type: "AddLocation", id, node: rl.cfg.node, incarnation: rl.cfg.incarnation });
  }
  finishPull(rl, id, payload);
}

export function finishPull(rl: Raylet, id: ObjectId, v: Payload | ErrorInfo): void {
  const p = rl.objects.pulls.get(id);
  if (!p) return;
  rl.objects.pulls.delete(id);
  rl.fx.cancelTimer({ kind: "pull", id });
  satisfy(rl, id, v, p.waiters);
}

/** Unpins what a request pinned (the deps that were local, or arrived while it waited). */
export function releaseDeps(rl: Raylet, q: QueuedLease): void {
  q.dropped = true;
  for (const d of q.req.deps) rl.store.unpin(d.id);
}

/** Copies whose owner died: nobody can reach or free them any more, so they go (as Ray's raylets drop a dead owner's objects). */
export function ownersDied(rl: Raylet, dead: (owner: Addr) => boolean): void {
  // So do puts still waiting for room: stored later, they would be copies nobody frees. Their
  // putters hear why.
  const waiting = rl.objects.puts;
  rl.objects.puts = waiting.filter((p) => !dead(p.owner));
  for (const p of waiting) if (dead(p.owner)) rl.fx.send(p.from, { type: "StorePutReply", reqId: p.reqId, id: p.id, error: ownerDied(p.id, p.owner) });
  const ids: ObjectId[] = [];
  for (const [id, owner] of rl.objects.owners) if (dead(owner)) ids.push(id);
  if (ids.length > 0) freeObjects(rl, ids, false, "owner-died");
}

export function freeObjects(rl: Raylet, ids: readonly ObjectId[], orphaned = false, why?: "owner-died"): void {
  const gone = new Set(ids);
  rl.objects.puts = rl.objects.puts.filter((p) => !gone.has(p.id));
  let freed = false;
  for (const id of ids) {
    // A restore under way will find the copy gone: what waits on it hears why now, not never.
    const restoring = rl.objects.restoring.get(id);
    if (restoring) {
      rl.objects.restoring.delete(id);
      const owner = rl.objects.owners.get(id);
      satisfy(rl, id, why === "owner-died" && owner !== undefined ? ownerDied(id, owner) : { type: "ObjectLostError", message: `object ${id} was freed by its owner while it was read back from spill` }, restoring);
    }
    rl.objects.owners.delete(id);
    const r = rl.store.delete(id);
    if (r.spilled) rl.fx.deleteSpilled(id);
    if (r.inMemory || r.spilled) {
      freed = true;
      rl.fx.trace({ kind: "object.deleted", comp: "store", obj: id, reason: why ?? (orphaned ? "orphaned" : "freed") });
    }
  }
  if (freed && rl.objects.puts.length > 0) retryPuts(rl);
}
