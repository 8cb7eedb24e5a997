// `tsray explain TRACE… [--task ID | --object ID | --node ID] [--step]`: any trace told in prose
// (a simulator run, a regression case's, a chaos run's, a daemon session's merged files), by the
// same narrator as the docs. `--step` tells it one event at a time: Enter for the next, q to stop.
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { plain, story, timeOrigin, type Focus } from "../explain/narrate.ts";
import { readTraces, TraceFileError } from "./trace-files.ts";
import type { CliStreams } from "./streams.ts";

export const USAGE = `usage: tsray explain TRACE.jsonl [MORE.jsonl…] [--task ID] [--object ID] [--node ID] [--step]

Tells the trace in prose, one line per event (several files are merged by time), at virtual ms
(simulator) or ms since the trace's first event (wall-clock traces of daemons and \`tsray run\`):
  --task ID     only what concerns task ID (\`#3\` = head/driver#3)
  --object ID   only what concerns object ID (\`#3.r\` = task #3's result)
  --node ID     only what happens on or to node ID
  --step        one event at a time: Enter shows the next, q (or end of input) stops`;


export async function main(argv: string[], io: CliStreams = process): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv, allowPositionals: true, strict: true,
      options: { task: { type: "string" }, object: { type: "string" }, node: { type: "string" }, step: { type: "boolean" }, help: { type: "boolean", short: "h" } },
    }));
  } catch (e) {
    io.stderr.write(`tsray explain: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) { io.stdout.write(`${USAGE}\n`); return 0; }
  if (positionals.length === 0) { io.stderr.write(`tsray explain: missing TRACE.jsonl\n${USAGE}\n`); return 2; }
  let events;
  try { events = readTraces(positionals, io.workdir); } catch (e) {
    if (e instanceof TraceFileError) { io.stderr.write(`tsray explain: ${e.message}\n`); return 2; }
    throw e;
  }
  const focus: Focus = { task: values.task as string | undefined, object: values.object as string | undefined, node: values.node as string | undefined };
  const t0 = timeOrigin(events);
  const lines = story(events, focus).map(({ e, text }) => `${(e.t - t0).toFixed(2).padStart(9)} ms  ${e.node.padEnd(8)}  ${plain(text)}`);
  if (lines.length === 0) {
    io.stderr.write(`tsray explain: no event of the trace (${events.length} events) concerns ${describe(focus)}\n`);
    return 1;
  }
  if (!values.step) {
    io.stdout.write(lines.join("\n") + "\n");
    return 0;
  }
  const rl = createInterface({ input: io.stdin ?? process.stdin, terminal: false });
  const answers = rl[Symbol.asyncIterator]();
  for (let i = 0; i < lines.length; i++) {
    io.stdout.write(`${lines[i]}\n[${i + 1}/${lines.length}] Enter: next, q: quit `);
    const next = await answers.next();
    if (next.done || next.value.trim().toLowerCase() === "q") { io.stdout.write("\n"); break; }
  }
  rl.close();
  return 0;
}

function describe(f: Focus): string {
  const parts = [f.task && `task ${f.task}`, f.object && `object ${f.object}`, f.node && `node ${f.node}`].filter(Boolean);
  return parts.length ? parts.join(", ") : "anything the narrator tells";
}
