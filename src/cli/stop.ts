// `tsray stop [--name NAME | --address HOST:PORT | --all]`: stops the daemons `tsray start`
// started on this machine for one cluster (the only one, or the one named), raylets first, then
// the GCS: SIGTERM, a grace period, then SIGKILL for any that linger. It reports what it
// stopped and what had already exited, separately. A GCS started again by hand on the
// session's port (not recorded) is found by its port and stopped too.

import { parseArgs } from "node:util";
import { alive, findSession, listSessions, removeSession, type DaemonRecord, type Session } from "../runtime/daemon/session.ts";
import { commandLine, listeningPid } from "../runtime/port-owner.ts";

const USAGE = `usage: tsray stop [--name NAME | --address HOST:PORT | --all]

Stops the daemons of a cluster started on this machine (see $TSRAY_HOME/sessions/): the only
one, or the one named (--name, or the GCS --address); --all stops every cluster started here.`;

export async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, strict: true, options: { name: { type: "string" }, address: { type: "string" }, all: { type: "boolean" }, help: { type: "boolean", short: "h" } } }));
  } catch (e) {
    console.error(`tsray stop: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) { console.log(USAGE); return 0; }
  if ([values.name, values.address, values.all].filter((v) => v !== undefined).length > 1) {
    console.error(`tsray stop: give at most one of --name, --address, --all\n${USAGE}`);
    return 2;
  }
  let sessions: Session[];
  try {
    const one = values.all ? undefined : findSession({ name: values.name, address: values.address });
    sessions = values.all ? listSessions() : one ? [one] : [];
  } catch (e) {
    console.error(`tsray stop: ${(e as Error).message}`);
    return 1;
  }
  if (sessions.length === 0) {
    console.log(values.address ? `tsray stop: no cluster at ${values.address} was started on this machine` : "tsray stop: no daemons were started on this machine");
    return values.address ? 1 : 0;
  }
  for (const s of sessions) await stopSession(s);
  return 0;
}

/**
 * A GCS of this session that no session recorded: started again by hand (`main.ts gcs`) after
 * the recorded one died. Found as the tsray GCS daemon listening on the session's GCS port.
 */
function unrecordedGcs(s: Session): DaemonRecord | undefined {
  const pid = listeningPid(Number(s.address.slice(s.address.lastIndexOf(":") + 1)));
  if (pid === undefined || s.daemons.some((d) => d.pid === pid)) return undefined;
  return /daemon\/main\.ts gcs\b/.test(commandLine(pid)) ? { role: "gcs", node: "head", pid, log: "" } : undefined;
}

async function stopSession(s: Session): Promise<void> {
  const extra = unrecordedGcs(s);
  const order = [...s.daemons, ...(extra ? [extra] : [])].sort((a, b) => (a.role === b.role ? 0 : a.role === "raylet" ? -1 : 1));
  const running = order.filter((d) => alive(d.pid));
  const gone = order.filter((d) => !running.includes(d));
  for (const d of running) {
    try { process.kill(d.pid, "SIGTERM"); } catch { /* exited meanwhile */ }
  }
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && running.some((d) => alive(d.pid))) await new Promise((r) => setTimeout(r, 100));
  const killed = running.filter((d) => alive(d.pid));
  for (const d of killed) { try { process.kill(d.pid, "SIGKILL"); } catch { /* gone */ } }
  removeSession(s.name);
  const names = (ds: typeof order) => ds.map((d) => `${d.role} ${d.node}`).join(", ");
  console.log(`tsray: cluster ${s.name} (${s.address}): stopped ${running.length} daemon(s)${running.length ? ` (${names(running)})` : ""}` +
    `${killed.length ? `, ${killed.length} of them with SIGKILL after 5 s` : ""}${gone.length ? `; ${gone.length} had already exited (${names(gone)})` : ""}` +
    `${extra ? `; the GCS (pid ${extra.pid}) was one started by hand on its port` : ""}`);
}
