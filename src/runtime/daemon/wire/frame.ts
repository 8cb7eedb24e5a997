// Model messages ⇄ wire frames. One mechanical codec for every message of the `Msg` union:
// the body of a Frame is the message as V8's structured serialization writes it, so the
// proto files describe the envelope only and never a second copy of the models' types.
//
// The one thing the codec changes is `Payload.data`, which the models treat as opaque: in the
// simulator it is a Uint8Array of the value's bytes, in the embedded host it may name an arena
// slot. Hosts pass hooks that turn `data` into plain bytes for the wire and back; by default
// `data` must already be a Uint8Array. The bytes travel beside the body, in the Frame's
// `payloads`, and the body holds their index: a value's bytes are then copied once into the
// outgoing gRPC message instead of once by V8 and again by protobuf. A Payload is recognised
// by its shape wherever it sits in a message (an object with a numeric `size`, a string `hash`
// and a `data` key), so a new message that carries payloads needs no change here.
//
// Decoding never trusts the peer: anything that is not an object of the frame's declared,
// known type and of that type's schema (validate.ts), or whose payloads are not bytes, is a FrameError (the transport answers it with
// INVALID_ARGUMENT), never an exception from deep inside a model.

import v8 from "node:v8";
import type { Msg, MsgType } from "../../../core/messages.ts";
import type { Payload } from "../../../core/types.ts";
import { Ack, Batch, Frame, Hello } from "./gen/tsray/v1/daemon.ts";
import { msgProblem } from "../validate.ts";

export { Batch, Frame, Hello };

/** Bumped whenever the envelope, the body codec or a message's fields change incompatibly (docs/protocol.md). */
export const PROTOCOL_VERSION = 6;

/** The `type` of the wire-level hello frame (not a model message). */
export const HELLO = "Hello";
/** The `type` of the control frame acknowledging data frames (stream-session.ts). */
export const ACK = "Ack";

/**
 * A frame too large for one stream message travels as fragments: its encoding cut into parts,
 * each a Frame of type "Fragment" whose body is `[id, index, count]` (JSON) and whose one
 * payload is the part. The receiver joins them, in order, back into the frame. This is how an
 * object chunk bigger than the frame limit (the models send an object's bytes in its last
 * Chunk) is streamed between daemons.
 */
export const FRAGMENT = "Fragment";

let nextFragmentId = 0;

export function fragmentFrame(frame: Frame, partBytes: number): Frame[] {
  const bytes = encodeFrame(frame);
  const n = Math.ceil(bytes.byteLength / partBytes);
  const id = ++nextFragmentId;
  const out: Frame[] = [];
  for (let i = 0; i < n; i++) {
    const body = Buffer.from(JSON.stringify([id, i, n]));
    out.push({ from: frame.from, to: frame.to, type: FRAGMENT, body, payloads: [bytes.subarray(i * partBytes, Math.min(bytes.byteLength, (i + 1) * partBytes))] });
  }
  return out;
}

/** A Fragment's `[id, index, count]`, or undefined if its body is not one. */
export function fragmentHeader(f: Frame): readonly [number, number, number] | undefined {
  let header: unknown;
  try { header = JSON.parse(Buffer.from(f.body).toString()); } catch { return undefined; }
  return Array.isArray(header) && header.length === 3 && header.every((x) => Number.isSafeInteger(x) && x >= 0) ? (header as [number, number, number]) : undefined;
}

/** Joins one peer's fragments back into frames; bounded, so a peer cannot pin unlimited memory. */
export class Reassembler {
  private readonly open = new Map<number, { parts: Uint8Array[]; n: number; bytes: number }>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  /** The whole frame once its last part arrived; undefined before; FrameError on a bad part. */
  add(f: Frame): Frame | undefined {
    const header = fragmentHeader(f);
    if (header === undefined || f.payloads.length !== 1) throw new FrameError("malformed Fragment: the body must be [id, index, count] with one part");
    const [id, i, n] = header;
    let a = this.open.get(id);
    if (!a) this.open.set(id, (a = { parts: [], n, bytes: 0 }));
    if (n !== a.n || i !== a.parts.length || i >= n) throw new FrameError(`Fragment ${id}: part ${i} of ${n} out of order`);
    const part = f.payloads[0];
    a.parts.push(part);
    a.bytes += part.byteLength;
    this.bytes += part.byteLength;
    if (this.bytes > this.maxBytes) throw new FrameError(`fragments in flight exceed ${this.maxBytes} bytes`);
    if (a.parts.length < n) return undefined;
    this.open.delete(id);
    this.bytes -= a.bytes;
    return decodeFrame(Buffer.concat(a.parts));
  }
}

