// The trace event schema shared by every host (simulator, embedded cluster, daemons).
// One JSON object per event, one per line in a `.jsonl` file. Models emit these through
// their effect port; the host stamps `t` (virtual ms in the simulator, wall-clock ms elsewhere)
// and `node`, then writes them. The invariant checkers in spec/invariants read nothing else.

export type TraceEvent = { t: number; node: string } & TraceBody;

/** What a model emits; the host adds `t` and `node`. */
export type TraceBody =
  // --- cluster membership --------------------------------------------------------------
  | { kind: "node.registered"; comp: "gcs"; id: string; resources: Resources }
  | { kind: "node.dead"; comp: "gcs"; id: string; reason: string }
  /** A node learned it was declared dead and killed its workers (no split brain). */
  | { kind: "node.fenced"; comp: "raylet"; id: string }
  | { kind: "worker.died"; comp: "raylet"; worker: string }
  | { kind: "gcs.recovered"; comp: "gcs"; nodes: number; actors: number; nodeIds?: readonly string[]; actorIds?: readonly string[] }
  // The host's oracle, as a GCS restarts: the node and actor rows its storage acknowledged.
  | { kind: "storage.acknowledged"; comp: "host"; nodes: readonly string[]; actors: readonly string[] }
  /** The GCS declared a driver gone (it exited, or its link stayed down past the grace period). */
  | { kind: "driver.dead"; comp: "gcs"; driver: string }
  // --- leases: a worker's resources are held from grant to return ------------------------
  /** `bundle`: granted inside a placement group's bundle (charged to the bundle, not the node). */
  /**
   * `actor`: the lease hosts that actor for its life (its worker dies with it); `task` is the
   * creation it was asked for (`<actor>:create:<epoch>`): a grant for an incarnation already over
   * is given back and its worker destroyed.
   */
  /**
   * `holder`: the core worker (or, for an actor's creation, the GCS) the lease is granted to.
   * `job`: the job whose work it runs (a driver's address, or a detached actor's id: core/types.ts, JobId); a worker serves one job only.
   */
  | { kind: "lease.granted"; comp: "raylet"; lease: string; worker: string; resources: Resources; holder?: string; job: string; bundle?: string; actor?: string; task?: string }
  | { kind: "lease.returned"; comp: "raylet"; lease: string; worker: string; resources: Resources }
  /** A raylet heard that `job` ended (its driver died) and kills its `workers` here, idle or leased (each then traced `worker.died`). */
  | { kind: "job.ended"; comp: "raylet"; job: string; workers: readonly string[] }
  // --- placement groups: a bundle's resources are held from reservation to release ----------
  | { kind: "bundle.reserved"; comp: "raylet"; bundle: string; resources: Resources }
  | { kind: "bundle.released"; comp: "raylet"; bundle: string; resources: Resources }
  /** A group's state in the GCS; `nodes` (each bundle's node) and `strategy` once CREATED. */
  | { kind: "pg.state"; comp: "gcs"; pg: string; state: string; strategy?: string; nodes?: readonly string[] }
  // --- jobs submitted to the head (Jobs API) ---------------------------------------------
  /** A submitted job's status changed in the head's job manager (src/core/lifecycle/job.ts). */
  | { kind: "job.state"; comp: "head"; job: string; state: string }
  /**
   * Where the program asked a task (or an actor) to run, when a group is involved: `pg` (and
   * `capture`: its children inherit the group), as named; or `parent`: it named no strategy and
   * was submitted by task or actor `parent`, which runs in a group (it inherits it if that one captures).
   */
  | { kind: "placement.asked"; comp: "owner"; task?: string; actor?: string; pg?: string; capture?: true; parent?: string }
  // --- tasks -----------------------------------------------------------------------------
  /** `args`: the objects its arguments pass that its owner owns; `borrowed`: those it borrowed (owned elsewhere). */
  | { kind: "task.submitted"; comp: "owner"; task: string; fn: string; owner: string; returns: string; args: readonly string[]; maxRetries: number; actor?: string; caller?: string; seq?: number; borrowed?: readonly string[] }
  | { kind: "task.spillback"; comp: "raylet"; task: string; to: string }
  /** A warning: no live node can ever meet the demand, so it waits for one that can to join (as Ray's pending demands). */
  | { kind: "task.infeasible"; comp: "raylet" | "gcs"; task: string; resources: Resources; reason: string; cluster: readonly Resources[] }
  /**
   * `concurrent`: a call of an actor that runs calls at once (an async actor's, or one with
   * concurrency groups), which may start before an earlier one (Ray orders only sync actors'
   * calls); `limit`: how many calls of its group may run at once on the worker, `group` (absent:
   * the default group) the concurrency group it runs in.
   */
  | { kind: "task.started"; comp: "worker"; task: string; worker: string; attempt: number; actor?: string; caller?: string; seq?: number; epoch?: number; concurrent?: true; limit?: number; group?: string }
  /**
   * `ownsRefs`: the value holds refs the worker itself owns (it made them: a put, a call). Their ids
   * name the worker, so another attempt's value has other bytes, as in Ray, whose refs carry their owner's address.
   */
  | { kind: "task.finished"; comp: "worker"; task: string; worker: string; attempt: number; ok: boolean; hash: string; error?: string; ownsRefs?: true }
  /** `uncharged`: a new attempt that the task's retry budget does not pay for (the failure was not its own). */
  | { kind: "task.retry"; comp: "owner"; task: string; attempt: number; reason: string; uncharged?: true }
  | { kind: "task.failed"; comp: "owner"; task: string; error: string }
  /** ray.cancel reached the task's owner while the task was pending or running (`worker`: the one a forced cancel destroys). */
  | { kind: "task.cancelled"; comp: "owner"; task: string; force: boolean; worker?: string }
  /** A caller accepted the result of an actor call, answered by incarnation `epoch`. */
  | { kind: "actor.result"; comp: "owner"; task: string; actor: string; caller: string; epoch: number }
  // --- objects ---------------------------------------------------------------------------
  /** A value became available: in the owner's memory (`inline`) or a node's store. */
  | { kind: "object.created"; comp: "owner" | "store"; obj: string; size: number; hash: string; where: "inline" | "store"; primary?: boolean }
  /**
   * A node's store dropped its copy (`evicted` = an unpinned secondary copy under pressure;
   * `orphaned` = a copy its owner never heard of, from an attempt whose worker died).
   */
  | { kind: "object.deleted"; comp: "store"; obj: string; reason: "freed" | "evicted" | "orphaned" | "node-died" | "owner-died" }
  | { kind: "object.spilled"; comp: "store"; obj: string }
  | { kind: "object.restored"; comp: "store"; obj: string }
  | { kind: "object.transferred"; comp: "raylet"; obj: string; from: string; size: number }
  /** The owner's reference count reached zero: from here on nobody may read the object. */
  | { kind: "object.out-of-scope"; comp: "owner"; obj: string }
  /** `borrower` took its first hold on a ref it does not own (and registered with `owner`). */
  | { kind: "ref.borrowed"; comp: "owner"; obj: string; borrower: string; owner: string }
  /** `borrower` dropped its last hold (and told `owner`). */
  | { kind: "ref.unborrowed"; comp: "owner"; obj: string; borrower: string; owner: string }
  /** `owner` ended (a driver's exit): what it owned is freed, borrowed or not, as in Ray. */
  | { kind: "owner.exited"; comp: "owner"; owner: string }
  | { kind: "object.lost"; comp: "owner"; obj: string }
  /** A program-visible read: `ray.get` returned (or a task read an argument). */
  | { kind: "object.read"; comp: "owner" | "worker"; obj: string; hash: string; reader: string }
  | { kind: "get.failed"; comp: "owner"; obj: string; error: string; reader: string }
  // --- actors ----------------------------------------------------------------------------
  | { kind: "actor.state"; comp: "gcs"; actor: string; state: string; worker?: string; at?: string; epoch: number }
  /**
   * `ray.kill(actor)`: the program's own doing explains the ActorDiedErrors that follow. Killed for
   * good (`noRestart`), the killer's later calls fail at once, before the GCS's news.
   */
  | { kind: "actor.killed"; comp: "owner"; actor: string; caller: string; noRestart: boolean }
  /**
   * Every handle to the actor went out of scope at its owner (no copy held by its program, by a
   * borrower, or by a pending call): the owner asks the GCS to end it for good.
   */
  | { kind: "actor.out-of-scope"; comp: "owner"; actor: string; owner: string }
  /** Incarnation `epoch` of the actor called ray.exitActor() in method `method`: it ends for good. */
  | { kind: "actor.exited"; comp: "worker"; actor: string; worker: string; epoch: number; method: string }
  /** The GCS took an actor's registration: its name (unique within `namespace`), and whether it outlives its owner. */
  /** `args`: the objects its constructor's arguments pass (as arguments or nested in their values): in use until the actor is dead. */
  | { kind: "actor.registered"; comp: "gcs"; actor: string; owner: string; detached: boolean; name?: string; namespace?: string; args?: readonly string[] }
  /** `ray.getActor(name, { namespace })` answered: the actor found, if any. */
  | { kind: "actor.lookup"; comp: "owner"; caller: string; name: string; namespace: string; found?: string }
  // --- streaming generators (Ray's ObjectRefGenerator) ---------------------------------------
  /** The owner recorded item `index` of streaming generator task `task` (reported by attempt `attempt`) as object `obj`. */
  | { kind: "generator.item"; comp: "owner"; task: string; index: number; obj: string; attempt: number; hash: string }
  /** A report of an item the owner already has (a retried attempt yielding it again): dropped. */
  | { kind: "generator.duplicate"; comp: "owner"; task: string; index: number; attempt: number }
  /** The stream ended with `items` items; `error`: the last one, object `obj`, is the task's error (its type). */
  | { kind: "generator.end"; comp: "owner"; task: string; items: number; error?: string; obj?: string }
  /** The executor reported item `index` of a generator with back-pressure bound `bound`, knowing `consumed` of its items consumed. */
  | { kind: "generator.reported"; comp: "worker"; task: string; attempt: number; index: number; consumed: number; bound: number }
  /** The executor paused generator `task` after `reported` items: `consumed` of them were consumed (back-pressure). */
  | { kind: "generator.paused"; comp: "worker"; task: string; attempt: number; reported: number; consumed: number }
  /** Attempt `attempt` of `task` yielded item `index` (object `obj`) again after every copy of it was lost: the owner keeps its new copy (lineage reconstruction). */
  | { kind: "generator.restored"; comp: "owner"; task: string; index: number; obj: string; attempt: number; hash: string }
  // --- the host's own marks --------------------------------------------------------------
  /** An injected fault; `until` is when a windowed fault (partition, pause, …) heals. */
  | { kind: "fault"; comp: "host"; fault: string; detail?: string; until?: number }
  /** The program returned (or threw) and then every reference it held was dropped. */
  | { kind: "program.end"; comp: "host"; ok: boolean }
  /** The cluster was quiet after program.end: stores should be empty now. */
  | { kind: "cluster.quiet"; comp: "host" }
  // --- autoscaling -------------------------------------------------------------------------
  /** A node's answer to the autoscaler's drain: accepted (it is removed), or refused with what it holds. */
  | { kind: "node.drain"; comp: "gcs"; id: string; accepted: boolean; reason: string }
  /** The autoscaler asked its provider for a node of `group` (`launch` names the request). */
  | { kind: "autoscaler.launch"; comp: "autoscaler"; launch: string; group: string; reason: string }
  /** The provider started the node of a launch (it joins when its raylet registers). */
  | { kind: "autoscaler.started"; comp: "autoscaler"; launch: string; group: string; id: string }
  | { kind: "autoscaler.launch-failed"; comp: "autoscaler"; launch: string; group: string; reason: string }
  /** The autoscaler asked the GCS to drain an idle node. */
  | { kind: "autoscaler.drain"; comp: "autoscaler"; id: string; group: string; reason: string }
  /** The provider stopped a drained (or dead) node. */
  | { kind: "autoscaler.terminated"; comp: "autoscaler"; id: string; group: string; reason: string }
  // --- messages (optional: a host writes them only when asked, e.g. `tsray sim --messages`) --
  /** A message handed to process `to` (sent by `from` at `sent`); heartbeats and views are left out. */
  | { kind: "msg"; comp: "host"; from: string; to: string; type: string; sent: number; about?: string };

