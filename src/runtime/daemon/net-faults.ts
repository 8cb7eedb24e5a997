// The network fault layer of a daemon: delay, loss, duplication and partitions (one-way too)
// injected on the messages the daemon exchanges with other nodes, switched at run time through
// an authenticated gRPC call (`tsray.v1.NetFaults/Set`, the cluster token like every other call).
// It needs no kernel support (no netem), so it works alike on local processes, containers and
// Kubernetes pods.
//
// It sits where a daemon's models meet the network: every message a daemon's models send to
// another node, and every message from another node before its models see it, whatever carried
// it (a gRPC stream or the object channel). A rule set on node N with direction "to" acts on
// what N sends, "from" on what N receives, "both" on both (Chaos Mesh's `direction`); so a rule
// on one side of a link covers the link, drivers and the other side's daemons included.
//
// The faults are those a TCP stream shows its user, as the simulator models them (sim/network.ts):
// - delay: each message waits `delayMs` ± `jitterMs` longer; a link stays FIFO;
// - loss: a lost transmission is resent after a retransmission timeout (RETRANSMIT_MS), so the
//   message comes late and holds up those behind it — a stream never loses what it accepted;
// - duplicate: the message is delivered twice (an RPC retried after its reply was lost); the
//   object channel's Chunks excepted (a byte stream cannot repeat one, and each owns a slot);
// - partition: messages wait until the partition is lifted (TCP retransmitting), then go in order.
// Off (no rules) a message costs one boolean test.

import * as grpc from "@grpc/grpc-js";
import { z } from "zod";
import type { Msg } from "../../core/messages.ts";
import type { NodeId } from "../../core/types.ts";
import { TOKEN_METADATA_KEY } from "./transport.ts";

/** How long a lost transmission takes to be resent (Linux's minimum TCP RTO, and the simulator's). */
export const RETRANSMIT_MS = 200;

export type NetDirection = "to" | "from" | "both";

const rate = z.number().min(0).max(0.9);
const ms = z.number().int().min(0).max(600_000);

export const netFaultRuleSchema = z.object({
  /** The other nodes the rule applies to; absent: every other node. */
  peers: z.array(z.string().min(1)).min(1).optional(),
  direction: z.enum(["to", "from", "both"]),
  delayMs: ms.optional(),
  jitterMs: ms.optional(),
  /** Probability that a transmission is lost (and resent after RETRANSMIT_MS). */
  loss: rate.optional(),
  /** Probability that a message is delivered twice. */
  duplicate: rate.optional(),
  /** Hold every message until the rule is removed. */
  partition: z.boolean().optional(),
}).strict().refine((r) => r.delayMs !== undefined || r.loss !== undefined || r.duplicate !== undefined || r.partition === true, {
  message: "a rule needs at least one of delayMs, loss, duplicate, partition: true",
}).refine((r) => r.jitterMs === undefined || r.delayMs !== undefined, { message: "jitterMs needs delayMs" });

export const netFaultSpecSchema = z.object({ rules: z.array(netFaultRuleSchema).max(64) }).strict();

export type NetFaultRule = z.infer<typeof netFaultRuleSchema>;
export type NetFaultSpec = z.infer<typeof netFaultSpecSchema>;

/** The spec as the layer accepts it, or a TypeError naming each problem. */
export function parseNetFaultSpec(value: unknown): NetFaultSpec {
  const r = netFaultSpecSchema.safeParse(value);
  if (!r.success) throw new TypeError(`network faults: ${r.error.issues.map((i) => `${i.path.join(".") || "spec"}: ${i.message}`).join("; ")}`);
  return r.data;
}

interface Pending { at: number; readonly deliver: () => void; readonly release?: () => void }

export interface NetFaultsOptions {
  readonly random?: () => number;
  readonly now?: () => number;
  /**
   * Called for an outbound message that has to wait: keeps what it refers to alive until it is delivered
   * (an outbound Chunk's bytes are a slot of the node's arena, encoded only when sent) and
   * returns how to let go of it.
   */
  readonly retain?: (m: Msg) => (() => void) | undefined;
}

