// The worker's side of Ray's Exit request: a raylet above its soft limit asks an idle worker
// to exit, and the worker agrees only if nothing would be lost with it, as Ray's refuses while
// it owns objects. Here that is anything a death would end for others: objects it owns (pending
// tasks' returns and actor handles among them), objects it borrows (its owners count it), and
// placement groups it created (they die with their creator).

import type { Addr } from "../types.ts";
import type { Ctx } from "./context.ts";

export function exitAsked(w: Ctx, raylet: Addr, ask: number): void {
  w.fx.send(raylet, { type: "ExitReply", ask, exiting: w.owned.size === 0 && w.borrowed.size === 0 && w.createdGroups.size === 0 });
}
