// One node's object store: immutable sealed objects, a byte capacity, primary copies pinned
// for their owner, secondary copies evictable in LRU order, primaries spilled when memory runs
// out. This class only keeps the books; the raylet turns its decisions into effects.

import type { ObjectId, Payload } from "./types.ts";

interface Entry {
  readonly payload: Payload;
  /** The copy the owner relies on: never evicted, only spilled. */
  readonly primary: boolean;
  /** Readers (task arguments being staged, gets being served) that need it in memory. */
  inUse: number;
}

export interface SpilledEntry {
  readonly size: number;
  readonly hash: string;
}

export type PutOutcome =
  | { readonly ok: true; readonly evicted: readonly ObjectId[]; readonly spilled: readonly [ObjectId, Payload][] }
  | { readonly ok: false };

export class ObjectStore {
  /** In memory; Map order is LRU order (a touch re-inserts at the end). */
  private readonly mem = new Map<ObjectId, Entry>();
  /** Primary copies living in external storage. */
  readonly spilledCopies = new Map<ObjectId, SpilledEntry>();
  private used = 0;

  constructor(readonly capacity: number) {}

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
   * and then spilling primaries that nobody is reading. Fails, changing nothing, if even that
   * cannot make room; an object larger than the whole store is spilled straight away.
   */
  put(id: ObjectId, payload: Payload, primary: boolean): PutOutcome {
    if (this.mem.has(id) || (primary && this.spilledCopies.has(id))) return { ok: true, evicted: [], spilled: [] };
    const need = payload.size;
    if (need > this.capacity) {
      if (!primary) return { ok: false };
      this.spilledCopies.set(id, { size: need, hash: payload.hash });
      return { ok: true, evicted: [], spilled: [[id, payload]] };
    }
    let free = this.capacity - this.used;
    if (free < need) {
      // Plan first so that a failed put leaves the store untouched.
      const evict: ObjectId[] = [];
      const spill: ObjectId[] = [];
      for (const [oid, e] of this.mem) {
        if (free >= need) break;
        if (e.inUse === 0 && !e.primary) { evict.push(oid); free += e.payload.size; }
      }
      for (const [oid, e] of this.mem) {
        if (free >= need) break;
        if (e.inUse === 0 && e.primary) { spill.push(oid); free += e.payload.size; }
      }
      if (free < need) return { ok: false };
      for (const oid of evict) this.remove(oid);
      const spilled: [ObjectId, Payload][] = [];
      for (const oid of spill) {
        const e = this.mem.get(oid)!;
        this.remove(oid);
        this.spilledCopies.set(oid, { size: e.payload.size, hash: e.payload.hash });
        spilled.push([oid, e.payload]);
      }
      this.insert(id, payload, primary);
      return { ok: true, evicted: evict, spilled };
    }
    this.insert(id, payload, primary);
    return { ok: true, evicted: [], spilled: [] };
  }

  /** Drops every copy of `id` here (memory and spilled). Returns whether one was spilled. */
  delete(id: ObjectId): { inMemory: boolean; spilled: boolean } {
    const inMemory = this.remove(id);
    const spilled = this.spilledCopies.delete(id);
    return { inMemory, spilled };
  }

  private insert(id: ObjectId, payload: Payload, primary: boolean): void {
    this.mem.set(id, { payload, primary, inUse: 0 });
    this.used += payload.size;
  }

  private remove(id: ObjectId): boolean {
    const e = this.mem.get(id);
    if (!e) return false;
    this.mem.delete(id);
    this.used -= e.payload.size;
    return true;
  }
}
