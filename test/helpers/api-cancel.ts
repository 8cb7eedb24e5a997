// ray.cancel as a Ray user meets it, written once and run on every host (simulator, embedded
// cluster, daemons): test/integration/api-cancel.test.ts and daemons.test.ts hold each host to
// the same answers (Ray's).
import type { ObjectRef } from "../../src/api/handles.ts";
import type { Ray } from "../../src/api/ray.ts";

/** The name of the error `ref`'s get throws ("ok:VALUE" if it does not; GetTimeoutError if it takes over `timeoutMs`). */
async function outcome(ray: Ray, ref: ObjectRef, timeoutMs?: number): Promise<string> {
  try { return `ok:${String(await ray.get(ref, timeoutMs === undefined ? {} : { timeoutMs }))}`; } catch (e) { return (e as Error).name; }
}

export interface CancelSeen {
  waitingForArgs: string; dependent: string; slowArgStillRuns: string; queued: string;
  running: string; sawSignal: boolean; asleep: string; blockedGet: string; blockedWait: string; blockedNext: string; ignoredSignal: string; forced: string; afterForce: string;
  recursive: string; childSawSignal: boolean; queuedActorCall: string; actorAhead: string; actorBehind: string;
  doneAlready: string; refused: string[];
}

/** Polls `probe` until it holds (bounded: a host that never gets there fails the comparison, not the run). */
async function until(ray: Ray, probe: () => Promise<boolean>): Promise<boolean> {
  for (let i = 0; i < 400; i++) { if (await probe()) return true; await ray.sleep(10); }
  return false;
}

