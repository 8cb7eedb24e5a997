// Course chapter "Spilling" (docs/learn/06-spilling.md). Run with a 400 kB object store: the
// driver puts four 160 kB arrays and keeps them all, so the store spills older primary copies
// to external storage and restores them when they are read.
import type { Ray } from "../../src/api/ray.ts";

export default async function spilling(ray: Ray): Promise<number[]> {
  const refs = [];
  for (let i = 0; i < 4; i++) refs.push(await ray.put(new Float64Array(20_000).fill(i)));
  const values = await ray.get(refs);
  return values.map((v) => v[0]);
}
