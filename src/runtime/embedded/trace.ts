// Trace events from a real-time host: the models' bodies, stamped with wall-clock ms and the
// node, kept in memory and/or appended to a JSONL file (spec/trace.ts is the schema). Off by
// default: then a model's trace effect costs one branch.

import fs from "node:fs";
import path from "node:path";
import type { TraceBody, TraceEvent } from "../../../spec/trace.ts";

/**
 * How long an event may wait in memory before it is written: a process killed by a signal loses
 * at most this much of its trace. Writing once a turn cost a tasks_sync op three of the head
 * raylet's seven write(2) calls, and with no trace file at all tasks_sync ran about a fifth
 * faster on this VM; a few milliseconds gathers the events of several ops into one write.
 */
export const TRACE_FLUSH_MS = 5;

export class TraceSink {
  readonly events: TraceEvent[] | undefined;
  private fd: number | undefined;
  private buf: string[] = [];
  private bufChars = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  readonly enabled: boolean;
  count = 0;

  /** Sees every event as it is emitted (a node's live state and metrics are built from them). */
  private readonly listener: ((e: TraceEvent) => void) | undefined;

  constructor(opts: { keep?: boolean; file?: string; listener?: (e: TraceEvent) => void }) {
    this.events = opts.keep ? [] : undefined;
    this.listener = opts.listener;
    if (opts.file) {
      fs.mkdirSync(path.dirname(path.resolve(opts.file)), { recursive: true });
      this.fd = fs.openSync(opts.file, "w");
    }
    this.enabled = this.events !== undefined || this.fd !== undefined || this.listener !== undefined;
  }

  emit(node: string, body: TraceBody): void {
    const e = { t: performance.timeOrigin + performance.now(), node, ...body } as TraceEvent;
    this.count++;
    this.events?.push(e);
    this.listener?.(e);
    if (this.fd !== undefined) {
      const line = JSON.stringify(e);
      this.buf.push(line);
      this.bufChars += line.length + 1;
      if (this.bufChars > 1 << 16) this.flush();
      else this.timer ??= setTimeout(() => { this.timer = undefined; this.flush(); }, TRACE_FLUSH_MS);
    }
  }

  /** Writes what is buffered (synchronously: safe at process exit). */
  flush(): void {
    if (this.fd === undefined || this.buf.length === 0) return;
    fs.writeSync(this.fd, this.buf.join("\n") + "\n");
    this.buf = [];
    this.bufChars = 0;
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.flush();
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}
