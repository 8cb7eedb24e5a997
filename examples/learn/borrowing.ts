// Course chapter "Borrowing" (docs/learn/03-borrowing.md). The driver puts an object and hands
// the ref, nested in an array, to an actor that keeps it. The actor is now a borrower: it
// registers with the owner (the driver), which must keep the object alive even after the
// driver drops its own reference, until the borrower lets go.
import type { Ray } from "../../src/api/ray.ts";

export default async function borrowing(ray: Ray): Promise<number> {
  class Keeper {
    kept: unknown[] = [];
    keep(refs: unknown[]): number { this.kept = refs; return refs.length; }
    async sum(): Promise<number> {
      const values = (await ray.get(this.kept as never)) as Float64Array[];
      return values[0].reduce((a, b) => a + b, 0);
    }
    // Explicit, as in the simulator a ref is let go by ray.release (or when its task ends), never
    // by garbage collection, whose timing is not deterministic.
    drop(): boolean { ray.release(this.kept as never); this.kept = []; return true; }
  }
  const keeper = ray.remote(Keeper).remote();
  const ref = await ray.put(new Float64Array(20_000).fill(2)); // stored, not inline
  await ray.get(keeper.keep.remote([ref])); // nested in an array: passed as a ref, not a value
  ray.release(ref); // the driver's own reference is gone; the borrower's keeps the object
  await ray.sleep(50);
  const total = await ray.get(keeper.sum.remote());
  await ray.get(keeper.drop.remote());
  return total;
}
