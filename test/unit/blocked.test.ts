// A blocked program's error says what each process waits on and where the task or call that
// would make it stands; an actor that waits on one of its own calls (the classic actor
// deadlock, which hangs in Ray too) is named as the program's own deadlock.

import assert from "node:assert/strict";
import { test } from "node:test";
import { simulate } from "../../sim/simulate.ts";
import type { Ray } from "../../src/api/ray.ts";

/** An actor whose method gets a call to the actor itself (through its own handle). */
function selfCaller(options: object, via: "same" | "io") {
  return async (ray: Ray) => {
    class Loop {
      async outer(self: { inner: { remote(): unknown; options(o: object): { remote(): unknown } } }, via: string): Promise<number> {
        const call = via === "io" ? self.inner.options({ concurrencyGroup: "io" }).remote() : self.inner.remote();
        return (await ray.get(call as never)) as number;
      }
      inner(): number { return 1; }
    }
    const a = ray.remote(Loop, options).remote();
    return ray.get(a.outer.remote(a, via));
  };
}

test("an actor whose only slot waits on its own queued call: the error names the deadlock", async () => {
  const r = await simulate({ seed: 1, nodes: 1, program: selfCaller({ maxConcurrency: 1 }, "same"), check: false });
  const lines = r.error?.message.split("\n") ?? [];
  assert.match(lines[0], /the program is blocked since virtual time/);
  const driver = lines.find((l) => l.startsWith("  head/driver waits on"));
  assert.match(driver ?? "", /call head\/driver#\d+ \(outer\), RUNNING by its owner's record; on head\/w\S+: running$/, "the driver waits on outer, which runs");
  const actor = lines.find((l) => / \(actor head\/driver#\d+\) waits on /.test(l));
  assert.match(actor ?? "", /\(inner\), [A-Z_]+ by its owner's record; on head\/w\S+: queued in its default group \(1 of 1 slots taken, 0 calls ahead\): the actor waits on one of its own calls.*a deadlock in the program/);
});

test("the same call sent to a concurrency group with a free slot runs: no deadlock", async () => {
  const r = await simulate({ seed: 1, nodes: 1, program: selfCaller({ maxConcurrency: 1, concurrencyGroups: { io: 1 } }, "io"), check: false });
  assert.equal(r.error, undefined, r.error?.message);
  assert.equal(r.result, 1);
});
