// Course chapter "Ownership: inline and stored objects" (docs/learn/02-ownership.md).
// A small result travels back inline in the task's reply; a big one (160 kB, over the inline
// limit) is sealed in the object store of the node that ran the task; ray.put stores a value
// from the driver, which a task then takes as its argument. The driver owns all three: it counts their references and frees them.
import type { Ray } from "../../src/api/ray.ts";

export default async function ownership(ray: Ray): Promise<number[]> {
  const small = ray.remote(() => 42);
  const big = ray.remote((n: number) => new Float64Array(n).fill(1));
  const length = ray.remote((a: Float64Array) => a.length);
  const s = await ray.get(small.remote());
  const b = await ray.get(big.remote(20_000));
  const put = await ray.put(new Float64Array(20_000)); // stored by the driver in its node's store
  // Two pending tasks take it as their argument: the owner counts both uses, so dropping the
  // driver's own reference does not free the object before they ran.
  const uses = [length.remote(put), length.remote(put)];
  ray.release(put);
  const [n1, n2] = await ray.get(uses);
  return [s, b.length, n1 + n2];
}