export type TraceKind = TraceBody["kind"];
export type Resources = Record<string, number>;

/**
 * The trace hash that determinism is judged by: FNV-1a style (two lanes) over every event's fields
 * in order (strings, numbers, nested values), fed one event at a time so a host can hash a
 * trace it does not keep, without building its JSON text. A key goes in as a fingerprint (its
 * length, first and last characters): keys only tell apart which of a kind's optional fields
 * are present, and hashing them in full was a quarter of the simulator's hashing time. Strings
 * go in two UTF-16 units per round (half the multiplications: ids are most of a trace's text),
 * and the digest ends with a finalizer that spreads every input bit over the output.
 */
// Scratch space to hash a double's bits.
const F64 = new Float64Array(1);
const U32 = new Uint32Array(F64.buffer);

export class TraceHasher {
  private h1 = 0x811c9dc5;
  private h2 = 0x01000193 ^ 0x5bd1e995;

  private str(x: string): void {
    let h1 = this.h1, h2 = this.h2;
    const n = x.length;
    let i = 0;
    for (; i + 1 < n; i += 2) {
      const c = x.charCodeAt(i) | (x.charCodeAt(i + 1) << 16);
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    }
    if (i < n) {
      const c = x.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    }
    // The length ends the string, so "ab"+"c" and "a"+"bc" differ.
    this.h1 = Math.imul(h1 ^ n ^ 0xff00, 0x01000193);
    this.h2 = h2;
  }

