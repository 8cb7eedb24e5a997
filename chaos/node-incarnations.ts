// A node's lives as the GCS lists them, for targets that restart a node in a new container or pod
// and must wait for the new life (not the old one, still listed) to be alive.

import type { NodeView } from "../src/core/types.ts";
import { getStatus } from "../src/runtime/daemon/transport.ts";

/** Where the GCS answers; read at each call (a target's address can move with a forward). */
export interface GcsEndpoint { readonly address: string; readonly token: string }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function nodeViews(gcs: GcsEndpoint, id: string): Promise<NodeView[]> {
  const status = (await getStatus(gcs.address, gcs.token, 2_000)) as { nodes: NodeView[] };
  return status.nodes.filter((n) => n.node === id);
}

/** The newest incarnation of node `id` the GCS knows, or -1. */
export async function lastIncarnation(gcs: GcsEndpoint, id: string): Promise<number> {
  return Math.max(-1, ...(await nodeViews(gcs, id)).map((v) => v.incarnation));
}

/** Waits until an incarnation of node `id` newer than `after` is alive; on a timeout the error ends with `where()` (where its logs are). */
export async function untilAlive(gcs: GcsEndpoint, id: string, after: number, withinMs: number, where: () => string): Promise<void> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    try {
      if ((await nodeViews(gcs, id)).some((v) => v.alive && v.incarnation > after)) return;
    } catch { /* the GCS is not answering yet */ }
    if (Date.now() > deadline) throw new Error(`chaos: node "${id}" did not come up within ${withinMs / 1000} s (${where()})`);
    await sleep(200);
  }
}
