// $TSRAY_BUGS, how daemons and drivers get seeded bugs: known names switch them on, an unknown
// one is refused with an error naming it (a daemon exits on it rather than run without the bug).
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseBugs } from "../../src/core/bugs.ts";

test("$TSRAY_BUGS: known names are switched on, blanks ignored, nothing set means none", () => {
  assert.deepEqual([...parseBugs("restart-killed-actor, leak-lease,")], ["restart-killed-actor", "leak-lease"]);
  assert.equal(parseBugs(undefined).size, 0);
  assert.equal(parseBugs("").size, 0);
});

test("$TSRAY_BUGS: an unknown name is refused, naming it and the known ones", () => {
  assert.throws(() => parseBugs("restart-killed-actor,restart-dead-actor"), /unknown seeded bug "restart-dead-actor"; known: .*restart-killed-actor/);
});
