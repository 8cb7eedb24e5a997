// When to wait for the other thread by polling instead of sleeping. Waking a sleeping thread
// costs tens of µs on an idle VM (its vCPU halts), more than a small task; polling for a few
// µs catches the answer instead. But when the cores are busy (other processes), a polling
// thread takes the core its partner needs, and every poll times out. So: poll for up to the
// budget; an answer that came keeps the budget, a poll that timed out halves it, and once it
// is tiny, polling stops for a while and is then tried again.

export class Spinner {
  private budget: number;
  private skip = 0;

  constructor(readonly maxMicros: number) {
    this.budget = maxMicros;
  }

  /** How long to poll now, in ms (0: do not). */
  next(): number {
    if (this.maxMicros <= 0) return 0;
    if (this.skip > 0) { this.skip--; return 0; }
    return this.budget / 1000;
  }

  /** The poll got an answer. */
  hit(): void {
    this.budget = Math.min(this.maxMicros, this.budget * 2);
  }

  /** The poll timed out. */
  miss(): void {
    this.budget /= 2;
    if (this.budget < this.maxMicros / 16) {
      this.budget = this.maxMicros / 2;
      this.skip = 256;
    }
  }
}
