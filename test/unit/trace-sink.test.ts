// The trace file of a real-time host: events wait at most TRACE_FLUSH_MS in memory (one write
// for many events), a large batch is written at once, and closing writes what is left.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { mock, test } from "node:test";
import { TRACE_FLUSH_MS, TraceSink } from "../../src/runtime/embedded/trace.ts";

function sinkWithFile() {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "trace-sink-")), "t.jsonl");
  const sink = new TraceSink({ file });
  const lines = () => fs.readFileSync(file, "utf8").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as { kind: string; obj?: string });
  return { sink, lines };
}

test("events are written together once TRACE_FLUSH_MS has passed, not one write per event", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { sink, lines } = sinkWithFile();
  const write = mock.method(fs, "writeSync");
  try {
    for (let i = 0; i < 5; i++) sink.emit("n1", { kind: "object.deleted", comp: "store", obj: `o${i}` } as never);
    assert.equal(lines().length, 0, "nothing is written before the window ends");
    t.mock.timers.tick(TRACE_FLUSH_MS - 1);
    assert.equal(lines().length, 0);
    t.mock.timers.tick(1);
    assert.deepEqual(lines().map((e) => e.obj), ["o0", "o1", "o2", "o3", "o4"]);
    assert.equal(write.mock.callCount(), 1, "one write for the five events");
    sink.emit("n1", { kind: "object.deleted", comp: "store", obj: "o5" } as never);
    t.mock.timers.tick(TRACE_FLUSH_MS);
    assert.equal(lines().length, 6, "a later event starts a new window");
  } finally {
    write.mock.restore();
    sink.close();
  }
});

test("a batch over 64 KiB is written at once, and close writes what is left", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { sink, lines } = sinkWithFile();
  const big = "x".repeat(1 << 10);
  let n = 0;
  while (lines().length === 0) sink.emit("n1", { kind: "object.deleted", comp: "store", obj: `${big}${n++}` } as never);
  assert.equal(lines().length, n, "written as the buffer passed 64 KiB, before any timer ran");
  sink.emit("n1", { kind: "object.deleted", comp: "store", obj: "last" } as never);
  sink.close();
  assert.equal(lines().at(-1)?.obj, "last");
});
