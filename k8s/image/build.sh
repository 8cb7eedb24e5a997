#!/usr/bin/env bash
# Builds the tsray image (k8s/image/Containerfile) on a machine without a container registry,
# into podman: the Containerfile's base is made from Debian's own packages instead of pulled —
# a debootstrap minbase bookworm (bash, wget, grep, ca-certificates) plus this machine's node
# binary at /usr/local/bin/node, where the official node image has it — and the build context
# is staged with the production node_modules (copied from the local install, dev-only packages
# left out as package-lock.json marks them), since `npm ci` needs a registry.
#
# usage: k8s/image/build.sh [--tag NAME:TAG]      (default tsray:dev; also tagged tsray:<version>)
# Environment: TSRAY_IMAGE_CACHE (default ~/.cache/tsray) keeps the debootstrap root filesystem
# and the staged dependencies, so a rebuild takes seconds; DEBIAN_MIRROR (default: the mirror
# of this machine's apt sources, else deb.debian.org); TSRAY_NODE (default: `node` on PATH).
set -euo pipefail

tag=tsray:dev
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) tag="${2:?--tag needs NAME:TAG}"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cache="${TSRAY_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tsray}"
node_bin="$(readlink -f "${TSRAY_NODE:-$(command -v node)}")"
for prog in podman debootstrap tar; do
  command -v "$prog" >/dev/null || { echo "build.sh: needs $prog (apt-get install -y podman runc debootstrap)" >&2; exit 1; }
done
mkdir -p "$cache"

# 1. The Debian root filesystem, made once.
rootfs="$cache/rootfs-bookworm-minbase"
if [ ! -x "$rootfs/bin/bash" ] || [ ! -f "$rootfs/.tsray-complete" ]; then
  mirror="${DEBIAN_MIRROR:-$(grep -rhoE 'https?://[^ ]*debian\.org/debian/?' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null | grep -v security | head -n1 || true)}"
  mirror="${mirror:-http://deb.debian.org/debian}"
  echo "build.sh: debootstrap bookworm from $mirror into $rootfs (once; about a minute)" >&2
  rm -rf "$rootfs"
  debootstrap --variant=minbase --include=bash,wget,grep,ca-certificates bookworm "$rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1 \
    || { tail -n 20 "$cache/debootstrap.log" >&2; exit 1; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  touch "$rootfs/.tsray-complete"
fi

# 2. The base image: that root filesystem plus this machine's node, named by node's version.
node_version="$("$node_bin" --version)"
base="localhost/tsray-base:bookworm-node-${node_version}"
if ! podman image exists "$base"; then
  install -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
  echo "build.sh: importing $base" >&2
  tar -C "$rootfs" --exclude=./.tsray-complete -c . | podman import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["node"]' - "$base" >/dev/null
fi

# 3. The build context: the sources the image runs and the production node_modules.
lock_sum="$(sha256sum "$root/package-lock.json" | cut -c1-16)"
deps="$cache/deps-$lock_sum"
if [ ! -f "$deps/.tsray-complete" ]; then
  echo "build.sh: staging production node_modules into $deps" >&2
  rm -rf "$deps" && mkdir -p "$deps"
  # Every installed package the lockfile does not mark dev-only (its own nested paths included).
  (cd "$root" && node -e '
    const lock = JSON.parse(require("fs").readFileSync("package-lock.json", "utf8"));
    for (const [p, v] of Object.entries(lock.packages))
      if (p.startsWith("node_modules/") && !v.dev && !v.link) console.log(p);
  ') | while read -r pkg; do
    if [ -d "$root/$pkg" ]; then
      mkdir -p "$deps/$(dirname "$pkg")"
      # (a nested node_modules/a/node_modules/b came along with a)
      [ -e "$deps/$pkg" ] || cp -a "$(readlink -f "$root/$pkg")" "$deps/$pkg"
    fi
  done
  touch "$deps/.tsray-complete"
fi
context="$cache/context"
rm -rf "$context" && mkdir -p "$context"
cp -a "$root/package.json" "$root/package-lock.json" "$root/tsconfig.json" "$root/bin" "$root/src" "$root/sim" "$root/spec" "$root/examples" "$context/"
mkdir -p "$context/k8s" && cp -a "$root/k8s/client" "$context/k8s/"
cp -al "$deps/node_modules" "$context/node_modules"

# 4. The image, from the same Containerfile a registry machine uses.
version="$(cd "$root" && node -p 'require("./package.json").version')"
podman build --quiet --build-arg "BASE=$base" -f "$root/k8s/image/Containerfile" \
  -t "$tag" -t "tsray:$version" "$context" >/dev/null
rm -rf "$context"
echo "build.sh: built $tag (also tsray:$version) from $base" >&2
