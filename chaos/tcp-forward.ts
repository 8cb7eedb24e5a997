// A TCP port of this machine that forwards each connection to a target that can change: the
// kubernetes target's stable GCS address while the head pod is killed and comes back at another
// IP, as the head Service's name stays while its pod changes (a client in the cluster would use
// the name; this process may not resolve it).

import net from "node:net";

export class TcpForward {
  private readonly sockets = new Set<net.Socket>();

  /** Where connections go; none yet: they are closed. */
  private target: { host: string; port: number } | undefined;

  private constructor(private readonly server: net.Server) {}

  /** Listens on 127.0.0.1 (a free port); connections go where `retarget` says. */
  static async start(): Promise<TcpForward> {
    const server = net.createServer({ noDelay: true });
    const f = new TcpForward(server);
    server.on("connection", (down) => f.pipe(down));
    await new Promise<void>((resolve, reject) => { server.once("error", reject); server.listen(0, "127.0.0.1", resolve); });
    return f;
  }

  get address(): string {
    return `127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  /** New connections go to `host:port`; those open now stay where they are (they end with their pod). */
  retarget(host: string, port: number): void {
    this.target = { host, port };
  }

  private pipe(down: net.Socket): void {
    if (!this.target) { down.destroy(); return; }
    const up = net.connect({ ...this.target, noDelay: true });
    for (const s of [down, up]) {
      this.sockets.add(s);
      s.on("close", () => { this.sockets.delete(s); down.destroy(); up.destroy(); });
      s.on("error", () => { down.destroy(); up.destroy(); });
    }
    down.pipe(up).pipe(down);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
