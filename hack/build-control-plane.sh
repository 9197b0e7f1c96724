#!/usr/bin/env bash
# Builds etcd, kube-apiserver and kubectl from Go modules (no Docker, no downloads of prebuilt binaries),
# caching them by version outside the checkout. Rebuilds only what is missing.
#
#   hack/build-control-plane.sh              # build what is missing, print the bin directory
#   hack/build-control-plane.sh --print-dir  # only print where the binaries are (or will be)
#
# Environment:
#   GCO_K8S_VERSION   (default v1.37.2)   Kubernetes version for kube-apiserver and kubectl
#   GCO_ETCD_VERSION  (default v3.7.3)    etcd server module version
#   GCO_CACHE_DIR     (default ${XDG_CACHE_HOME:-$HOME/.cache}/gco)
set -euo pipefail

K8S_VERSION="${GCO_K8S_VERSION:-v1.37.2}"
ETCD_VERSION="${GCO_ETCD_VERSION:-v3.7.3}"
CACHE_DIR="${GCO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gco}"
BIN_DIR="$CACHE_DIR/envtest/k8s-$K8S_VERSION-etcd-$ETCD_VERSION"

if [ "${1:-}" = "--print-dir" ]; then
  echo "$BIN_DIR"
  exit 0
fi

log() { printf '[control-plane] %s\n' "$*" >&2; }

if ! command -v go >/dev/null 2>&1; then
  log "Go is required to build the test control plane (kube-apiserver, etcd, kubectl)."
  log "Install Go >= 1.26 (https://go.dev/dl) and make sure the Go module proxy is reachable."
  exit 1
fi

# shellcheck source=hack/lib/cache.sh
source "$(dirname "$0")/lib/cache.sh"
export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--buildvcs=false}"

# Each binary is a cache entry (hack/lib/cache.sh): built into a unique temporary name under a lock and
# renamed, so an interrupted build never leaves a binary a later run would trust, and two runs at once
# (a test run and the demo) never write the same file.
build_etcd() {
  local out="$1" mod
  mod="$(mktemp -d)"
  # shellcheck disable=SC2064 # expanded now: the trap runs after this function's locals are gone
  trap "rm -rf '$mod'" EXIT
  log "building etcd $ETCD_VERSION (first time only, a few minutes)..."
  cd "$mod"
  go mod init gco.local/etcd-build >/dev/null 2>&1
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2
  go build -trimpath -ldflags "-s -w" -o "$out" go.etcd.io/etcd/server/v3
}

# kube-apiserver and kubectl are commands of k8s.io/kubernetes, built through a wrapper module. Each
# builder runs in its own subshell (cached_build), so its trap and cd stay there.
# The wrapper module is made once per run, by the first build that needs it (none when all is cached).
kube_module="$(mktemp -d)"
trap 'rm -rf "$kube_module"' EXIT


cached_build "$BIN_DIR/etcd" build_etcd
cached_build "$BIN_DIR/kube-apiserver" build_kube kube-apiserver
cached_build "$BIN_DIR/kubectl" build_kube kubectl
log "ready: $BIN_DIR"
echo "$BIN_DIR"
