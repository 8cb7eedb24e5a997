// The schema of every model message as it arrives from another process. A daemon decodes a
// frame's body with V8's deserializer, which builds whatever object the sender wrote; before
// that object reaches a model or storage it must have the shape the models assume: ids that
// are strings of the right form, resources that are finite non-negative numbers, enums that
// are known, and no field the models do not know. A message that does not is refused with the
// path of the first bad field (the transport answers INVALID_ARGUMENT), never half-applied.
//
// Compile-time checks tie the schema to the `Msg` union: what it accepts is a `Msg`, and it
// covers every message type. Objects are strict (an unknown field is refused), so a field added
// to a message must be described here too: the daemon tests, which send every kind of message
// through real daemons, fail until it is.

import { z } from "zod/v4";
import type { Msg } from "../../core/messages.ts";
import type { AutoscalingState } from "../../core/types.ts";
import type { AutoscalerStatus } from "../../core/autoscaler/autoscaler.ts";
import { compileCheck } from "./schema-check.ts";

/** A node id: what `--node-id` accepts, and what names a node everywhere (no "/": addresses are `node/component`). */
export const NODE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
/** `node/component`: "n1/raylet", "n1/w3-7", "head/driver-12-x1y2z3". */
const ADDR_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\/[A-Za-z0-9_.:-]{1,128}$/;
/** An address, or an actor's id (the address of the process that made it, `#`, a number): "n1/w3-7#2". */
const JOB_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\/[A-Za-z0-9_.:-]{1,128}(?:#[0-9]{1,16})?$/;
/** Object, task, actor, function and lease ids: printable, no whitespace, bounded. */
const ID_RE = /^[^\s\p{Cc}]{1,512}$/u;
/** A resource name; never one of the keys that would reach an object's prototype. */
const RESOURCE_RE = /^(?!(?:__proto__|constructor|prototype)$)[^\s\p{Cc}]{1,128}$/u;
/** Error messages and stacks: bounded by the frame limits in practice; this only stops absurd ones. */
const MAX_TEXT = 64 << 20;
/** Function source: large bundles are legitimate, but not unbounded. */
const MAX_SOURCE = 64 << 20;
const MAX_LIST = 1 << 20;

const nodeId = z.string().regex(NODE_ID_RE, "not a node id (letters, digits, '_', '.', '-'; at most 128)");
const addr = z.string().regex(ADDR_RE, "not an address (node/component)");
const id = z.string().regex(ID_RE, "not an id (1-512 printable characters, no whitespace)");
const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const text = z.string().max(MAX_TEXT);
// No .refine() anywhere: zod 3 makes every refinement a ZodEffects that costs tens of µs a
// parse, on the path every message takes. Regular expressions say it all instead.

/** Finite, non-negative quantities by resource name. */
const resources = z.record(z.string().regex(RESOURCE_RE, "not a resource name"), z.number().finite().nonnegative());
/**
 * What a heartbeat reports free: the total minus what leases hold, which floating-point
 * subtraction may leave a hair below zero (the models compare with a tolerance too).
 */
const available = z.record(z.string().regex(RESOURCE_RE, "not a resource name"), z.number().finite().gte(-1e-6));
const list = <T extends z.ZodTypeAny>(t: T) => z.array(t).max(MAX_LIST).readonly();

const refInfo = z.object({ id, owner: addr }).strict();
/** `data` is an index into the frame's payloads when this runs (decodeMsg checks its range next). */
const payload = z.object({
  size: count,
  hash: z.string().max(256),
  data: count,
  refs: list(refInfo).optional(),
  marked: z.literal(true).optional(),
}).strict();
/** What user code threw, as data: its own fields are JSON values; its cause, nested, at most a few deep. */
type Thrown = { name: string; message: string; stack?: string; fields?: Record<string, unknown>; cause?: Thrown };
const thrown: z.ZodType<Thrown> = z.lazy(() => z.object({
  name: z.string().max(256),
  message: text,
  stack: text.optional(),
  fields: z.record(z.string().max(256), z.unknown()).optional(),
  cause: thrown.optional(),
}).strict());
const errorInfo = z.object({
  type: z.enum(["TaskError", "WorkerCrashedError", "ObjectLostError", "OwnerDiedError", "ActorDiedError", "GetTimeoutError", "ObjectStoreFullError", "InfeasibleTaskError", "RayError", "TaskCancelledError", "TaskPlacementGroupRemoved"]),
  message: text,
  stack: text.optional(),
  name: z.string().max(256).optional(),
  cause: thrown.optional(),
}).strict();
const strategy = z.union([
  z.literal("DEFAULT"), z.literal("SPREAD"), z.object({ nodeId, soft: z.boolean() }).strict(),
  z.object({ placementGroup: id, bundleIndex: z.number().int().gte(-1), captureChildTasks: z.boolean() }).strict(),
]);
const placementStrategy = z.enum(["PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"]);
const pgSpec = z.object({
  pgId: id, bundles: z.array(resources).min(1).max(MAX_LIST).readonly(), strategy: placementStrategy, name: z.string().min(1).max(1024).optional(),
  lifetime: z.literal("detached").optional(), creator: addr,
}).strict();
const demand = z.object({ resources, count: z.number().int().gte(1), ageMs: z.number().finite().gte(0) }).strict();
/**
 * A job: a driver's address, or a detached actor's id (core/types.ts, JobId). Deaths are
 * published by the same names: a worker's or driver's address, or a detached actor's id once
 * it died for good (its job is over).
 */
const job = z.string().regex(JOB_RE, "not a job (an address, or an actor id: address#number)");
const arg = z.union([z.object({ v: payload }).strict(), z.object({ ref: id, owner: addr }).strict()]);
const concurrencyGroups = list(z.object({ name: z.string().min(1).max(1024), maxConcurrency: z.number().int().gte(1), methods: list(z.string().max(1024)) }).strict());
const taskSpec = z.object({
  taskId: id, kind: z.enum(["normal", "actor-create", "actor-task"]), fn: id, method: z.string().max(1024).optional(), name: z.string().max(1024),
  args: list(arg), returnId: id, owner: addr, job, resources, strategy,
  maxRetries: z.number().int().gte(-1), retryExceptions: z.boolean(), attempt: count, bounces: count.optional(),
  actorId: id.optional(), seq: count.optional(), caller: addr.optional(),
  maxConcurrency: z.number().int().gte(1).optional(), namespace: z.string().max(1024).optional(),
  concurrencyGroups: concurrencyGroups.optional(), concurrencyGroup: z.string().min(1).max(1024).optional(),
  cancelled: z.literal(true).optional(),
  streaming: z.object({ backpressure: z.number().int().gte(1).optional() }).strict().optional(),
}).strict();
const actorSpec = z.object({
  actorId: id, fn: id, className: z.string().max(1024), args: list(arg), owner: addr, job, resources, strategy,
  maxRestarts: z.number().int().gte(-1), maxTaskRetries: z.number().int().gte(-1), name: z.string().min(1).max(1024).optional(),
  maxConcurrency: z.number().int().gte(1).optional(), namespace: z.string().max(1024).optional(), detached: z.boolean().optional(),
  concurrencyGroups: concurrencyGroups.optional(), generators: list(z.string().max(1024)).optional(), maxPendingCalls: z.number().int().gte(1).optional(),
}).strict();
const fnDescriptor = z.object({ id, name: z.string().max(1024), kind: z.enum(["function", "class"]), source: z.string().max(MAX_SOURCE) }).strict();
const actorInfo = z.object({
  actorId: id, state: z.enum(["DEPENDENCIES_UNREADY", "PENDING_CREATION", "ALIVE", "RESTARTING", "DEAD"]), address: addr.optional(), epoch: count,
  name: z.string().max(1024).optional(), owner: addr, error: errorInfo.optional(), namespace: z.string().max(1024).optional(),
  maxTaskRetries: z.number().int().gte(-1).optional(), generators: list(z.string().max(1024)).optional(), maxPendingCalls: z.number().int().gte(1).optional(),
}).strict();
const nodeView = z.object({
  node: nodeId, incarnation: count, endpoint: z.string().max(1024).optional(), total: resources, available, alive: z.boolean(),
  bundles: list(z.string().max(1024)).optional(),
}).strict();
const leaseRequest = z.object({
  resources, strategy, deps: list(z.object({ id, owner: addr }).strict()), job, actorId: id.optional(), grantOrReject: z.boolean(), taskId: id,
}).strict();
const taskResult = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("inline"), payload }).strict(),
  z.object({ kind: z.literal("stored"), node: nodeId, size: count, hash: z.string().max(256), refs: list(refInfo).optional() }).strict(),
  z.object({ kind: z.literal("error"), error: errorInfo, retryable: z.boolean() }).strict(),
]);
const objectStatus = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("inline"), payload }).strict(),
  z.object({ kind: z.literal("stored"), nodes: list(nodeId), size: count }).strict(),
  z.object({ kind: z.literal("error"), error: errorInfo }).strict(),
]);

