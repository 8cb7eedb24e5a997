// The driver's CoreClient: the program runs on the main thread next to the models, so API calls
// go straight into the driver's CoreWorker (as in the simulator) and answers come back through
// the model's `complete` effect. While the driver waits on something the cluster holds the
// process open; otherwise nothing does, so a program that forgets ray.shutdown() still exits.

import type { CoreClient } from "../../api/client.ts";
import { toError } from "../../api/errors.ts";
import { ObjectRef } from "../../api/handles.ts";
import type { Ray } from "../../api/ray.ts";
import type { CoreWorker } from "../../core/core-worker.ts";
import type { CallResult } from "../../core/effects.ts";
import type { Addr, ErrorInfo, NodeId, ObjectId, Payload } from "../../core/types.ts";
import { hashBytes, isRawValue, rawFrameSize, writeRawFrame } from "../codec.ts";
import type { Arena } from "./arena.ts";
import { drop, hold } from "./pins.ts";

/** Keeps the event loop alive while anyone holds it (the driver waits for an answer). */
export class KeepAlive {
  private count = 0;
  private timer: NodeJS.Timeout | undefined;

  hold(): void {
    if (this.count++ === 0) {
      if (this.timer === undefined) this.timer = setInterval(() => {}, 1 << 30);
      else this.timer.ref();
    }
  }

  release(): void {
    if (this.count > 0 && --this.count === 0) this.timer?.unref();
  }

  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.count = 0;
  }
}

export class DriverClient implements CoreClient {
  private ids = 0;
  private callIds = 0;
  readonly calls = new Map<number, (r: CallResult) => void>();

  constructor(
    private readonly model: CoreWorker,
    readonly addr: Addr,
    readonly node: NodeId,
    private readonly keepAlive: KeepAlive,
    /** Throws if the cluster was shut down. */
    private readonly check: () => void,
  ) {}

  nextId(): string { return `${this.addr}#${++this.ids}`; }

  /** The model's `complete` effect. */
  complete(callId: number, result: CallResult): void {
    const cb = this.calls.get(callId);
    if (!cb) return;
    this.calls.delete(callId);
    this.keepAlive.release();
    if (result.kind === "values") {
      // Arena values stay held until the program's continuation has decoded them: resolving
      // queues that continuation (ray.get's `await`), and it decodes synchronously, so two
      // microtask hops later it is done.
      let held: unknown[] | undefined;
      for (const v of result.values) if (hold(v)) (held ??= []).push(v);
      if (held) queueMicrotask(() => queueMicrotask(() => { for (const v of held!) drop(v); }));
    }
    cb(result);
  }

  /** Fails every call still waiting (the cluster is going away). */
  abandon(why: string): void {
    const pending = [...this.calls.values()];
    this.calls.clear();
    for (const cb of pending) {
      this.keepAlive.release();
      cb({ kind: "error", error: { type: "RayError", message: why } });
    }
  }

  private call<T>(start: (callId: number) => void, map: (r: CallResult) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.check();
      const id = ++this.callIds;
      this.calls.set(id, (r) => {
        if (r.kind === "error") reject(toError(r.error));
        else resolve(map(r));
      });
      this.keepAlive.hold();
      start(id);
    });
  }

  submitTask: CoreClient["submitTask"] = (taskId, fn, args, opts) => { this.check(); this.model.submitTask(taskId, fn, args, opts); };
  createActor: CoreClient["createActor"] = (id, cls, args, opts) => { this.check(); this.model.createActor(id, cls, args, opts); };
  submitActorTask: CoreClient["submitActorTask"] = (taskId, actorId, method, args, retries) => {
    this.check();
    this.model.submitActorTask(taskId, actorId, method, args, retries);
  };
  put(id: ObjectId, payload: Payload): Promise<void> {
    return this.call((c) => this.model.put(id, payload, c), () => undefined);
  }
  get(refs: Parameters<CoreClient["get"]>[0], timeoutMs?: number): Promise<readonly (Payload | ErrorInfo)[]> {
    return this.call((c) => this.model.get(refs, timeoutMs, c), (r) => (r.kind === "values" ? r.values : []));
  }
  wait(refs: Parameters<CoreClient["wait"]>[0], numReturns: number, timeoutMs?: number): Promise<readonly ObjectId[]> {
    return this.call((c) => this.model.wait(refs, numReturns, timeoutMs, c), (r) => (r.kind === "ready" ? r.ready : []));
  }
  getNamedActor(name: string) {
    return this.call((c) => this.model.getNamedActor(name, c), (r) => (r.kind === "actor" ? r.info : undefined));
  }
  killActor(actorId: string): void { this.check(); this.model.killActor(actorId); }
  addRef(id: ObjectId): void { this.model.addRef(id); }
  releaseRef(id: ObjectId): void { this.model.releaseRef(id); }
  sleep(ms: number): Promise<void> {
    if (!(ms >= 0)) return Promise.reject(new TypeError(`ray.sleep: ms must be a number >= 0, got ${ms}`));
    return new Promise((resolve) => setTimeout(resolve, ms));
  }
}

/** Typed arrays at least this large are written by ray.put straight into the arena. */
export const DIRECT_PUT_MIN_BYTES = 64 * 1024;

/**
 * The driver's `ray.put`, with one copy for large typed arrays: the raw frame is written
 * directly into a staged arena slot that the store adopts (the generic path encodes to a heap
 * buffer, then the store copies it into the arena). Same ids, bytes and hash as the generic
 * path; anything else, or a full arena, takes the generic path.
 */
export function directPut(ray: Ray, client: DriverClient, arena: Arena): Ray["put"] {
  const generic = ray.put.bind(ray);
  return async function put<T>(value: T): Promise<ObjectRef<T>> {
    if (!isRawValue(value) || value.byteLength < DIRECT_PUT_MIN_BYTES) return generic(value);
    const slot = arena.stage(rawFrameSize(value));
    if (!slot) return generic(value);
    try {
      writeRawFrame(value, slot);
      const id = client.nextId();
      await client.put(id, { size: slot.byteLength, hash: hashBytes(slot), data: slot });
      return new ObjectRef<T>(id, client.addr);
    } finally {
      arena.unstage(slot); // a no-op once the store adopted it
    }
  };
}
