// The program's object calls (get, wait, put) and the core worker's requests to its node's
// store: each call is a record of what it waits for, each store request a record of what its
// answer is for. Requests to the raylet stay listed until answered, to be resent if it restarts.

import { assertNever } from "../assert.ts";
import type { CallResult } from "../effects.ts";
import type { Msg, ObjectStatus } from "../messages.ts";
import type { Addr, ErrorInfo, ObjectId, Payload, RefInfo } from "../types.ts";
import type { Ctx } from "./context.ts";
import { containRefs, holdRefs, own, ready, statusNow, whenKnown, type Owned } from "./reference-table.ts";
import { argsRead, block, endBlock, reply, unblock, type Execution } from "./task-receiver.ts";
import { reportItem, withdrawNext } from "./generators.ts";

export interface GetCall {
  readonly callId: number;
  /** The running task that lent its CPU back while this call waits (undefined: none did). */
  readonly blocked: Execution | undefined;
  readonly refs: readonly RefInfo[];
  readonly values: (Payload | ErrorInfo | undefined)[];
  missing: number;
  readonly timed: boolean;
  /** Refs whose status is not known yet; then the stored ones are read from the store at once. */
  unknown: number;
  fetch?: { i: number; ref: RefInfo }[];
}

export interface WaitCall {
  readonly callId: number;
  readonly blocked: Execution | undefined;
  readonly refs: readonly RefInfo[];
  readonly numReturns: number;
  readonly timed: boolean;
  /**
   * Which refs' owners answered (by index): a borrowed ref's status is not kept here once
   * nothing holds it, so the wait remembers what it heard.
   */
  readonly heard: boolean[];
  /**
   * Ray's fetch_local: a ref counts as ready once its value is in this node's store (or inline,
   * or its error known), not once it exists anywhere; `local` says which are (by index).
   */
  readonly fetchLocal: boolean;
  readonly local: boolean[];
}

/** What a StorePut is for: the program's put, or a large task result stored as its primary copy. */
export type PendingPut =
  | { readonly kind: "put"; readonly id: ObjectId; readonly o: Owned; readonly callId: number; readonly size: number; readonly hash: string; readonly refs: readonly RefInfo[] | undefined }
  | { readonly kind: "result"; readonly e: Execution; readonly size: number; readonly hash: string; readonly refs: readonly RefInfo[] | undefined }
  /** A large item a streaming generator yielded; `callId`: the yield its code waits on. */
  | { readonly kind: "item"; readonly e: Execution; readonly index: number; readonly callId: number; readonly size: number; readonly hash: string; readonly refs: readonly RefInfo[] | undefined };

/**
 * What a store read is for: the stored values of a get (a StoreGet; a StorePeek for a get with
 * timeoutMs 0), the arguments of a task about to run, or a copy a wait makes local.
 */
export type PendingRead =
  | { readonly kind: "get" | "peek"; readonly g: GetCall; readonly fetch: readonly { readonly i: number; readonly ref: RefInfo }[] }
  | { readonly kind: "local"; readonly x: WaitCall; readonly i: number }
  | { readonly kind: "args"; readonly e: Execution; readonly refs: readonly RefInfo[]; readonly at: readonly number[]; readonly blocked: Execution | undefined };

export interface ObjectRequests {
  /** Next request id (lease, store and named-actor requests share the counter). */
  nextReq: number;
  readonly puts: Map<number, PendingPut>;
  readonly reads: Map<number, PendingRead>;
  /** Requests to the local raylet still unanswered, resent if it restarts. */
  readonly toRaylet: Map<number, Msg>;
  readonly gets: Map<number, GetCall>;
  readonly waits: Map<number, WaitCall>;
}

export function newObjectRequests(): ObjectRequests {
  return { nextReq: 1, puts: new Map(), reads: new Map(), toRaylet: new Map(), gets: new Map(), waits: new Map() };
}

/** Stores a value in the local node's store; completes `callId` once it is sealed there. */
export function put(w: Ctx, id: ObjectId, payload: Payload, callId: number): void {
  const o = own(w, id);
  storePut(w, { kind: "put", id, o, callId, size: payload.size, hash: payload.hash, refs: payload.refs }, id, payload, w.addr);
}