  private key(k: string): void {
    const c = k.length | (k.charCodeAt(0) << 8) | (k.charCodeAt(k.length - 1) << 16);
    this.h1 = Math.imul(this.h1 ^ c, 0x01000193);
    this.h2 = Math.imul(this.h2 ^ c, 0x5bd1e995);
  }

  private num(x: number): void {
    F64[0] = x;
    this.h1 = Math.imul(this.h1 ^ U32[0], 0x01000193);
    this.h2 = Math.imul(this.h2 ^ U32[1], 0x5bd1e995);
  }

  private value(v: unknown): void {
    switch (typeof v) {
      case "string": return this.str(v);
      case "number": return this.num(v);
      case "boolean": return this.num(v ? 1 : 0);
      case "object":
        if (v === null) return this.str("null");
        if (Array.isArray(v)) {
          this.num(v.length);
          for (let i = 0; i < v.length; i++) this.value(v[i]);
          return;
        }
        return this.fields(v as Record<string, unknown>);
      default:
        return; // undefined: absent
    }
  }

  /** An object's fields in order; strings and numbers (most of an event) without a call to `value`. */
  private fields(v: Record<string, unknown>): void {
    for (const k in v) {
      const x = v[k];
      if (x === undefined) continue; // as JSON would drop it
      this.key(k);
      if (typeof x === "string") this.str(x);
      else if (typeof x === "number") this.num(x);
      else this.value(x);
    }
  }

