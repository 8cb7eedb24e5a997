// Setting a node's network faults, on any target: the GCS's node table says where each of the
// node's daemons listens (the head's: its GCS too), and each one's NetFaults control call is
// made from this process, whether the daemon is a local process, a container or a pod.

import { getStatus } from "../src/runtime/daemon/transport.ts";
import { setNetFaults, type NetFaultSpec } from "../src/runtime/daemon/net-faults.ts";
import { parseEndpoint } from "../src/runtime/daemon/object-channel.ts";
import type { NodeView } from "../src/core/types.ts";

/** Sets the network fault rules of every daemon of node `id` of the cluster whose GCS is at `address`. */
export async function setNodeNetFaults(address: string, token: string, id: string, spec: NetFaultSpec): Promise<void> {
  const status = (await getStatus(address, token)) as { nodes: NodeView[] };
  // The newest life of the node, even one the GCS has declared dead (a partition is lifted from it too).
  const view = status.nodes.filter((n) => n.node === id && n.endpoint).sort((a, b) => Number(b.alive) - Number(a.alive) || b.incarnation - a.incarnation)[0];
  if (!view?.endpoint) throw new Error(`chaos: node "${id}" is not in the GCS's node table`);
  const targets = [parseEndpoint(view.endpoint).grpc, ...(id === "head" ? [address] : [])];
  await Promise.all(targets.map((t) => setNetFaults(t, token, spec)));
}
