// For suites that need a Kubernetes cluster (the kubernetes chaos target): the one KUBECONFIG
// names must answer (`kubectl get --raw /version`). Elsewhere the suite is skipped with the
// reason printed; where TSRAY_REQUIRE names "kubernetes" (a CI job with kind), it fails instead.
import { spawnSync } from "node:child_process";
import { skipFor } from "./system.ts";

export function skipWithoutKubernetes(): string | false {
  const probe = spawnSync("kubectl", ["get", "--raw", "/version", "--request-timeout=5s"], { encoding: "utf8", timeout: 20_000 });
  if (!probe.error && probe.status === 0) return false;
  const why = probe.error ? `kubectl: ${probe.error.message}` : (probe.stderr.trim().split("\n").at(-1) ?? `kubectl exited ${probe.status}`);
  return skipFor("kubernetes", `needs a reachable Kubernetes cluster with the tsray image (KUBECONFIG; k8s/kind/up.sh makes one): ${why}`);
}
