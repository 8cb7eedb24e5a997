// Object recovery, on the owner: what it knows of failures (dead nodes and workers), where its
// objects' copies are, and what happens when the last copy of one is lost: the object is made
// again by re-running its task while the budget lasts (Ray's lineage reconstruction), else it
// fails with ObjectLostError.

import { nextObjectState } from "../lifecycle/object.ts";
import { nextTaskState } from "../lifecycle/task.ts";
import { diedWithNode, isGeneratorItemId, nodeOf, rayletAddr, specWith, type Addr, type NodeId, type ObjectId } from "../types.ts";
import { callersDied } from "./actor-scheduling.ts";
import type { Ctx } from "./context.ts";
import { itemLost } from "./generator-lineage.ts";
import { generatorItemLostBehind, generatorOwnersDied } from "./generators.ts";
import { leasesLost, requestsLostWith } from "./lease-client.ts";
import { killedWorkersGone } from "./cancellation.ts";
import { borrowersDied, maybeFree, ownerDied, wake, type Owned } from "./reference-table.ts";
import { classKeyOf, hasRefArgs, resolveTask, type OwnedTask } from "./task-manager.ts";
import { RecentDeaths } from "../recent-deaths.ts";
import { defaultTuning } from "../tuning.ts";

export interface ObjectRecovery {
  /**
   * Nodes known dead, with their latest dead incarnation: owners there will never answer. The
   * latest `deadNodesKept` only (died most lately last), as the GCS keeps them: node ids come and
   * go with autoscaling (a pod's name), and what a dead node sent arrives soon after its death.
   */
  readonly deadNodes: Map<NodeId, number>;
  /**
   * The latest worker and driver deaths only, as the GCS and raylets keep them: workers come and
   * go all the time (the soft limit), and a message from one that died is expected only soon
   * after its death, not a thousand deaths later.
   */
  readonly deadWorkers: RecentDeaths<Addr>;
}

export function newObjectRecovery(deadWorkersKept?: number, deadNodesKept = defaultTuning.deadNodesKept): ObjectRecovery {
  if (!Number.isInteger(deadNodesKept) || deadNodesKept < 1) throw new Error(`core worker: deadNodesKept must be an integer of at least 1, not ${deadNodesKept}`);
  return { deadNodes: new Map(), deadWorkers: new RecentDeaths(deadWorkersKept) };
}

/** Records a node life's end; past `deadNodesKept` nodes, the one that died longest ago is forgotten. */
function recordNodeDeath(w: Ctx, node: NodeId, incarnation: number): void {
  w.deadNodes.delete(node); // to the end: it died most lately
  w.deadNodes.set(node, incarnation);
  if (w.deadNodes.size > (w.cfg.deadNodesKept ?? defaultTuning.deadNodesKept)) w.deadNodes.delete(w.deadNodes.keys().next().value!);
}

const NO_IDS: readonly ObjectId[] = [];

export function isDead(w: Ctx, addr: Addr): boolean {
  const inc = w.deadNodes.get(nodeOf(addr));
  return w.deadWorkers.has(addr) || (inc !== undefined && diedWithNode(addr, nodeOf(addr), inc));
}

/** Whether `node`'s life `incarnation` (or a later one) is known dead here. */
export function buried(w: Ctx, node: NodeId, incarnation: number): boolean {
  return (w.deadNodes.get(node) ?? 0) >= incarnation;
}

/** A worker died: tasks on it fail over, and objects it owned can no longer be had. */
export function workerDied(w: Ctx, worker: Addr): void {
  // The one dead longest is forgotten: a repeat of what it sent is no longer expected either.
  const forgotten = w.deadWorkers.add(worker);
  if (forgotten !== undefined) w.borrowSeqs.delete(forgotten);
  leasesLost(w, (x) => x === worker, `the worker ${worker} running it died`);
  killedWorkersGone(w, (x) => x === worker);
  ownerDied(w, (o) => o === worker);
  borrowersDied(w, (b) => b === worker);
  generatorOwnersDied(w, (o) => o === worker);
  callersDied(w, (c) => c === worker);
}

/**
 * What this worker's raylet knew had died when it registered. A life of its own node before the
 * current one is only recorded: what this worker asked of the raylet went to the current life.
 */
export function knownDeaths(w: Ctx, workers: readonly Addr[], nodes: readonly { readonly node: NodeId; readonly incarnation: number }[]): void {
  for (const n of nodes) {
    if (n.node !== w.cfg.node) nodeDead(w, n.node, n.incarnation);
    else if (!buried(w, n.node, n.incarnation)) recordNodeDeath(w, n.node, n.incarnation);
  }
  for (const x of workers) workerDied(w, x);
}

/**
 * Sends again every request to our raylet not answered yet: it, or its answer, was lost. One
 * that did arrive is answered twice, and the second answer finds no request waiting.
 */
export function resendToRaylet(w: Ctx): void {
  for (const m of w.toRaylet.values()) w.fx.send(w.raylet, m);
}

