// A raylet model hosted by hand for unit tests: every port records what the raylet asked of it,
// time stands still until `advance` moves it (firing the timers that fall due), and timers are
// numbered. Messages go in through `h.message`.
import { NO_BUGS } from "../../src/core/bugs.ts";
import type { Msg } from "../../src/core/messages.ts";
import type { Payload } from "../../src/core/types.ts";
import { defaultTuning, type ModelTuning } from "../../src/core/tuning.ts";
import { hostRaylet } from "../../src/runtime/kernel.ts";
import type { TraceBody } from "../../spec/trace.ts";

export interface RayletHostOptions {
  readonly node?: string;
  readonly cpus?: number;
  readonly incarnation?: number;
  readonly storeCapacity?: number;
  /** Send the GCS's NodeRegistered before returning (default true). */
  readonly registered?: boolean;
  readonly tuning?: Partial<ModelTuning>;
  /** The host's memory taking a put's bytes (default: always; undefined refuses, as fragmented memory does). */
  readonly admit?: (p: Payload) => Payload | undefined;
  /** The host's randomness (default 0.5). */
  readonly random?: () => number;
}

export function rayletHost(o: RayletHostOptions = {}) {
  const sent: { to: string; m: Msg }[] = [];
  const started: string[] = [];
  const killed: string[] = [];
  const spilled: string[] = [];
  const restoring: string[] = [];
  const deletedSpilled: string[] = [];
  const traced: TraceBody[] = [];
  let timers = 0;
  let now = 0;
  /** Armed timers by handle: when each falls due, and what it runs. */
  const armed = new Map<number, { at: number; fire: () => void }>();
  const h = hostRaylet({ node: o.node ?? "n1", head: "head", resources: { CPU: o.cpus ?? 1 }, incarnation: o.incarnation ?? 1, storeCapacity: o.storeCapacity ?? 1 << 20 }, { ...defaultTuning, ...o.tuning }, NO_BUGS, {
    now: () => now, random: o.random ?? (() => 0.5), send: (to, m) => { sent.push({ to, m }); },
    schedule: (delay, fire) => { armed.set(++timers, { at: now + delay, fire }); return timers; }, cancel: (t) => { armed.delete(t); },
    trace: (e) => { traced.push(e); },
    startWorker: (w) => { started.push(w); }, killWorker: (w) => { killed.push(w); }, admit: o.admit ?? ((p) => p), release: () => {},
    spill: (id) => { spilled.push(id); }, restore: (id) => { restoring.push(id); }, deleteSpilled: (id) => { deletedSpilled.push(id); },
  });
  h.model.start();
  if (o.registered !== false) h.message("head/gcs", { type: "NodeRegistered", head: "head", incarnation: o.incarnation ?? 1 });
  /** The messages of one type the raylet sent. */
  const of = <T extends Msg["type"]>(type: T) => sent.flatMap((s) => (s.m.type === type ? [s.m as Extract<Msg, { type: T }>] : []));
  /** Moves time on by `ms`, firing the timers that fall due on the way, in order. */
  const advance = (ms: number) => {
    const until = now + ms;
    for (;;) {
      let next: [number, { at: number; fire: () => void }] | undefined;
      for (const e of armed) if (e[1].at <= until && (next === undefined || e[1].at < next[1].at)) next = e;
      if (next === undefined) break;
      armed.delete(next[0]);
      now = next[1].at;
      next[1].fire();
    }
    now = until;
  };
  return { h, sent, started, killed, spilled, restoring, deletedSpilled, traced, of, timers: () => timers, advance };
}
