// Everything a raylet can be handed, as one tagged union: messages, its timers, and what its
// host reports (a worker process exited, a spilled copy was read back, a transfer was lost).

import type { RayletMsg } from "../messages.ts";
import type { Addr, NodeId, ObjectId, Payload } from "../types.ts";

export type RayletTimer =
  /** Registration with the GCS, retried until it answers. */
  | { readonly kind: "register" }
  | { readonly kind: "heartbeat" }
  /** Puts waiting for store space are tried again. */
  | { readonly kind: "puts" }
  /** A pull that found no copy asks the object's owner again. */
  | { readonly kind: "pull"; readonly id: ObjectId }
  /** The longest idle worker has idled long enough to be asked to exit, if the node is above its soft limit. */
  | { readonly kind: "idle-workers" };

export type RayletInput =
  | { readonly kind: "message"; readonly from: Addr; readonly msg: RayletMsg }
  | { readonly kind: "timer"; readonly timer: RayletTimer }
  /** The host saw a worker process on this node exit. */
  | { readonly kind: "worker-exited"; readonly worker: Addr }
  /** The host read a spilled copy back (the answer to the restore effect). */
  | { readonly kind: "restored"; readonly id: ObjectId; readonly payload: Payload }
  /**
   * The host's connection that `node`'s answers to this raylet's pulls travel on broke while
   * both processes live (a reset): what was on it is lost, and no NodeDead will say so.
   */
  | { readonly kind: "transfers-lost"; readonly node: NodeId };
