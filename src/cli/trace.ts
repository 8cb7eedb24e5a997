// `tsray trace FILE… --mermaid [--from T --to T | --task ID]`: a mermaid sequence diagram of a
// trace (owner ↔ raylet ↔ GCS ↔ worker), or of a window of it. Paste it into a markdown page or
// https://mermaid.live. Message arrows come from `msg` events (`tsray sim --messages`); a trace
// without them (a daemon session's) gets arrows inferred from the components' own events.
import { parseArgs } from "node:util";
import { sequenceDiagram } from "../explain/mermaid.ts";
import { readTraces, timeFlag, TraceFileError } from "./trace-files.ts";
import type { CliStreams } from "./streams.ts";

export const USAGE = `usage: tsray trace TRACE.jsonl [MORE.jsonl…] --mermaid [--from T] [--to T] [--task ID] [--object ID] [--node ID] [--limit N]

Prints a mermaid sequence diagram of the trace (several files are merged by time):
  --mermaid     the output format (the only one so far; required, so a later format cannot surprise you)
  --from T      only events at or after T ms;  --to T  only at or before T ms (virtual ms in a
                simulator trace; ms since the first event in a wall-clock trace)
  --task ID     only what concerns task ID (its lease, push, reply, result); \`#3\` = head/driver#3
  --object ID   only what concerns object ID;  --node ID  only what happens on or to node ID
  --limit N     at most N steps (default 150)
Arrows are the messages of a trace written with \`tsray sim --messages\`; other traces (daemon
sessions, \`tsray run --trace\`) get arrows inferred from their events.`;


export async function main(argv: string[], io: CliStreams = process): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv, allowPositionals: true, strict: true,
      options: { mermaid: { type: "boolean" }, from: { type: "string" }, to: { type: "string" }, task: { type: "string" }, object: { type: "string" }, node: { type: "string" }, limit: { type: "string" }, help: { type: "boolean", short: "h" } },
    }));
  } catch (e) {
    io.stderr.write(`tsray trace: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) { io.stdout.write(`${USAGE}\n`); return 0; }
  if (positionals.length === 0) { io.stderr.write(`tsray trace: missing TRACE.jsonl\n${USAGE}\n`); return 2; }
  if (!values.mermaid) { io.stderr.write(`tsray trace: give the output format: --mermaid\n${USAGE}\n`); return 2; }
  try {
    const from = timeFlag(values.from as string | undefined, "from");
    const to = timeFlag(values.to as string | undefined, "to");
    if (from !== undefined && to !== undefined && to < from) throw new TraceFileError(`--to (${to}) is before --from (${from})`);
    const limit = values.limit === undefined ? undefined : Number(values.limit);
    if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) throw new TraceFileError(`--limit must be a positive integer, got ${JSON.stringify(values.limit)}`);
    const events = readTraces(positionals, io.workdir);
    io.stdout.write(sequenceDiagram(events, { from, to, limit, task: values.task as string | undefined, object: values.object as string | undefined, node: values.node as string | undefined }));
    return 0;
  } catch (e) {
    if (e instanceof TraceFileError) { io.stderr.write(`tsray trace: ${e.message}\n`); return 2; }
    throw e;
  }
}