export function storePut(w: Ctx, p: PendingPut, id: ObjectId, payload: Payload, owner: Addr): void {
  const reqId = w.nextReq++;
  w.puts.set(reqId, p);
  sendRaylet(w, reqId, { type: "StorePut", reqId, id, payload, owner });
}

export function storePutReply(w: Ctx, reqId: number, error: ErrorInfo | undefined): void {
  w.toRaylet.delete(reqId);
  const p = w.puts.get(reqId);
  if (!p) return;
  w.puts.delete(reqId);
  switch (p.kind) {
    case "result": return reply(w, p.e, error ? { kind: "error", error, retryable: false } : { kind: "stored", node: w.cfg.node, size: p.size, hash: p.hash, refs: p.refs });
    case "put":
      if (error) {
        w.owned.delete(p.id);
        return w.fx.complete(p.callId, { kind: "error", error });
      }
      containRefs(w, p.o, p.refs, false);
      ready(w, p.id, p.o, undefined, w.cfg.node, p.size, p.hash);
      return w.fx.complete(p.callId, { kind: "put", id: p.id });
    case "item":
      // The store refused it: the yield throws, and the generator's task fails with that error.
      if (error) return w.fx.complete(p.callId, { kind: "error", error });
      return reportItem(w, p.e, p.index, { kind: "stored", node: w.cfg.node, size: p.size, hash: p.hash, refs: p.refs }, p.callId);
    default: return assertNever("a store put", p);
  }
}

export function readFromStore(w: Ctx, refs: readonly RefInfo[], r: PendingRead): void {
  const reqId = w.nextReq++;
  w.reads.set(reqId, r);
  const ids = refs.map((x) => ({ id: x.id, owner: x.owner }));
  sendRaylet(w, reqId, r.kind === "local" ? { type: "StoreGet", reqId, ids, local: true } : r.kind === "peek" ? { type: "StorePeek", reqId, ids } : { type: "StoreGet", reqId, ids });
}

export function storeGetReply(w: Ctx, reqId: number, values: readonly (Payload | ErrorInfo)[]): void {
  w.toRaylet.delete(reqId);
  const r = w.reads.get(reqId);
  if (!r) return;
  w.reads.delete(reqId);
  switch (r.kind) {
    case "args": return argsRead(w, r.e, r.refs, r.at, r.blocked, values);
    case "get": case "peek":
      for (let k = 0; k < r.fetch.length; k++) setGetValue(w, r.g, r.fetch[k].i, values[k]);
      return;
    case "local": return madeLocal(w, r.x, r.i); // answered by StoreLocal, but the values say as much
    default: return assertNever("a store read", r);
  }
}

/** The raylet made a wait's ref local. */
export function storeLocal(w: Ctx, reqId: number): void {
  w.toRaylet.delete(reqId);
  const r = w.reads.get(reqId);
  if (r?.kind !== "local") return;
  w.reads.delete(reqId);
  madeLocal(w, r.x, r.i);
}

/** The raylet's store lacks some of a peek's objects now: its get fails. */
export function storeAbsent(w: Ctx, reqId: number, ids: readonly ObjectId[]): void {
  w.toRaylet.delete(reqId);
  const r = w.reads.get(reqId);
  if (r?.kind !== "peek") return;
  w.reads.delete(reqId);
  if (w.gets.has(r.g.callId)) timeOut(w, r.g, ids);
}

/** Ref `i` of wait `x` is in this node's store now (or failed for good): it counts as ready. */
function madeLocal(w: Ctx, x: WaitCall, i: number): void {
  x.local[i] = true;
  if (w.waits.has(x.callId)) checkWait(w, x);
}

function sendRaylet(w: Ctx, reqId: number, m: Msg): void {
  w.toRaylet.set(reqId, m);
  w.fx.send(w.raylet, m);
}

// ---- get ----------------------------------------------------------------------------------

