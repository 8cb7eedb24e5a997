// The simulator's randomness: one seed, split by name into independent streams (sfc32), so
// each component's choices depend only on the seed and its own history — adding a random
// draw in one place never shifts another's.

export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, stream = "") {
    let h = splitmix(seed >>> 0 ^ 0x9e3779b9);
    for (let i = 0; i < stream.length; i++) h = splitmix(h ^ stream.charCodeAt(i));
    this.a = splitmix(h ^ 1);
    this.b = splitmix(h ^ 2);
    this.c = splitmix(h ^ 3);
    this.d = 1;
    for (let i = 0; i < 12; i++) this.next();
  }

  /** A uniform 32-bit unsigned integer. */
  nextU32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** A uniform number in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** A uniform number in [lo, hi). */
  between(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** An independent stream derived from this one's seed and a name. */
  static fork(seed: number, name: string): Prng {
    return new Prng(seed, name);
  }
}

function splitmix(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}
