#!/usr/bin/env bash
# Builds the Redis image the chaos experiments with GCS fault tolerance run beside the cluster
# (the `redis` Deployment of k8s/kuberay/ray-cluster-redis-ft.yaml stands for it on Kubernetes),
# on a machine without a registry: the tsray base image k8s/image/build.sh made (debootstrap
# bookworm + node) plus this machine's own redis-server (Debian's package) and the shared
# libraries `ldd` lists that the base lacks.
#
# usage: k8s/image/build-redis.sh [--tag NAME:TAG]   (default tsray-redis:dev)
# Environment: TSRAY_REDIS_SERVER (default: `redis-server` on PATH); TSRAY_IMAGE_CACHE as build.sh.
set -euo pipefail

tag=tsray-redis:dev
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) tag="${2:?--tag needs NAME:TAG}"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-redis.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

redis_bin="$(readlink -f "${TSRAY_REDIS_SERVER:-$(command -v redis-server || true)}")"
[ -x "$redis_bin" ] || { echo "build-redis.sh: needs redis-server (apt-get install -y redis-server)" >&2; exit 1; }
cache="${TSRAY_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tsray}"
rootfs="$cache/rootfs-bookworm-minbase"
node_version="$("$(readlink -f "${TSRAY_NODE:-$(command -v node)}")" --version)"
base="localhost/tsray-base:bookworm-node-${node_version}"
podman image exists "$base" || { echo "build-redis.sh: no $base: run k8s/image/build.sh first" >&2; exit 1; }

context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
install -D -m 0755 "$redis_bin" "$context/usr/local/bin/redis-server"
# The libraries redis-server links that the base lacks, under /usr (bookworm's /lib is a link
# to usr/lib: a /lib directory in the context would replace that link); the base's own are kept.
ldd "$redis_bin" | grep -oE '/[^ ]+\.so[^ ]*' | while read -r lib; do
  [ -e "$rootfs$lib" ] || install -D -m 0644 "$(readlink -f "$lib")" "$context/usr${lib#/usr}"
done
printf 'FROM %s\nCOPY . /\nCMD ["redis-server", "--save", "", "--appendonly", "no", "--protected-mode", "no"]\n' "$base" >"$context/Containerfile"
podman build --quiet -f "$context/Containerfile" -t "$tag" "$context" >/dev/null
podman run --rm "$tag" redis-server --version >/dev/null || { echo "build-redis.sh: redis-server does not run in $tag" >&2; exit 1; }
echo "build-redis.sh: built $tag from $base and $redis_bin" >&2
