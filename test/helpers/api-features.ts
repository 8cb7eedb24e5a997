// Programs that exercise the task and actor API the way a Ray user would, written once and run
// on every host (simulator, embedded cluster, daemons): each returns what it observed, and
// test/integration/api-features.test.ts holds every host to the same answers (Ray's).
import assert from "node:assert/strict";
import type { Ray } from "../../src/api/ray.ts";
import { TaskError } from "../../src/api/errors.ts";
import type { ActorHandle, ObjectRef } from "../../src/api/handles.ts";

/** Async actor methods overlap: peak concurrency of 4 calls, and with maxConcurrency 2. */
export async function asyncActorConcurrency(ray: Ray): Promise<{ peakDefault: number; peakTwo: number; peakSync: number; signalled: number[] }> {
  class Probe {
    running = 0;
    peak = 0;
    async hold(ms: number): Promise<number> {
      this.running++;
      this.peak = Math.max(this.peak, this.running);
      await ray.sleep(ms);
      this.running--;
      return this.peak;
    }
    peakSeen(): number { return this.peak; }
  }
  class SyncProbe {
    running = 0;
    peak = 0;
    hold(): number {
      this.running++;
      this.peak = Math.max(this.peak, this.running);
      this.running--;
      return this.peak;
    }
  }
  // The wait-for-a-signal pattern: calls wait on a flag that a later call sets.
  class Signal {
    set = false;
    async waitFor(i: number): Promise<number> { while (!this.set) await ray.sleep(5); return i; }
    async send(): Promise<void> { this.set = true; }
  }
  const P = ray.remote(Probe);
  const a = P.remote();
  await ray.get([0, 1, 2, 3].map(() => a.hold.remote(40)));
  const peakDefault = await ray.get(a.peakSeen.remote());
  const b = P.options({ maxConcurrency: 2 }).remote();
  await ray.get([0, 1, 2, 3].map(() => b.hold.remote(40)));
  const peakTwo = await ray.get(b.peakSeen.remote());
  const s = ray.remote(SyncProbe).remote();
  const peakSync = Math.max(...(await ray.get([0, 1, 2, 3].map(() => s.hold.remote()))));
  const sig = ray.remote(Signal).remote();
  const waiting = [0, 1, 2].map((i) => sig.waitFor.remote(i));
  await ray.get(sig.send.remote());
  return { peakDefault, peakTwo, peakSync, signalled: await ray.get(waiting) };
}

/** Calls to an actor whose constructor threw, and to a killed actor, fail with ActorDiedError. */
export async function deadActorCalls(ray: Ray): Promise<string[]> {
  class Broken { constructor() { throw new RangeError("cannot build"); } ping(): number { return 1; } }
  class Fine { ping(): number { return 2; } }
  const broken = ray.remote(Broken).remote();
  const seen: string[] = [];
  for (const r of [broken.ping.remote(), broken.ping.remote()]) {
    try { await ray.get(r); seen.push("ok"); } catch (e) { seen.push((e as Error).name); }
  }
  const fine = ray.remote(Fine).remote();
  seen.push(String(await ray.get(fine.ping.remote())));
  ray.kill(fine);
  try { await ray.get(fine.ping.remote()); seen.push("ok"); } catch (e) { seen.push((e as Error).name); }
  return seen;
}

/**
 * What a killed actor owned (the refs it put and handed out) fails with OwnerDiedError once its
 * worker is gone, as in Ray: the owner's death is the program's own doing, so the checkers must
 * not call the error unearned. Right after the kill the worker may still answer, hence the polling.
 */
export async function killedOwner(ray: Ray): Promise<{ before: number; after: string }> {
  class Holder { async make(): Promise<unknown[]> { return [await ray.put(41)]; } }
  const h = ray.remote(Holder).remote();
  const [inner] = (await ray.get(h.make.remote())) as ObjectRef<number>[];
  const before = await ray.get(inner);
  ray.kill(h);
  let after = "still answered";
  for (let i = 0; i < 200 && after === "still answered"; i++) {
    try { await ray.get(inner, { timeoutMs: 5_000 }); await ray.sleep(20); } catch (e) { after = (e as Error).name; }
  }
  return { before, after };
}

/**
 * `ray.exitActor()` in a method ends the actor for good, restarts left or not (Ray's exit_actor):
 * that call and the later ones fail with ActorDiedError, what it owned goes with it, and the
 * checkers call it the program's doing. Refused outside an actor's method. Every handle's
 * `__ray_terminate__` does the same in its turn: a slow call made before it still answers.
 */
