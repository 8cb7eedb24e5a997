// A driver connected to the daemons is its own process, named apart from its node's components:
// `node/driver-PID-RANDOM`. The GCS judges a driver by its own stream (never its node's), so it
// must tell a driver's address from a worker's or a raylet's.

import type { Msg } from "../../core/messages.ts";
import type { Addr, NodeId } from "../../core/types.ts";

/** A fresh address for a driver process attached to `node`. */
export function newDriverAddr(node: NodeId): Addr {
  return `${node}/driver-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

export function isDriverAddr(a: Addr): boolean {
  return a.includes("/driver-");
}

/**
 * Whether `msg` from the GCS says that this driver was declared gone: its stream stayed away
 * past the grace period, and its leases, objects and actors were let go (a driver's
 * counterpart of a fenced raylet's NodeDead).
 */
export function driverDeclaredDead(msg: Msg, addr: Addr): boolean {
  return msg.type === "WorkerDied" && msg.worker === addr;
}