const m = <T extends string, S extends z.ZodRawShape>(type: T, shape: S) => z.object({ type: z.literal(type), ...shape }).strict();

export const msgSchema = z.discriminatedUnion("type", [
  m("RequestLease", { reqId: count, req: leaseRequest }),
  m("LeaseGranted", { reqId: count, leaseId: id, worker: addr }),
  m("LeaseSpillback", { reqId: count, node: nodeId, incarnation: count }),
  m("LeaseRejected", { reqId: count, reason: text, infeasible: z.boolean() }),
  m("ReturnLease", { leaseId: id, destroyWorker: z.boolean() }),
  m("CancelLease", { reqId: count }),
  m("PushTask", { spec: taskSpec, minPendingSeq: count.optional(), closedSeqs: list(count).optional() }),
  m("TaskReply", { taskId: id, returnId: id, attempt: count, result: taskResult, epoch: count.optional(), runMs: z.number().finite().nonnegative().optional(), items: count.optional() }),
  m("TaskBounced", { taskId: id, returnId: id, attempt: count, bounces: count }),
  m("RegisterWorker", { worker: addr, driver: z.boolean().optional() }),
  m("WorkerBlocked", { worker: addr }),
  m("WorkerUnblocked", { worker: addr }),
  m("Unblocked", {}),
  m("Exit", { ask: count }),
  m("ExitReply", { ask: count, exiting: z.boolean() }),
  m("StorePut", { reqId: count, id, payload, owner: addr }),
  m("StorePutReply", { reqId: count, id, error: errorInfo.optional() }),
  m("StoreGet", { reqId: count, ids: list(z.object({ id, owner: addr }).strict()), local: z.literal(true).optional() }),
  m("StoreGetReply", { reqId: count, values: list(z.union([payload, errorInfo])) }),
  m("StoreLocal", { reqId: count }),
  m("StorePeek", { reqId: count, ids: list(z.object({ id, owner: addr }).strict()) }),
  m("StoreAbsent", { reqId: count, ids: list(id) }),
  m("GetLocations", { id }),
  m("Locations", { id, status: z.union([objectStatus, z.object({ kind: z.literal("unknown") }).strict()]) }),
  m("AddLocation", { id, node: nodeId, incarnation: count }),
  m("RemoveLocation", { id, node: nodeId }),
  m("FreeObjects", { ids: list(id), orphaned: z.literal(true).optional() }),
  m("Pull", { id }),
  m("Chunk", { id, index: count, total: count, size: count, payload: payload.optional() }),
  m("PullFailed", { id }),
  m("GetStatus", { id }),
  m("Status", { id, status: objectStatus }),
  m("RegisterNode", { node: nodeId, incarnation: count, resources, endpoint: z.string().max(1024).optional() }),
  m("NodeRegistered", { head: nodeId, incarnation: count, deadWorkers: list(job).optional(), bundles: z.object({ keep: list(z.string().max(1024)), before: count }).strict().optional() }),
  m("Heartbeat", { node: nodeId, available, demands: list(demand).optional(), backlog: list(demand).optional(), idleMs: z.number().finite().gte(0).optional() }),
  m("ClusterView", { nodes: list(nodeView) }),
  m("WorkerDied", { worker: job }),
  m("NodeDead", { node: nodeId, incarnation: count }),
  m("KnownDeaths", { workers: list(job), nodes: list(z.object({ node: nodeId, incarnation: count }).strict()) }),
  m("GcsRestarted", {}),
  m("SubscribeFailures", {}),
  m("RegisterFunction", { fn: fnDescriptor }),
  m("GetFunction", { id }),
  m("Function", { fn: fnDescriptor }),
  m("CreateActor", { spec: actorSpec, failed: errorInfo.optional() }),
  m("ActorUpdate", { info: actorInfo }),
  m("SubscribeActor", { actorId: id }),
  m("GetNamedActor", { reqId: count, name: z.string().max(1024), namespace: z.string().max(1024).optional() }),
  m("NamedActor", { reqId: count, info: actorInfo.optional() }),
  m("ListNamedActors", { reqId: count, namespace: z.string().max(1024).optional() }),
  m("NamedActorList", { reqId: count, actors: list(z.object({ name: z.string().max(1024), namespace: z.string().max(1024) }).strict()) }),
  m("KillActor", { actorId: id, noRestart: z.literal(false).optional(), epoch: count.optional(), exited: z.literal(true).optional() }),
  m("ActorOutOfScope", { actorId: id }),
  m("AddBorrower", { id, borrower: addr, seq: z.number().int().gte(1) }),
  m("RemoveBorrower", { id, borrower: addr, holds: z.number().int().gte(1), seq: z.number().int().gte(1) }),
  m("HeldLeases", { leases: list(z.object({ leaseId: id, worker: addr }).strict()) }),
  m("CreatePlacementGroup", { spec: pgSpec }),
  m("RemovePlacementGroup", { pgId: id }),
  m("PrepareBundles", { pgId: id, attempt: count, bundles: list(z.object({ index: count, resources }).strict()) }),
  m("BundlesPrepared", { pgId: id, attempt: count, node: nodeId, ok: z.boolean() }),
  m("CommitBundles", { pgId: id, attempt: count }),
  m("ReleaseBundles", { pgId: id, attempt: count.optional() }),
  m("GetClusterInfo", { reqId: count }),
  m("ClusterInfo", { reqId: count, nodes: list(nodeView) }),
  m("DrainNode", { node: nodeId, reason: z.string().max(1024) }),
  m("DrainReply", { node: nodeId, accepted: z.boolean(), reason: z.string().max(1024) }),
  m("CancelTask", { taskId: id, returnId: id, attempt: count, recursive: z.boolean() }),
  m("ReportGeneratorItem", {
    taskId: id, returnId: id, attempt: count, index: count,
    result: z.discriminatedUnion("kind", [taskResult.options[0], taskResult.options[1]]),
  }),
  m("GeneratorAck", { taskId: id, attempt: count, consumed: count }),
]);

