// The kubernetes chaos target's GCS port (chaos/tcp-forward.ts): connections go to the current
// target; none before one is set; after `retarget`, new connections go to the new one (a head pod
// that came back at another IP) while open ones stay where they were.
import assert from "node:assert/strict";
import net from "node:net";
import { test } from "node:test";
import { TcpForward } from "../../chaos/tcp-forward.ts";

/** A server that answers each line with its name and the line. */
async function named(name: string): Promise<net.Server & { port: number }> {
  const s = net.createServer((c) => c.on("data", (d) => c.write(`${name}:${d}`)));
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  return Object.assign(s, { port: (s.address() as net.AddressInfo).port });
}

function ask(address: string, line: string): Promise<string> {
  const [host, port] = address.split(":");
  return new Promise((resolve, reject) => {
    const c = net.connect({ host, port: Number(port) }, () => c.write(line));
    c.once("data", (d) => { resolve(String(d)); c.destroy(); });
    c.once("close", () => resolve("(closed)"));
    c.once("error", reject);
  });
}

test("forwards to the current target; none before one is set; retarget moves new connections", async () => {
  const [a, b] = [await named("a"), await named("b")];
  const f = await TcpForward.start();
  try {
    assert.equal(await ask(f.address, "x"), "(closed)", "no target yet: the connection is closed");
    f.retarget("127.0.0.1", a.port);
    assert.equal(await ask(f.address, "1"), "a:1");
    f.retarget("127.0.0.1", b.port);
    assert.equal(await ask(f.address, "2"), "b:2");
  } finally {
    await f.close();
    a.close();
    b.close();
  }
});
