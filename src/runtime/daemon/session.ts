// Where `tsray start` leaves what later commands on this machine need: the cluster's address,
// its token, and the daemons it started (pids and log files). One JSON file per cluster
// started here, in $TSRAY_HOME (default ~/.tsray).

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
  /** host:port of the GCS. */
  readonly address: string;
  readonly token: string;
  readonly daemons: DaemonRecord[];
  readonly dir: string;
}

export function home(): string {
  return process.env.TSRAY_HOME ?? path.join(os.homedir(), ".tsray");
}

const sessionFile = () => path.join(home(), "session.json");

export function readSession(): Session | undefined {
  try {
    return JSON.parse(fs.readFileSync(sessionFile(), "utf8")) as Session;
  } catch {
    return undefined;
  }
}

export function writeSession(s: Session): void {
  fs.mkdirSync(home(), { recursive: true, mode: 0o700 });
  // The token is a secret: the file is readable by this user only.
  const tmp = `${sessionFile()}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(s, null, 2) + "\n", { mode: 0o600 });
  fs.renameSync(tmp, sessionFile());
}

export function clearSession(): void {
  fs.rmSync(sessionFile(), { force: true });
}

/** The token for a client: --token, then $TSRAY_TOKEN, then this machine's session. */
export function resolveToken(explicit?: string): string | undefined {
  return explicit ?? process.env.TSRAY_TOKEN ?? readSession()?.token;
}

/** The GCS address for a client: --address, then $TSRAY_ADDRESS, then this machine's session. */
export function resolveAddress(explicit?: string): string | undefined {
  return explicit ?? process.env.TSRAY_ADDRESS ?? readSession()?.address;
}

/** Whether a daemon we started is still running. */
export const alive = isRunning;
