// The seed article's third example: object refs passed as arguments. The outer call waits
// for both inner results; the program never fetches the intermediate values itself.
// Run it: `tsray sim examples/add.ts --seed 1 --nodes 4`  →  10
import type { Ray } from "../src/api/ray.ts";

export default async function add(ray: Ray): Promise<number> {
  const add = ray.remote((x: number, y: number) => x + y);
  const a = add.remote(1, 2);
  const b = add.remote(3, 4);
  return ray.get(add.remote(a, b));
}