/** Messages one way between this node and one other, in order. */
class Link {
  readonly queue: Pending[] = [];
  /** When the last message queued is due (a later one never overtakes it). */
  last = 0;
  timer: NodeJS.Timeout | undefined;
}

export interface NetFaultStats {
  delayed: number;
  lost: number;
  duplicated: number;
  held: number;
}

export class NetFaults {
  private rules: readonly NetFaultRule[] = [];
  /** Whether any rule is set: the one test a message pays when the layer is off. */
  private on = false;
  private readonly links = new Map<string, Link>();
  readonly stats: NetFaultStats = { delayed: 0, lost: 0, duplicated: 0, held: 0 };

  private readonly random: () => number;
  private readonly now: () => number;

  constructor(
    /** The node this daemon is part of: messages between its own processes are never faulted. */
    readonly node: NodeId,
    private readonly opts: NetFaultsOptions = {},
  ) {
    this.random = opts.random ?? Math.random;
    this.now = opts.now ?? (() => performance.now());
  }

  get active(): boolean { return this.on; }
  get current(): NetFaultSpec { return { rules: [...this.rules] }; }

  /** Replaces the rules; held messages whose partition is gone are released, and all waiting ones once the layer is off (an empty list). */
  set(spec: NetFaultSpec): void {
    this.rules = parseNetFaultSpec(spec).rules;
    this.on = this.rules.length > 0;
    // What waits is re-timed under the new rules: a partition lifted lets its messages go now.
    for (const [key, link] of this.links) {
      const [dir, peer] = key.split("\0") as ["to" | "from", NodeId];
      let last = 0;
      for (const p of link.queue) {
        if (!this.on || (p.at === Infinity && !this.rulesFor(dir, peer).some((r) => r.partition))) p.at = this.now();
        last = Math.max(last, p.at);
        p.at = last;
      }
      link.last = last;
      this.pump(key, link);
    }
  }

  /** A message this node sends to `to`'s node: `deliver` sends it, now or later (or twice). */
  outbound(peer: NodeId, m: Msg, deliver: () => void): void {
    if (!this.on || peer === this.node) return deliver();
    this.pass("to", peer, m, deliver);
  }

  /** A message from `peer`'s node to this one: `deliver` hands it to the models. */
  inbound(peer: NodeId, m: Msg, deliver: () => void): void {
    if (!this.on || peer === this.node) return deliver();
    this.pass("from", peer, m, deliver);
  }

  /** Messages waiting in the layer now. */
  get waiting(): number {
    let n = 0;
    for (const l of this.links.values()) n += l.queue.length;
    return n;
  }

  /** Drops everything waiting and switches off (the daemon is closing: what it had not sent is lost, as with its streams). */
  close(): void {
    this.rules = [];
    this.on = false;
    for (const link of this.links.values()) {
      clearTimeout(link.timer);
      for (const p of link.queue) p.release?.();
      link.queue.length = 0;
    }
    this.links.clear();
  }

  private rulesFor(dir: "to" | "from", peer: NodeId): NetFaultRule[] {
    return this.rules.filter((r) => (r.direction === dir || r.direction === "both") && (!r.peers || r.peers.includes(peer)));
  }

