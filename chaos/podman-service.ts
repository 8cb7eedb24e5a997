// testcontainers speaks Docker's API; on a machine with podman and no Docker engine, podman
// serves that API (`podman system service`). With DOCKER_HOST set (CI starts one, or Docker is
// there), that engine is used; otherwise a podman API service is started on a socket of its own
// and `stop()` ends it.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/** Points testcontainers at a container engine; `stop` ends the podman service started here, if any. */
export async function podmanService(): Promise<{ stop(): Promise<void> }> {
  process.env.TESTCONTAINERS_RYUK_DISABLED = "true";
  if (process.env.DOCKER_HOST) return { stop: async () => {} };
  const socket = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "tsray-podman-")), "podman.sock");
  const service = spawn("podman", ["system", "service", "--time=0", `unix://${socket}`], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  service.stderr!.on("data", (d: Buffer) => { err += d.toString(); });
  service.on("error", (e) => { err += e.message; });
  for (let i = 0; i < 300 && !fs.existsSync(socket); i++) {
    if (service.exitCode !== null || err.includes("ENOENT")) throw new Error(`podman system service did not start (${service.exitCode ?? "no podman?"}): ${err}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!fs.existsSync(socket)) { service.kill(); throw new Error(`podman system service made no socket at ${socket}: ${err}`); }
  process.env.DOCKER_HOST = `unix://${socket}`;
  return {
    stop: async () => {
      delete process.env.DOCKER_HOST;
      if (service.exitCode === null) {
        const exited = new Promise((r) => service.once("exit", r));
        service.kill("SIGTERM");
        await exited;
      }
      fs.rmSync(path.dirname(socket), { recursive: true, force: true });
    },
  };
}
