// The simulated network: per-message latency from a seeded distribution, FIFO links (a
// message never overtakes an earlier one on the same connection, as on a TCP stream), and
// the network faults: partitions hold traffic until they heal, lost transmissions come back
// after a retransmission timeout, duplicates arrive twice, delays add latency.

import type { Msg } from "../src/core/messages.ts";
import type { NodeId } from "../src/core/types.ts";
import type { NetworkConditions } from "./faults.ts";
import { Prng } from "./prng.ts";

export interface LinkConfig {
  readonly latencyMs: readonly [number, number];
  readonly localLatencyMs: number;
  readonly bytesPerMs: number;
  /** How long a lost transmission takes to be resent. */
  readonly retransmitMs: number;
}

interface Window { readonly at: number; readonly until: number }
interface Partition extends Window { readonly group: Map<number, number>; readonly oneWay: boolean }
interface Rate extends Window { readonly rate: number }
interface Delay extends Window { readonly ms: number; readonly nodes?: ReadonlySet<number> }

export class SimNetwork {
  private readonly index = new Map<NodeId, number>();
  /** When the latest message on each connection between two nodes' daemons arrives (FIFO). */
  private readonly last: Float64Array;
  /** The same for connections of a process that has its own (a driver, the GCS), keyed `ca * CONNS + cb`. */
  private readonly lastOwn = new Map<number, number>();
  private readonly rng: Prng;
  private readonly partitions: Partition[] = [];
  private readonly drops: Rate[] = [];
  private readonly dups: Rate[] = [];
  private readonly delays: Delay[] = [];
  private readonly latency: readonly [number, number];
  private readonly dropRate: number;
  private readonly dupRate: number;
  messages = 0;

  constructor(nodes: readonly NodeId[], private readonly cfg: LinkConfig, seed: number, conditions: NetworkConditions = {}) {
    nodes.forEach((n, i) => this.index.set(n, i));
    this.last = new Float64Array(nodes.length * nodes.length);
    this.rng = new Prng(seed, "network");
    this.latency = conditions.latencyMs ?? cfg.latencyMs;
    this.dropRate = conditions.dropRate ?? 0;
    this.dupRate = conditions.duplicateRate ?? 0;
  }

  /** The node's index in the network (what `arrival` takes), or -1 if there is no such node. */
  indexOf(node: NodeId): number { return this.index.get(node) ?? -1; }

  partition(at: number, until: number, groups: readonly (readonly NodeId[])[], oneWay: boolean): void {
    const group = new Map<number, number>();
    groups.forEach((g, i) => g.forEach((n) => group.set(this.index.get(n)!, i)));
    this.partitions.push({ at, until, group, oneWay });
  }
  drop(at: number, until: number, rate: number): void { this.drops.push({ at, until, rate }); }
  duplicate(at: number, until: number, rate: number): void { this.dups.push({ at, until, rate }); }
  delay(at: number, until: number, ms: number, nodes?: readonly NodeId[]): void {
    this.delays.push({ at, until, ms, nodes: nodes && new Set(nodes.map((n) => this.index.get(n)!)) });
  }

  /**
   * When the duplicate of the message `arrival` last placed arrives, or NaN if it was not
   * duplicated. (A field rather than an array of arrivals: one less allocation per message.)
   */
  duplicateAt = NaN;

  /**
   * When a message sent now from node `a` to node `b` (their `indexOf`) arrives; a duplicate's time, if any, is
   * then in `duplicateAt`. Draws from the network's own PRNG stream in a fixed order, so the
   * schedule is a function of the seed and the sends alone.
   *
   * `ca` and `cb` name the connection's two ends: a node's index for what its node daemon hosts
   * (its raylet and workers), or an index of `nodes` and up for a process with connections of its
   * own (see `SimCluster.connIndex`). Order holds per connection only: two processes of one node
   * with their own connections may overtake each other, as they do between real daemons.
   */
  arrival(now: number, a: number, b: number, m: Msg, ca = a, cb = b): number {
    this.duplicateAt = NaN;
    this.messages++;
    if (a === b) {
      // Between processes of one node: fixed latency, no network faults.
      return this.inOrder(ca, cb, now + this.cfg.localLatencyMs);
    }
    let t = now + this.rng.between(this.latency[0], this.latency[1]);
    if (m.type === "Chunk") t += m.size / this.cfg.bytesPerMs;
    for (const d of this.delays) if (active(d, now) && (!d.nodes || d.nodes.has(a) || d.nodes.has(b))) t += d.ms;
    let drop = this.dropRate;
    for (const d of this.drops) if (active(d, now)) drop = Math.max(drop, d.rate);
    while (drop > 0 && this.rng.next() < drop) t += this.cfg.retransmitMs;
    for (const p of this.partitions) {
      if (!active(p, now) && !(p.at <= t && t < p.until)) continue;
      const ga = p.group.get(a), gb = p.group.get(b);
      if (ga === undefined || gb === undefined || ga === gb) continue;
      if (p.oneWay && !(ga === 0 && gb === 1)) continue;
      t = Math.max(t, p.until + this.rng.between(this.latency[0], this.latency[1]));
    }
    t = this.inOrder(ca, cb, t);
    let dup = this.dupRate;
    for (const d of this.dups) if (active(d, now)) dup = Math.max(dup, d.rate);
    if (dup > 0 && this.rng.next() < dup) {
      const again = t + this.rng.between(this.latency[0], this.latency[1]);
      this.inOrder(ca, cb, again);
      this.duplicateAt = again;
    }
    return t;
  }

  /** `t`, or later if an earlier message on the connection `ca` → `cb` arrives later: recorded as the connection's latest. */
  private inOrder(ca: number, cb: number, t: number): number {
    const n = this.index.size;
    if (ca < n && cb < n) {
      const at = Math.max(t, this.last[ca * n + cb]);
      this.last[ca * n + cb] = at;
      return at;
    }
    const key = ca * CONNS + cb;
    const at = Math.max(t, this.lastOwn.get(key) ?? 0);
    this.lastOwn.set(key, at);
    return at;
  }
}

/** More connection ends than any simulation has (nodes, the GCS, drivers): a key's radix. */
const CONNS = 1 << 16;

function active(w: Window, t: number): boolean {
  return w.at <= t && t < w.until;
}