export function nodeDead(w: Ctx, node: NodeId, incarnation: number): void {
  if (buried(w, node, incarnation)) return; // heard already (from the GCS and our raylet)
  recordNodeDeath(w, node, incarnation);
  // Our own raylet restarted (only a driver outlives it): what we asked of it was lost.
  if (node === w.cfg.node) resendToRaylet(w);
  const onIt = (a: Addr) => diedWithNode(a, node, w.cfg.bugs.has("incarnation-off-by-one") ? incarnation - 1 : incarnation);
  ownerDied(w, onIt);
  borrowersDied(w, onIt);
  generatorOwnersDied(w, onIt);
  callersDied(w, onIt);
  // Copies on that node are gone; objects left with no copy are lost.
  const lost: [ObjectId, Owned][] = [];
  for (const [id, o] of w.owned) {
    const i = o.nodes.indexOf(node);
    if (i < 0) continue;
    o.nodes = o.nodes.filter((n) => n !== node);
    if (o.nodes.length === 0 && o.state === "READY" && !o.value) lost.push([id, o]);
  }
  // Copies there are gone before tasks are placed again, so nothing is asked of that node.
  if (!w.cfg.bugs.has("no-lease-revocation")) {
    leasesLost(w, onIt, `the node ${node} running it died`);
    requestsLostWith(w, node);
  }
  killedWorkersGone(w, onIt);
  // Failing those leases may have ended the last use of a lost object, which is then freed,
  // not lost. Mark all first, so a reconstruction waits for its lost arguments instead of using them.
  const still = lost.filter(([, o]) => o.state === "READY");
  for (const [id, o] of still) markLost(w, id, o);
  for (const [id, o] of still) reconstruct(w, id, o);
}

/** A raylet holds a copy (it pulled one). */
export function addLocation(w: Ctx, id: ObjectId, node: NodeId, incarnation: number): void {
  const o = w.owned.get(id);
  // A copy made after the object was freed (a pull that was under way): free it too.
  if (!o) return w.fx.send(rayletAddr(node), { type: "FreeObjects", ids: [id] });
  // Overtaken by the node's death (it came the long way): that copy is gone already.
  if (buried(w, node, incarnation)) return;
  if (!o.nodes.includes(node)) o.nodes = [...o.nodes, node];
}

/** A raylet dropped a copy (evicted it). */
export function removeLocation(w: Ctx, id: ObjectId, node: NodeId): void {
  const o = w.owned.get(id);
  if (!o) return;
  o.nodes = o.nodes.filter((n) => n !== node);
  // That was the last copy (a secondary one left alone when the primary's node died, and
  // then evicted): the object is lost, and made again as if its node had died.
  if (o.nodes.length === 0 && o.state === "READY" && !o.value) {
    markLost(w, id, o);
    reconstruct(w, id, o);
  }
}

function markLost(w: Ctx, id: ObjectId, o: Owned): void {
  o.state = nextObjectState(o.state, { type: "LOST" });
  w.fx.trace({ kind: "object.lost", comp: "owner", obj: id });
}

/** Re-makes a lost object by re-running its task, while the budget lasts (Ray's lineage reconstruction). */
function reconstruct(w: Ctx, id: ObjectId, o: Owned): void {
  const l = o.lineage;
  if (l && (l.retriesLeft !== 0 || w.cfg.bugs.has("retry-forever")) && !w.cfg.bugs.has("no-reconstruction")) {
    o.state = nextObjectState(o.state, { type: "RECONSTRUCT" });
    const spec = specWith(l.spec, "attempt", l.spec.attempt + 1);
    const retriesLeft = l.retriesLeft > 0 ? l.retriesLeft - 1 : l.retriesLeft;
    o.lineage = { spec, retriesLeft };
    const t: OwnedTask = { spec, state: "FINISHED", retriesLeft, argRefs: o.deps ?? NO_IDS, heldRefs: undefined, classKey: classKeyOf(w, spec), argsByRef: hasRefArgs(spec), lease: undefined, requests: 0, parent: undefined };
    t.state = nextTaskState(t.state, { type: "RESUBMIT" });
    o.task = t;
    w.fx.trace({ kind: "task.retry", comp: "owner", task: spec.taskId, attempt: spec.attempt, reason: `reconstructing lost object ${id}` });
    return resolveTask(w, t);
  }
  // A generator's item: yielded again by its task's attempt under way, or by a re-run of it.
  const itemWhy = !l && isGeneratorItemId(id)
    ? (w.cfg.bugs.has("no-reconstruction") ? "reconstruction is off" : itemLost(w, id, o))
    : "";
  if (itemWhy === undefined) return generatorItemLostBehind(w, id);
  o.state = nextObjectState(o.state, { type: "UNRECOVERABLE" });
  const why = itemWhy !== "" ? itemWhy
    : !l ? "it was created by ray.put, which has no lineage to re-create it from"
    : `its task ${l.spec.name} has no retries left (maxRetries=${l.spec.maxRetries})`;
  o.value = { kind: "error", error: { type: "ObjectLostError", message: `object ${id} was lost with every copy of it, and cannot be reconstructed: ${why}` } };
  wake(w, o);
  maybeFree(w, id, o);
}
