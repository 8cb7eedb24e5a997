// `tsray status [--address HOST:PORT]`: the cluster's nodes (alive or dead), their resources
// and what is in use, and its actors by state, as the GCS sees them.

import { parseArgs } from "node:util";
import type { NodeView } from "../core/types.ts";
import { resolveAddress, resolveToken } from "../runtime/daemon/session.ts";
import { getStatus } from "../runtime/daemon/transport.ts";

export async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, strict: true, options: { address: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } } }));
  } catch (e) {
    console.error(`tsray status: ${(e as Error).message}\nusage: tsray status [--address HOST:PORT] [--json]`);
    return 2;
  }
  if (values.help) { console.log("usage: tsray status [--address HOST:PORT] [--json]"); return 0; }
  const address = resolveAddress(values.address);
  const token = resolveToken(undefined, address);
  if (!address || !token) {
    console.error("tsray status: no cluster: start one with `tsray start --head`, or set TSRAY_ADDRESS and TSRAY_TOKEN");
    return 2;
  }
  let s: { gcs: string; nodes: NodeView[]; actors: Record<string, number> };
  try {
    s = (await getStatus(address, token)) as typeof s;
  } catch (e) {
    console.error(`tsray status: cannot reach the GCS at ${address}: ${(e as Error).message}`);
    return 1;
  }
  if (values.json) { console.log(JSON.stringify(s)); return 0; }
  const alive = s.nodes.filter((n) => n.alive);
  console.log(`cluster at ${address}: ${alive.length} alive node(s), ${s.nodes.length - alive.length} dead`);
  const rows = s.nodes.map((n) => {
    const res = Object.keys(n.total).map((k) => `${k} ${+(n.total[k] - (n.available[k] ?? 0)).toFixed(3)}/${n.total[k]}`).join(", ");
    return [n.node, n.alive ? "ALIVE" : "DEAD", n.endpoint ?? "", res || "(none)"];
  });
  const head = ["node", "state", "endpoint", "in use / total"];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const r of [head, ...rows]) console.log(r.map((c, i) => c.padEnd(w[i])).join("  ").trimEnd());
  const actors = Object.entries(s.actors).map(([k, v]) => `${v} ${k}`).join(", ");
  console.log(`actors: ${actors || "none"}`);
  return 0;
}
