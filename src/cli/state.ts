// `tsray list|get|summary …`, as Ray's state CLI: clients of the state API on the head's
// dashboard port (src/runtime/head/state-api.ts).

import { parseArgs } from "node:util";
import { RESOURCE_KINDS, type ListResult } from "../runtime/head/state-api.ts";
import { CliError, HttpStatusError, dashboardClient } from "../runtime/head/client.ts";

const USAGE = `usage: tsray list RESOURCE [--filter KEY=VALUE|KEY!=VALUE …] [--limit N] [--address URL] [--json]
       tsray get RESOURCE ID [--address URL]
       tsray summary tasks|actors|objects [--address URL]

RESOURCE: ${RESOURCE_KINDS.join(", ")}. Tasks and objects are the latest rows each node keeps.`;

/** argv[0] is the command: list, get or summary. */
export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  let values: { address?: string; filter?: string[]; limit?: string; json?: boolean; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: rest, allowPositionals: true, strict: true,
      options: { address: { type: "string" }, filter: { type: "string", multiple: true }, limit: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
    }));
  } catch (e) {
    console.error(`tsray ${cmd}: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) { console.log(USAGE); return 0; }
  const want = cmd === "get" ? 2 : 1;
  if (positionals.length !== want) { console.error(`tsray ${cmd}: expected ${cmd === "get" ? "RESOURCE ID" : "RESOURCE"}\n${USAGE}`); return 2; }
  if (cmd !== "list" && (values.filter || values.limit)) { console.error(`tsray ${cmd}: --filter and --limit apply to list only`); return 2; }
  const kind = positionals[0].replace(/_/g, "-");
  if (!(RESOURCE_KINDS as readonly string[]).includes(kind)) { console.error(`tsray ${cmd}: unknown resource ${JSON.stringify(positionals[0])} (${RESOURCE_KINDS.join(", ")})`); return 2; }
  try {
    const client = await dashboardClient(values.address);
    if (cmd === "get") {
      console.log(JSON.stringify(await client.request("GET", `/api/v0/${kind}/${encodeURIComponent(positionals[1])}`), null, 2));
      return 0;
    }
    if (cmd === "summary") {
      console.log(JSON.stringify(await client.request("GET", `/api/v0/${kind}/summarize`), null, 2));
      return 0;
    }
    const q = new URLSearchParams();
    for (const f of values.filter ?? []) q.append("filter", f);
    if (values.limit !== undefined) q.set("limit", values.limit);
    const r = await client.request<ListResult>("GET", `/api/v0/${kind}?${q}`);
    if (values.json) { console.log(JSON.stringify(r)); return 0; }
    printTable(r.result);
    console.log(`${r.num_after_truncation} of ${r.total} ${kind}${r.partial_failure_warning ? ` (incomplete: ${r.partial_failure_warning})` : ""}`);
    return 0;
  } catch (e) {
    if (e instanceof CliError) { console.error(`tsray ${cmd}: ${e.message}`); return e instanceof HttpStatusError && e.status === 400 ? 2 : e.code; }
    throw e;
  }
}

function printTable(rows: Record<string, unknown>[]): void {
  if (rows.length === 0) return;
  const cols = Object.keys(rows[0]);
  const cell = (v: unknown) => (typeof v === "object" && v !== null ? JSON.stringify(v) : String(v ?? ""));
  const table = [cols, ...rows.map((r) => cols.map((c) => cell(r[c])))];
  const w = cols.map((_, i) => Math.max(...table.map((r) => r[i].length)));
  for (const r of table) console.log(r.map((c, i) => c.padEnd(w[i])).join("  ").trimEnd());
}
