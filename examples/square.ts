// The seed article's first example: a remote function called five times in parallel.
// Run it: `tsray sim examples/square.ts --seed 1 --nodes 4`  →  [0, 1, 4, 9, 16]
import type { Ray } from "../src/api/ray.ts";

export default async function square(ray: Ray): Promise<number[]> {
  // A remote function is shipped to workers as source: it must not capture outside variables.
  const square = ray.remote((x: number) => x * x);
  const refs = [0, 1, 2, 3, 4].map((i) => square.remote(i));
  return ray.get(refs);
}