export function get(w: Ctx, refs: readonly RefInfo[], timeoutMs: number | undefined, callId: number): void {
  if (timeoutMs === 0) return peek(w, refs, callId);
  const timed = timeoutMs !== undefined;
  const g: GetCall = { callId, refs, values: new Array(refs.length), missing: refs.length, timed, blocked: block(w), unknown: refs.length, fetch: undefined };
  w.gets.set(callId, g);
  if (timed) w.fx.setTimer({ kind: "get-timeout", id: callId }, timeoutMs);
  if (refs.length === 0) return finishGet(w, g);
  for (let i = 0; i < refs.length; i++) whenKnown(w, refs[i], { kind: "get", g, i });
}

/**
 * A get with timeoutMs 0, as Ray's get with timeout=0, which reads its node's store at once and
 * waits for nothing else: it takes what this worker knows now (inline values, errors) and what
 * this node's store holds now (a StorePeek, which pulls, restores and waits for nothing), and
 * fails with GetTimeoutError unless every ref has its value or error then. The store's answer
 * stands for Ray's synchronous read of its store: no timer races it, and the call lends no CPU
 * back, as it waits for no other process.
 */
function peek(w: Ctx, refs: readonly RefInfo[], callId: number): void {
  const g: GetCall = { callId, refs, values: new Array(refs.length), missing: refs.length, timed: false, blocked: undefined, unknown: 0, fetch: undefined };
  w.gets.set(callId, g);
  const fetch: { i: number; ref: RefInfo }[] = [];
  const pending: ObjectId[] = [];
  for (let i = 0; i < refs.length; i++) {
    const s = statusNow(w, refs[i]);
    if (s === "pending") pending.push(refs[i].id);
    // A borrowed ref whose status is not known yet may have a copy here all the same.
    else if (s === undefined || s.kind === "stored") fetch.push({ i, ref: refs[i] });
    else setGetValue(w, g, i, s.kind === "inline" ? s.payload : s.error);
  }
  if (pending.length > 0) return timeOut(w, g, pending);
  if (fetch.length > 0) return readFromStore(w, fetch.map((f) => f.ref), { kind: "peek", g, fetch });
  if (refs.length === 0) finishGet(w, g);
}

/** The status of one ref of a get is known: inline values are in hand; stored ones come through the raylet. */
export function getStatus(w: Ctx, g: GetCall, i: number, status: ObjectStatus): void {
  if (!w.gets.has(g.callId)) return;
  if (status.kind === "inline") setGetValue(w, g, i, status.payload);
  else if (status.kind === "error") setGetValue(w, g, i, status.error);
  else (g.fetch ??= []).push({ i, ref: g.refs[i] });
  if (--g.unknown > 0 || g.fetch === undefined) return;
  const fetch = g.fetch;
  readFromStore(w, fetch.map((f) => f.ref), { kind: "get", g, fetch });
}

function setGetValue(w: Ctx, g: GetCall, i: number, v: Payload | ErrorInfo): void {
  if (g.values[i] !== undefined) return;
  g.values[i] = v;
  if (--g.missing === 0) finishGet(w, g);
}

function finishGet(w: Ctx, g: GetCall): void {
  if (!w.gets.delete(g.callId)) return;
  if (g.timed) w.fx.cancelTimer({ kind: "get-timeout", id: g.callId });
  for (let i = 0; i < g.refs.length; i++) {
    const v = g.values[i]!;
    if ("hash" in v) w.fx.trace({ kind: "object.read", comp: "owner", obj: g.refs[i].id, hash: v.hash, reader: w.addr });
    else w.fx.trace({ kind: "get.failed", comp: "owner", obj: g.refs[i].id, error: v.type, reader: w.addr });
    // The program now holds the refs nested in the value: borrowed until released or its scope ends.
    if ("hash" in v) holdRefs(w, v.refs);
  }
  unblock(w, g.blocked, { kind: "call", callId: g.callId, result: { kind: "values", values: g.values as (Payload | ErrorInfo)[] } });
}

export function getTimedOut(w: Ctx, callId: number): void {
  const g = w.gets.get(callId);
  if (g) timeOut(w, g, g.refs.filter((_, i) => g.values[i] === undefined).map((r) => r.id));
}