export async function actorExit(ray: Ray): Promise<{ before: number; exiting: string; later: string; owned: string; refused: string[]; terminated: string[] }> {
  class Quitter {
    n = 0;
    inc(): number { return ++this.n; }
    async keep(): Promise<unknown[]> { return [await ray.put(7)]; }
    quit(): number { ray.exitActor(); }
  }
  const q = ray.remote(Quitter, { maxRestarts: 3 }).remote();
  const before = await ray.get(q.inc.remote());
  const [kept] = (await ray.get(q.keep.remote())) as ObjectRef<number>[];
  const outcome = async (r: ObjectRef) => { try { return String(await ray.get(r, { timeoutMs: 5_000 })); } catch (e) { return (e as Error).name; } };
  const exiting = await outcome(q.quit.remote());
  const later = await outcome(q.inc.remote());
  let owned = "still answered";
  for (let i = 0; i < 200 && owned === "still answered"; i++) {
    owned = await outcome(kept);
    if (owned === "7") { owned = "still answered"; await ray.sleep(20); }
  }
  const refused: string[] = [];
  try { ray.exitActor(); } catch (e) { refused.push((e as Error).message); }
  const inTask = ray.remote(() => { try { ray.exitActor(); } catch (e) { return (e as Error).message; } return "exited"; });
  refused.push(await ray.get(inTask.remote()));
  const t = ray.remote(Quitter, { maxRestarts: 3 }).remote();
  // One call at a time (no async method): the call before the terminate has run when it comes.
  const slow = ray.remote(class Slow { work(): number { let x = 0; for (let i = 0; i < 1e5; i++) x += i % 2; return x > 0 ? 1 : 0; } }, { maxRestarts: 3 }).remote();
  const calls = [slow.work.remote(), slow.__ray_terminate__.remote(), slow.work.remote(), t.__ray_terminate__.remote(), t.inc.remote()];
  const terminated = await Promise.all(calls.map(outcome));
  return { before, exiting, later, owned, refused, terminated };
}

/**
 * Concurrency groups: a group's calls wait only for its own slots. `slow` is in "io" (one at a
 * time), so its two calls run one after the other while `note` (the default group) runs at once;
 * a call that names "io" waits behind them; a call naming a group the actor lacks fails.
 */
export async function concurrencyGroups(ray: Ray): Promise<{ noteSaw: string[]; log: string[]; unknownGroup: string[] }> {
  class Service {
    log: string[] = [];
    async slow(tag: string): Promise<string> {
      this.log.push(`start ${tag}`);
      await ray.sleep(60);
      this.log.push(`end ${tag}`);
      return tag;
    }
    async note(tag: string): Promise<string[]> {
      this.log.push(tag);
      return this.log.slice();
    }
  }
  const s = ray.remote(Service, { concurrencyGroups: { io: { maxConcurrency: 1, methods: ["slow"] } } }).remote();
  const slow = [s.slow.remote("a"), s.slow.remote("b")];
  const noteSaw = await ray.get(s.note.remote("note"));
  const late = s.note.options({ concurrencyGroup: "io" }).remote("note in io");
  await ray.get([...slow, late] as ObjectRef[]);
  const log = await ray.get(s.note.remote("last"));
  let unknownGroup: string[];
  try {
    await ray.get(s.note.options({ concurrencyGroup: "gpu" }).remote("x"));
    unknownGroup = ["answered"];
  } catch (e) {
    unknownGroup = [(e as Error).name, ((e as Error & { cause?: Error }).cause)?.name ?? "", (e as Error).message.includes('no concurrency group "gpu"') ? "names it" : (e as Error).message];
  }
  return { noteSaw, log, unknownGroup };
}

/** `ray.kill(actor, { noRestart: false })` restarts an actor that has restarts left: its state starts afresh. */
export async function killWithRestart(ray: Ray): Promise<{ before: number; restarted: boolean; badOption: string }> {
  class Tally { n = 0; inc(): number { return ++this.n; } }
  const t = ray.remote(Tally, { maxRestarts: 1, maxTaskRetries: -1 }).remote();
  await ray.get(t.inc.remote());
  const before = await ray.get(t.inc.remote());
  ray.kill(t, { noRestart: false });
  // A call may still reach the old incarnation before the GCS acts: the fresh one answers 1.
  let restarted = false;
  for (let i = 0; i < 200 && !restarted; i++) {
    restarted = (await ray.get(t.inc.remote())) === 1;
    if (!restarted) await ray.sleep(20);
  }
  let badOption = "accepted";
  try { ray.kill(t, { force: true } as never); } catch (e) { badOption = (e as Error).message; }
  ray.kill(t);
  return { before, restarted, badOption };
}

/**
 * Actor calls whose argument is a pending ref, each followed by a call without one: the later call
 * waits its turn (a sync actor runs calls in submission order, as in Ray; tsray holds an async
 * actor's later calls too), and a call whose argument failed does not hold up the next one.
 */
export async function actorCallsWithPendingArgs(ray: Ray): Promise<{ sync: number[]; async: number[]; afterFailedArg: (number | string)[] }> {
  const slow = ray.remote(async (x: number) => { await ray.sleep(30); return x; });
  const failing = ray.remote(async () => { await ray.sleep(30); throw new RangeError("no value"); });
  class Sum { total = 0; add(x: number): number { return (this.total += x); } }
  class AsyncSum { total = 0; async add(x: number): Promise<number> { this.total += x; const seen = this.total; await ray.sleep(5); return seen; } }
  const twoCalls = async (a: { add: { remote(x: unknown): ObjectRef<number> } }) => ray.get([a.add.remote(slow.remote(1)), a.add.remote(10)]);
  const sync = await twoCalls(ray.remote(Sum).remote());
  const async = await twoCalls(ray.remote(AsyncSum).remote());
  const s = ray.remote(Sum).remote();
  const afterFailedArg = await Promise.all([s.add.remote(failing.remote() as never), s.add.remote(5)].map((r) => ray.get(r).catch((e: Error) => e.name)));
  return { sync, async, afterFailedArg };
}

