// For the container suites (test/containers/): podman's Docker-compatible API for testcontainers,
// and the tsray image built through k8s/image/build.sh (its cache makes a rebuild quick).
// Without DOCKER_HOST, a podman API service of this test process is started on a socket of its
// own and stopped by `stop()` (chaos/podman-service.ts); with DOCKER_HOST set (CI starts one), that one is used.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { ROOT } from "./cli-cluster.ts";
import { skipWithout } from "./system.ts";

export { podmanService } from "../../chaos/podman-service.ts";

/** node:test's `skip` for a container suite: podman must run here (required in CI). */
export function skipWithoutPodman(): string | false {
  return skipWithout("podman", { install: "apt-get install -y podman runc debootstrap; see docs/kubernetes.md" });
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

/** Builds the Redis image of GCS fault tolerance (k8s/image/build-redis.sh), unless `npm run test:containers` did. */
export function buildRedisImage(): void {
  if (process.env.TSRAY_IMAGE_BUILT) return;
  const r = spawnSync("bash", [path.join(ROOT, "k8s/image/build-redis.sh")], { encoding: "utf8", timeout: 10 * 60_000 });
  if (r.status !== 0) throw new Error(`k8s/image/build-redis.sh failed (${r.status ?? r.signal}):\n${r.stdout}${r.stderr}`);
}
