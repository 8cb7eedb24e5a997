// Runs user code for one worker: compiles exported source once per function, calls it with
// decoded arguments, keeps the actor instance a worker hosts, and reports an Outcome.
// Shared by the simulator and the real hosts so user code sees the same world everywhere.

import { AsyncLocalStorage } from "node:async_hooks";
import type { Outcome } from "../core/core-worker.ts";
import type { FunctionDescriptor, FunctionId, Payload, TaskSpec } from "../core/types.ts";
import type { CoreClient } from "../api/client.ts";
import { ActorExit, TERMINATE, TaskCancelledError, fromThrown } from "../api/errors.ts";

export interface Codec {
  encode(value: unknown): Payload;
  decode(p: Payload): unknown;
}

/** tsx/esbuild's keepNames helper appears in shipped source; workers must define it. */
const __name = (target: unknown, value: string) => Object.defineProperty(target, "name", { value, configurable: true });

/**
 * The task (and actor) whose code is running: what ray.getRuntimeContext() reads, across awaits
 * too. `signal` aborts when the task's owner cancels it (ray.cancel).
 */
export interface ExecutionContext {
  readonly taskId: string;
  readonly actorId?: string;
  /** The actor method running (undefined in a task or an actor's constructor). */
  readonly method?: string;
  readonly namespace?: string;
  /** The job the code runs for (an actor's method: the actor's job, whoever called). */
  readonly job: string;
  readonly signal: AbortSignal;
}

/**
 * One running task's context. Its AbortController is made only when the code reads `signal`
 * or a cancel arrives: almost no task is cancelled, and a controller with its signal per task
 * cost more than the rest of running a small task.
 */
class Running implements ExecutionContext {
  private controller: AbortController | undefined = undefined;
  constructor(readonly taskId: string, readonly actorId: string | undefined, readonly method: string | undefined, readonly namespace: string | undefined, readonly job: string) {}
  get signal(): AbortSignal {
    return (this.controller ??= new AbortController()).signal;
  }
  abort(reason: Error): void {
    (this.controller ??= new AbortController()).abort(reason);
  }
}
const current = new AsyncLocalStorage<ExecutionContext>();
export function currentExecution(): ExecutionContext | undefined {
  return current.getStore();
}

/** A generator or async generator object (what calling a `function*` or `async function*` gives). */
function isGenerator(v: unknown): boolean {
  if (typeof v !== "object" || v === null) return false;
  const tag = Object.prototype.toString.call(v);
  return tag === "[object Generator]" || tag === "[object AsyncGenerator]";
}

/** Executor#runHere as a plain function: AsyncLocalStorage#run passes it arguments, so no closure per task. */
function runIn(ex: Executor, spec: TaskSpec, fn: FunctionDescriptor, args: readonly Payload[]): Outcome | Promise<Outcome> {
  return ex.runHere(spec, fn, args);
}

export class Executor {
  private readonly compiled = new Map<FunctionId, any>();
  /** Tasks whose code still runs after run() returned (async code), by task id: what a cancel can reach. */
  private readonly running = new Map<string, Running>();
  private instance?: Record<string, unknown>;
  /** The namespace of the actor this worker hosts: its methods run there. */
  private instanceNamespace?: string;
  /** The job of the actor this worker hosts: its methods run for it, whoever calls. */
  private instanceJob?: string;

  /**
   * `items`: where a streaming generator's yielded values go (its worker's core worker).
   * `math` replaces the global Math inside user code (the simulator seeds Math.random), and
   * `globals` its globalThis (the simulator gives each worker its own, as each real worker is a
   * thread with its own: what one job's code leaves there, another's never sees).
   */
  constructor(
    private readonly ray: unknown, private readonly codec: Codec, private readonly items: Pick<CoreClient, "reportItem">, private readonly math: Math = Math,
    private readonly globals: typeof globalThis = globalThis,
  ) {}

  run(spec: TaskSpec, fn: FunctionDescriptor, args: readonly Payload[]): Outcome | Promise<Outcome> {
    if (spec.kind === "actor-create") {
      this.instanceNamespace = spec.namespace;
      this.instanceJob = spec.job;
    }
    const call = spec.kind === "actor-task";
    const ctx = new Running(spec.taskId, spec.actorId, call ? spec.method : undefined, call ? this.instanceNamespace : spec.namespace, call ? this.instanceJob ?? spec.job : spec.job);
    const out = current.run(ctx, runIn, this, spec, fn, args);
    if (!(out instanceof Promise)) return out;
    // Only code still running after this returns can be cancelled (a cancel arrives as an event of its own).
    this.running.set(spec.taskId, ctx);
    return out.then((o) => this.ended(ctx, o));
  }

  private ended(ctx: Running, o: Outcome): Outcome {
    if (this.running.get(ctx.taskId) === ctx) this.running.delete(ctx.taskId);
    return o;
  }

  /** ray.cancel reached a task running here: its signal aborts (code that watches it stops; other code runs on). */
  interrupt(taskId: string): void {
    this.running.get(taskId)?.abort(new TaskCancelledError(`task ${taskId} was cancelled`));
  }