/**
 * ray.getRuntimeContext(): the driver has no task; a task sees its own id; an async actor's
 * overlapping calls each see theirs. The job: the driver's own id, which its task and actor run
 * for, and a task the task starts; a detached actor is a job of its own, and so is its task.
 */
export async function runtimeContexts(ray: Ray): Promise<{ driverHasTask: boolean; taskIdMatches: boolean; actorIdsMatch: boolean; callIdsMatch: boolean; nodeOk: boolean; jobs: string[] }> {
  const whoAmI = ray.remote(() => ray.getRuntimeContext());
  type WhoAmI = typeof whoAmI;
  const nestedJob = ray.remote(async (f: WhoAmI) => (await ray.get(f.remote())).jobId);
  class Who {
    async which(): Promise<{ taskId?: string; actorId?: string; jobId: string }> {
      await ray.sleep(20); // calls overlap: each must still see its own task
      const c = ray.getRuntimeContext();
      return { taskId: c.taskId, actorId: c.actorId, jobId: c.jobId };
    }
    async started(f: WhoAmI): Promise<string> {
      return (await ray.get(f.remote())).jobId;
    }
  }
  const driver = ray.getRuntimeContext();
  const ref = whoAmI.remote();
  const task = await ray.get(ref);
  const who = ray.remote(Who).remote();
  const refs = [0, 1, 2].map(() => who.which.remote());
  const calls = await ray.get(refs);
  const loner = ray.remote(Who).options({ lifetime: "detached" }).remote();
  const [lonerCall] = await ray.get([loner.which.remote()]);
  const lonerTask = await ray.get(loner.started.remote(whoAmI));
  ray.kill(loner);
  const job = (id: string) => (id === driver.jobId ? "driver" : id === loner.__actorId ? "detached actor" : id);
  return {
    driverHasTask: driver.taskId !== undefined,
    taskIdMatches: `${task.taskId}.r` === ref.id && task.actorId === undefined,
    actorIdsMatch: calls.every((c) => c.actorId === who.__actorId),
    callIdsMatch: calls.every((c, i) => `${c.taskId}.r` === refs[i].id),
    nodeOk: typeof task.nodeId === "string" && task.nodeId.length > 0 && task.workerId !== driver.workerId,
    jobs: [driver.workerId, task.jobId, await ray.get(nestedJob.remote(whoAmI)), ...calls.map((c) => c.jobId), lonerCall.jobId, lonerTask].map(job),
  };
}

export interface CauseSeen {
  name: string; isTaskError: boolean; causeName?: string; causeIsRangeError: boolean; causeMessage?: string;
  code?: unknown; customName?: string; customIsError: boolean; customField?: unknown; dependentCauseName?: string;
  /** A task that failed on a nested get: its cause is that get's TaskError, whose own cause is what the inner task threw. */
  nestedCause?: [boolean, boolean];
}

/** A task's error keeps what the user threw as `cause`: class (built-ins), message and own fields; dependents see the same. */
export async function errorCauses(ray: Ray): Promise<CauseSeen> {
  const throwsRange = ray.remote((): number => { const e = new RangeError("out of range"); (e as RangeError & { code: string }).code = "E_RANGE"; throw e; });
  const throwsCustom = ray.remote((): number => {
    class QuotaError extends Error { override name = "QuotaError"; limit = 5; }
    throw new QuotaError("over quota");
  });
  const plusOne = ray.remote((x: number) => x + 1);
  const out: Partial<CauseSeen> = {};
  try { await ray.get(throwsRange.options({ maxRetries: 0 }).remote()); } catch (e) {
    const err = e as Error & { cause?: Error & { code?: unknown } };
    Object.assign(out, {
      name: err.name, isTaskError: err.name === "TaskError", causeName: err.cause?.name, causeIsRangeError: err.cause instanceof RangeError,
      causeMessage: err.cause?.message, code: err.cause?.code,
    });
  }
  try { await ray.get(throwsCustom.options({ maxRetries: 0 }).remote()); } catch (e) {
    const c = (e as Error & { cause?: Error & { limit?: unknown } }).cause;
    Object.assign(out, { customName: c?.name, customIsError: c instanceof Error, customField: c?.limit });
  }
  try { await ray.get(plusOne.remote(throwsRange.options({ maxRetries: 0 }).remote())); } catch (e) {
    out.dependentCauseName = ((e as Error & { cause?: Error }).cause)?.name;
  }
  const getsFrom = ray.remote(async (f: typeof throwsRange) => ray.get(f.options({ maxRetries: 0 }).remote()));
  try { await ray.get(getsFrom.options({ maxRetries: 0 }).remote(throwsRange)); } catch (e) {
    const c = (e as Error & { cause?: Error }).cause;
    out.nestedCause = [c instanceof TaskError, c?.cause instanceof RangeError];
  }
  return out as CauseSeen;
}

