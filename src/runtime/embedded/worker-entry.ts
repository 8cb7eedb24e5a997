// A worker thread: runs user code and nothing else. Its core worker model lives on the main
// thread; here `ray` is the same API over a CoreClient that forwards every call there —
// fire-and-forget for submissions and reference counts (ids are minted here as `${addr}#n`,
// so a ref exists before the main thread hears of it), request/response for get, put, wait
// and getActor. `ray.sleep` is a local timer. Messages both ways go in batches.

import { receiveMessageOnPort, workerData, type MessagePort } from "node:worker_threads";
import type { CoreClient } from "../../api/client.ts";
import { codecOf, createRay } from "../../api/ray.ts";
import type { Outcome } from "../../core/core-worker.ts";
import type { CallResult } from "../../core/effects.ts";
import { idOf, returnIdOf, type Addr, type FunctionDescriptor, type FunctionId, type NodeId, type Payload, type TaskSpec } from "../../core/types.ts";
import { Executor } from "../executor.ts";
import { collectViews, collectViewsIfPinnedMuch, installPins, isSlot, pinnedMuch, releaseAllPins } from "./pins.ts";
import { transferable, type FnRef, type FromThread, type ToThread } from "./protocol.ts";
import { PendingCalls } from "../pending-calls.ts";
import { Spinner } from "../spinner.ts";
import { realSleep } from "../sleep.ts";
import type { PlacementGroupRequest } from "../../core/worker/inputs.ts";

const { port, spinMicros } = workerData as { port: MessagePort; spinMicros: number };
installPins();

let out: FromThread[] = [];
let transfer: ArrayBuffer[] = [];
let flushQueued = false;

function flush(): void {
  flushQueued = false;
  if (out.length === 0) return;
  const batch = out;
  const t = transfer;
  out = [];
  transfer = [];
  port.postMessage(batch, t);
}

function post(m: FromThread, payload?: Payload): void {
  out.push(m);
  if (payload) transferable(payload, transfer);
  if (!flushQueued) {
    flushQueued = true;
    queueMicrotask(flush);
  }
}

class ThreadClient implements CoreClient {
  private ids = 0;
  private readonly calls = new PendingCalls();
  /** Functions the main thread has already received from this thread. */
  private readonly sentFns = new Set<FunctionId>();

  constructor(readonly addr: Addr, readonly node: NodeId) {}

  nextId(): string { return idOf(this.addr, "#", ++this.ids); }

  private fnRef(fn: FunctionDescriptor): FnRef {
    if (this.sentFns.has(fn.id)) return { id: fn.id };
    this.sentFns.add(fn.id);
    return fn;
  }

  /** `signal` (a call inside a task): its abort withdraws the call, which rejects with its reason. */
  private request<T>(make: (call: number) => FromThread, map: (r: CallResult) => T, payload?: Payload, signal?: AbortSignal): Promise<T> {
    return this.calls.start((call) => post(make(call), payload), map, signal, (call) => post({ t: "withdraw", call }));
  }

  reply(call: number, result: CallResult): void {
    this.calls.take(call)?.(result);
  }

  submitTask: CoreClient["submitTask"] = (task, fn, args, opts) => {
    post({ t: "submit", task, fn: this.fnRef(fn), args, opts });
    for (const a of args) if ("v" in a) transferable(a.v, transfer);
    return returnIdOf(task);
  };
  createActor: CoreClient["createActor"] = (actor, cls, args, opts) => {
    post({ t: "actor", actor, cls: this.fnRef(cls), args, opts });
    for (const a of args) if ("v" in a) transferable(a.v, transfer);
  };
  submitActorTask: CoreClient["submitActorTask"] = (task, actor, method, args, retries, call) => {
    post(call === undefined ? { t: "call", task, actor, method, args, retries } : { t: "call", task, actor, method, args, retries, call });
    for (const a of args) if ("v" in a) transferable(a.v, transfer);
    return returnIdOf(task);
  };
  put: CoreClient["put"] = (id, payload) => this.request((call) => ({ t: "put", call, id, payload }), () => undefined, payload);
  get: CoreClient["get"] = (refs, timeoutMs, signal) =>
    this.request((call) => ({ t: "get", call, refs, timeoutMs }), (r) => (r.kind === "values" ? r.values : []), undefined, signal);
  wait: CoreClient["wait"] = (refs, numReturns, timeoutMs, fetchLocal, signal) =>
    this.request((call) => ({ t: "wait", call, refs, numReturns, timeoutMs, fetchLocal }), (r) => (r.kind === "ready" ? r.ready : []), undefined, signal);
  getNamedActor: CoreClient["getNamedActor"] = (name, namespace) =>
    this.request((call) => ({ t: "named", call, name, ...(namespace !== undefined ? { namespace } : {}) }), (r) => (r.kind === "actor" ? r.info : undefined));
  listNamedActors: CoreClient["listNamedActors"] = (namespace) =>
    this.request((call) => ({ t: "list-named", call, ...(namespace !== undefined ? { namespace } : {}) }), (r) => (r.kind === "named-actors" ? r.actors : []));
  actorRegistered: CoreClient["actorRegistered"] = (actor) =>
    this.request((call) => ({ t: "registered", call, actor }), (r) => (r.kind === "actor" ? r.info : undefined));
  clusterInfo: CoreClient["clusterInfo"] = () => this.request((call) => ({ t: "cluster", call }), (r) => (r.kind === "nodes" ? r.nodes : []));
  killActor(actor: string, noRestart: boolean): void { post({ t: "kill", actor, noRestart }); }
  createPlacementGroup(pg: PlacementGroupRequest): void { post({ t: "pg-create", pg }); }
  removePlacementGroup(pgId: string): void { post({ t: "pg-remove", pgId }); }
  releaseRef(id: string): void { post({ t: "releaseRef", id }); }
  cancelTask(id: string, force: boolean, recursive: boolean): void { post({ t: "cancelTask", id, force, recursive }); }
  reportItem: CoreClient["reportItem"] = (task, attempt, index, payload) =>
    this.request((call) => ({ t: "yield", call, task, attempt, index, payload }), (r) => r.kind === "yielded" && r.stop !== true, payload);
  nextItem: CoreClient["nextItem"] = (id, index, signal) =>
    this.request((call) => ({ t: "next", call, id, index }), (r) => (r.kind === "item" ? r.id : undefined), undefined, signal);
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return realSleep(ms, signal);
  }
}

