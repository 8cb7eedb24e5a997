// The codec's two forms of a primitive's payload: frame bytes (every host) and the value itself
// (the simulator, whose payloads never leave the process) must agree on size and hash, or a
// trace's hashes would depend on the host.
import assert from "node:assert/strict";
import test from "node:test";
import { bytesPayload, fromBytes, inProcessPayload, payloadValue, toBytes } from "../../src/runtime/codec.ts";

const primitives = [0, -0, 1, -1.5, 2 ** 53, Number.NaN, Infinity, true, false, null, undefined];

test("an in-process primitive payload has its frame's size and hash, and reads back as the value", () => {
  for (const v of primitives) {
    const bytes = toBytes(v);
    const framed = bytesPayload(bytes, false, []);
    const inProcess = inProcessPayload(v);
    assert.equal(inProcess.size, framed.size, `size of ${String(v)}`);
    assert.equal(inProcess.hash, framed.hash, `hash of ${String(v)}`);
    assert.ok(Object.is(payloadValue(inProcess.data), v), `value of ${String(v)}`);
    assert.ok(Object.is(payloadValue(framed.data), fromBytes(bytes)), `framed value of ${String(v)}`);
  }
});

test("different numbers get different in-process hashes", () => {
  const hashes = new Set([1, 2, 3, 1.5, -1].map((v) => inProcessPayload(v).hash));
  assert.equal(hashes.size, 5);
});