/** Get `g` fails with GetTimeoutError naming the objects it found not ready. */
function timeOut(w: Ctx, g: GetCall, pending: readonly ObjectId[]): void {
  w.gets.delete(g.callId);
  const error: ErrorInfo = { type: "GetTimeoutError", message: `get timed out: ${pending.length} of ${g.refs.length} objects not ready (${pending.slice(0, 3).join(", ")}${pending.length > 3 ? ", …" : ""})` };
  unblock(w, g.blocked, { kind: "call", callId: g.callId, result: { kind: "error", error } });
}

// ---- wait ---------------------------------------------------------------------------------

export function wait(w: Ctx, refs: readonly RefInfo[], numReturns: number, timeoutMs: number | undefined, fetchLocal: boolean, callId: number): void {
  const timed = timeoutMs !== undefined;
  const x: WaitCall = { callId, refs, numReturns: Math.min(numReturns, refs.length), timed, blocked: block(w), heard: [], fetchLocal, local: [] };
  w.waits.set(callId, x);
  if (timed) w.fx.setTimer({ kind: "wait-timeout", id: callId }, timeoutMs);
  // Without fetchLocal, refs already known count at once; with it, each known one is fetched first.
  if (!fetchLocal && checkWait(w, x)) return;
  for (let i = 0; i < refs.length; i++) whenKnown(w, refs[i], { kind: "wait", w: x, i });
  if (fetchLocal && w.waits.has(callId)) checkWait(w, x); // no refs, or every one local already
}

/**
 * Ref `i` of a wait became known: count again. With fetchLocal, a value in a store counts once a
 * copy is in this node's store: the raylet is asked to make one (as Ray's wait pulls it).
 */
export function waitNews(w: Ctx, x: WaitCall, i: number, status: ObjectStatus): void {
  x.heard[i] = true;
  if (!w.waits.has(x.callId)) return;
  if (!x.fetchLocal) {
    checkWait(w, x);
    return;
  }
  if (status.kind !== "stored") return madeLocal(w, x, i);
  readFromStore(w, [x.refs[i]], { kind: "local", x, i });
}

export function waitTimedOut(w: Ctx, callId: number): void {
  const x = w.waits.get(callId);
  if (x) finishWait(w, x, readyRefs(w, x));
}

function readyRefs(w: Ctx, x: WaitCall): ObjectId[] {
  const out: ObjectId[] = [];
  for (let i = 0; i < x.refs.length; i++) {
    const r = x.refs[i];
    const o = w.owned.get(r.id);
    const isReady = x.fetchLocal ? x.local[i] === true : o ? o.state !== "PENDING" : x.heard[i] === true || w.borrowed.get(r.id)?.status !== undefined;
    if (isReady) out.push(r.id);
  }
  return out;
}

function checkWait(w: Ctx, x: WaitCall): boolean {
  const ready = readyRefs(w, x);
  if (ready.length < x.numReturns) return false;
  finishWait(w, x, ready.slice(0, x.numReturns));
  return true;
}

// ---- withdrawal ---------------------------------------------------------------------------

/**
 * The program gave up on a get, a wait or a generator's next item (ray.cancel interrupted the
 * task that made it): it ends here unanswered, and a get or wait no longer keeps its task's CPU
 * lent. Answers already on their way (a store read, an owner's status) find no call and are
 * dropped, as a timed-out call's are.
 */
export function withdrawCall(w: Ctx, callId: number): void {
  const g = w.gets.get(callId);
  if (g) {
    w.gets.delete(callId);
    if (g.timed) w.fx.cancelTimer({ kind: "get-timeout", id: callId });
    return endBlock(w, g.blocked);
  }
  const x = w.waits.get(callId);
  if (x) {
    w.waits.delete(callId);
    if (x.timed) w.fx.cancelTimer({ kind: "wait-timeout", id: callId });
    return endBlock(w, x.blocked);
  }
  withdrawNext(w, callId);
}

function finishWait(w: Ctx, x: WaitCall, ready: ObjectId[]): void {
  if (!w.waits.delete(x.callId)) return;
  if (x.timed) w.fx.cancelTimer({ kind: "wait-timeout", id: x.callId });
  unblock(w, x.blocked, { kind: "call", callId: x.callId, result: { kind: "ready", ready } satisfies CallResult });
}
