// The effect port: the only way a model touches the world. A model calls these to *ask* for
// an effect; the host decides what it means (an event in the simulator's queue, a real timer,
// a gRPC call). Hosts never call back into a model from inside one of these calls: every
// consequence arrives later as a fresh input, so a model is never re-entered mid-step.

import type { Msg, NamedActorEntry } from "./messages.ts";
import type { TraceBody } from "../../spec/trace.ts";
import type { RayletTimer } from "./raylet/inputs.ts";
import type { ActorInfo, Addr, ErrorInfo, FunctionDescriptor, NodeView, ObjectId, Payload, TaskId, TaskSpec } from "./types.ts";
import type { WorkerTimer } from "./worker/inputs.ts";

/** Inputs that the environment supplies instead of the model reading clocks or RNGs. */
export interface Env {
  /** Current time in ms (virtual in the simulator). */
  now(): number;
  /** A uniform number in [0, 1) from the host's seeded stream (a plain function: models pass it on unbound). */
  readonly random: () => number;
}

/**
 * A model's timer, as a typed value: its `kind`, and for timers armed once per thing (a pull, a
 * get's timeout) the `id` of that thing. The model gets the very value back as a timer input.
 */
export interface Timer {
  readonly kind: string;
  readonly id?: string | number;
}

/** The identity of a timer: arming a timer with the same key re-arms it. */
export function timerKey(t: Timer): string {
  return t.id === undefined ? t.kind : `${t.kind}:${t.id}`;
}

export interface Effects<T extends Timer = Timer> extends Env {
  send(to: Addr, msg: Msg): void;
  /**
   * Arms (or re-arms) the timer; the model gets `{ kind: "timer", timer }` when it expires.
   * `periodic` marks housekeeping (heartbeats, health checks) that is not pending work, so a
   * simulator can tell a quiet cluster from a busy one.
   */
  setTimer(timer: T, delayMs: number, periodic?: boolean): void;
  cancelTimer(timer: T): void;
  trace(body: TraceBody): void;
}

/**
 * The memory behind a node's object store, provided by the host: the simulator keeps payloads
 * as they are; the embedded host copies them into a shared arena that workers read in place.
 */
export interface StoreMemory {
  /** Takes `payload` into store memory; undefined if the memory cannot place it right now. */
  admit(payload: Payload): Payload | undefined;
  /** The store dropped this copy (freed, evicted, or spilled after `spill` was called). */
  release(payload: Payload): void;
}

/** Effects a raylet needs beyond the common ones. */
export interface RayletEffects extends Effects<RayletTimer>, StoreMemory {
  startWorker(worker: Addr): void;
  killWorker(worker: Addr): void;
  /** Write a primary copy to external storage, reading `payload` before this call returns. */
  spill(id: ObjectId, payload: Payload): void;
  /** Read a spilled copy back; the host answers with a `restored` input. */
  restore(id: ObjectId): void;
  /** Drop a spilled copy from external storage. */
  deleteSpilled(id: ObjectId): void;
}

/** Effects a core worker (driver or worker) needs beyond the common ones. */
export interface WorkerEffects extends Effects<WorkerTimer> {
  /** Run user code; the host answers with a `task-done` input. Args are already local. */
  execute(spec: TaskSpec, fn: FunctionDescriptor, args: readonly Payload[]): void;
  /** Resolve an API call the host is waiting on (get, wait, put, getActor …). */
  complete(callId: number, result: CallResult): void;
  /** Signal a running task's code that it was cancelled (ray.cancel); the code decides when to stop. */
  interrupt(taskId: TaskId): void;
}

export type CallResult =
  | { readonly kind: "values"; readonly values: readonly (Payload | ErrorInfo)[] }
  | { readonly kind: "ready"; readonly ready: readonly ObjectId[] }
  | { readonly kind: "put"; readonly id: ObjectId }
  | { readonly kind: "actor"; readonly info?: ActorInfo }
  | { readonly kind: "nodes"; readonly nodes: readonly NodeView[] }
  | { readonly kind: "named-actors"; readonly actors: readonly NamedActorEntry[] }
  | { readonly kind: "error"; readonly error: ErrorInfo }
  /** A streaming generator's item was reported, and back-pressure lets its code go on; `stop`: it was cancelled (or its attempt is over here), so it ends. */
  | { readonly kind: "yielded"; readonly stop?: true }
  /** A streaming generator's next item (`id` absent: the stream ended). */
  | { readonly kind: "item"; readonly id?: ObjectId };
