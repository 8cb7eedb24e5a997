// `tsray timeline [--address URL | TRACE.jsonl…] -o OUT.json`, as Ray's `ray timeline`: a Chrome
// trace (load it in chrome://tracing or ui.perfetto.dev) of a live cluster's recent events, or of
// saved traces from any host (`tsray sim --trace`, `tsray run --trace`, a session's *.trace.jsonl).

import fs from "node:fs";
import { parseArgs } from "node:util";
import { mergeTraces, parseTraceTolerant } from "../../spec/trace.ts";
import { toChromeTrace, type ChromeTrace } from "../runtime/head/timeline.ts";
import { CliError, dashboardClient } from "../runtime/head/client.ts";

const USAGE = `usage: tsray timeline [--address URL] -o OUT.json      (a live cluster: the events its nodes keep)
       tsray timeline TRACE.jsonl [MORE.jsonl…] -o OUT.json (saved traces of any host, merged)

Writes a Chrome trace: a process per node, a thread per worker, a slice per task attempt, and
instant events for object transfers, spills, deaths and injected faults.`;

export async function main(argv: string[]): Promise<number> {
  let values: { address?: string; output?: string; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { address: { type: "string" }, output: { type: "string", short: "o" }, help: { type: "boolean", short: "h" } } }));
  } catch (e) {
    console.error(`tsray timeline: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) { console.log(USAGE); return 0; }
  if (!values.output) { console.error(`tsray timeline: give the output file with -o OUT.json\n${USAGE}`); return 2; }
  if (values.address !== undefined && positionals.length > 0) { console.error("tsray timeline: give either --address or trace files, not both"); return 2; }
  let trace: ChromeTrace;
  try {
    if (positionals.length > 0) {
      const traces = positionals.map((f) => {
        let text: string;
        try { text = fs.readFileSync(f, "utf8"); } catch (e) { throw new CliError(`cannot read ${f}: ${(e as Error).message}`, 2); }
        try { return parseTraceTolerant(text).events; } catch (e) { throw new CliError(`${f} is not a trace: ${(e as Error).message}`, 2); }
      });
      trace = toChromeTrace(mergeTraces(traces));
    } else {
      trace = await (await dashboardClient(values.address)).request<ChromeTrace>("GET", "/api/v0/timeline");
    }
  } catch (e) {
    if (e instanceof CliError) { console.error(`tsray timeline: ${e.message}`); return e.code; }
    throw e;
  }
  fs.writeFileSync(values.output, JSON.stringify(trace));
  const slices = trace.traceEvents.filter((e) => e.ph === "X").length;
  console.log(`tsray timeline: wrote ${values.output}: ${slices} task slice(s), ${trace.traceEvents.length} events (open it in chrome://tracing or https://ui.perfetto.dev)`);
  return 0;
}