/** Options tsray does not implement, or that do not apply, are refused by name; so is a fixed numReturns for a generator. */
export async function refusedOptions(ray: Ray): Promise<string[]> {
  const f = ray.remote((x: number) => x);
  class A { m(): number { return 1; } }
  const messages: string[] = [];
  const attempt = (go: () => unknown) => { try { go(); messages.push("accepted"); } catch (e) { messages.push((e as Error).message); } };
  attempt(() => f.options({ schedulingStrategy: "PACK" as never }));
  attempt(() => f.options({ numReturns: 0 }));
  attempt(() => f.options({ maxRestarts: 1 }));
  attempt(() => ray.remote(A, { maxPendingCalls: 0 }));
  attempt(() => ray.remote(A, { concurrencyGroups: { io: { maxConcurrency: 1, methods: ["n"] } } }));
  attempt(() => ray.remote(A, { concurrencyGroups: { io: 0 } }));
  attempt(() => ray.remote(A, { lifetime: "forever" } as never));
  attempt(() => f.options({ bogus: 1 } as never));
  const gen = ray.remote(function* twoValues() { yield 1; yield 2; });
  attempt(() => gen.options({ numReturns: 2 }).remote());
  attempt(() => f.options({ generatorBackpressureNumObjects: 2 }).remote(1));
  return messages;
}

/**
 * ray.get and ray.wait refuse, by name, what Ray refuses (and options they do not take, which
 * would otherwise be ignored: `timeout` for `timeoutMs`); a wait on no refs answers at once.
 */
export async function refusedCalls(ray: Ray): Promise<{ refused: string[]; emptyWait: number[] }> {
  const r = await ray.put(1);
  const other = await ray.put(2);
  const refused: string[] = [];
  const attempt = async (go: () => Promise<unknown>) => { try { await go(); refused.push("accepted"); } catch (e) { refused.push((e as Error).message); } };
  await attempt(() => ray.get(r, { timeout: 5 } as never));
  await attempt(() => ray.get(r, { timeoutMs: -1 }));
  await attempt(() => ray.wait([r], { fetch_local: true } as never));
  await attempt(() => ray.wait([r], { fetchLocal: "yes" } as never));
  await attempt(() => ray.wait([r, other], { numReturns: 3 }));
  await attempt(() => ray.wait([r], { numReturns: 0 }));
  await attempt(() => ray.wait([r, r]));
  await attempt(() => ray.wait([r], { timeoutMs: Number.NaN }));
  await attempt(() => ray.wait([1] as never));
  const putting = ray.put(1); // not awaited: the promise, not a ref
  await attempt(() => ray.get(putting as never));
  ray.release(await putting);
  const [ready, rest] = await ray.wait([]);
  return { refused, emptyWait: [ready.length, rest.length] };
}

/** Judges what refusedCalls saw against EXPECTED. */
export function checkRefusedCalls(seen: { refused: string[]; emptyWait: number[] }): void {
  assert.equal(seen.refused.length, EXPECTED.refusedCalls.length);
  EXPECTED.refusedCalls.forEach((re, i) => assert.match(seen.refused[i], re));
  assert.deepEqual(seen.emptyWait, [0, 0], "a wait on no refs answers two empty lists");
}

/**
 * ray.get with timeoutMs 0 reads what is at hand, as Ray's get(timeout=0): a put's value (in the
 * caller's node's store, the driver's or a task's), an inline result and a known error are
 * answered; a task still running times out, and is answered once done.
 */
export async function getPeek(ray: Ray): Promise<(number | string)[]> {
  const seen: (number | string)[] = [];
  const read = async (ref: ObjectRef<unknown>) => {
    try {
      const v = await ray.get(ref, { timeoutMs: 0 });
      seen.push(ArrayBuffer.isView(v) ? (v as Float64Array)[0] : (v as number));
    } catch (e) {
      seen.push((e as Error).name);
    }
  };
  const put = await ray.put(new Float64Array(50_000).fill(1));
  const small = ray.remote(() => 2).remote();
  await ray.get(small);
  const failed = ray.remote(() => { throw new RangeError("no"); }).options({ maxRetries: 0 }).remote();
  await ray.get(failed).catch(() => undefined);
  const slow = ray.remote(async () => { await ray.sleep(500); return 3; }).remote();
  for (const r of [put, small, failed, slow]) await read(r);
  await ray.get(slow);
  await read(slow);
  const inTask = ray.remote(async () => {
    const p = await ray.put(new Float64Array(50_000).fill(4));
    return ((await ray.get(p, { timeoutMs: 0 })) as Float64Array)[0];
  });
  seen.push(await ray.get(inTask.remote()));
  return seen;
}

/**
 * An actor's maxPendingCalls (Ray's max_pending_calls) bounds the calls one process has pending
 * on it: a call over the bound is refused at once with PendingCallsLimitExceeded, and is taken
 * again once answers came. A handle passed to a task, or found by name, carries the bound.
 */
