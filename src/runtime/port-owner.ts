// Which process listens on a TCP port of this machine, from /proc (Linux): how `tsray stop`
// finds a GCS that was started again by hand, which no session recorded. Elsewhere (no /proc)
// it finds nothing.

import fs from "node:fs";

/** The socket inodes listening on `port` (IPv4 and IPv6). */
function listeningInodes(port: number): Set<string> {
  const out = new Set<string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try { text = fs.readFileSync(table, "utf8"); } catch { continue; }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is ADDR:PORT in hex; st 0A is LISTEN; the inode is the 10th field.
      if (f.length > 9 && f[3] === "0A" && parseInt(f[1].split(":")[1], 16) === port) out.add(f[9]);
    }
  }
  return out;
}

/** The pid listening on `port`, if this user may see it. */
export function listeningPid(port: number): number | undefined {
  const inodes = listeningInodes(port);
  if (inodes.size === 0) return undefined;
  let pids: string[];
  try { pids = fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p)); } catch { return undefined; }
  for (const pid of pids) {
    let fds: string[];
    try { fds = fs.readdirSync(`/proc/${pid}/fd`); } catch { continue; }
    for (const fd of fds) {
      let link: string;
      try { link = fs.readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { continue; }
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m && inodes.has(m[1])) return Number(pid);
    }
  }
  return undefined;
}

/** A process's command line, arguments joined by spaces ("" if unknown). */
export function commandLine(pid: number): string {
  try { return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim(); } catch { return ""; }
}
