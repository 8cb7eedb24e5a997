// `tsray stop`: stops the daemons `tsray start` started on this machine (raylets first, then
// the GCS): SIGTERM, a grace period, then SIGKILL for any that linger.

import { alive, clearSession, readSession } from "../runtime/daemon/session.ts";

export async function main(argv: string[]): Promise<number> {
  if (argv.includes("-h") || argv.includes("--help")) { console.log("usage: tsray stop\n\nStops every tsray daemon started on this machine (see $TSRAY_HOME/session.json)."); return 0; }
  if (argv.length > 0) { console.error(`tsray stop: unexpected argument ${argv[0]}`); return 2; }
  const s = readSession();
  if (!s) { console.log("tsray stop: no daemons were started on this machine"); return 0; }
  const order = [...s.daemons].sort((a, b) => (a.role === b.role ? 0 : a.role === "raylet" ? -1 : 1));
  for (const d of order) {
    if (!alive(d.pid)) continue;
    try { process.kill(d.pid, "SIGTERM"); } catch { /* already gone */ }
  }
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && order.some((d) => alive(d.pid))) await new Promise((r) => setTimeout(r, 100));
  for (const d of order) if (alive(d.pid)) { try { process.kill(d.pid, "SIGKILL"); } catch { /* gone */ } }
  clearSession();
  console.log(`tsray: stopped ${order.length} daemon(s) (${order.map((d) => `${d.role} ${d.node}`).join(", ")})`);
  return 0;
}