export async function cancelTasks(ray: Ray): Promise<CancelSeen> {
  class Notes {
    seen: string[] = [];
    add(s: string): void { this.seen.push(s); }
    has(s: string): boolean { return this.seen.includes(s); }
    /** A wait a task can be in that its cancel does not reach unless recursive (the call is the task's child, not the task). */
    async pause(ms: number): Promise<void> { await ray.sleep(ms); }
  }
  const notes = ray.remote(Notes).remote();
  const sleepy = ray.remote(async (ms: number) => { await ray.sleep(ms); return ms; });
  const plusOne = ray.remote((x: number) => x + 1);
  // Watches its cancellation signal: its ray.sleep throws the signal's reason, which it notes and rethrows.
  const watchful = ray.remote(async (n: any, tag: string) => {
    const signal = ray.getRuntimeContext().cancelSignal!;
    await ray.get(n.add.remote(`${tag}:started`));
    try {
      for (let i = 0; i < 500; i++) await ray.sleep(10);
    } catch (e) {
      if (signal.aborted && e === signal.reason) await ray.get(n.add.remote(`${tag}:aborted`));
      throw e;
    }
    return "finished";
  });
  // Ignores the signal: the cancel interrupts its get of an actor call, and it carries on to return a value.
  const stubborn = ray.remote(async (n: any, tag: string) => {
    await ray.get(n.add.remote(`${tag}:started`));
    try { await ray.get(n.pause.remote(150)); } catch { /* interrupted: carry on regardless */ }
    return "finished";
  });
  // A streaming generator that yields once refs[0] is ready.
  const yieldsWhenReady = ray.remote(async function* (refs: ObjectRef[]) {
    await ray.get(refs[0]);
    yield 1;
  });
  // Blocked in a get or a wait of refs given inside an array (so not waited for as arguments), or
  // in waiting for a generator's first item that waits for them.
  const blocked = ray.remote(async (n: any, tag: string, refs: ObjectRef[], how: "get" | "wait" | "next", gen?: any) => {
    await ray.get(n.add.remote(`${tag}:started`));
    if (how === "get") await ray.get(refs[0]);
    else if (how === "wait") await ray.wait(refs);
    else for await (const item of gen.remote(refs)) await ray.get(item);
    return "finished";
  });
  // Asleep for a minute: ray.sleep watches the signal, as a cancelled Ray task's sleep is interrupted.
  const dozing = ray.remote(async (n: any, tag: string) => {
    await ray.get(n.add.remote(`${tag}:started`));
    await ray.sleep(60_000);
    return "finished";
  });
  const parent = ray.remote(async (n: any, child: any) => await ray.get(child.options({ numCpus: 0 }).remote(n, "child")));
  const started = (tag: string) => until(ray, () => ray.get(notes.has.remote(`${tag}:started`)));

  // Pending, waiting for an argument: cancelled at once; its dependents see the cancellation; the argument's task runs on.
  const slowArg = sleepy.remote(100);
  const waiting = plusOne.remote(slowArg);
  const dependentRef = plusOne.remote(waiting);
  ray.cancel(waiting);
  const waitingForArgs = await outcome(ray, waiting);
  const dependent = await outcome(ray, dependentRef);
  const slowArgStillRuns = await outcome(ray, slowArg);

  // Pending for a lease no node can give yet (a resource nobody has): removed from the queue.
  const queuedRef = plusOne.options({ resources: { nowhere: 1 } }).remote(1);
  ray.cancel(queuedRef);
  const queued = await outcome(ray, queuedRef);

  // Running and watching its signal: it stops, and the get says it was cancelled.
  const runningRef = watchful.options({ maxRetries: 3 }).remote(notes, "running");
  await started("running");
  ray.cancel(runningRef);
  const running = await outcome(ray, runningRef);
  const sawSignal = await until(ray, () => ray.get(notes.has.remote("running:aborted")));

  // Running, in ray.sleep: the sleep ends at once with the cancel (a host that waited out the minute would show "ok:finished").
  const dozingRef = dozing.remote(notes, "dozing");
  await started("dozing");
  ray.cancel(dozingRef);
  const asleep = await outcome(ray, dozingRef);

  // Running, blocked in a get, a wait or a generator's next item, of an object that is not coming (an
  // infeasible task the driver owns, which a cancel of the blocked task does not reach): the call ends
  // at once with the cancel, as Ray interrupts a cancelled task's blocked get. A host that kept
  // waiting would show GetTimeoutError.
  const never = plusOne.options({ resources: { nowhere: 1 } }).remote(1);
  const getterRef = blocked.remote(notes, "getting", [never], "get");
  await started("getting");
  ray.cancel(getterRef, { recursive: false });
  const blockedGet = await outcome(ray, getterRef, 20_000);
  const waiterRef = blocked.remote(notes, "waiting", [never], "wait");
  await started("waiting");
  ray.cancel(waiterRef, { recursive: false });
  const blockedWait = await outcome(ray, waiterRef, 20_000);
  const nexterRef = blocked.remote(notes, "nexting", [never], "next", yieldsWhenReady);
  await started("nexting");
  ray.cancel(nexterRef, { recursive: false });
  const blockedNext = await outcome(ray, nexterRef, 20_000);
  ray.cancel(never); // the generator's get of it ends, and with it the generator

  // Running and carrying on past the cancel: it finishes, and its result stands (as in Ray).
  const ignoringRef = stubborn.remote(notes, "ignoring");
  await started("ignoring");
  ray.cancel(ignoringRef, { recursive: false });
  const ignoredSignal = await outcome(ray, ignoringRef);

  // force: the worker is killed, the task is not retried (maxRetries 3), and the cluster goes on.
  const forcedRef = stubborn.options({ maxRetries: 3 }).remote(notes, "forced");
  await started("forced");
  ray.cancel(forcedRef, { force: true });
  const forced = await outcome(ray, forcedRef);
  const afterForce = await outcome(ray, plusOne.remote(41));

  // recursive (the default): the child the task submitted is cancelled too, and the parent with it.
  const parentRef = parent.remote(notes, watchful);
  await started("child");
  ray.cancel(parentRef);
  const recursive = await outcome(ray, parentRef);
  const childSawSignal = await until(ray, () => ray.get(notes.has.remote("child:aborted")));

  // An actor call still queued behind another is cancelled; the one ahead runs.
  class Serial { async hold(ms: number): Promise<number> { await ray.sleep(ms); return ms; } }
  const serial = ray.remote(Serial, { maxConcurrency: 1 }).remote();
  const ahead = serial.hold.remote(100);
  const behind = serial.hold.remote(1);
  const after = serial.hold.remote(2);
  ray.cancel(behind);
  const queuedActorCall = await outcome(ray, behind);
  const actorAhead = await outcome(ray, ahead);
  const actorBehind = await outcome(ray, after);

  // A task already done: cancel does nothing.
  const doneRef = plusOne.remote(1);
  await ray.get(doneRef);
  ray.cancel(doneRef);
  const doneAlready = await outcome(ray, doneRef);

  const refused: string[] = [];
  const attempt = (go: () => void) => { try { go(); refused.push("accepted"); } catch (e) { refused.push((e as Error).message); } };
  attempt(() => ray.cancel(serial.hold.remote(1), { force: true }));
  attempt(() => ray.cancel(doneRef, { bogus: true } as never));
  attempt(() => ray.cancel("not a ref" as never));
  return {
    waitingForArgs, dependent, slowArgStillRuns, queued, running, sawSignal, asleep, blockedGet, blockedWait, blockedNext, ignoredSignal, forced, afterForce,
    recursive, childSawSignal, queuedActorCall, actorAhead, actorBehind, doneAlready, refused,
  };
}

export const EXPECTED_CANCEL: CancelSeen = {
  waitingForArgs: "TaskCancelledError", dependent: "TaskCancelledError", slowArgStillRuns: "ok:100", queued: "TaskCancelledError",
  running: "TaskCancelledError", sawSignal: true, asleep: "TaskCancelledError", blockedGet: "TaskCancelledError", blockedWait: "TaskCancelledError", blockedNext: "TaskCancelledError", ignoredSignal: "ok:finished", forced: "TaskCancelledError", afterForce: "ok:42",
  recursive: "TaskCancelledError", childSawSignal: true, queuedActorCall: "TaskCancelledError", actorAhead: "ok:100", actorBehind: "ok:2",
  doneAlready: "ok:2",
  refused: [
    "ray.cancel: force is not supported for actor tasks (kill the actor with ray.kill instead)",
    'ray.cancel: unknown option "bogus" (it takes: force, recursive)',
    "ray.cancel expects an ObjectRef or an ObjectRefGenerator",
  ],
};