// Compile-time: what the schema accepts is a `Msg`, and every message type has a schema.
type Accepted = z.infer<typeof msgSchema>;
const _acceptedIsMsg: Accepted extends Msg ? true : never = true;
const _everyMsgAccepted: [Exclude<Msg["type"], Accepted["type"]>] extends [never] ? true : never = true;
void _acceptedIsMsg;
void _everyMsgAccepted;

/** The schema as a predicate (schema-check.ts): the path every well-formed message takes. */
const wellFormed = compileCheck(msgSchema);

/** What is wrong with a message, naming the field; undefined when it is a well-formed `Msg`. */
export function msgProblem(v: unknown): string | undefined {
  if (wellFormed(v)) return undefined;
  // zod decides what the predicate did not accept, and names the field. Its readonly() freezes
  // the value it was given even when that value is wrong, and freezing a typed array with
  // elements throws: a list sent as a Uint8Array would otherwise escape as an exception.
  let r: ReturnType<typeof msgSchema.safeParse>;
  try {
    r = msgSchema.safeParse(v);
  } catch (e) {
    return `(message): not a well-formed message (${(e as Error).message})`;
  }
  if (r.success) return undefined;
  const issue = r.error.issues[0];
  const where = issue.path.length > 0 ? issue.path.join(".") : "(message)";
  return `${where}: ${issue.message}`;
}

