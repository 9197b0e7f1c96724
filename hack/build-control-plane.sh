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
STAGING_VERSION="v0.${K8S_VERSION#v1.}"

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

mkdir -p "$BIN_DIR"
export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--buildvcs=false}"

# Each binary is built into a temporary name and renamed, so an interrupted build never leaves a
# half-written binary that a later run would trust.
build_etcd() {
  local out="$BIN_DIR/etcd"
  [ -x "$out" ] && return 0
  local mod; mod="$(mktemp -d)"; trap 'rm -rf "$mod"' RETURN
  log "building etcd $ETCD_VERSION (first time only, a few minutes)..."
  (
    cd "$mod"
    go mod init gco.local/etcd-build >/dev/null 2>&1
    go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2
    go build -trimpath -ldflags "-s -w" -o "$out.tmp" go.etcd.io/etcd/server/v3
  )
  mv "$out.tmp" "$out"
  log "etcd ready: $out"
}

# kube-apiserver and kubectl live in k8s.io/kubernetes, whose go.mod replaces every staging module with
# a local path; a wrapper module must replace each with its published version instead.
prepare_kubernetes_module() {
  local mod="$1"
  (
    cd "$mod"
    go mod init gco.local/kube-build >/dev/null 2>&1
    local modfile
    modfile="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
    [ -f "$modfile" ] || { log "could not find the go.mod of k8s.io/kubernetes@$K8S_VERSION"; exit 1; }
    {
      echo "require k8s.io/kubernetes $K8S_VERSION"
      grep -oE 'k8s.io/[a-z0-9-]+ => ./staging/src/k8s.io/[a-z0-9-]+' "$modfile" | awk '{print $1}' | sort -u |
        while read -r m; do echo "replace $m => $m $STAGING_VERSION"; done
    } >> go.mod
    # The wrapper needs an import so that `go mod tidy` keeps the requirements.
    cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubectl/pkg/cmd"
)
GO
    go mod tidy >&2
  )
}

build_kube() {
  local need=()
  [ -x "$BIN_DIR/kube-apiserver" ] || need+=(kube-apiserver)
  [ -x "$BIN_DIR/kubectl" ] || need+=(kubectl)
  [ ${#need[@]} -eq 0 ] && return 0
  local mod; mod="$(mktemp -d)"; trap 'rm -rf "$mod"' RETURN
  log "preparing k8s.io/kubernetes $K8S_VERSION module (first time only)..."
  prepare_kubernetes_module "$mod"
  local minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  local ver="-X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1"
  ver="$ver -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION"
  for b in "${need[@]}"; do
    log "building $b $K8S_VERSION (first time only; kube-apiserver takes 10-25 minutes on 2 cores)..."
    (cd "$mod" && go build -trimpath -ldflags "-s -w $ver" -o "$BIN_DIR/$b.tmp" "k8s.io/kubernetes/cmd/$b")
    mv "$BIN_DIR/$b.tmp" "$BIN_DIR/$b"
    log "$b ready: $BIN_DIR/$b"
  done
}

build_etcd
build_kube
echo "$BIN_DIR"