/** Every `Msg["type"]`; the type-level checks below keep it equal to the union. */
export const MSG_TYPES = [
  "RequestLease", "LeaseGranted", "LeaseSpillback", "LeaseRejected", "ReturnLease", "CancelLease",
  "PushTask", "TaskReply", "TaskBounced",
  "RegisterWorker", "WorkerBlocked", "WorkerUnblocked", "Unblocked", "Exit", "ExitReply",
  "StorePut", "StorePutReply", "StoreGet", "StoreGetReply", "StoreLocal", "StorePeek", "StoreAbsent",
  "GetLocations", "Locations", "AddLocation", "RemoveLocation", "FreeObjects",
  "Pull", "Chunk", "PullFailed",
  "GetStatus", "Status",
  "RegisterNode", "NodeRegistered", "Heartbeat", "ClusterView",
  "WorkerDied", "NodeDead", "GcsRestarted", "SubscribeFailures",
  "RegisterFunction", "GetFunction", "Function", "CreateActor", "ActorUpdate", "SubscribeActor",
  "GetNamedActor", "NamedActor", "ListNamedActors", "NamedActorList", "KillActor",
  "AddBorrower", "RemoveBorrower", "HeldLeases",
  "CreatePlacementGroup", "RemovePlacementGroup", "PrepareBundles", "BundlesPrepared", "CommitBundles", "ReleaseBundles",
  "GetClusterInfo", "ClusterInfo",
  "DrainNode", "DrainReply",
  "CancelTask",
  "ReportGeneratorItem", "GeneratorAck",
  "KnownDeaths",
  "ActorOutOfScope",
] as const satisfies readonly MsgType[];

// Compile-time: MSG_TYPES lists every Msg type (a missing one makes `never` fail to accept it).
type MissingFromList = Exclude<MsgType, (typeof MSG_TYPES)[number]>;
const _everyTypeListed: [MissingFromList] extends [never] ? true : MissingFromList = true;
void _everyTypeListed;

const MSG_TYPE_SET: ReadonlySet<string> = new Set<string>(MSG_TYPES);

export function isMsgType(t: string): t is MsgType {
  return MSG_TYPE_SET.has(t);
}

/** How a host turns `Payload.data` into bytes for the wire and back. */
export interface PayloadHooks {
  /** The bytes of `p.data`, read synchronously (the transport copies them before returning). */
  toWirePayload?: (p: Payload) => Uint8Array;
  /**
   * What `data` becomes on arrival. `bytes` may be a view into a received gRPC buffer: copy it
   * if it must be written to. Without this hook, data is those bytes (copied when they are a
   * small part of a larger buffer).
   */
  fromWirePayload?: (bytes: Uint8Array, p: Payload) => unknown;
}

/** A frame that could not be decoded: the peer sent something malformed. */
export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FrameError";
  }
}

function defaultToWire(p: Payload): Uint8Array {
  if (p.data instanceof Uint8Array) return p.data;
  throw new TypeError(`Payload.data must be a Uint8Array on the wire (got ${describe(p.data)}); pass a toWirePayload hook`);
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (typeof v !== "object") return typeof v;
  return v.constructor?.name ?? "object";
}

function isPayloadShape(o: Record<string, unknown>): boolean {
  return typeof o.size === "number" && typeof o.hash === "string" && "data" in o;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object") return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * Copy-on-write map over every Payload in `v` (arrays and plain objects are walked; payloads'
 * data, typed arrays, Maps and the rest are not). Returns `v` itself when nothing changed.
 */
function mapPayloads(v: unknown, fn: (p: Payload) => Payload): unknown {
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      const y = x !== null && typeof x === "object" ? mapPayloads(x, fn) : x;
      if (y !== x) {
        out ??= v.slice();
        out[i] = y;
      }
    }
    return out ?? v;
  }
  if (!isPlainObject(v)) return v;
  if (isPayloadShape(v)) return fn(v as unknown as Payload);
  let out: Record<string, unknown> | undefined;
  for (const k in v) {
    const x = v[k];
    if (x === null || typeof x !== "object") continue;
    const y = mapPayloads(x, fn);
    if (y !== x) {
      out ??= { ...v };
      out[k] = y;
    }
  }
  return out ?? v;
}