  private pass(dir: "to" | "from", peer: NodeId, m: Msg, deliver: () => void): void {
    const rules = this.rulesFor(dir, peer);
    const key = `${dir}\0${peer}`;
    let link = this.links.get(key);
    if (rules.length === 0 && (!link || link.queue.length === 0)) return deliver();
    const now = this.now();
    let at = now;
    let partitioned = false;
    let dup = 0;
    for (const r of rules) {
      if (r.delayMs !== undefined) {
        at += r.delayMs + (r.jitterMs ? (this.random() * 2 - 1) * r.jitterMs : 0);
        this.stats.delayed++;
      }
      if (r.loss) while (this.random() < r.loss) { at += RETRANSMIT_MS; this.stats.lost++; }
      if (r.duplicate) dup = Math.max(dup, r.duplicate);
      if (r.partition) partitioned = true;
    }
    if (!link) { link = new Link(); this.links.set(key, link); }
    if (partitioned) { at = Infinity; this.stats.held++; }
    at = Math.max(at, link.last);
    link.last = at;
    const retain = () => (dir === "to" ? this.opts.retain?.(m) : undefined);
    link.queue.push({ at, deliver, release: retain() });
    if (dup > 0 && m.type !== "Chunk" && this.random() < dup) {
      link.queue.push({ at, deliver, release: retain() });
      this.stats.duplicated++;
    }
    this.pump(key, link);
  }

  /** Delivers what is due on `link`, and sets a timer for the next. */
  private pump(key: string, link: Link): void {
    clearTimeout(link.timer);
    link.timer = undefined;
    const now = this.now();
    let n = 0;
    while (n < link.queue.length && link.queue[n].at <= now) n++;
    const due = link.queue.splice(0, n);
    for (const p of due) {
      try { p.deliver(); } finally { p.release?.(); }
    }
    if (link.queue.length === 0) {
      if (!this.on) this.links.delete(key);
      return;
    }
    const next = link.queue[0].at;
    if (next === Infinity) return; // held until a set() lifts the partition
    link.timer = setTimeout(() => this.pump(key, link), Math.max(0, next - now));
  }
}

// ---------------------------------------------------------------------------------------------
// The control call: tsray.v1.NetFaults/Set, served by every daemon beside its other services and
// behind the same token check. Its messages are JSON (a small hand-written definition: no change
// to the generated protocol).

const json = {
  serialize: (v: unknown) => Buffer.from(JSON.stringify(v)),
  deserialize: (b: Buffer) => JSON.parse(b.toString("utf8")) as unknown,
};

export const NET_FAULTS_SERVICE = {
  set: {
    path: "/tsray.v1.NetFaults/Set",
    requestStream: false,
    responseStream: false,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  },
} satisfies grpc.ServiceDefinition;

/** What a Set call answers: the node and the rules now in force. */
export interface NetFaultsReply { readonly node: NodeId; readonly rules: readonly NetFaultRule[] }

/** The server side of the control call for `faults` (the request body is refused with INVALID_ARGUMENT unless it is a valid spec). */
export function netFaultsImplementation(faults: NetFaults, log: (line: string) => void): grpc.UntypedServiceImplementation {
  return {
    set: (call: grpc.ServerUnaryCall<unknown, NetFaultsReply>, cb: grpc.sendUnaryData<NetFaultsReply>) => {
      let spec: NetFaultSpec;
      try {
        spec = parseNetFaultSpec(call.request);
      } catch (e) {
        return cb({ code: grpc.status.INVALID_ARGUMENT, details: (e as Error).message });
      }
      faults.set(spec);
      log(`network faults on node ${faults.node}: ${spec.rules.length === 0 ? "off" : JSON.stringify(spec.rules)}`);
      cb(null, { node: faults.node, rules: spec.rules });
    },
  };
}

/** Sets the network faults of the daemon at `target` (host:port of its gRPC server). */
export function setNetFaults(target: string, token: string, spec: NetFaultSpec, timeoutMs = 5_000): Promise<NetFaultsReply> {
  const Client = grpc.makeGenericClientConstructor(NET_FAULTS_SERVICE, "tsray.v1.NetFaults");
  const client = new Client(target, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  md.set(TOKEN_METADATA_KEY, token);
  return new Promise((resolve, reject) => {
    (client as unknown as { set(r: NetFaultSpec, md: grpc.Metadata, o: grpc.CallOptions, cb: grpc.requestCallback<NetFaultsReply>): void })
      .set(spec, md, { deadline: Date.now() + timeoutMs }, (err, reply) => {
        client.close();
        if (err) reject(err);
        else resolve(reply!);
      });
  });
}
