// The dead, the most recent ones only. Ray's raylet keeps such a cache of the GCS's worker table
// and refuses a lease to a requester in it, since a request can arrive after its sender died
// (delayed on the network, or replayed to a node's next process); the GCS hands its list to
// each raylet that registers, so a raylet that joined after a death was published knows it too.
// Core workers keep one as well, to ignore what a dead worker sent before it died; the GCS and
// owners keep their latest removed placement groups in one (gcs/placement-groups.ts). Ray's GCS
// likewise keeps only its latest dead nodes and destroyed actors (gcs.ts). Bounded: a message
// older than the last `capacity` deaths is not expected.

/** The default capacity (ModelTuning.deadWorkersKept). */
export const RECENT_DEATHS_KEPT = 1024;

export class RecentDeaths<Id extends string = string> {
  /** Insertion-ordered: the one dead longest is the first to go. */
  private readonly dead = new Set<Id>();

  constructor(private readonly capacity = RECENT_DEATHS_KEPT) {}

  /** `id` died (known already: nothing changes). Returns the one this pushed out, if any. */
  add(id: Id): Id | undefined {
    if (this.dead.has(id)) return undefined;
    this.dead.add(id);
    if (this.dead.size <= this.capacity) return undefined;
    const oldest = this.dead.values().next().value!;
    this.dead.delete(oldest);
    return oldest;
  }

  /** `id` lives again (a node's next life). */
  delete(id: Id): void {
    this.dead.delete(id);
  }

  has(id: Id): boolean {
    return this.dead.has(id);
  }

  get size(): number {
    return this.dead.size;
  }

  /** Oldest first. */
  list(): Id[] {
    return [...this.dead];
  }
}
