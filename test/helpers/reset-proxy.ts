// A TCP proxy that can reset its connections while both ends live (what a NAT, a proxy or a
// kernel does to a connection): each side gets an RST, and what was buffered is lost. It can
// also silence them: nothing more goes through either way, and neither end hears of it (a NAT
// that forgot the connection and drops its packets).
import net from "node:net";

export interface ResetProxy {
  /** host:port the proxy listens on. */
  readonly target: string;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Resets done so far (by cut, or by cutAfter's count). */
  readonly resets: number;
  /** Resets every connection now. */
  cut(): void;
  /** Resets the connections once `bytes` more have gone through (either way), `times` times over. */
  cutAfter(bytes: number, times?: number): void;
  /** Stops forwarding what the client writes (it waits in the sockets' buffers) until the next cut. */
  hold(): void;
  /** Silences the connections open now once `bytes` more have gone through (either way); new ones go through. */
  silenceAfter(bytes: number): void;
  /** Connections silenced so far. */
  readonly silenced: number;
  close(): Promise<void>;
}

/**
 * Forwards to `port` on 127.0.0.1, listening on `listen` (default: a free port of 127.0.0.1).
 * Another loopback address with the upstream's own port (127.0.0.2:port) lets a daemon that
 * advertises that host be reached through the proxy unawares.
 */
export async function startProxy(port: number, listen: { host: string; port: number } = { host: "127.0.0.1", port: 0 }): Promise<ResetProxy> {
  const pairs = new Set<[net.Socket, net.Socket]>();
  /** Out of `pairs`: neither end's closing reaches the other, nor resets the rest. */
  const silent = new Set<[net.Socket, net.Socket]>();
  let silenceAt = Infinity;
  let forwarded = 0;
  let cutAt = Infinity;
  let every = 0;
  let cutsLeft = 0;
  let holding = false;
  let accepted = 0;
  let resets = 0;
  const cut = () => {
    holding = false;
    if (pairs.size > 0) resets++;
    for (const [a, b] of pairs) { a.resetAndDestroy(); b.resetAndDestroy(); }
    pairs.clear();
  };
  const silence = () => {
    silenceAt = Infinity;
    for (const pair of pairs) { for (const s of pair) s.pause(); silent.add(pair); }
    pairs.clear();
  };
  const forward = (from: net.Socket, to: net.Socket) => from.on("data", (d) => {
    to.write(d);
    forwarded += d.byteLength;
    if (forwarded >= silenceAt) silence();
    if (forwarded < cutAt) return;
    cutAt = --cutsLeft > 0 ? forwarded + every : Infinity;
    cut();
  });
  const server = net.createServer((client) => {
    accepted++;
    const upstream = net.connect(port, "127.0.0.1");
    const pair: [net.Socket, net.Socket] = [client, upstream];
    pairs.add(pair);
    for (const s of pair) {
      s.on("error", () => {});
      s.on("close", () => { if (pairs.delete(pair)) cut(); });
    }
    if (holding) client.pause();
    forward(client, upstream);
    forward(upstream, client);
  });
  await new Promise<void>((r) => server.listen(listen.port, listen.host, r));
  return {
    target: `${listen.host}:${(server.address() as net.AddressInfo).port}`,
    get accepted() { return accepted; },
    get resets() { return resets; },
    cut,
    cutAfter(bytes: number, times = 1) { every = bytes; cutsLeft = times; cutAt = forwarded + bytes; },
    hold() { holding = true; for (const [client] of pairs) client.pause(); },
    silenceAfter(bytes: number) { silenceAt = forwarded + bytes; },
    get silenced() { return silent.size; },
    close: () => new Promise<void>((r) => {
      cut();
      for (const pair of silent) for (const s of pair) s.destroy();
      server.close(() => r());
    }),
  };
}
