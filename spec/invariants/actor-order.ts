// Invariant 3 (actor order): calls from one caller start in submission order (on sync actors:
// an async actor's calls may overlap and start as their arguments arrive), and exactly once when
// nothing went wrong. A call to an actor that died for good (its constructor threw, or it was
// killed) never starts, and fails with ActorDiedError instead: that is no lost call. A call made
// after its caller killed the actor for good (ray.kill) never starts. A call cancelled before its
// turn (ray.cancel) may never start, nor may one whose caller (a task's or an actor's worker)
// died: the actor's worker drops the calls of a caller it knows is dead. And a worker never runs more of an actor's calls at once
// than their concurrency group allows (maxConcurrency, or a named group's limit): a call that
// may overlap others is traced with its group's `limit`, and runs from its start to its finish.
import { OwnerLives, isWorkerAddr } from "./owners.ts";
import { violationAt, type Checker, type Violation } from "./types.ts";

const NAME = "actor-order";

interface Call {
  submitted?: number; // event index of its task.submitted
  starts: number;
  /** A second start the order rule did not already report (it reports same-epoch repeats). */
  dup?: number;
  /** ray.cancel reached its caller: it may be answered as cancelled without starting. */
  cancelled?: true;
}

export const checkActorOrder: Checker = (events) => {
  const out: Violation[] = [];
  const at = (i: number, msg: string) => out.push(violationAt(NAME, events, i, msg));

  const lastSeq = new Map<string, number>(); // actor\0epoch\0caller -> seq of the last start
  const calls = new Map<string, Call>(); // actor\0caller\0seq
  const restarted = new Set<string>();
  const dead = new Set<string>();
  /** actor\0caller → event index of the caller's ray.kill (for good). */
  const killedBy = new Map<string, number>();
  /** Calls submitted after their caller's kill: actor\0caller\0seq. */
  const afterKill = new Set<string>();
  let faulted = false;
  let programOk = false;
  /** task id → its call's key, for actor calls. */
  const keyOf = new Map<string, string>();
  /** worker\0group → calls of that group running there; task\0attempt\0worker → its slot's key. */
  const running = new Map<string, number>();
  const slotOf = new Map<string, string>();
  const lives = new OwnerLives();

  const call = (key: string) => {
    let c = calls.get(key);
    if (!c) calls.set(key, (c = { starts: 0 }));
    return c;
  };

  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    lives.see(e, i);
    switch (e.kind) {
      case "task.submitted":
        if (e.actor !== undefined && e.caller !== undefined && e.seq !== undefined) {
          call(`${e.actor}\0${e.caller}\0${e.seq}`).submitted ??= i;
          keyOf.set(e.task, `${e.actor}\0${e.caller}\0${e.seq}`);
          if (killedBy.has(`${e.actor}\0${e.caller}`)) afterKill.add(`${e.actor}\0${e.caller}\0${e.seq}`);
        }
        break;
      case "task.started": {
        if (e.actor === undefined || e.caller === undefined || e.seq === undefined) break;
        const epoch = e.epoch ?? 0;
        const orderKey = `${e.actor}\0${epoch}\0${e.caller}`;
        const last = lastSeq.get(orderKey);
        const inOrder = last === undefined || e.seq > last || (e.concurrent === true && e.seq !== last);
        if (inOrder) {
          if (last === undefined || e.seq > last) lastSeq.set(orderKey, e.seq);
        } else {
          at(i, `actor ${e.actor} epoch ${epoch}: call seq ${e.seq} from ${e.caller} started after seq ${last}` +
            (e.seq === last ? " (started twice)" : " (out of order)"));
        }
        if (afterKill.has(`${e.actor}\0${e.caller}\0${e.seq}`)) at(i, `actor ${e.actor}: call seq ${e.seq} from ${e.caller} started though its caller had killed the actor before making it`);
        const c = call(`${e.actor}\0${e.caller}\0${e.seq}`);
        if (++c.starts > 1 && inOrder) c.dup ??= i;
        if (e.limit !== undefined) {
          const slot = `${e.worker}\0${e.group ?? ""}`;
          const n = (running.get(slot) ?? 0) + 1;
          running.set(slot, n);
          slotOf.set(`${e.task}\0${e.attempt}\0${e.worker}`, slot);
          if (n > e.limit) at(i, `actor ${e.actor} on ${e.worker}: ${n} calls of its ${e.group === undefined ? "default group" : `concurrency group "${e.group}"`} run at once, more than its limit ${e.limit}`);
        }
        break;
      }
      case "task.finished": {
        const key = `${e.task}\0${e.attempt}\0${e.worker}`;
        const slot = slotOf.get(key);
        if (slot === undefined) break;
        slotOf.delete(key);
        running.set(slot, running.get(slot)! - 1);
        break;
      }
      case "actor.killed":
        if (e.noRestart) { dead.add(e.actor); killedBy.set(`${e.actor}\0${e.caller}`, i); }
        break;
      case "actor.exited":
        dead.add(e.actor);
        break;
      case "actor.state":
        if (e.state === "RESTARTING") restarted.add(e.actor);
        if (e.state === "DEAD") dead.add(e.actor);
        break;
      case "task.cancelled": {
        const key = keyOf.get(e.task);
        if (key !== undefined) call(key).cancelled = true;
        break;
      }
      case "fault":
        faulted = true;
        break;
      case "program.end":
        if (e.ok) programOk = true;
        break;
    }
  }

  // Exactly-once is only promised when no fault could have forced a retry or a restart.
  if (faulted) return out;
  for (const [key, c] of calls) {
    if (c.submitted === undefined) continue;
    const [actor, caller, seq] = key.split("\0");
    if (restarted.has(actor)) continue;
    // (A driver dies only once its job is over, after every call it made has had its answer.)
    if ((dead.has(actor) || c.cancelled || (isWorkerAddr(caller) && lives.deadAtEnd(caller))) && c.starts === 0) continue;
    // Without a successful program.end the run may have been cut short, so a call that never
    // started is not yet evidence of a lost call.
    if (c.starts === 0 && programOk) at(c.submitted, `actor ${actor}: call seq ${seq} from ${caller} was submitted but never started`);
    if (c.dup !== undefined) at(c.dup, `actor ${actor}: call seq ${seq} from ${caller} started ${c.starts} times without a restart`);
  }
  return out.sort((a, b) => a.index! - b.index!);
};
