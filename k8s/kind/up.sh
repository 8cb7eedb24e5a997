#!/usr/bin/env bash
# The seed article's steps 3-5 on kind: a kind cluster (k8s/kind/kind-config.yaml), the tsray
# image loaded into it, the KubeRay operator v1.7.0 (Helm chart, or the release's kustomize
# manifests when helm is missing) and a RayCluster, then waits until its pods are Ready.
#
# usage: k8s/kind/up.sh [--cluster FILE] [--no-build]
#   --cluster FILE   the RayCluster to apply (default k8s/kuberay/ray-cluster.yaml)
#   --no-build       load the image tsray:<version> as it is instead of building it first
# Needs kind, kubectl and a container engine: docker, or podman (KIND_EXPERIMENTAL_PROVIDER=podman
# is set for it). The image is built with k8s/image/build.sh (podman, no registry) when podman is
# the engine, else with `docker build -f k8s/image/Containerfile`.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cluster_file="$root/k8s/kuberay/ray-cluster.yaml"
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --cluster) cluster_file="${2:?--cluster needs a file}"; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "up.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

KUBERAY_VERSION=1.7.0
kind_name=tsray
version="$(node -p 'require(process.argv[1]).version' "$root/package.json")"
image="tsray:$version"
for prog in kind kubectl; do
  command -v "$prog" >/dev/null || { echo "up.sh: needs $prog" >&2; exit 1; }
done
if docker info >/dev/null 2>&1; then
  engine=docker
elif command -v podman >/dev/null; then
  engine=podman
  export KIND_EXPERIMENTAL_PROVIDER=podman
else
  echo "up.sh: needs a container engine (docker or podman)" >&2; exit 1
fi

# 1. The kind cluster.
if ! kind get clusters | grep -qx "$kind_name"; then
  kind create cluster --config "$root/k8s/kind/kind-config.yaml"
fi

# 2. The image, loaded under the name the manifests use (kind's containerd reads `tsray:X` as
# docker.io/library/tsray:X, so a podman image is retagged to that name before it is saved).
if [ "$build" = 1 ]; then
  if [ "$engine" = podman ]; then bash "$root/k8s/image/build.sh"
  else docker build -f "$root/k8s/image/Containerfile" -t "$image" -t tsray:dev "$root"; fi
fi
archive="$(mktemp --suffix=.tar)"
trap 'rm -f "$archive"' EXIT
"$engine" tag "$image" "docker.io/library/$image"
"$engine" save -o "$archive" "docker.io/library/$image"
kind load image-archive "$archive" --name "$kind_name"

# 3. The KubeRay operator.
if command -v helm >/dev/null; then
  helm repo add kuberay https://ray-project.github.io/kuberay-helm/ >/dev/null
  helm repo update kuberay >/dev/null
  helm upgrade --install kuberay-operator kuberay/kuberay-operator --version "$KUBERAY_VERSION" --wait
else
  kubectl apply --server-side -k "github.com/ray-project/kuberay/ray-operator/config/default?ref=v$KUBERAY_VERSION"
  kubectl wait --for=condition=Available deployment/kuberay-operator --timeout=300s
fi

# 4. The RayCluster, and its pods Ready (the head's readiness probe is /api/healthz on 52365).
kubectl apply -f "$cluster_file"
name="$(cd "$root" && node --input-type=module -e '
  import { parseAllDocuments } from "yaml";
  import fs from "node:fs";
  const rc = parseAllDocuments(fs.readFileSync(process.argv[1], "utf8")).map((d) => d.toJS()).find((o) => o?.kind === "RayCluster");
  if (!rc) { console.error("up.sh: no RayCluster in " + process.argv[1]); process.exit(1); }
  console.log(rc.metadata.name);
' "$cluster_file")"
echo "up.sh: waiting for the pods of RayCluster $name" >&2
until kubectl get pods -l "ray.io/cluster=$name" -o name | grep -q .; do sleep 2; done
kubectl wait --for=condition=Ready pod -l "ray.io/cluster=$name" --timeout=600s
kubectl get raycluster "$name"
echo "up.sh: dashboard: kubectl port-forward service/$name-head-svc 8265:8265 (token: kubectl get secret $name -o jsonpath='{.data.auth_token}' | base64 -d)" >&2
