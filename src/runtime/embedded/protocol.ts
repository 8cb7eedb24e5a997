// What crosses between the main thread (where every model lives) and a worker thread (where
// user code runs). Both directions send batches: one postMessage carries every message queued
// during one turn of the sender's event loop.

import type { ActorOptions, ArgIn, Outcome, TaskOptions } from "../../core/core-worker.ts";
import type { CallResult } from "../../core/effects.ts";
import type { ActorCallOptions, ActorId, Addr, FunctionDescriptor, FunctionId, JobId, NodeId, ObjectId, Payload, RefInfo, Streaming, TaskKind, TaskId } from "../../core/types.ts";
import type { PlacementGroupRequest } from "../../core/worker/inputs.ts";

/** A function the other side may not have seen yet travels whole, then by id. */
export type FnRef = FunctionDescriptor | { readonly id: FunctionId };

/** Main → thread. */
export type ToThread =
  | { readonly t: "bind"; readonly addr: Addr; readonly node: NodeId }
  | {
    readonly t: "exec"; readonly task: TaskId; readonly attempt: number; readonly kind: TaskKind; readonly method?: string; readonly actor?: ActorId;
    readonly fn: FnRef; readonly args: readonly Payload[]; readonly namespace?: string; readonly streaming?: Streaming; readonly job: JobId;
  }
  | { readonly t: "reply"; readonly call: number; readonly result: CallResult }
  /** ray.cancel: signal the running task's code. */
  | { readonly t: "cancel"; readonly task: TaskId }
  | { readonly t: "exit" }
  /** Collect garbage: arena views nobody holds give their slots back. */
  | { readonly t: "gc" };

/** Thread → main. */
export type FromThread =
  | { readonly t: "ready" }
  | { readonly t: "done"; readonly task: TaskId; readonly attempt: number; readonly out: Outcome }
  | { readonly t: "submit"; readonly task: TaskId; readonly fn: FnRef; readonly args: readonly ArgIn[]; readonly opts: TaskOptions }
  | { readonly t: "actor"; readonly actor: ActorId; readonly cls: FnRef; readonly args: readonly ArgIn[]; readonly opts: ActorOptions }
  | { readonly t: "call"; readonly task: TaskId; readonly actor: ActorId; readonly method: string; readonly args: readonly ArgIn[]; readonly retries: number; readonly call?: ActorCallOptions }
  | { readonly t: "put"; readonly call: number; readonly id: ObjectId; readonly payload: Payload }
  | { readonly t: "get"; readonly call: number; readonly refs: readonly RefInfo[]; readonly timeoutMs?: number }
  | { readonly t: "wait"; readonly call: number; readonly refs: readonly RefInfo[]; readonly numReturns: number; readonly timeoutMs?: number; readonly fetchLocal: boolean }
  /** The program gave up on get, wait or next `call` (its task was cancelled). */
  | { readonly t: "withdraw"; readonly call: number }
  | { readonly t: "named"; readonly call: number; readonly name: string; readonly namespace?: string }
  | { readonly t: "list-named"; readonly call: number; readonly namespace?: string }
  | { readonly t: "registered"; readonly call: number; readonly actor: ActorId }
  | { readonly t: "cluster"; readonly call: number }
  | { readonly t: "kill"; readonly actor: ActorId; readonly noRestart: boolean }
  | { readonly t: "pg-create"; readonly pg: PlacementGroupRequest }
  | { readonly t: "pg-remove"; readonly pgId: string }
  | { readonly t: "releaseRef"; readonly id: ObjectId }
  | { readonly t: "cancelTask"; readonly id: ObjectId; readonly force: boolean; readonly recursive: boolean }
  /** A streaming generator running here yielded item `index` (answered once it may go on). */
  | { readonly t: "yield"; readonly call: number; readonly task: TaskId; readonly attempt: number; readonly index: number; readonly payload: Payload }
  /** The program asks for item `index` of a streaming generator it owns. */
  | { readonly t: "next"; readonly call: number; readonly id: ObjectId; readonly index: number }
  /** Replies whose arena values the thread has decoded: the main thread drops its holds. */
  | { readonly t: "consumed"; readonly calls: readonly number[] };

/** Payload bytes at least this large move to the other thread by transfer, not by copy. */
export const TRANSFER_MIN_BYTES = 64 * 1024;

/** Adds the buffer under `p` to `transfer` when it can be moved (unshared, whole, large). */
export function transferable(p: Payload, transfer: ArrayBuffer[]): void {
  const d = p.data;
  if (!(d instanceof Uint8Array) || d.byteLength < TRANSFER_MIN_BYTES) return;
  const b = d.buffer;
  if (b instanceof ArrayBuffer && d.byteOffset === 0 && d.byteLength === b.byteLength && !transfer.includes(b)) transfer.push(b);
}
