// The narrator: any trace (a simulator run, a regression case, a chaos run, a daemon session)
// told in prose, one sentence per event. One narrator for the docs (docs/walkthrough.ts,
// docs/learn.ts) and the CLI (`tsray explain`), so the course and the terminal tell the same story.
import type { TraceEvent } from "../../spec/trace.ts";
import { assertNever } from "../core/assert.ts";
import { actorOfHandleId } from "../core/types.ts";

/** Short, stable names for the ids in a trace (the driver's tasks are `head/driver#N`). */
export const short = (id: string): string => id.replace(/^head\/driver#/, "#").replace(/^head\/driver$/, "driver");

const code = (id: string) => `\`${short(id)}\``;
const res = (r: Record<string, number>) => JSON.stringify(r);

/** One sentence for an event; undefined for the housekeeping a reader need not see (messages). */
export function narrate(e: TraceEvent): string | undefined {
  switch (e.kind) {
    case "node.registered": return `The GCS registers node **${e.id}** with ${res(e.resources)} and sends every raylet the new cluster view.`;
    case "node.dead": return `The GCS declares **${e.id}** dead (${e.reason}) and publishes it: owners retry, re-make lost objects, actors restart.`;
    case "node.fenced": return `**${e.id}** learns it was declared dead and fences itself: its workers are killed, its store dropped.`;
    case "worker.died": return `The raylet sees worker \`${e.worker}\` exit and returns its lease's resources.`;
    case "gcs.recovered": return `A restarted GCS recovers ${e.nodes} nodes and ${e.actors} actors from storage.`;
    case "actor.registered": return `The GCS registers actor \`${e.actor}\`${e.name !== undefined ? ` as "${e.name}" in namespace \`${e.namespace}\`` : ""} for owner \`${e.owner}\`${e.detached ? "; it is detached, so it outlives its owner" : ""}.`;
    case "actor.lookup": return `\`${e.caller}\` looks up actor "${e.name}" in namespace \`${e.namespace}\`: ${e.found !== undefined ? `found \`${e.found}\`` : "none there"}.`;
    case "node.drain": return e.accepted ? `Node ${e.id} accepts the drain (${e.reason}): it takes no more work and is removed.` : `Node ${e.id} refuses the drain: ${e.reason}.`;
    case "autoscaler.launch": return `The autoscaler asks for a node of group \`${e.group}\` (launch \`${e.launch}\`): ${e.reason}.`;
    case "autoscaler.started": return `Launch \`${e.launch}\` of group \`${e.group}\` started node ${e.id}; it joins when its raylet registers.`;
    case "autoscaler.launch-failed": return `Launch \`${e.launch}\` of group \`${e.group}\` failed: ${e.reason}.`;
    case "autoscaler.drain": return `The autoscaler asks the GCS to drain node ${e.id} of group \`${e.group}\`: ${e.reason}.`;
    case "autoscaler.terminated": return `The provider stops node ${e.id} of group \`${e.group}\`: ${e.reason}.`;
    case "task.cancelled": return `The owner cancels task \`${e.task}\`${e.force ? ` by force${e.worker !== undefined ? `, destroying worker \`${e.worker}\`` : ""}` : ""}: its get throws TaskCancelledError, and it is not retried.`;
    case "driver.dead": return `The driver \`${e.driver}\` is gone (its job ended, or it died): the GCS declares it dead and publishes it; its non-detached actors die, its leases come back, its objects are freed.`;
    case "storage.acknowledged": return `Storage had acknowledged ${e.nodes.length} node rows and ${e.actors.length} actor rows before the GCS restarted (the host's record, which the durability check compares with what the GCS recovers).`;
    case "lease.granted": return `The raylet on ${e.node} grants lease \`${e.lease}\` (${res(e.resources)}${e.bundle ? ` in bundle \`${e.bundle}\`` : ""}) on worker \`${e.worker}\` (of job \`${short(e.job)}\`); the owner will push tasks straight to that worker.`;
    case "job.ended": return `The raylet on ${e.node} hears that job \`${short(e.job)}\` ended: it kills that job's ${e.workers.length === 1 ? "worker" : `${e.workers.length} workers`} there (${e.workers.map((w) => `\`${w}\``).join(", ")}): a worker serves one job only.`;
    case "lease.returned": return `Lease \`${e.lease}\` goes back to ${e.node}'s raylet (its resources are free again).`;
    case "bundle.reserved": return `${e.node}'s raylet reserves bundle \`${e.bundle}\` (${res(e.resources)}): those resources now serve only the placement group.`;
    case "bundle.released": return `${e.node}'s raylet releases bundle \`${e.bundle}\` (${res(e.resources)}).`;
    case "job.state": return `The head's job manager moves job \`${e.job}\` to **${e.state}**.`;
    case "pg.state": return `The GCS moves placement group \`${short(e.pg)}\` to **${e.state}**${e.nodes ? ` (${e.strategy ?? ""} bundles on ${e.nodes.join(", ")})` : ""}.`;
    case "placement.asked": {
      const who = e.actor !== undefined ? `actor \`${short(e.actor)}\`` : `task \`${short(e.task ?? "")}\``;
      return e.pg !== undefined
        ? `The owner places ${who} in placement group \`${short(e.pg)}\`${e.capture ? ", capturing its children: those that name no strategy run in the group too" : ""}.`
        : `${who[0].toUpperCase()}${who.slice(1)} names no strategy and comes from \`${short(e.parent ?? "")}\`, which runs in a placement group: it runs in that group if that one captures its children.`;
    }
    case "task.submitted": return e.actor
      ? `The caller submits actor call ${code(e.task)} (${e.fn}, seq ${e.seq}) to actor ${code(e.actor)}; its result will be ${code(e.returns)}.`
      : `The owner (${short(e.owner)}) submits task ${code(e.task)} (${e.fn})${e.args.length ? ` taking ${e.args.map(short).join(", ")} as arguments: it waits until they exist` : ""}; its result will be ${code(e.returns)}.`;
    case "task.spillback": return `The raylet on ${e.node} will not grant the lease for ${code(e.task)} here (hybrid policy): it spills the request back, pointing the owner at **${e.to}**.`;
    case "task.infeasible": return `No live node can run ${code(e.task)} (${res(e.resources)}): ${e.reason}. It waits as a pending demand until one can.`;
    case "task.started": return `Worker \`${e.worker}\` starts ${e.actor ? `actor ${e.seq === undefined ? "creation" : "call"}` : "task"} ${code(e.task)}${e.attempt > 0 ? ` (attempt ${e.attempt})` : ""}.`;
    case "task.finished": return `${code(e.task)} finishes ${e.ok ? `(result hash ${e.hash.slice(0, 8)}…)` : `with an error: ${e.error}`}.`;
    case "task.retry": return `The owner retries ${code(e.task)} as attempt ${e.attempt}: ${e.reason}${e.uncharged ? " (not counted against its retries)" : ""}.`;
    case "task.failed": return `The owner gives up on ${code(e.task)}: ${e.error}.`;
    case "actor.result": return `The caller accepts the answer to ${code(e.task)} from incarnation ${e.epoch}.`;
    case "object.created": return actorOfHandleId(e.obj) !== undefined
      ? `The owner makes ${code(e.obj)}, which stands for the handle of actor ${code(actorOfHandleId(e.obj)!)}: the actor lives while it is referenced.`
      : e.where === "inline"
      ? `The owner stores ${code(e.obj)} (${e.size} bytes) inline in its own memory: small results travel in the reply.`
      : `${e.node}'s object store seals ${e.primary ? "the primary copy" : "a secondary copy"} of ${code(e.obj)} (${e.size} bytes).`;
    case "object.deleted": return `${e.node}'s store deletes ${code(e.obj)} (${e.reason}).`;
    case "object.spilled": return `${e.node}'s store is under pressure: it spills ${code(e.obj)} to external storage and frees its memory.`;
    case "object.restored": return `${e.node}'s store restores ${code(e.obj)} from external storage for a reader.`;
    case "object.transferred": return `${e.node} pulled ${code(e.obj)} (${e.size} bytes) from ${e.from} in chunks and tells the owner it has a copy.`;
    case "object.out-of-scope": return actorOfHandleId(e.obj) !== undefined
      ? `No reference to ${code(e.obj)} remains: no handle to actor ${code(actorOfHandleId(e.obj)!)} is left.`
      : `No reference to ${code(e.obj)} remains: the owner frees it everywhere.`;
    case "ref.borrowed": return `${short(e.borrower)} borrows ${code(e.obj)} and registers with its owner ${short(e.owner)}, which keeps the object alive for it.`;
    case "ref.unborrowed": return `${short(e.borrower)} drops its borrow of ${code(e.obj)} and tells its owner ${short(e.owner)}.`;
    case "owner.exited": return `Owner ${short(e.owner)} exits: everything it owns is freed.`;
    case "object.lost": return `The owner finds every copy of ${code(e.obj)} gone.`;
    case "object.read": return `${short(e.reader)} reads ${code(e.obj)}.`;
    case "get.failed": return `Reading ${code(e.obj)} fails: ${e.error}.`;
    case "actor.state": return `The GCS moves actor ${code(e.actor)} to **${e.state}**${e.at ? ` on ${e.at}` : ""} (epoch ${e.epoch}) and tells its subscribers.`;
    case "actor.killed": return `${short(e.caller)} kills actor ${code(e.actor)}${e.noRestart ? " for good" : " (it may restart)"}.`;
    case "actor.out-of-scope": return `No handle to actor ${code(e.actor)} remains (its owner ${short(e.owner)}'s program, borrowers and pending calls all let go): the owner asks the GCS to end it for good.`;
    case "actor.exited": return `Actor ${code(e.actor)}'s method ${code(e.method)} calls ray.exitActor(): the actor ends for good, and its worker ${short(e.worker)} answers its calls with ActorDiedError from now on.`;
    case "generator.item": return `The owner records item ${e.index} of streaming generator ${code(e.task)} as ${code(e.obj)}${e.attempt > 0 ? ` (reported by attempt ${e.attempt})` : ""}; the caller's next() gets a ref to it.`;
    case "generator.duplicate": return `Attempt ${e.attempt} of ${code(e.task)} reports item ${e.index} again: the owner already has it and drops the copy (no duplicate reaches the caller).`;
    case "generator.end": return `The stream of ${code(e.task)} ends after ${e.items} item${e.items === 1 ? "" : "s"}${e.error ? `, the last holding its error (${e.error})` : ""}.`;
    case "generator.reported": return `The executor reports item ${e.index} of ${code(e.task)} to its owner (${e.consumed} consumed so far, back-pressure bound ${e.bound}).`;
    case "generator.restored": return `Attempt ${e.attempt} of ${code(e.task)} yields item ${e.index} again, whose every copy was lost: the owner keeps this copy as ${code(e.obj)} (lineage reconstruction; the caller is not handed it twice).`;
    case "generator.paused": return `${code(e.task)} has ${e.reported - e.consumed} items its caller has not consumed: back-pressure holds its next yield.`;
    case "fault": return `**Fault injected:** ${e.fault}${e.detail ? ` (${e.detail})` : ""}.`;
    case "program.end": return `The program ${e.ok ? "returns" : "fails"}; its references are dropped.`;
    case "cluster.quiet": return `The cluster is quiet: every store is empty again.`;
    case "msg": return undefined;
    default: return assertNever("the narrator", e);
  }
}

