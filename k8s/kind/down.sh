#!/usr/bin/env bash
# Deletes the kind cluster k8s/kind/up.sh made (and everything in it).
set -euo pipefail
if ! docker info >/dev/null 2>&1 && command -v podman >/dev/null; then export KIND_EXPERIMENTAL_PROVIDER=podman; fi
kind delete cluster --name tsray
