// The autoscaler's two GCS ports over the network, for an autoscaler in another process (KubeRay's
// `autoscaler` sidecar, `ray kuberay-autoscaler`): `tsray.v1.Autoscaling/GetState` answers what
// the GCS's `autoscalingState()` returns in process (nodes with their idle time, the demands no
// node can meet — placement groups' among them — and the requests queued for room), and takes the
// autoscaler's status with it (Ray's ReportAutoscalingState) for `tsray status`;
// `tsray.v1.Autoscaling/DrainNode` hands the GCS a drain-node input (Ray's DrainNode). Served by
// the GCS daemon behind the cluster token like every other call; JSON messages checked by the
// schemas in validate.ts on both sides. A head started with --autoscaling-config runs its own
// autoscaler, which wins: the service then refuses every call with FAILED_PRECONDITION.

import * as grpc from "@grpc/grpc-js";
import type { AutoscalerStatus } from "../../core/autoscaler/autoscaler.ts";
import type { AutoscalingState, NodeId } from "../../core/types.ts";
import { TOKEN_METADATA_KEY } from "./transport.ts";
import { autoscalingSchemas, parseOr } from "./validate.ts";

/** A request body that is not JSON: refused by name instead of failing inside grpc-js. */
class NotJson {
  constructor(readonly reason: string) {}
}

const json = {
  serialize: (v: unknown) => Buffer.from(JSON.stringify(v)),
  deserialize: (b: Buffer): unknown => {
    try { return JSON.parse(b.toString("utf8")) as unknown; } catch (e) { return new NotJson((e as Error).message); }
  },
};

const unary = (path: string) => ({
  path, requestStream: false, responseStream: false,
  requestSerialize: json.serialize, requestDeserialize: json.deserialize,
  responseSerialize: json.serialize, responseDeserialize: json.deserialize,
});

export const AUTOSCALING_SERVICE = {
  getState: unary("/tsray.v1.Autoscaling/GetState"),
  drainNode: unary("/tsray.v1.Autoscaling/DrainNode"),
} satisfies grpc.ServiceDefinition;

/** What the GCS daemon gives the service. */
export interface AutoscalingBackend {
  /** Why a remote autoscaler may not act (this head runs its own), or undefined. */
  refusal(): string | undefined;
  /** The GCS's view (undefined once it stopped serving). */
  autoscalingState(): AutoscalingState | undefined;
  drainNode(node: NodeId, reason: string): void;
  /** The remote autoscaler's own status, with each GetState. */
  report(status: AutoscalerStatus): void;
}

/** The server side: each request checked, refused with INVALID_ARGUMENT naming the field, never half-applied. */
export function autoscalingImplementation(gcs: AutoscalingBackend): grpc.UntypedServiceImplementation {
  const admit = <T>(request: unknown, schema: Parameters<typeof parseOr<T>>[0], what: string, cb: grpc.sendUnaryData<unknown>): T | undefined => {
    const refusal = gcs.refusal();
    if (refusal !== undefined) { cb({ code: grpc.status.FAILED_PRECONDITION, details: refusal }); return undefined; }
    if (request instanceof NotJson) { cb({ code: grpc.status.INVALID_ARGUMENT, details: `${what}: not JSON: ${request.reason}` }); return undefined; }
    const r = parseOr(schema, request, what);
    if (r instanceof Error) { cb({ code: grpc.status.INVALID_ARGUMENT, details: r.message }); return undefined; }
    return r;
  };
  return {
    getState: (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      const req = admit(call.request, autoscalingSchemas.getStateRequest, "GetState", cb);
      if (req === undefined) return;
      const state = gcs.autoscalingState();
      if (state === undefined) return cb({ code: grpc.status.UNAVAILABLE, details: "the GCS is not serving (its storage was lost)" });
      if (req.status) gcs.report(req.status);
      cb(null, state);
    },
    drainNode: (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      const req = admit(call.request, autoscalingSchemas.drainNodeRequest, "DrainNode", cb);
      if (req === undefined) return;
      gcs.drainNode(req.node, req.reason);
      cb(null, {});
    },
  };
}

type Call = (req: unknown, md: grpc.Metadata, o: grpc.CallOptions, cb: grpc.requestCallback<unknown>) => void;

/** The client side: the GCS at `target` as the autoscaler's two ports. Replies are checked too. */
export class RemoteGcs {
  private readonly client: grpc.Client & { getState: Call; drainNode: Call };

  constructor(readonly target: string, private readonly token: string, private readonly timeoutMs = 5_000) {
    const Client = grpc.makeGenericClientConstructor(AUTOSCALING_SERVICE, "tsray.v1.Autoscaling");
    this.client = new Client(target, grpc.credentials.createInsecure()) as unknown as RemoteGcs["client"];
  }

  /** The GCS's view; rejects with the GCS's reason (a refusal, a bad reply, unreachable). */
  async state(status?: AutoscalerStatus): Promise<AutoscalingState> {
    const reply = await this.call("getState", status ? { status } : {});
    const r = parseOr(autoscalingSchemas.autoscalingState, reply, `GetState reply from ${this.target}`);
    if (r instanceof Error) throw r;
    return r;
  }

  async drain(node: NodeId, reason: string): Promise<void> {
    await this.call("drainNode", { node, reason });
  }

  close(): void { this.client.close(); }

  private call(method: "getState" | "drainNode", req: unknown): Promise<unknown> {
    const md = new grpc.Metadata();
    md.set(TOKEN_METADATA_KEY, this.token);
    return new Promise((resolve, reject) => {
      this.client[method](req, md, { deadline: Date.now() + this.timeoutMs }, (err, reply) => (err ? reject(err) : resolve(reply)));
    });
  }
}
