// A streaming generator: a remote generator function gives an ObjectRefGenerator, and the caller
// gets a ref to each value as the task yields it, before the task ends (Ray's
// num_returns="streaming", the default for generators). With generatorBackpressureNumObjects the
// task pauses while that many of its values wait unread. An error the generator throws is its
// last item: that item's get throws.
// Run it: `tsray sim examples/streaming-generator.ts --seed 1 --nodes 2`
//   →  { squares: [0, 1, 4, 9, 16], firstBeforeLast: true, failing: ["ok", "error: bad chunk"] }
import type { Ray } from "../src/api/ray.ts";

export default async function streamingGenerator(ray: Ray) {
  const squares = ray.remote(async function* squares(n: number) {
    for (let i = 0; i < n; i++) {
      await ray.sleep(10); // a chunk of work
      yield i * i;
    }
  }, { generatorBackpressureNumObjects: 2 });
  const gen = squares.remote(5);
  const seen: number[] = [];
  for await (const ref of gen) {
    seen.push(await ray.get(ref));
    await ray.sleep(30); // a slow reader: the task waits for it rather than run ahead
  }

  // The first item is the caller's while the task still waits for the caller's go-ahead.
  class Go { open = false; async set() { this.open = true; } async wait() { while (!this.open) await ray.sleep(5); } }
  const go = ray.remote(Go).remote();
  const twoSteps = ray.remote(async function* twoSteps(g: any) { yield "first"; await ray.get(g.wait.remote()); yield "last"; });
  const steps = twoSteps.remote(go);
  const first = await steps.next();
  const firstBeforeLast = !first.done && (await ray.get(first.value)) === "first";
  await ray.get(go.set.remote());
  for await (const ref of steps) await ray.get(ref);

  const failing = ray.remote(function* failing() { yield "ok"; throw new Error("bad chunk"); }, { maxRetries: 0 });
  const items: string[] = [];
  for await (const ref of failing.remote()) {
    try { items.push(await ray.get(ref)); } catch (e) { items.push(`error: ${((e as Error).cause as Error).message}`); }
  }
  return { squares: seen, firstBeforeLast, failing: items };
}
