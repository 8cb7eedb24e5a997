// Workers (and drivers) known to have died, the most recent ones only: Ray's raylet keeps such
// a cache of the GCS's worker table and refuses a lease to a requester in it, since a request
// can arrive after its sender died (delayed on the network, or replayed to a node's next
// process). The GCS hands its list to each raylet that registers, so a raylet that joined after
// a death was published knows it too. Bounded: a request older than the last `capacity` deaths
// is not expected.

import type { Addr } from "./types.ts";

const RECENT_DEATHS_KEPT = 1024;

export class RecentDeaths {
  /** Insertion-ordered: the oldest death is the first to go. */
  private readonly dead = new Set<Addr>();

  constructor(private readonly capacity = RECENT_DEATHS_KEPT) {}

  add(worker: Addr): void {
    if (this.dead.has(worker)) return;
    this.dead.add(worker);
    if (this.dead.size > this.capacity) this.dead.delete(this.dead.values().next().value!);
  }

  has(worker: Addr): boolean {
    return this.dead.has(worker);
  }

  get size(): number {
    return this.dead.size;
  }

  /** Oldest first. */
  list(): Addr[] {
    return [...this.dead];
  }
}
