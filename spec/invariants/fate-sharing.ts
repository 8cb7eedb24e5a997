// Fate sharing (Ray's ownership): an actor that is not detached dies with its owner, the process
// that created it, and once every handle to it is gone (its owner traces actor.out-of-scope).
// Judged at the last quiet point (every crash detected, and after the job's end the driver
// buried too): an actor registered by an owner dead by then, or whose handles all went out of
// scope, must be dead as well.
// The owner's death is read from the trace alone (see owners.ts), so an owner whose node life
// was over when its registration reached the GCS counts as dead, as the GCS must count it.
import { OwnerLives } from "./owners.ts";
import { lastQuietIndex, violationAt, type Checker, type Violation } from "./types.ts";

const NAME = "fate-sharing";

export const checkFateSharing: Checker = (events) => {
  const out: Violation[] = [];
  const lastQuiet = lastQuietIndex(events);
  if (lastQuiet < 0) return out;
  const lives = new OwnerLives();
  /** Non-detached actor -> its owner. */
  const ownerOf = new Map<string, string>();
  const dead = new Set<string>();
  const outOfScope = new Set<string>();
  for (let i = 0; i <= lastQuiet; i++) {
    const e = events[i];
    lives.see(e, i);
    if (e.kind === "actor.registered" && !e.detached && !ownerOf.has(e.actor)) ownerOf.set(e.actor, e.owner);
    else if (e.kind === "actor.state" && e.state === "DEAD") dead.add(e.actor);
    else if (e.kind === "actor.out-of-scope") outOfScope.add(e.actor);
  }
  for (const [actor, owner] of ownerOf) {
    if (dead.has(actor)) continue;
    if (outOfScope.has(actor)) out.push(violationAt(NAME, events, lastQuiet, `actor ${actor} lives on, though every handle to it went out of scope: it must end`));
    else if (lives.deadAtEnd(owner)) out.push(violationAt(NAME, events, lastQuiet, `actor ${actor} is not detached, yet it outlived its owner ${owner}: it must die with it`));
  }
  return out;
};