/**
 * The default for arriving payload bytes: a view into the received gRPC message when it covers
 * most of it (a chunk: no copy), else a copy, so that a small value kept for long does not pin
 * a large buffer of other frames.
 */
function ownBytes(b: Uint8Array): Uint8Array {
  return b.byteLength * 2 >= b.buffer.byteLength ? b : b.slice();
}

/** A message's part of a Frame: everything but the addresses. */
export type MsgBody = Pick<Frame, "type" | "body" | "payloads">;

/**
 * Encodes a model message: `body` is the message with each Payload's data replaced by an index
 * into `payloads`, which holds the data's bytes. Throws (a host bug) if `msg` is not a Msg.
 */
export function encodeMsg(msg: Msg, hooks?: PayloadHooks): MsgBody {
  if (!isMsgType(msg.type)) throw new TypeError(`not a model message type: ${String(msg.type)}`);
  const toWire = hooks?.toWirePayload ?? defaultToWire;
  const payloads: Uint8Array[] = [];
  const wire = mapPayloads(msg, (p) => {
    payloads.push(toWire(p));
    return { ...p, data: payloads.length - 1 };
  });
  return { type: msg.type, body: v8.serialize(wire), payloads };
}

/**
 * Decodes a message from a frame. Throws FrameError for an unknown type, a body that is not a
 * serialized object of that type, or payload data that is not an index into `payloads`.
 */
export function decodeMsg(frame: MsgBody, hooks?: PayloadHooks): Msg {
  const { type, body } = frame;
  const payloads = frame.payloads ?? [];
  if (!isMsgType(type)) throw new FrameError(`unknown frame type ${JSON.stringify(type.slice(0, 64))}`);
  let v: unknown;
  try {
    v = v8.deserialize(body);
  } catch (e) {
    throw new FrameError(`malformed ${type} body: ${(e as Error).message}`);
  }
  if (!isPlainObject(v)) throw new FrameError(`malformed ${type} body: not an object`);
  if (v.type !== type) throw new FrameError(`malformed ${type} body: its type is ${JSON.stringify(String(v.type).slice(0, 64))}`);
  const problem = msgProblem(v);
  if (problem !== undefined) throw new FrameError(`malformed ${type}: ${problem}`);
  const fromWire = hooks?.fromWirePayload;
  let used = 0;
  try {
    mapPayloads(v, (p) => {
      const i = p.data;
      if (typeof i !== "number" || !Number.isInteger(i) || i < 0 || i >= payloads.length) {
        throw new FrameError(`malformed ${type} body: payload data ${typeof i === "number" ? i : describe(i)} is not an index into its ${payloads.length} payloads`);
      }
      used++;
      const bytes = payloads[i];
      (p as { data: unknown }).data = fromWire ? fromWire(bytes, p) : ownBytes(bytes);
      return p;
    });
  } catch (e) {
    if (e instanceof FrameError) throw e;
    throw new FrameError(`malformed ${type} body: ${(e as Error).message}`); // e.g. nesting too deep
  }
  if (used !== payloads.length) throw new FrameError(`malformed ${type} frame: ${payloads.length} payloads for ${used} in the body`);
  return v as unknown as Msg;
}

/** The frame carrying `msg` from `from` to `to`. */
export function msgFrame(from: string, to: string, msg: Msg, hooks?: PayloadHooks): Frame {
  const m = encodeMsg(msg, hooks);
  return { from, to, type: m.type, body: m.body, payloads: m.payloads };
}

/** A Frame's protobuf encoding (generated code). */
export function encodeFrame(frame: Frame): Uint8Array {
  return Frame.encode(frame).finish();
}

/** A Frame from its protobuf encoding; throws FrameError if the bytes are not one. */
export function decodeFrame(bytes: Uint8Array): Frame {
  try {
    return Frame.decode(bytes);
  } catch (e) {
    throw new FrameError(`malformed Frame: ${(e as Error).message}`);
  }
}

/** A Hello; `session` names the session it continues (see Hello.peer and Hello.received). */
export function helloFrame(addrs: readonly string[], instance: string, session = { peer: "", received: 0 }): Frame {
  return { from: "", to: "", type: HELLO, body: Hello.encode({ addrs: [...addrs], protocol: PROTOCOL_VERSION, instance, ...session }).finish(), payloads: [] };
}

