// The seed article's second example: an actor keeps state between calls.
// Run it: `tsray sim examples/counter.ts --seed 1 --nodes 4`  →  [1, 2]
import type { Ray } from "../src/api/ray.ts";

export default async function counter(ray: Ray): Promise<number[]> {
  const Counter = ray.remote(
    class Counter {
      count = 0;
      increment() {
        this.count += 1;
        return this.count;
      }
    },
  );
  const c = Counter.remote();
  // Calls from one caller run in the order they were submitted, one at a time.
  const first = await ray.get(c.increment.remote());
  const second = await ray.get(c.increment.remote());
  return [first, second];
}