export async function pendingCallsLimit(ray: Ray): Promise<{ refused: string; answered: number[]; later: number; inTask: string[]; found: string }> {
  class Gate { async hold(ms: number): Promise<number> { await ray.sleep(ms); return ms; } }
  const g = ray.remote(Gate, { maxPendingCalls: 2, name: "gate", namespace: "pending" }).remote();
  const over = (go: () => unknown): string => { try { go(); return "accepted"; } catch (e) { return (e as Error).name; } };
  const pending = [g.hold.remote(200), g.hold.remote(201)];
  const refused = over(() => g.hold.remote(1));
  const answered = await ray.get(pending);
  // The count comes down as this process hears each answer: soon after the get, if not with it.
  let later = -1;
  for (let i = 0; i < 100 && later < 0; i++) {
    try { later = await ray.get(g.hold.remote(2)); } catch (e) { if ((e as Error).name !== "PendingCallsLimitExceeded") throw e; await ray.sleep(10); }
  }
  const inTask = await ray.get(ray.remote(async (h: ActorHandle<Gate>) => {
    const held = [h.hold.remote(100), h.hold.remote(100)];
    const third = (() => { try { h.hold.remote(1); return "accepted"; } catch (e) { return (e as Error).name; } })();
    await ray.get(held);
    const f = await ray.getActor<Gate>("gate", { namespace: "pending" });
    return [third, String(typeof f.hold.remote === "function")];
  }).remote(g));
  const f = await ray.getActor<Gate>("gate", { namespace: "pending" });
  const both = [f.hold.remote(100), f.hold.remote(100)];
  const found = over(() => f.hold.remote(1));
  await ray.get(both);
  // Held to here: the lookups above do not keep the actor alive, the program's handle does.
  ray.release(g);
  return { refused, answered, later, inTask, found };
}

export interface HandleScopesSeen {
  taskValue: number; taskActorEnded: boolean; lookupBefore: number; lookupAfter: string;
  lentValue: number; lentEnded: boolean; firedAndForgot: number | string; firedEnded: boolean; chained: number; detachedAlive: number;
  selfKept: number; selfEnded: boolean; copyAfterDoubleRelease: number | string; copyEnded: boolean;
}

/**
 * An actor ends once every handle to it is gone (Ray's actor handle reference counting): one a
 * task made and dropped at its end; one the driver released, whose lookup handle then fails
 * with ActorDiedError; one lent to a task, alive until the task is done, or until a call it made
 * through it and left pending is; a pending call keeps its actor; a detached actor, and an actor's handle to itself, keep nothing; releasing a
 * handle twice releases it once.
 */
export async function handleScopes(ray: Ray): Promise<HandleScopesSeen> {
  class Counter {
    n = 0;
    me: unknown;
    inc(): number { return ++this.n; }
    keep(me: unknown): number { this.me = me; return ++this.n; }
    async slowInc(): Promise<number> { await ray.sleep(300); return ++this.n; }
  }
  const C = ray.remote(Counter);
  const out: Partial<HandleScopesSeen> = {};
  // A named actor is gone from the list once the GCS ended it.
  const ended = async (name: string): Promise<boolean> => {
    for (let i = 0; i < 300; i++) {
      if (!(await ray.listNamedActors()).includes(name)) return true;
      await ray.sleep(20);
    }
    return false;
  };
  const inTask = ray.remote(async (cls: typeof C) => ray.get(cls.options({ name: "made-in-task" }).remote().inc.remote()));
  out.taskValue = await ray.get(inTask.remote(C));
  out.taskActorEnded = await ended("made-in-task");

  const mine = await C.options({ name: "released" }).remote();
  const lookup = await ray.getActor<Counter>("released");
  await ray.get(mine.inc.remote());
  out.lookupBefore = await ray.get(lookup.inc.remote());
  ray.release(mine);
  out.lookupAfter = "still alive";
  for (let i = 0; i < 300 && out.lookupAfter === "still alive"; i++) {
    try { await ray.get(lookup.inc.remote()); await ray.sleep(20); } catch (e) { out.lookupAfter = `${(e as Error).name}: ${/handles to it went out of scope/.test((e as Error).message)}`; }
  }

  const lent = await C.options({ name: "lent" }).remote();
  const holder = ray.remote(async (h: typeof lent) => { await ray.sleep(300); return ray.get(h.inc.remote()); });
  const held = holder.remote(lent);
  ray.release(lent);
  out.lentValue = await ray.get(held);
  out.lentEnded = await ended("lent");

  // A task calls through the handle it was lent and returns at once: its pending call holds the
  // handle past the task's end, while the driver lets go of its own.
  const fired = await C.options({ name: "fired" }).remote();
  const fire = ray.remote((h: typeof fired) => ({ r: h.slowInc.remote() }));
  const box = await ray.get(fire.remote(fired));
  ray.release(fired);
  out.firedAndForgot = await ray.get(box.r).catch((e: Error) => e.name);
  out.firedEnded = await ended("fired");

  const once = C.remote();
  const call = once.inc.remote();
  ray.release(once);
  out.chained = await ray.get(call);

  const kept = await C.options({ name: "kept", lifetime: "detached" }).remote();
  ray.release(kept);
  await ray.sleep(200);
  const keptAgain = await ray.getActor<Counter>("kept");
  out.detachedAlive = await ray.get(keptAgain.inc.remote());
  ray.kill(keptAgain);

  const self = await C.options({ name: "self" }).remote();
  out.selfKept = await ray.get(self.keep.remote(self));
  ray.release(self);
  out.selfEnded = await ended("self");

  const first = await C.options({ name: "copied" }).remote();
  // The copy comes back inside a value: its object holds the handle too, until released.
  const value = ray.remote((h: typeof first) => [h]).remote(first);
  const [copy] = await ray.get(value);
  ray.release(value);
  ray.release(first);
  ray.release(first);
  // Time enough for an ActorOutOfScope to reach the GCS, were the second release counted.
  await ray.sleep(300);
  out.copyAfterDoubleRelease = await ray.get(copy.inc.remote()).catch((e: Error) => e.name);
  ray.release([copy]);
  out.copyEnded = await ended("copied");
  return out as HandleScopesSeen;
}

