// Back-pressure of streaming generators (Ray's `_generator_backpressure_num_objects`): an
// executor whose generator has a bound of n never reports an item while n of its items are
// unconsumed as far as it knows (the owner's GeneratorAck tells it). Read from the executor's
// `generator.reported` events, which carry what it knew when it let the code yield the item.
import { violationAt, type Checker, type Violation } from "./types.ts";

const NAME = "backpressure";

export const checkBackpressure: Checker = (events) => {
  const out: Violation[] = [];
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    if (e.kind !== "generator.reported") continue;
    const unconsumed = e.index + 1 - e.consumed;
    if (unconsumed > e.bound) {
      out.push(violationAt(NAME, events, i,
        `attempt ${e.attempt} of streaming generator ${e.task} reported item ${e.index} with ${e.consumed} consumed: ${unconsumed} unconsumed, over its bound of ${e.bound}`));
    }
  }
  return out;
};