// ---- the autoscaling service (autoscaling-service.ts): a remote autoscaler (KubeRay's sidecar) and the GCS ----

const autoscalingNode = z.object({ node: nodeId, alive: z.boolean(), total: resources, available, idleMs: z.number().finite().gte(0) }).strict();
/** The GCS's answer to GetState: what `Gcs.autoscalingState()` returns in process. */
const autoscalingState = z.object({ nodes: list(autoscalingNode), demands: list(demand), backlog: list(demand) }).strict();
const ageMs = z.number().finite().gte(0);
/** What the remote autoscaler reports of itself with each GetState (Ray's ReportAutoscalingState), shown by `tsray status`. */
const autoscalerStatus = z.object({
  groups: list(z.object({ name: z.string().min(1).max(1024), running: count, pending: count, min: count, max: count }).strict()),
  pendingLaunches: list(z.object({ group: z.string().min(1).max(1024), launch: z.string().min(1).max(1024), node: nodeId.optional(), ageMs }).strict()),
  draining: list(nodeId),
  recentFailures: list(z.object({ group: z.string().min(1).max(1024), reason: text, ageMs }).strict()),
  unmet: list(resources),
}).strict();
const getStateRequest = z.object({ status: autoscalerStatus.optional() }).strict();
const drainNodeRequest = z.object({ node: nodeId, reason: z.string().max(1024) }).strict();

// Compile-time: each schema accepts exactly what the models' types say.
const _stateIsState: z.infer<typeof autoscalingState> extends AutoscalingState ? true : never = true;
const _statusIsStatus: z.infer<typeof autoscalerStatus> extends AutoscalerStatus ? true : never = true;
void _stateIsState;
void _statusIsStatus;

/** The autoscaling service's messages, each checked where it arrives (requests by the GCS, replies by the autoscaler). */
export const autoscalingSchemas = { getStateRequest, drainNodeRequest, autoscalingState } as const;

/** `v` as the schema's type, or an Error naming the first bad field. */
export function parseOr<T>(schema: z.ZodType<T>, v: unknown, what: string): T | Error {
  const r = schema.safeParse(v);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  return new Error(`${what}: ${issue.path.length > 0 ? issue.path.join(".") : "(message)"}: ${issue.message}`);
}
