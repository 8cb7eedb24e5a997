// Course chapter "GCS restart" (docs/learn/09-gcs-restart.md). A named actor is created; the
// fault plan crashes the GCS at 50 ms and starts it again from its persisted tables. The actor
// keeps running through the outage, and after recovery the GCS still knows it by name.
import type { Ray } from "../../src/api/ray.ts";

export default async function gcsRestart(ray: Ray): Promise<number[]> {
  class Counter {
    n = 0;
    add(): number { return ++this.n; }
  }
  const c = ray.remote(Counter, { name: "counter" }).remote();
  const first = await ray.get(c.add.remote());
  await ray.sleep(1000); // the GCS restarts meanwhile
  const again = await ray.getActor<Counter>("counter");
  return [first, await ray.get(again.add.remote())];
}
