// A first-in first-out queue with O(1) shift: Array#shift is linear on large arrays, and a
// scheduling class can hold a hundred thousand queued tasks.

export class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number { return this.items.length - this.head; }

  push(x: T): void { this.items.push(x); }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const x = this.items[this.head];
    this.items[this.head++] = undefined;
    // Emptied: start over, rather than keep the consumed slots of a queue that is idle for now.
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      // Compact once the consumed prefix dominates, keeping the amortized cost O(1).
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return x;
  }

  /** The i-th item from the front. */
  at(i: number): T | undefined { return this.items[this.head + i]; }

  /** Removes `x` wherever it is; false if absent. Linear, for the rare out-of-order case. */
  remove(x: T): boolean {
    const i = this.items.indexOf(x, this.head);
    if (i < 0) return false;
    if (i === this.head) { this.shift(); return true; }
    this.items.splice(i, 1);
    return true;
  }

  /** Removes and returns everything, in order. */
  drain(): T[] {
    const out = this.items.slice(this.head) as T[];
    this.items = [];
    this.head = 0;
    return out;
  }
}