  /** Adds one event given as its stamp and its body (so the host need not merge them). */
  add(t: number, node: string, body: object): void {
    this.num(t);
    this.str(node);
    this.fields(body as Record<string, unknown>);
    this.h1 = Math.imul(this.h1 ^ 10, 0x01000193);
  }

  digest(): string {
    return hex(fmix(this.h1 ^ this.h2)) + hex(fmix(this.h2 + Math.imul(this.h1, 0x9e3779b9)));
  }
}

/** murmur3's 32-bit finalizer. */
function fmix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function hex(h: number): string {
  return h.toString(16).padStart(8, "0");
}

export function hashEvents(events: readonly TraceEvent[]): string {
  const h = new TraceHasher();
  for (const e of events) {
    const { t, node, ...body } = e;
    h.add(t, node, body);
  }
  return h.digest();
}

export function parseTrace(text: string): TraceEvent[] {
  const out: TraceEvent[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "") continue;
    let e: unknown;
    try {
      e = JSON.parse(line);
    } catch (err) {
      throw new Error(`trace line ${i + 1} is not JSON: ${(err as Error).message}`);
    }
    if (typeof e !== "object" || e === null || typeof (e as TraceEvent).kind !== "string" || typeof (e as TraceEvent).t !== "number") {
      throw new Error(`trace line ${i + 1} is not a trace event (needs numeric "t" and string "kind")`);
    }
    out.push(e as TraceEvent);
  }
  return out;
}

/**
 * Like parseTrace, but a last line that is not complete JSON (a process killed while writing
 * its trace) is dropped and reported instead of failing the whole file.
 */
export function parseTraceTolerant(text: string): { events: TraceEvent[]; torn: boolean } {
  const end = text.trimEnd();
  const cut = end.lastIndexOf("\n");
  const last = end.slice(cut + 1);
  let torn = false;
  try {
    if (last !== "") JSON.parse(last);
  } catch {
    torn = true;
  }
  return { events: parseTrace(torn ? end.slice(0, cut + 1) : text), torn };
}

/** One history from the traces of several processes: merged by time, stable within a file. */
export function mergeTraces(traces: readonly (readonly TraceEvent[])[]): TraceEvent[] {
  const all: { e: TraceEvent; f: number; i: number }[] = [];
  traces.forEach((events, f) => events.forEach((e, i) => all.push({ e, f, i })));
  all.sort((a, b) => a.e.t - b.e.t || a.f - b.f || a.i - b.i);
  return all.map((x) => x.e);
}

export function formatTrace(events: readonly TraceEvent[]): string {
  let s = "";
  for (const e of events) s += JSON.stringify(e) + "\n";
  return s;
}