/** What every host must observe (Ray's behaviour). */
/**
 * A placement group's actors and tasks around its removal: an actor made before the group was
 * ready waits for it; once the group is removed, a task that ran in it, one that waited for its
 * bundle and one submitted after fail with TaskPlacementGroupRemoved, and the actor is dead.
 */
export async function groupRemoval(ray: Ray): Promise<Record<string, unknown>> {
  const nameOf = async (r: ObjectRef<unknown>) => ray.get(r).then(() => "no error", (e: Error) => e.name);
  const pg = ray.placementGroup({ bundles: [{ CPU: 1 }] });
  class Box { v() { return 1; } }
  const actor = ray.remote(Box).options({ placementGroup: pg, maxRestarts: 2 }).remote();
  const actorBefore = await ray.get(actor.v.remote());
  const slow = ray.remote(async () => { await ray.sleep(10_000); return 1; });
  const running = slow.options({ placementGroup: pg }).remote();
  const queued = slow.options({ placementGroup: pg }).remote();
  await ray.sleep(300);
  await ray.removePlacementGroup(pg);
  const after = slow.options({ placementGroup: pg }).remote();
  return { actorBefore, running: await nameOf(running), queued: await nameOf(queued), after: await nameOf(after), actorAfter: await nameOf(actor.v.remote()) };
}

/**
 * Refs nested in objects a task owns outlive the task, as Ray's owner keeps the refs inside an
 * object it owns for as long as that object is in scope: a task puts a box holding a ref it
 * borrowed, or one it put itself, and returns the box's ref; a borrower hands a borrowed ref to
 * two children and returns the first one's answer, a box of that ref. The driver lets go of
 * its own refs and runs more tasks (so those workers end other scopes) before it reads each
 * inner value through its box.
 */
export async function nestedRefs(ray: Ray): Promise<Record<string, number | string>> {
  type Box = { r: ObjectRef<number> };
  const read = async (outer: ObjectRef<Box>) => ray.get(outer).then((b) => ray.get(b.r)).catch((e: Error) => e.name);
  const inner = await ray.put(5);
  const boxBorrowed = ray.remote(async (box: Box) => ({ outer: await ray.put({ r: box.r }) }));
  const boxOwned = ray.remote(async () => ({ outer: await ray.put({ r: await ray.put(6) }) }));
  const child = ray.remote(async (box: Box) => { await ray.get(box.r); return { r: box.r }; });
  const fan = ray.remote((c: typeof child, box: Box) => {
    const first = c.remote(box);
    c.remote(box);
    return { outer: first };
  });
  const borrowed = await ray.get(boxBorrowed.remote({ r: inner }));
  ray.release(inner);
  const owned = await ray.get(boxOwned.remote());
  const lent = await ray.put(7);
  const fanned = await ray.get(fan.remote(child, { r: lent }));
  ray.release(lent);
  const noop = ray.remote((i: number) => i);
  await ray.get([0, 1, 2, 3, 4, 5].map((i) => noop.remote(i)));
  await ray.sleep(300);
  return { borrowedInPut: await read(borrowed.outer), ownedInPut: await read(owned.outer), fannedOut: await read(fanned.outer) };
}