let client: ThreadClient | undefined;
let executor: Executor | undefined;
const fns = new Map<FunctionId, FunctionDescriptor>();

/** Tasks started and not finished (an async one awaits something). */
let running = 0;

function done(task: string, attempt: number, o: Outcome): void {
  running--;
  post({ t: "done", task, attempt, out: o }, o.ok ? o.payload : undefined);
  // Idle after reading big arrays in place: let their dead views give the slots back now (after
  // the answer above has gone out), not whenever V8 next needs heap. Checked first: an
  // immediate per task would cost every small task a turn of the event loop.
  if (running === 0 && pinnedMuch()) setImmediate(() => { if (running === 0) collectViewsIfPinnedMuch(); });
}

function exec(m: Extract<ToThread, { t: "exec" }>): void {
  let fn: FunctionDescriptor | undefined;
  if ("source" in m.fn) fns.set(m.fn.id, (fn = m.fn));
  else fn = fns.get(m.fn.id) ?? { id: m.fn.id, name: m.fn.id, kind: "class", source: "" };
  // The executor reads only these fields of the spec.
  const spec = { taskId: m.task, attempt: m.attempt, kind: m.kind, method: m.method, actorId: m.actor, namespace: m.namespace, streaming: m.streaming, job: m.job } as TaskSpec;
  running++;
  const r = executor!.run(spec, fn, m.args);
  if (r instanceof Promise) r.then((o) => done(m.task, m.attempt, o));
  else done(m.task, m.attempt, r);
}

/** Replies with arena values, acknowledged once their continuations (the decode) have run. */
let consumed: number[] = [];
function ackConsumed(): void {
  const calls = consumed;
  consumed = [];
  post({ t: "consumed", calls });
}

function handle(batch: ToThread[]): void {
  for (const m of batch) {
    switch (m.t) {
      case "exec": exec(m); break;
      case "reply":
        if (m.result.kind === "values" && m.result.values.some(isSlot)) {
          // ray.get's continuation decodes in the microtask its reply queues: ack after it.
          if (consumed.length === 0) queueMicrotask(() => queueMicrotask(ackConsumed));
          consumed.push(m.call);
        }
        client?.reply(m.call, m.result);
        break;
      case "bind": {
        client = new ThreadClient(m.addr, m.node);
        // An actor's refs go when its code drops them (a normal task's, at its scope end).
        const ray = createRay(client, { releaseOnCollect: true });
        executor = new Executor(ray, codecOf(client), client);
        break;
      }
      case "gc": collectViews(); break;
      case "cancel": executor?.interrupt(m.task); break;
      case "exit":
        flush();
        releaseAllPins();
        process.exit(0);
    }
  }
}

const spinner = new Spinner(spinMicros);

/**
 * After a batch, while this thread is idle, wait a few µs for the next one by polling the port
 * instead of going to sleep: on a VM, being woken costs tens of µs, more than a small task, and
 * the main thread usually answers a finished task with the next one within a few µs. A running
 * async task ends the wait (its continuations need the event loop); the Spinner stops polling
 * when polls keep timing out (busy cores).
 */
function spinWhileIdle(): void {
  for (;;) {
    if (running > 0) return;
    const budget = spinner.next();
    if (budget <= 0) return;
    flush();
    const end = performance.now() + budget;
    let m = receiveMessageOnPort(port);
    while (m === undefined) {
      if (performance.now() >= end) return spinner.miss();
      m = receiveMessageOnPort(port);
    }
    spinner.hit();
    handle(m.message as ToThread[]);
  }
}

port.on("message", (batch: ToThread[]) => {
  handle(batch);
  spinWhileIdle();
});

post({ t: "ready" });
