// `tsray status [--address HOST:PORT]`, as Ray's: the cluster's nodes (alive or dead), their
// resources and what is in use, each live node's memory and object store (asked of the node),
// actors by state, pending resource demands (when the GCS reports them) and the running jobs.

import { parseArgs } from "node:util";
import type { NodeView, PendingDemand } from "../core/types.ts";
import { resolveAddress, resolveToken } from "../runtime/daemon/session.ts";
import { getStatus } from "../runtime/daemon/transport.ts";
import { parseEndpoint } from "../runtime/daemon/object-channel.ts";
import type { NodeReport } from "../runtime/head/state-api.ts";
import type { AutoscalerStatus } from "../core/autoscaler/autoscaler.ts";

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
  let s: { gcs: string; nodes: NodeView[]; actors: Record<string, number>; jobs?: { submission_id: string; status: string; entrypoint: string }[]; pendingDemands?: PendingDemand[]; dashboard?: string; autoscaler?: AutoscalerStatus };
  try {
    s = (await getStatus(address, token)) as typeof s;
  } catch (e) {
    console.error(`tsray status: cannot reach the GCS at ${address}: ${(e as Error).message}`);
    return 1;
  }
  const reports = new Map<string, NodeReport | string>();
  await Promise.all(s.nodes.filter((n) => n.alive && n.endpoint).map(async (n) => {
    try {
      reports.set(n.node, (await getStatus(parseEndpoint(n.endpoint!).grpc, token, 3000)) as NodeReport);
    } catch (e) {
      reports.set(n.node, `unreachable: ${(e as Error).message}`);
    }
  }));
  if (values.json) { console.log(JSON.stringify({ ...s, nodeReports: Object.fromEntries(reports) })); return 0; }
  const alive = s.nodes.filter((n) => n.alive);
  console.log(`cluster at ${address}: ${alive.length} alive node(s), ${s.nodes.length - alive.length} dead${s.dashboard ? `; dashboard at http://${s.dashboard}` : ""}`);
  const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
  const rows = s.nodes.map((n) => {
    const res = Object.keys(n.total).map((k) => `${k} ${+(n.total[k] - (n.available[k] ?? 0)).toFixed(3)}/${n.total[k]}`).join(", ");
    const r = reports.get(n.node);
    const memory = typeof r === "object" && r.memory ? `${gib(r.memory.total - r.memory.available)}/${gib(r.memory.total)}` : typeof r === "string" ? r : "";
    const store = typeof r === "object" && r.store ? `${gib(r.store.MMAP_SHM)}/${gib(r.store.capacity)} (${r.store.objects} objects${r.store.SPILLED ? `, ${gib(r.store.SPILLED)} spilled` : ""})` : "";
    return [n.node, n.alive ? "ALIVE" : "DEAD", n.endpoint ? parseEndpoint(n.endpoint).grpc : "", res || "(none)", memory, store];
  });
  const head = ["node", "state", "address", "resources in use / total", "memory used / total", "object store used / capacity"];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const r of [head, ...rows]) console.log(r.map((c, i) => c.padEnd(w[i])).join("  ").trimEnd());
  const actors = Object.entries(s.actors).map(([k, v]) => `${v} ${k}`).join(", ");
  console.log(`actors: ${actors || "none"}`);
  // Ray's "Demands" section: what no live node can meet, by resource shape (from the raylets' reports to the GCS).
  const demands = s.pendingDemands ?? [];
  console.log(`Demands:${demands.length === 0 ? " (no resource demands)" : ""}`);
  for (const d of demands) console.log(`  ${JSON.stringify(d.resources)}: ${d.count} pending task(s)/actor(s), waiting ${(d.ageMs / 1000).toFixed(1)} s`);
  // Ray's autoscaler lines: each worker group's nodes, launches pending, recent failures.
  if (s.autoscaler) printAutoscaler(s.autoscaler);
  const jobs = s.jobs ?? [];
  console.log(`jobs running: ${jobs.length === 0 ? "none" : ""}`);
  for (const j of jobs) console.log(`  ${j.submission_id}  ${j.status}  ${j.entrypoint}`);
  return 0;
}

export function printAutoscaler(a: AutoscalerStatus & { reportedMsAgo?: number }): void {
  // A remote autoscaler (KubeRay's sidecar) reports with each read of the GCS: say how old this is.
  console.log(`Autoscaler:${a.reportedMsAgo !== undefined ? ` (ray kuberay-autoscaler, reported ${(a.reportedMsAgo / 1000).toFixed(1)} s ago)` : ""}`);
  for (const g of a.groups) console.log(`  ${g.name}: ${g.running} running, ${g.pending} pending (minReplicas ${g.min}, maxReplicas ${g.max})`);
  console.log(`  Pending:${a.pendingLaunches.length === 0 ? " (no pending nodes)" : ""}`);
  for (const l of a.pendingLaunches) console.log(`    ${l.group}, ${l.node ? `${l.node} starting` : "launching"} for ${(l.ageMs / 1000).toFixed(1)} s`);
  if (a.draining.length > 0) console.log(`  Draining: ${a.draining.join(", ")}`);
  console.log(`  Recent failures:${a.recentFailures.length === 0 ? " (no failures)" : ""}`);
  for (const f of a.recentFailures) console.log(`    ${f.group}: ${f.reason} (${(f.ageMs / 1000).toFixed(0)} s ago)`);
  for (const u of a.unmet) console.log(`  No worker group can meet ${JSON.stringify(u)}`);
}