/** Which events a reader asked about: one task, object or node (all when empty). */
export interface Focus {
  readonly task?: string;
  readonly object?: string;
  readonly node?: string;
}

const ids = (e: TraceEvent): string[] => {
  const r = e as Record<string, unknown>;
  const out: string[] = [];
  for (const k of ["task", "obj", "returns", "actor", "id", "about"]) if (typeof r[k] === "string") out.push(r[k] as string);
  if (Array.isArray(r.args)) out.push(...(r.args as string[]));
  return out;
};

/**
 * Ids match in full or shortened form: `#3` (or `#3.r`) names the third task (its result) of a
 * driver, `head/driver#3` in the simulator, `head/driver-PID-…#3` on daemons.
 */
const same = (a: string, b: string) => a === b || short(a) === b || a === short(b) || (b.startsWith("#") && /\/driver[^/#]*#/.test(a) && a.slice(a.indexOf("#")) === b);

/** Does the event concern the focus? A task's own events and its result's; an object's; a node's. */
export function concerns(e: TraceEvent, f: Focus): boolean {
  if (f.node !== undefined && !(e.node === f.node || ids(e).some((x) => x === f.node) || (e.kind === "task.spillback" && e.to === f.node))) return false;
  if (f.task !== undefined && !ids(e).some((x) => same(x, f.task!) || same(x, `${f.task}.r`) || (e.kind === "task.submitted" && same(e.task, f.task!)))) return false;
  if (f.object !== undefined && !ids(e).some((x) => same(x, f.object!))) return false;
  return true;
}

/** The narrated events of a trace (those the narrator has words for), in order. */
export function story(events: readonly TraceEvent[], focus: Focus = {}): { e: TraceEvent; text: string }[] {
  const out: { e: TraceEvent; text: string }[] = [];
  for (const e of events) {
    if (!concerns(e, focus)) continue;
    const text = narrate(e);
    if (text !== undefined) out.push({ e, text });
  }
  return out;
}

/** A markdown table: time, node, what happens. */
export function storyTable(events: readonly TraceEvent[], focus: Focus = {}): string {
  const rows = ["| t (ms) | node | what happens |", "|---:|---|---|"];
  for (const { e, text } of story(events, focus)) rows.push(`| ${e.t.toFixed(2)} | ${e.node} | ${text.replaceAll("|", "\\|")} |`);
  return rows.join("\n");
}

/** Plain text for a terminal: markdown emphasis and code marks dropped. */
export function plain(text: string): string {
  return text.replace(/\*\*([^*]+)\*\*/g, "$1").replace(/`([^`]+)`/g, "$1");
}

/**
 * Where a trace's clock starts for a reader: 0 for the simulator's virtual time, the first event's
 * time for a wall-clock trace (daemons and embedded hosts stamp milliseconds since 1970).
 */
export function timeOrigin(events: readonly TraceEvent[]): number {
  const first = events[0]?.t ?? 0;
  return first > 1e11 ? first : 0;
}
