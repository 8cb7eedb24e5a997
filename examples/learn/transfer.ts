// Course chapter "Object transfer" (docs/learn/05-object-transfer.md). A 160 kB array is made on
// node-1 and read by a task pinned to node-2: node-2's raylet asks the owner where the object
// is, pulls it from node-1 in chunks and reports its new copy to the owner.
import type { Ray } from "../../src/api/ray.ts";

export default async function transfer(ray: Ray): Promise<number> {
  const make = ray.remote((n: number) => new Float64Array(n).fill(3)).options({ schedulingStrategy: { nodeId: "node-1", soft: false } });
  const sum = ray.remote((a: Float64Array) => a.reduce((x, y) => x + y, 0)).options({ schedulingStrategy: { nodeId: "node-2", soft: false } });
  return ray.get(sum.remote(make.remote(20_000)));
}
