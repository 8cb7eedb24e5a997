// For the container suites (test/containers/): podman's Docker-compatible API for testcontainers,
// and the tsray image built through k8s/image/build.sh (its cache makes a rebuild quick).
// Without DOCKER_HOST, a podman API service of this test process is started on a socket of its
// own and stopped by `stop()`; with DOCKER_HOST set (CI starts one), that one is used.
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT } from "./cli-cluster.ts";
import { skipWithout } from "./system.ts";

/** node:test's `skip` for a container suite: podman must run here (required in CI). */
export function skipWithoutPodman(): string | false {
  return skipWithout("podman", { install: "apt-get install -y podman runc debootstrap; see docs/kubernetes.md" });
}

/** Points testcontainers at a podman API service; `stop` ends the one started here, if any. */
export async function podmanService(): Promise<{ stop(): Promise<void> }> {
  process.env.TESTCONTAINERS_RYUK_DISABLED = "true";
  if (process.env.DOCKER_HOST) return { stop: async () => {} };
  const socket = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "tsray-podman-")), "podman.sock");
  const service = spawn("podman", ["system", "service", "--time=0", `unix://${socket}`], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  service.stderr!.on("data", (d: Buffer) => { err += d.toString(); });
  for (let i = 0; i < 300 && !fs.existsSync(socket); i++) {
    if (service.exitCode !== null) throw new Error(`podman system service exited (${service.exitCode}): ${err}`);
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

/**
 * Builds (or rebuilds from cache) the image `tsray:dev` (also tagged tsray:<version>) from this
 * checkout, unless `npm run test:containers` did just that (TSRAY_IMAGE_BUILT).
 */
export function buildImage(): void {
  if (process.env.TSRAY_IMAGE_BUILT) return;
  const r = spawnSync("bash", [path.join(ROOT, "k8s/image/build.sh")], { encoding: "utf8", timeout: 20 * 60_000 });
  if (r.status !== 0) throw new Error(`k8s/image/build.sh failed (${r.status ?? r.signal}):\n${r.stdout}${r.stderr}`);
}
