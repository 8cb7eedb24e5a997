// The driver's CoreClient: the program runs on the main thread next to the models, so API calls
// go straight into the driver's CoreWorker (as in the simulator) and answers come back through
// the model's `complete` effect. While the driver waits on something the cluster holds the
// process open; otherwise nothing does, so a program that forgets ray.shutdown() still exits.

import { ObjectRef } from "../../api/handles.ts";
import { madeBy, type Ray } from "../../api/ray.ts";
import type { CoreWorker } from "../../core/core-worker.ts";
import type { CallResult } from "../../core/effects.ts";
import type { Addr, NodeId } from "../../core/types.ts";
import { hashBytes, isRawValue, rawFrameSize, writeRawFrame } from "../codec.ts";
import { ModelClient } from "../model-client.ts";
import { realSleep } from "../sleep.ts";
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

/** The embedded and daemon drivers' port: a pending call keeps the process open; arena values stay held until decoded. */
export class DriverClient extends ModelClient {
  constructor(
    model: CoreWorker,
    addr: Addr,
    node: NodeId,
    private readonly keepAlive: KeepAlive,
    /** Throws if the cluster was shut down. */
    private readonly ensureOpen: () => void,
  ) {
    super(model, addr, node);
  }

  protected override check(): void { this.ensureOpen(); }
  protected override waiting(): void { this.keepAlive.hold(); }

  protected override answered(result: CallResult): void {
    this.keepAlive.release();
    if (result.kind === "values") {
      // Arena values stay held until the program's continuation has decoded them: resolving
      // queues that continuation (ray.get's `await`), and it decodes synchronously, so two
      // microtask hops later it is done.
      let held: unknown[] | undefined;
      for (const v of result.values) if (hold(v)) (held ??= []).push(v);
      if (held) queueMicrotask(() => queueMicrotask(() => { for (const v of held!) drop(v); }));
    }
  }

  protected override withdrawn(): void { this.keepAlive.release(); }

  /** Fails every call still waiting (the cluster is going away). */
  abandon(why: string): void {
    const n = this.calls.settleAll({ kind: "error", error: { type: "RayError", message: why } });
    for (let i = 0; i < n; i++) this.keepAlive.release();
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return realSleep(ms, signal);
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
      return madeBy(ray, new ObjectRef<T>(id, client.addr));
    } finally {
      arena.unstage(slot); // a no-op once the store adopted it
    }
  };
}
