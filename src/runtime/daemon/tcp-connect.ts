// TCP connects to daemons: where a "host:port" target points, and a bound on how long a
// connect to it may take.
//
// grpc-js gives a connection attempt no timeout (its connector's tcpConnect is a bare
// net.connect). A SYN sent to an address nobody answers from (a killed pod's) waits out the
// kernel's retries, about two minutes; a link gives such an attempt up after its Hello timeout
// and dials again, but the abandoned socket stays, and keeps its process alive after everything
// else has closed: the containers chaos test's process outlived its tests by two minutes in
// about half the runs after a head pod-kill. Node announces every client socket it creates
// (diagnostics_channel "net.client.socket") and each attempt's address ("connectionAttempt",
// since Node 20.12: package.json's engines say so).
// An attempt to a port that a link dials, still connecting after the link's bound, is
// destroyed; grpc-js takes that as a failed attempt, as it would a refused one. Other sockets
// of the process (a driver program's own) are left alone: a target given as an IP address must
// match the attempt's address too (one given as a name matches by port).

import dc from "node:diagnostics_channel";
import net from "node:net";

const CHANNEL = "net.client.socket";

interface Bound {
  /** The target's host: an IP address, or a name (matched by port alone). */
  readonly host: string;
  readonly ms: number;
}

/** Port → the bounds asked for it by the links that dial it; the smallest that matches applies. */
const bounds = new Map<number, Bound[]>();

/** "host:port" or "[v6]:port" split; the host loses its brackets. */
export function splitHostPort(target: string): { host: string; port: number } {
  const i = target.lastIndexOf(":");
  return { host: target.slice(0, i).replace(/^\[|\]$/g, ""), port: Number(target.slice(i + 1)) };
}

function onClientSocket(message: unknown): void {
  const socket = (message as { socket: net.Socket }).socket;
  socket.once("connectionAttempt", (ip: string, port: number) => {
    let ms = Infinity;
    for (const b of bounds.get(port) ?? []) if (b.ms < ms && (b.host === ip || net.isIP(b.host) === 0)) ms = b.ms;
    if (ms === Infinity) return;
    const timer = setTimeout(() => {
      if (socket.connecting) socket.destroy(new Error(`TCP connect to ${ip}:${port}: no answer within ${ms / 1000} s`));
    }, ms);
    timer.unref();
    const done = () => clearTimeout(timer);
    socket.once("connect", done);
    socket.once("close", done);
  });
}

/**
 * Bounds every TCP connect to `target`'s port by `ms`, until the returned function is called.
 * Attempts started before then keep their bound to the end.
 */
export function boundConnects(target: string, ms: number): () => void {
  const { host, port } = splitHostPort(target);
  if (!Number.isInteger(port) || port <= 0) return () => {}; // not a TCP target (a Unix socket): nothing to bound
  if (bounds.size === 0) dc.subscribe(CHANNEL, onClientSocket);
  const asked = bounds.get(port) ?? [];
  const bound: Bound = { host, ms };
  asked.push(bound);
  bounds.set(port, asked);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    asked.splice(asked.indexOf(bound), 1);
    if (asked.length > 0) return;
    bounds.delete(port);
    if (bounds.size === 0) dc.unsubscribe(CHANNEL, onClientSocket);
  };
}
