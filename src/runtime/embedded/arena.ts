// One node's object-store memory: a SharedArrayBuffer that every worker thread maps, cut into
// 8-byte-aligned slots by a small allocator that only the main thread runs.
//
// Block layout (all offsets and sizes multiples of 8):
//   [off + 0]  int32  readers: zero-copy views alive in any thread (Atomics, see pins.ts)
//   [off + 4]  int32  reserved
//   [off + 8]  data   the payload's bytes; a Payload's `data` is a Uint8Array view of exactly these
//
// Free blocks live in segregated lists (one Set per power-of-two size class) and coalesce with
// their neighbours on free; the untouched space above `top` is the wilderness. A slot whose
// readers count is not zero when the store releases it becomes a zombie, reclaimed once the
// readers are gone (their views were garbage collected).

import { copyBytes } from "../copy-bytes.ts";

const HEADER = 8;
const MIN_BLOCK = 16;

const align8 = (n: number) => Math.ceil(n / 8) * 8;
/** Size class of a block: floor(log2(size)). Works past 2^32. */
const classOf = (size: number) => (size < 2 ** 31 ? 31 - Math.clz32(size) : Math.floor(Math.log2(size)));

export interface ArenaStats {
  readonly capacity: number;
  readonly usedBytes: number;
  readonly slots: number;
  readonly staged: number;
  readonly zombies: number;
  readonly freeBlocks: number;
  readonly top: number;
}

export class Arena {
  readonly sab: SharedArrayBuffer;
  readonly u8: Uint8Array;
  readonly i32: Int32Array;
  private top = 0;
  /** Allocated blocks: header offset → block size. */
  private readonly used = new Map<number, number>();
  /** Allocated but not yet taken by the store (a put written straight into the arena). */
  private readonly staged = new Set<number>();
  /** Released while readers still hold views. */
  private readonly zombies = new Set<number>();
  private readonly freeStart = new Map<number, number>();
  private readonly freeEnd = new Map<number, number>();
  private readonly bins: Set<number>[] = [];
  private usedBytes = 0;
  /** Size of the block `take` found (it may exceed the request by a sliver). */
  private taken = 0;

  constructor(readonly capacity: number) {
    this.capacity = align8(Math.max(MIN_BLOCK, capacity));
    this.sab = new SharedArrayBuffer(this.capacity);
    this.u8 = new Uint8Array(this.sab);
    this.i32 = new Int32Array(this.sab);
  }

  stats(): ArenaStats {
    return {
      capacity: this.capacity, usedBytes: this.usedBytes, slots: this.used.size, staged: this.staged.size,
      zombies: this.zombies.size, freeBlocks: this.freeStart.size, top: this.top,
    };
  }

  get hasZombies(): boolean { return this.zombies.size > 0; }
  /** Bytes in slots (taken, staged or zombie). */
  get bytesUsed(): number { return this.usedBytes; }

  /** Is `view` exactly a slot of this arena? */
  owns(view: Uint8Array): boolean {
    return view.buffer === this.sab && this.used.has(view.byteOffset - HEADER);
  }

  /** Copies `bytes` into a fresh slot; undefined when no free block is large enough. */
  copyIn(bytes: Uint8Array): Uint8Array | undefined {
    const view = this.alloc(bytes.byteLength);
    if (view) copyBytes(view, 0, bytes);
    return view;
  }

  /** A slot the caller fills in place and hands to the store later (`adopt`) or gives back (`unstage`). */
  stage(length: number): Uint8Array | undefined {
    const view = this.alloc(length);
    if (view) this.staged.add(view.byteOffset - HEADER);
    return view;
  }

  /** The store takes a staged slot as it is: true if `view` was staged here. */
  adopt(view: Uint8Array): boolean {
    return view.buffer === this.sab && this.staged.delete(view.byteOffset - HEADER);
  }

