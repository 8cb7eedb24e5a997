// A raylet daemon reached through reset proxies: it advertises 127.0.0.2, where one proxy
// forwards its gRPC port and another its object channel to the real ports on 127.0.0.1. Every
// connection to the node (its peers', a driver's) then goes through a proxy that can reset it
// while both processes live, with no hook in the daemon.
import { RayletDaemon } from "../../src/runtime/daemon/raylet-daemon.ts";
import { getStatus } from "../../src/runtime/daemon/transport.ts";
import { freePort } from "../../src/runtime/free-port.ts";
import { startProxy, type ResetProxy } from "./reset-proxy.ts";

export interface ProxiedNode {
  readonly daemon: RayletDaemon;
  /** In front of the node's gRPC port. */
  readonly grpc: ResetProxy;
  /** In front of the node's object channel. */
  readonly objects: ResetProxy;
  /** The daemon's GetStatus, asked past the proxies. */
  status<T>(): Promise<T>;
  close(): Promise<void>;
}

export async function proxiedNode(gcs: string, token: string, id: string, resources: Record<string, number>): Promise<ProxiedNode> {
  const port = await freePort();
  const objectPort = await freePort();
  const grpc = await startProxy(port, { host: "127.0.0.2", port });
  const objects = await startProxy(objectPort, { host: "127.0.0.2", port: objectPort });
  const daemon = await RayletDaemon.start({
    gcs, node: id, resources, token, host: "127.0.0.1", advertiseHost: "127.0.0.2", port, objectPort,
    objectSocket: false, log: () => {},
  });
  return {
    daemon, grpc, objects,
    status: async <T>() => (await getStatus(`127.0.0.1:${port}`, token)) as T,
    close: async () => { await grpc.close(); await objects.close(); await daemon.close(); },
  };
}
