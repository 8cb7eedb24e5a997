// A raylet model hosted by hand for unit tests: every port records what the raylet asked of it,
// time stands still at 0, and timers are numbered. Messages go in through `h.message`.
import { NO_BUGS } from "../../src/core/bugs.ts";
import type { Msg } from "../../src/core/messages.ts";
import { defaultTuning } from "../../src/core/tuning.ts";
import { hostRaylet } from "../../src/runtime/kernel.ts";
import type { TraceBody } from "../../spec/trace.ts";

export interface RayletHostOptions {
  readonly node?: string;
  readonly cpus?: number;
  readonly incarnation?: number;
  readonly storeCapacity?: number;
  /** Send the GCS's NodeRegistered before returning (default true). */
  readonly registered?: boolean;
}

export function rayletHost(o: RayletHostOptions = {}) {
  const sent: { to: string; m: Msg }[] = [];
  const started: string[] = [];
  const killed: string[] = [];
  const spilled: string[] = [];
  const restoring: string[] = [];
  const traced: TraceBody[] = [];
  let timers = 0;
  const h = hostRaylet({ node: o.node ?? "n1", head: "head", resources: { CPU: o.cpus ?? 1 }, incarnation: o.incarnation ?? 1, storeCapacity: o.storeCapacity ?? 1 << 20 }, defaultTuning, NO_BUGS, {
    now: () => 0, random: () => 0.5, send: (to, m) => { sent.push({ to, m }); }, schedule: () => ++timers, cancel: () => {}, trace: (e) => { traced.push(e); },
    startWorker: (w) => { started.push(w); }, killWorker: (w) => { killed.push(w); }, admit: (p) => p, release: () => {},
    spill: (id) => { spilled.push(id); }, restore: (id) => { restoring.push(id); }, deleteSpilled: () => {},
  });
  h.model.start();
  if (o.registered !== false) h.message("head/gcs", { type: "NodeRegistered", head: "head" });
  /** The messages of one type the raylet sent. */
  const of = <T extends Msg["type"]>(type: T) => sent.flatMap((s) => (s.m.type === type ? [s.m as Extract<Msg, { type: T }>] : []));
  return { h, sent, started, killed, spilled, restoring, traced, of, timers: () => timers };
}