  /** Frees a slot that was staged and never adopted. */
  unstage(view: Uint8Array): void {
    const off = view.byteOffset - HEADER;
    if (view.buffer === this.sab && this.staged.delete(off)) this.free(off);
  }

  /** The store dropped the copy in this slot. */
  release(view: Uint8Array): void {
    if (view.buffer !== this.sab) return;
    const off = view.byteOffset - HEADER;
    if (this.used.has(off) && !this.staged.has(off)) this.free(off);
  }

  alloc(length: number): Uint8Array | undefined {
    const size = Math.max(MIN_BLOCK, align8(length + HEADER));
    let off = this.take(size);
    if (off < 0 && this.zombies.size > 0 && this.sweep() > 0) off = this.take(size);
    if (off < 0) return undefined;
    this.used.set(off, this.taken);
    this.usedBytes += this.taken;
    this.i32[off / 4] = 0;
    this.i32[off / 4 + 1] = 0;
    return new Uint8Array(this.sab, off + HEADER, length);
  }

  /** The slot at `off` has no readers left: reclaim it if the store already released it. */
  readersGone(off: number): void {
    if (this.zombies.delete(off)) this.reclaim(off);
  }

  /** Reclaims zombies whose readers are gone; returns how many. */
  sweep(): number {
    let n = 0;
    for (const off of this.zombies) {
      if (Atomics.load(this.i32, off / 4) > 0) continue;
      this.zombies.delete(off);
      this.reclaim(off);
      n++;
    }
    return n;
  }

  private free(off: number): void {
    if (Atomics.load(this.i32, off / 4) > 0) {
      this.zombies.add(off);
      return;
    }
    this.reclaim(off);
  }

  private reclaim(off: number): void {
    let size = this.used.get(off);
    if (size === undefined) return;
    this.used.delete(off);
    this.usedBytes -= size;
    let start = off;
    const before = this.freeEnd.get(start);
    if (before !== undefined) {
      const bsize = this.freeStart.get(before)!;
      this.unlink(before, bsize);
      start = before;
      size += bsize;
    }
    const after = this.freeStart.get(start + size);
    if (after !== undefined) {
      this.unlink(start + size, after);
      size += after;
    }
    if (start + size === this.top) this.top = start; // give it back to the wilderness
    else this.link(start, size);
  }

  /** Finds room for a block of `size` bytes: the segregated lists first, then the wilderness. */
  private take(size: number): number {
    const k = classOf(size);
    // First fit within the block's own class (its blocks may be smaller than `size`).
    const own = this.bins[k];
    if (own !== undefined && own.size > 0) {
      for (const off of own) {
        const s = this.freeStart.get(off)!;
        if (s >= size) return this.split(off, s, size);
      }
    }
    // Any block of a larger class fits.
    for (let j = k + 1; j < this.bins.length; j++) {
      const bin = this.bins[j];
      if (bin === undefined || bin.size === 0) continue;
      const off = bin.values().next().value as number;
      return this.split(off, this.freeStart.get(off)!, size);
    }
    if (this.top + size <= this.capacity) {
      const off = this.top;
      this.top += size;
      this.taken = size;
      return off;
    }
    return -1;
  }

  private split(off: number, blockSize: number, size: number): number {
    this.unlink(off, blockSize);
    const rest = blockSize - size;
    if (rest >= MIN_BLOCK) this.link(off + size, rest);
    else size = blockSize; // a remainder too small to track stays in the block
    this.taken = size;
    return off;
  }

  private link(off: number, size: number): void {
    this.freeStart.set(off, size);
    this.freeEnd.set(off + size, off);
    const k = classOf(size);
    let bin = this.bins[k];
    if (bin === undefined) {
      for (let j = this.bins.length; j <= k; j++) this.bins[j] = new Set();
      bin = this.bins[k];
    }
    bin.add(off);
  }

  private unlink(off: number, size: number): void {
    this.freeStart.delete(off);
    this.freeEnd.delete(off + size);
    this.bins[classOf(size)].delete(off);
  }
}
