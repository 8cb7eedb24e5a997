// Where `tsray start` leaves what later commands on this machine need: each cluster's address,
// its token, and the daemons it started (pids and log files). One JSON file per cluster started
// here, `$TSRAY_HOME/sessions/NAME.json` (default home ~/.tsray), NAME being `--name` or else
// the GCS port: several clusters on one machine are started and stopped independently.
// Everything under the home is this user's only: files 0600, directories 0700 (the token and
// the functions' source are in there).

import { isRunning } from "../process.ts";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export interface DaemonRecord {
  readonly role: "gcs" | "raylet";
  readonly node: string;
  readonly pid: number;
  readonly log: string;
}

export interface Session {
  /** The key of this cluster on this machine: `--name`, or else the GCS port. */
  readonly name: string;
  /** host:port of the GCS. */
  readonly address: string;
  readonly token: string;
  readonly daemons: DaemonRecord[];
  readonly dir: string;
  /** The GCS daemon's arguments, to start it again (`tsray start --head --gcs-only`). */
  readonly gcsArgs?: readonly string[];
}

/** Which session a command means: by name, or by the GCS address. */
export interface SessionSelector {
  readonly name?: string;
  readonly address?: string;
}

export function home(): string {
  return process.env.TSRAY_HOME ?? path.join(os.homedir(), ".tsray");
}

const sessionsDir = () => path.join(home(), "sessions");

/** The file of session `name`. */
export function sessionFile(name: string): string {
  return path.join(sessionsDir(), `${name}.json`);
}

/** A session name: what `--name` accepts (it names a file). */
export const SESSION_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Every session recorded on this machine, by name. */
export function listSessions(): Session[] {
  let names: string[];
  try {
    names = fs.readdirSync(sessionsDir()).filter((f) => f.endsWith(".json"));
  } catch {
    return [];
  }
  const out: Session[] = [];
  for (const f of names.sort()) {
    try {
      out.push(JSON.parse(fs.readFileSync(path.join(sessionsDir(), f), "utf8")) as Session);
    } catch { /* a file being replaced, or not ours */ }
  }
  return out;
}

/**
 * The session `sel` names; without a selector, the only one there is. Throws when the choice
 * is ambiguous (several clusters, no selector) or names nothing, saying what there is.
 */
export function findSession(sel: SessionSelector = {}): Session | undefined {
  const all = listSessions();
  const list = () => all.map((s) => `${s.name} (${s.address})`).join(", ");
  if (sel.name !== undefined) {
    const s = all.find((x) => x.name === sel.name);
    if (!s) throw new Error(`no cluster named ${JSON.stringify(sel.name)} was started here${all.length ? `; there are: ${list()}` : ""}`);
    return s;
  }
  if (sel.address !== undefined) return all.find((x) => x.address === sel.address);
  if (all.length > 1) throw new Error(`${all.length} clusters were started here: ${list()}; say which with --name NAME or --address HOST:PORT`);
  return all[0];
}

/** The one session there is, if exactly one (what a client uses without --address). */
function onlySession(): Session | undefined {
  const all = listSessions();
  return all.length === 1 ? all[0] : undefined;
}

export function writeSession(s: Session): void {
  fs.mkdirSync(sessionsDir(), { recursive: true, mode: 0o700 });
  const file = sessionFile(s.name);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(s, null, 2) + "\n", { mode: 0o600 });
  fs.renameSync(tmp, file);
}

export function removeSession(name: string): void {
  fs.rmSync(sessionFile(name), { force: true });
}

/**
 * The GCS address the environment names: $TSRAY_ADDRESS, else $RAY_ADDRESS (KubeRay sets it in
 * every Ray container: 127.0.0.1:6379 on the head, the head Service's host:6379 on workers).
 * Ray's other forms of RAY_ADDRESS are refused by name: tsray has no Ray Client server (ray://)
 * and a dashboard URL (http://) is no GCS address.
 */
export function envAddress(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.TSRAY_ADDRESS !== undefined) return env.TSRAY_ADDRESS;
  const ray = env.RAY_ADDRESS;
  if (ray === undefined || ray === "") return undefined;
  if (/^[a-z]+:\/\//i.test(ray)) {
    throw new Error(`RAY_ADDRESS=${ray}: tsray connects to the GCS (HOST:PORT, e.g. 127.0.0.1:6379, or auto); ${ray.startsWith("ray://") ? "Ray Client (ray://) is not implemented" : "a URL names the dashboard (use it as TSRAY_DASHBOARD_ADDRESS)"}`);
  }
  return ray;
}

/** The cluster token the environment holds: $TSRAY_TOKEN, else KubeRay's $RAY_AUTH_TOKEN (authOptions mode token). */
export function envToken(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.TSRAY_TOKEN ?? (env.RAY_AUTH_TOKEN?.trim() || undefined);
}

/** The token for a client: --token, then the environment's (envToken), then this machine's session for `address` (or its only one). */
export function resolveToken(explicit?: string, address?: string): string | undefined {
  const given = explicit ?? envToken();
  if (given) return given;
  const a = address ?? envAddress();
  return (a ? listSessions().find((s) => s.address === a) : onlySession())?.token;
}

/** The GCS address for a client: --address, then the environment's (envAddress), then this machine's only session. */
export function resolveAddress(explicit?: string): string | undefined {
  return explicit ?? envAddress() ?? onlySession()?.address;
}

/** Whether a daemon we started is still running. */
export const alive = isRunning;