export const EXPECTED = {
  nestedRefs: { borrowedInPut: 5, ownedInPut: 6, fannedOut: 7 },
  groupRemoval: { actorBefore: 1, running: "TaskPlacementGroupRemoved", queued: "TaskPlacementGroupRemoved", after: "TaskPlacementGroupRemoved", actorAfter: "ActorDiedError" },
  peek: [1, 2, "TaskError", "GetTimeoutError", 3, 4],
  handleScopes: {
    taskValue: 1, taskActorEnded: true, lookupBefore: 2, lookupAfter: "ActorDiedError: true", lentValue: 1, lentEnded: true, firedAndForgot: 1, firedEnded: true, chained: 1,
    detachedAlive: 1, selfKept: 1, selfEnded: true, copyAfterDoubleRelease: 1, copyEnded: true,
  },
  concurrency: { peakDefault: 4, peakTwo: 2, peakSync: 1, signalled: [0, 1, 2] },
  deadActor: ["ActorDiedError", "ActorDiedError", "2", "ActorDiedError"],
  contexts: {
    driverHasTask: false, taskIdMatches: true, actorIdsMatch: true, callIdsMatch: true, nodeOk: true,
    jobs: ["driver", "driver", "driver", "driver", "driver", "driver", "detached actor", "detached actor"],
  },
  pendingArgs: { sync: [1, 11], async: [1, 11], afterFailedArg: ["TaskError", 5] },
  concurrencyGroups: {
    noteSaw: ["start a", "note"],
    log: ["start a", "note", "end a", "start b", "end b", "note in io", "last"],
    unknownGroup: ["TaskError", "ValueError", "names it"],
  },
  killWithRestart: { before: 2, restarted: true, badOption: 'ray.kill: unknown option "force" (it takes: noRestart)' },
  killedOwner: { before: 41, after: "OwnerDiedError" },
  actorExit: {
    before: 1, exiting: "ActorDiedError", later: "ActorDiedError", owned: "OwnerDiedError",
    refused: ["ray.exitActor: only an actor's method can call it (here: the driver)", "ray.exitActor: only an actor's method can call it (here: a task)"],
    terminated: ["1", "ActorDiedError", "ActorDiedError", "ActorDiedError", "ActorDiedError"],
  },
  pendingCalls: {
    refused: "PendingCallsLimitExceeded", answered: [200, 201], later: 2, inTask: ["PendingCallsLimitExceeded", "true"], found: "PendingCallsLimitExceeded",
  },
  refusedCalls: [
    /^ray\.get: unknown option "timeout" \(it takes: timeoutMs\)$/,
    /^ray\.get: timeoutMs must be a number >= 0, got -1$/,
    /^ray\.wait: unknown option "fetch_local" \(it takes: numReturns, timeoutMs, fetchLocal\)$/,
    /^ray\.wait: fetchLocal must be a boolean, got "yes"$/,
    /^ray\.wait: numReturns 3 is more than the 2 refs given$/,
    /^ray\.wait: numReturns must be an integer >= 1, got 0$/,
    /^ray\.wait: each ref may be given once, and .* is given twice$/,
    /^ray\.wait: timeoutMs must be a number >= 0, got null$/,
    /^ray\.wait expects ObjectRefs, got 1$/,
    /^ray\.get expects ObjectRefs, got a Promise \(ray\.put returns a promise of its ref: await it\)$/,
  ],
  refused: [
    /schedulingStrategy must be "DEFAULT", "SPREAD" or \{ nodeId, soft \}, got "PACK"/,
    /option "numReturns" must be an integer >= 1 or "streaming", got 0/,
    /option "maxRestarts" does not apply to a remote function/,
    /option "maxPendingCalls" must be an integer >= 1, or -1 for no limit, got 0/,
    /concurrency group "io" lists "n", which is not a method of the class/,
    /concurrency group "io": maxConcurrency must be an integer >= 1, got 0/,
    /lifetime must be "detached" or "non_detached", got "forever"/,
    /unknown option "bogus"/,
    /twoValues is a generator: tsray runs generators as streaming generators .*numReturns: 2 is not supported/,
    /option "generatorBackpressureNumObjects" applies only to generators/,
  ],
};

export interface NamesSeen {
  first: number; duplicate: string; otherNamespace: number; sameActorByName: number; byNamespace: number; missing: string;
  getIfExistsSame: boolean; getIfExistsCount: number; getIfExistsNew: number; taskFound: number; taskNamespaceIsDrivers: boolean;
  awaitFirst: string; keeperAfterCreatorKilled: number; tempDiedWithCreator: boolean; nameReusedAfterKill: boolean;
  /** ray.listNamedActors(): the caller's namespace, then every namespace (only the two this program uses). */
  listed: string[]; listedAll: { name: string; namespace: string }[]; listBadOption: string; unlistedAfterKill: boolean;
}

/**
 * Named actors in namespaces (Ray 2.x): a name is unique per namespace, a duplicate is refused at
 * creation (ValueError), getActor looks only in the namespace asked (default: the caller's, which
 * tasks inherit), getIfExists gets the live actor; a detached actor outlives its creator, which a
 * non-detached one does not; a dead actor's name is free again.
 */