  runHere(spec: TaskSpec, fn: FunctionDescriptor, args: readonly Payload[]): Outcome | Promise<Outcome> {
    let result: unknown;
    try {
      const values = new Array<unknown>(args.length);
      for (let i = 0; i < args.length; i++) values[i] = this.codec.decode(args[i]);
      if (spec.kind === "actor-task") {
        const inst = this.instance;
        const m = inst?.[spec.method!];
        // Unless the class defines one of its own, as in Ray.
        if (spec.method === TERMINATE && typeof m !== "function") throw new ActorExit(TERMINATE);
        if (typeof m !== "function") throw new TypeError(`the actor has no method "${spec.method}"`);
        result = (m as (...a: unknown[]) => unknown).apply(inst, values);
      } else {
        const f = this.compile(fn);
        if (spec.kind === "actor-create") {
          this.instance = new f(...values);
          result = undefined;
        } else result = f(...values);
      }
    } catch (e) {
      return this.failed(e, spec, fn);
    }
    if (isGenerator(result)) {
      if (spec.streaming) return this.stream(result as Generator<unknown> | AsyncGenerator<unknown>, spec, fn);
      // A handle that did not know the method is a generator (one from ray.getActor) called it as a plain method.
      return this.failed(new TypeError(`${this.label(spec, fn)} is a generator: call it with .options({ numReturns: "streaming" }) to get an ObjectRefGenerator`), spec, fn);
    }
    if (spec.streaming) {
      return this.failed(new TypeError(`${this.label(spec, fn)} was called with numReturns: "streaming" but is not a generator function (function* or async function*)`), spec, fn);
    }
    if (result !== null && typeof (result as PromiseLike<unknown>)?.then === "function") {
      return (result as Promise<unknown>).then(
        (v) => this.succeeded(v, spec, fn),
        (e) => this.failed(e, spec, fn),
      );
    }
    return this.succeeded(result, spec, fn);
  }

  /**
   * Runs a streaming generator: each value it yields is reported to the core worker as the next
   * item, and the next value is asked for only once the report is out and back-pressure allows.
   * It ends with the generator (its return value is not an item, as in Ray), with the error it
   * throws, or with a TaskCancelledError once ray.cancel reached it.
   */
  private async stream(gen: Generator<unknown> | AsyncGenerator<unknown>, spec: TaskSpec, fn: FunctionDescriptor): Promise<Outcome> {
    // Read inside the task's own context: interrupt() aborts this same signal.
    const signal = currentExecution()?.signal;
    try {
      for (let index = 0, goOn = true; ; index++) {
        if (!goOn || signal?.aborted) {
          await gen.return(undefined); // its finally blocks run, as when Python closes a generator
          throw signal?.reason ?? new TaskCancelledError(`task ${spec.taskId} was cancelled`);
        }
        const r = await gen.next();
        if (r.done) break;
        let payload: Payload;
        try {
          payload = this.codec.encode(r.value);
        } catch (e) {
          return { ok: false, error: fromThrown(e, `${this.label(spec, fn)} yielded a value that cannot be stored`) };
        }
        goOn = await this.items.reportItem(spec.taskId, spec.attempt, index, payload);
      }
    } catch (e) {
      return this.failed(e, spec, fn);
    }
    return this.succeeded(null, spec, fn);
  }

  /** What errors call the code that ran: built only when one occurs (it is a string per task). */
  private label(spec: TaskSpec, fn: FunctionDescriptor): string {
    return spec.kind === "actor-task" ? `actor method ${spec.method}` : `${spec.kind === "actor-create" ? "actor class" : "remote function"} ${fn.name}`;
  }

  private succeeded(v: unknown, spec: TaskSpec, fn: FunctionDescriptor): Outcome {
    try {
      return { ok: true, payload: this.codec.encode(v) };
    } catch (e) {
      return { ok: false, error: fromThrown(e, `${this.label(spec, fn)} returned a value that cannot be stored`) };
    }
  }

  private failed(e: unknown, spec: TaskSpec, fn: FunctionDescriptor): Outcome {
    if (e instanceof ActorExit && spec.kind === "actor-task") return { ok: false, error: { type: "ActorDiedError", message: e.message }, exit: true };
    const label = this.label(spec, fn), name = fn.name;
    if (e instanceof ReferenceError) {
      const m = /^(\S+) is not defined/.exec(e.message);
      if (m) {
        const err = new ReferenceError(
          `${name} uses "${m[1]}", which is not defined inside it. Remote functions and classes are shipped to workers ` +
            `as source, so they must be self-contained (no captured variables): pass "${m[1]}" as an argument or define it inside.`,
        );
        err.stack = e.stack;
        return { ok: false, error: fromThrown(err, label) };
      }
    }
    return { ok: false, error: fromThrown(e, label) };
  }

  private compile(fn: FunctionDescriptor): any {
    let f = this.compiled.get(fn.id);
    if (f) return f;
    try {
      f = new Function("ray", "__name", "Math", "globalThis", `"use strict";\nreturn (${fn.source});`)(this.ray, __name, this.math, this.globals);
    } catch (e) {
      throw new SyntaxError(`could not compile ${fn.name} from its source: ${(e as Error).message}`);
    }
    this.compiled.set(fn.id, f);
    return f;
  }
}