export function ackFrame(received: number): Frame {
  return { from: "", to: "", type: ACK, body: Ack.encode({ received }).finish(), payloads: [] };
}

/** An Ack frame's count; throws FrameError if the frame is not a well-formed Ack. */
export function decodeAck(frame: Frame): number {
  try {
    if (frame.payloads.length > 0) throw new Error("it carries payloads");
    return Ack.decode(frame.body).received;
  } catch (e) {
    throw new FrameError(`malformed ${ACK}: ${(e as Error).message}`);
  }
}

/** A hello frame's contents; throws FrameError if the body is not a Hello. */
export function decodeHello(frame: Frame): Hello {
  if (frame.type !== HELLO) throw new FrameError(`expected a ${HELLO} frame first, got ${JSON.stringify(frame.type.slice(0, 64))}`);
  try {
    return Hello.decode(frame.body);
  } catch (e) {
    throw new FrameError(`malformed ${HELLO}: ${(e as Error).message}`);
  }
}

function varintSize(n: number): number {
  let s = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    s++;
  }
  return s;
}

/** A length-delimited field, omitted when empty (proto3 default), as the generated encoder does. */
function fieldSize(len: number): number {
  return len === 0 ? 0 : 1 + varintSize(len) + len;
}

/** Bytes of a Frame's protobuf encoding, without encoding it. */
export function frameSize(f: Frame): number {
  let n = fieldSize(Buffer.byteLength(f.from)) + fieldSize(Buffer.byteLength(f.to)) +
    fieldSize(Buffer.byteLength(f.type)) + fieldSize(f.body.byteLength);
  for (const p of f.payloads) n += 1 + varintSize(p.byteLength) + p.byteLength; // repeated: always written
  return n;
}

/** Bytes that one frame of `size` bytes adds to a Batch. */
export function batchEntrySize(size: number): number {
  return 1 + varintSize(size) + size;
}

function writeVarint(buf: Buffer, pos: number, n: number): number {
  while (n >= 0x80) {
    buf[pos++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}

function writeString(buf: Buffer, pos: number, tag: number, s: string): number {
  if (s.length === 0) return pos;
  const len = Buffer.byteLength(s);
  buf[pos++] = tag;
  pos = writeVarint(buf, pos, len);
  return pos + buf.write(s, pos, len, "utf8");
}

function writeBytes(buf: Buffer, pos: number, tag: number, b: Uint8Array): number {
  buf[pos++] = tag;
  pos = writeVarint(buf, pos, b.byteLength);
  buf.set(b, pos);
  return pos + b.byteLength;
}

/**
 * A Batch's protobuf encoding in one allocation: the same bytes as the generated
 * `Batch.encode(...).finish()` (a test checks that), without its intermediate copies of every
 * body and payload (which cost milliseconds per 8 MiB chunk).
 */
export function encodeBatch(frames: readonly Frame[]): Buffer {
  const sizes = frames.map(frameSize);
  let total = 0;
  for (const s of sizes) total += batchEntrySize(s);
  const buf = Buffer.allocUnsafe(total);
  let pos = 0;
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i];
    buf[pos++] = 0x0a; // Batch.frames = 1, length-delimited
    pos = writeVarint(buf, pos, sizes[i]);
    pos = writeString(buf, pos, 0x0a, f.from); // Frame.from = 1
    pos = writeString(buf, pos, 0x12, f.to); // Frame.to = 2
    pos = writeString(buf, pos, 0x1a, f.type); // Frame.type = 3
    if (f.body.byteLength > 0) pos = writeBytes(buf, pos, 0x22, f.body); // Frame.body = 4
    for (const p of f.payloads) pos = writeBytes(buf, pos, 0x2a, p); // Frame.payloads = 5
  }
  if (pos !== total) throw new Error(`encodeBatch: wrote ${pos} of ${total} bytes`);
  return buf;
}

/** A Batch from its encoding (generated code); throws FrameError if the bytes are not one. */
export function decodeBatch(bytes: Uint8Array): Batch {
  try {
    return Batch.decode(bytes);
  } catch (e) {
    throw new FrameError(`malformed Batch: ${(e as Error).message}`);
  }
}
