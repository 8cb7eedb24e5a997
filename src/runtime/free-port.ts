// A loopback TCP port that is free at the moment of asking (and whether a given one is taken): for tests, benches and chaos
// experiments that start daemons on ports of their choosing. (Another process may take it
// before it is used; on a machine of one's own that does not happen in practice.)

import net from "node:net";

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Whether something listens on `host:port` already (binding it fails with EADDRINUSE). */
export function portInUse(host: string, port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", (e: NodeJS.ErrnoException) => (e.code === "EADDRINUSE" ? resolve(true) : reject(e)));
    s.listen(port, host, () => s.close(() => resolve(false)));
  });
}
