// One node's object store: immutable sealed objects, a byte capacity, primary copies pinned
// for their owner, secondary copies evictable in LRU order, primaries spilled when memory runs
// out. This class only keeps the books; the raylet turns its decisions into effects.

import type { StoreMemory } from "./effects.ts";
import type { ObjectId, Payload } from "./types.ts";

interface Entry {
  readonly payload: Payload;
  /** The copy the owner relies on: never evicted, only spilled. */
  primary: boolean;
  /** Readers (task arguments being staged, gets being served) that need it in memory. */
  inUse: number;
}

export interface SpilledEntry {
  readonly size: number;
  readonly hash: string;
}

/** What a put did: whether it stored the object, and what it pushed out to make room. */
export interface PutOutcome {
  readonly ok: boolean;
  readonly evicted: readonly ObjectId[];
  readonly spilled: readonly ObjectId[];
}

const NOTHING: PutOutcome = { ok: false, evicted: [], spilled: [] };
const DONE: PutOutcome = { ok: true, evicted: [], spilled: [] };

/** Where the store writes a primary copy it spills (the raylet's spill effect). */
export interface SpillPort {
  spill(id: ObjectId, payload: Payload): void;
}

export class ObjectStore {
  /** In memory; Map order is LRU order (a touch re-inserts at the end). */
  private readonly mem = new Map<ObjectId, Entry>();
  /** Primary copies living in external storage. */
  readonly spilledCopies = new Map<ObjectId, SpilledEntry>();
  private used = 0;

  /** `memory.spill` must copy a primary out before it returns: its memory is released right after. */
  constructor(
    readonly capacity: number,
    private readonly memory: StoreMemory & SpillPort,
    /** Seeded bug for mutation tests: primaries evicted like secondary copies. */
    private readonly evictPrimaries = false,
  ) {}

  get usedBytes(): number { return this.used; }
  get count(): number { return this.mem.size; }
  has(id: ObjectId): boolean { return this.mem.has(id); }
  isSpilled(id: ObjectId): boolean { return this.spilledCopies.has(id); }
  holds(id: ObjectId): boolean { return this.mem.has(id) || this.spilledCopies.has(id); }
  isPrimary(id: ObjectId): boolean { return this.mem.get(id)?.primary ?? this.spilledCopies.has(id); }
  ids(): IterableIterator<ObjectId> { return this.mem.keys(); }

  /** Reads a copy in memory and marks it recently used. */
  read(id: ObjectId): Payload | undefined {
    const e = this.mem.get(id);
    if (!e) return undefined;
    this.mem.delete(id);
    this.mem.set(id, e);
    return e.payload;
  }

  pin(id: ObjectId): void { const e = this.mem.get(id); if (e) e.inUse++; }
  unpin(id: ObjectId): void { const e = this.mem.get(id); if (e && e.inUse > 0) e.inUse--; }

  /**
   * Inserts a sealed object, making room by evicting unpinned secondary copies (oldest first)
   * and then spilling primaries that nobody is reading. If even that cannot make room it fails
   * and changes nothing; an object larger than the whole store is spilled straight away.
   */
  put(id: ObjectId, payload: Payload, primary: boolean): PutOutcome {
    const held = this.mem.get(id);
    if (held !== undefined) {
      // A primary put of an object held here as a secondary copy (pulled for a task's argument,
      // say, before a retry or a re-run made it here again) makes that copy the primary: the
      // owner relies on it from now on, and an evictable copy would be lost under its feet. Ray's
      // raylet likewise pins the copy it has when the owner asks.
      if (primary) held.primary = true;
      return DONE;
    }
    if (primary && this.spilledCopies.has(id)) return DONE;
    const need = payload.size;
    if (need > this.capacity) {
      if (!primary) return NOTHING;
      this.memory.spill(id, payload);
      this.spilledCopies.set(id, { size: need, hash: payload.hash });
      return { ok: true, evicted: [], spilled: [id] };
    }
    const evicted: ObjectId[] = [];
    const spilled: ObjectId[] = [];
    let free = this.capacity - this.used;
    if (free < need) {
      // Plan first so that a put that cannot fit leaves the store untouched.
      for (const [oid, e] of this.mem) {
        if (free >= need) break;
        if (e.inUse === 0 && (!e.primary || this.evictPrimaries)) { evicted.push(oid); free += e.payload.size; }
      }
      for (const [oid, e] of this.mem) {
        if (free >= need) break;
        if (e.inUse === 0 && e.primary && !evicted.includes(oid)) { spilled.push(oid); free += e.payload.size; }
      }
      if (free < need) return NOTHING;
      for (const oid of evicted) this.remove(oid);
      for (const oid of spilled) {
        const e = this.mem.get(oid)!;
        this.memory.spill(oid, e.payload);
        this.remove(oid);
        this.spilledCopies.set(oid, { size: e.payload.size, hash: e.payload.hash });
      }
    }
    const stored = this.memory.admit(payload);
    if (!stored) return { ok: false, evicted, spilled }; // the host's memory is fragmented: retry later
    this.mem.set(id, { payload: stored, primary, inUse: 0 });
    this.used += need;
    return { ok: true, evicted, spilled };
  }

  /** Drops every copy of `id` here (memory and spilled). Returns whether one was spilled. */
  delete(id: ObjectId): { inMemory: boolean; spilled: boolean } {
    const inMemory = this.remove(id);
    const spilled = this.spilledCopies.delete(id);
    return { inMemory, spilled };
  }

  private remove(id: ObjectId): boolean {
    const e = this.mem.get(id);
    if (!e) return false;
    this.mem.delete(id);
    this.used -= e.payload.size;
    this.memory.release(e.payload);
    return true;
  }
}
