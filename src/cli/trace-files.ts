// Reading the trace files a command is given: one file, or the files of a session's processes
// (merged into one history by time, as `tsray check` does).
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { mergeTraces, parseTraceTolerant, type TraceEvent } from "../../spec/trace.ts";

export class TraceFileError extends Error {}

export function readTraces(files: readonly string[], cwd = process.cwd()): TraceEvent[] {
  const traces = files.map((f) => {
    let text: string;
    try { text = readFileSync(resolve(cwd, f), "utf8"); } catch (e) {
      throw new TraceFileError((e as { code?: string }).code === "ENOENT" ? `no such file: ${f}` : `cannot read ${f}: ${(e as Error).message}`);
    }
    try { return parseTraceTolerant(text).events; } catch (e) { throw new TraceFileError(`${f} is not a trace: ${(e as Error).message}`); }
  });
  return traces.length === 1 ? traces[0] : mergeTraces(traces);
}

/** A `--from`/`--to` time in ms, or undefined when not given; anything else is refused by name. */
export function timeFlag(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || n < 0) throw new TraceFileError(`--${name} must be a time in ms (a number >= 0), got ${JSON.stringify(v)}`);
  return n;
}
