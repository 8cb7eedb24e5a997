// Fencing a raylet daemon. The GCS declares a node dead after it misses its heartbeats (a
// paused process, a partition); that life of the node is over for good, and the raylet model
// fences itself (does nothing more). The process must not linger silently: as Ray's raylet
// does when the GCS marks it dead, it exits with a clear line, and its supervisor (Kubernetes,
// systemd, `tsray start` run again) starts it again as a new incarnation.
//
// A node id names one live process: a raylet that finds its id held by a live raylet (one
// whose gRPC health check answers) refuses to start, instead of starting a duplicate beside
// it. An id whose holder does not answer is free: that process died and the GCS has not
// noticed yet; the new one registers as the next incarnation.

import type { Msg } from "../../core/messages.ts";
import type { NodeId, NodeView } from "../../core/types.ts";
import { parseEndpoint } from "./object-channel.ts";
import { healthCheck, ServingStatus } from "./transport.ts";

/** Whether `msg` from the GCS says that this life (`node`, `incarnation`) is declared dead. */
export function declaredDead(msg: Msg, node: NodeId, incarnation: number): boolean {
  if (msg.type === "NodeDead") return msg.node === node && msg.incarnation === incarnation;
  if (msg.type === "ClusterView") return msg.nodes.some((n) => n.node === node && n.incarnation === incarnation && !n.alive);
  return false;
}

/** Throws if a live raylet already serves `node` (its endpoint answers the health check). */
export async function refuseDuplicate(node: NodeId, nodes: readonly NodeView[], probeMs = 2_000): Promise<void> {
  const twin = nodes.find((n) => n.node === node && n.alive && n.endpoint);
  if (!twin) return;
  const target = parseEndpoint(twin.endpoint!).grpc;
  const serving = await healthCheck(target, "", probeMs).then((s) => s === ServingStatus.SERVING, () => false);
  if (serving) {
    throw new Error(`node id ${node} is held by a live raylet at ${target} (incarnation ${twin.incarnation}): refusing to start a second process with it; stop that one first, or pick another --node-id`);
  }
}