export async function namedActors(ray: Ray): Promise<NamesSeen> {
  class Counter { n = 0; inc(): number { return ++this.n; } }
  const C = ray.remote(Counter);
  const out: Partial<NamesSeen> = {};
  const errorName = async (go: () => unknown) => { try { await go(); return "ok"; } catch (e) { return (e as Error).name; } };
  const a = await C.options({ name: "counter" }).remote();
  out.first = await ray.get(a.inc.remote());
  out.duplicate = await errorName(() => C.options({ name: "counter" }).remote());
  const b = await C.options({ name: "counter", namespace: "other" }).remote();
  out.otherNamespace = await ray.get(b.inc.remote());
  out.sameActorByName = await ray.get((await ray.getActor<Counter>("counter")).inc.remote());
  out.byNamespace = await ray.get((await ray.getActor<Counter>("counter", { namespace: "other" })).inc.remote());
  out.missing = await errorName(() => ray.getActor("counter", { namespace: "third" }));
  const g = await C.options({ name: "counter", getIfExists: true }).remote();
  out.getIfExistsSame = g.__actorId === a.__actorId;
  out.getIfExistsCount = await ray.get(g.inc.remote());
  const fresh = await C.options({ name: "fresh", getIfExists: true }).remote();
  out.getIfExistsNew = await ray.get(fresh.inc.remote());
  const driverNs = ray.getRuntimeContext().namespace;
  out.listed = await ray.listNamedActors();
  out.listedAll = (await ray.listNamedActors({ allNamespaces: true })).filter((e) => e.namespace === driverNs || e.namespace === "other")
    .map((e) => ({ name: e.name, namespace: e.namespace === driverNs ? "(driver's)" : e.namespace }));
  out.listBadOption = await ray.listNamedActors({ all: true } as never).then(() => "accepted", (e: Error) => e.message);
  const inTask = ray.remote(async () => {
    const h = await ray.getActor<Counter>("counter");
    return { n: await ray.get(h.inc.remote()), ns: ray.getRuntimeContext().namespace };
  });
  const t = await ray.get(inTask.remote());
  out.taskFound = t.n;
  out.taskNamespaceIsDrivers = t.ns === driverNs;
  try { (C.options({ name: "lazy", getIfExists: true }).remote() as unknown as { inc: unknown }).inc; out.awaitFirst = "accepted"; } catch (e) { out.awaitFirst = (e as Error).name; }
  // A creator actor makes a detached actor and a plain one, then is killed: only the detached one lives on.
  class Creator {
    async spawn(cls: typeof C): Promise<number[]> {
      const keep = await cls.options({ name: "keeper", lifetime: "detached" }).remote();
      const temp = await cls.options({ name: "temp" }).remote();
      return ray.get([keep.inc.remote(), temp.inc.remote()]);
    }
  }
  const creator = ray.remote(Creator).remote();
  await ray.get(creator.spawn.remote(C));
  ray.kill(creator);
  out.tempDiedWithCreator = false;
  for (let i = 0; i < 300 && !out.tempDiedWithCreator; i++) {
    out.tempDiedWithCreator = (await errorName(() => ray.getActor("temp"))) === "ValueError";
    if (!out.tempDiedWithCreator) await ray.sleep(20);
  }
  const keeper = await ray.getActor<Counter>("keeper");
  out.keeperAfterCreatorKilled = await ray.get(keeper.inc.remote());
  ray.kill(keeper);
  const again = await errorName(() => C.options({ name: "keeper" }).remote());
  out.nameReusedAfterKill = again === "ok";
  ray.kill(await ray.getActor("keeper"));
  for (const h of [a, b, g]) ray.kill(h);
  ray.kill(fresh); // held to here: a lookup does not keep an actor alive
  out.unlistedAfterKill = false;
  for (let i = 0; i < 300 && !out.unlistedAfterKill; i++) {
    const names = await ray.listNamedActors();
    out.unlistedAfterKill = !names.includes("counter") && !names.includes("fresh");
    if (!out.unlistedAfterKill) await ray.sleep(20);
  }
  return out as NamesSeen;
}

/** ray.nodes(), clusterResources() and availableResources(), as the GCS's tables say; an actor holding a CPU shows in availableResources. */
export async function clusterInfo(ray: Ray): Promise<{ alive: number; fieldsOk: boolean; totalMatchesNodes: boolean; cpuTakenSeen: boolean }> {
  const nodes = await ray.nodes();
  const total = await ray.clusterResources();
  const live = nodes.filter((n) => n.alive);
  const fieldsOk = nodes.every((n) => typeof n.nodeId === "string" && typeof n.alive === "boolean" && typeof n.resources === "object" && Number.isInteger(n.incarnation));
  const totalMatchesNodes = total.CPU === live.reduce((s, n) => s + (n.resources.CPU ?? 0), 0);
  class Hold { ping(): number { return 1; } }
  const h = ray.remote(Hold, { numCpus: 1 }).remote();
  await ray.get(h.ping.remote());
  let cpuTakenSeen = false;
  for (let i = 0; i < 300 && !cpuTakenSeen; i++) {
    cpuTakenSeen = ((await ray.availableResources()).CPU ?? 0) <= total.CPU - 1;
    if (!cpuTakenSeen) await ray.sleep(20);
  }
  ray.kill(h);
  return { alive: live.length, fieldsOk, totalMatchesNodes, cpuTakenSeen };
}

export const EXPECTED_NAMES: NamesSeen = {
  first: 1, duplicate: "ValueError", otherNamespace: 1, sameActorByName: 2, byNamespace: 2, missing: "ValueError",
  getIfExistsSame: true, getIfExistsCount: 3, getIfExistsNew: 1, taskFound: 4, taskNamespaceIsDrivers: true,
  awaitFirst: "TypeError", keeperAfterCreatorKilled: 2, tempDiedWithCreator: true, nameReusedAfterKill: true,
  listed: ["counter", "fresh"],
  listedAll: [{ name: "counter", namespace: "(driver's)" }, { name: "fresh", namespace: "(driver's)" }, { name: "counter", namespace: "other" }],
  listBadOption: 'ray.listNamedActors: unknown option "all" (it takes: allNamespaces)', unlistedAfterKill: true,
};
