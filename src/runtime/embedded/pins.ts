// Readers of arena slots. A value decoded zero-copy (a typed array or an Arrow table whose
// buffers are views into a node's SharedArrayBuffer) keeps its slot alive: the codec calls the
// hook below, which adds one to the slot's readers count (Atomics, in the slot's header) per
// view, and a FinalizationRegistry takes it off again when the view is garbage collected. The
// arena (main thread) reuses a released slot only once its count is back to zero. Every thread
// installs this hook; a thread told to exit gives back what its views still hold.

import v8 from "node:v8";
import { runInNewContext } from "node:vm";
import type { Payload } from "../../core/types.ts";
import { setZeroCopyHook } from "../codec.ts";

interface Pin { readonly i32: Int32Array; readonly idx: number }

const live = new Set<Pin>();
const registry = new FinalizationRegistry<Pin>((pin) => {
  if (live.delete(pin)) Atomics.sub(pin.i32, pin.idx, 1);
});
const words = new WeakMap<SharedArrayBuffer, Int32Array>();
/** Bytes of slots this thread has read zero-copy since it last collected garbage. */
let pinnedSinceCollection = 0;

function pin(bytes: Uint8Array, holders: readonly object[]): void {
  const sab = bytes.buffer;
  if (!(sab instanceof SharedArrayBuffer) || bytes.byteOffset < 8) return;
  pinnedSinceCollection += bytes.byteLength;
  let i32 = words.get(sab);
  if (!i32) words.set(sab, (i32 = new Int32Array(sab)));
  const idx = (bytes.byteOffset - 8) / 4;
  for (const h of holders) {
    const p: Pin = { i32, idx };
    Atomics.add(i32, idx, 1);
    live.add(p);
    registry.register(h, p);
  }
}

let installed = false;

/** Makes zero-copy reads in this thread pin their arena slots. */
export function installPins(): void {
  if (installed) return;
  installed = true;
  setZeroCopyHook(pin);
}

let gcFn: (() => void) | undefined;

/**
 * Collects garbage now, so that views nobody can reach any more give their slots back (their
 * finalizers run shortly after). The host calls this when an arena is short of memory while
 * zombies wait: V8 collects when the JS heap needs it, not when a SharedArrayBuffer does.
 */
export function collectViews(): void {
  if (!gcFn) {
    try {
      v8.setFlagsFromString("--expose-gc");
      gcFn = runInNewContext("gc") as () => void;
    } catch {
      gcFn = () => {};
    }
  }
  gcFn();
  pinnedSinceCollection = 0;
}

/**
 * A thread that read this many bytes of slots zero-copy collects garbage once it is idle. A
 * view's slot comes back only when V8 collects the view, and V8 collects when the JS heap needs
 * it — a worker thread that reads big arrays allocates almost nothing, so its dead views (and
 * their slots) lived on for seconds (V8's memory reducer came ~8 s after the thread went idle,
 * here). Meanwhile the arena serves new objects from memory never touched before, whose first
 * write costs a page fault per 4 KiB: on this VM, 0.35 GB/s against 2–3 GB/s into reused
 * memory. A full collection of a worker thread's small heap took 3–16 ms here, against ~190 ms of
 * faults for 64 MiB of fresh memory.
 */
export const COLLECT_AFTER_PINNED_BYTES = 64 * 1024 ** 2;

/** Whether this thread read at least COLLECT_AFTER_PINNED_BYTES zero-copy since it last collected. */
export function pinnedMuch(): boolean {
  return pinnedSinceCollection >= COLLECT_AFTER_PINNED_BYTES;
}

/** Collects garbage if this thread read at least COLLECT_AFTER_PINNED_BYTES zero-copy since the last time; true if it did. */
export function collectViewsIfPinnedMuch(): boolean {
  if (!pinnedMuch()) return false;
  collectViews();
  return true;
}

/** Views still alive in this thread. */
export function livePins(): number { return live.size; }

/** Gives back every pin this thread holds (it is about to exit). */
export function releaseAllPins(): void {
  for (const p of live) Atomics.sub(p.i32, p.idx, 1);
  live.clear();
}

// ---- holds taken by the host (main thread) on payloads it hands on ---------------------------
// A payload whose bytes are an arena slot stays readable while a message carries it and until
// the reader decoded it: the host adds one to the slot's readers count for that span.

/** Is this payload's data an arena slot (a view into a SharedArrayBuffer)? */
export function isSlot(p: unknown): p is Payload & { data: Uint8Array } {
  const d = (p as Payload | undefined)?.data;
  return d instanceof Uint8Array && d.buffer instanceof SharedArrayBuffer && d.byteOffset >= 8;
}

function counter(d: Uint8Array): [Int32Array, number] {
  const sab = d.buffer as SharedArrayBuffer;
  let i32 = words.get(sab);
  if (!i32) words.set(sab, (i32 = new Int32Array(sab)));
  return [i32, (d.byteOffset - 8) / 4];
}

/** Holds the slot under `p` (if it is one); true if it did. */
export function hold(p: unknown): boolean {
  if (!isSlot(p)) return false;
  const [i32, idx] = counter(p.data);
  Atomics.add(i32, idx, 1);
  return true;
}

export function drop(p: unknown): void {
  if (!isSlot(p)) return;
  const [i32, idx] = counter(p.data);
  if (Atomics.sub(i32, idx, 1) === 1) lastReaderGone.get(p.data.buffer as SharedArrayBuffer)?.(idx * 4);
}

/** Arenas on this thread, told when a main-thread drop leaves a slot without readers. */
const lastReaderGone = new Map<SharedArrayBuffer, (headerOffset: number) => void>();

export function watchArena(sab: SharedArrayBuffer, cb: ((headerOffset: number) => void) | undefined): void {
  if (cb) lastReaderGone.set(sab, cb);
  else lastReaderGone.delete(sab);
}
