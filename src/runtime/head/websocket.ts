// The server side of a WebSocket (RFC 6455), reduced to what the job log tail needs: accept the
// upgrade, send text frames, close. Frames from the client are read only to answer its close;
// Ray's clients send nothing else on this stream.

import { createHash } from "node:crypto";
import type http from "node:http";
import type { Duplex } from "node:stream";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

export interface TextSocket {
  send(text: string): void;
  close(): void;
  readonly closed: boolean;
  onClose(fn: () => void): void;
}

/** Completes the handshake of an `upgrade` request; undefined (after a 400) if it is not a WebSocket one. */
export function acceptWebSocket(req: http.IncomingMessage, socket: Duplex): TextSocket | undefined {
  const key = req.headers["sec-websocket-key"];
  if (typeof key !== "string" || (req.headers.upgrade ?? "").toLowerCase() !== "websocket") {
    socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\nexpected a WebSocket upgrade\n");
    return undefined;
  }
  const accept = createHash("sha1").update(key + GUID).digest("base64");
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\n\r\n`);
  let closed = false;
  const listeners: (() => void)[] = [];
  const end = () => {
    if (closed) return;
    closed = true;
    for (const fn of listeners) fn();
  };
  socket.on("close", end);
  socket.on("error", end);
  socket.on("data", (b: Buffer) => {
    // Opcode 8 is the client's close: answer it and end.
    if (b.length > 0 && (b[0] & 0x0f) === 8) ws.close();
  });
  const frame = (opcode: number, payload: Buffer) => {
    const n = payload.length;
    const head = n < 126 ? Buffer.from([0x80 | opcode, n])
      : n < 65536 ? Buffer.from([0x80 | opcode, 126, n >> 8, n & 0xff])
      : Buffer.concat([Buffer.from([0x80 | opcode, 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(n)); return b; })()]);
    socket.write(Buffer.concat([head, payload]));
  };
  const ws: TextSocket = {
    send: (text) => { if (!closed) frame(1, Buffer.from(text, "utf8")); },
    close: () => {
      if (closed) return;
      frame(8, Buffer.from([0x03, 0xe8])); // 1000: normal closure
      socket.end();
      end();
    },
    get closed() { return closed; },
    onClose: (fn) => { listeners.push(fn); },
  };
  return ws;
}
