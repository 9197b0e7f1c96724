#!/usr/bin/env bash
# Builds what the test node (hack/node, hack/testenv/src/node.ts) runs, from Go modules, cached by
# version outside the checkout like hack/build-control-plane.sh: kubelet, kube-controller-manager,
# kube-scheduler and kube-proxy (the same wrapper module as kube-apiserver), containerd 2.x, CoreDNS
# (hack/node/coredns), and two images made without Docker or a registry: the pod sandbox (pause) and
# the tests' probe (hack/node/images). Rebuilds only what is missing; safe to run twice at once.
#
#   hack/build-node.sh               # build what is missing, print where everything is (NAME=path lines)
#   hack/build-node.sh --print-paths # only print where everything is (or will be)
#
# runc and the CNI plugins come from Debian (hack/setup.sh installs them).
#
# Environment:
#   GCO_K8S_VERSION         (default v1.37.2)
#   GCO_CONTAINERD_VERSION  (default v2.4.2)   kubelet 1.37 needs containerd 2.x
#   GCO_CACHE_DIR           (default ${XDG_CACHE_HOME:-$HOME/.cache}/gco)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

K8S_VERSION="${GCO_K8S_VERSION:-v1.37.2}"
CONTAINERD_VERSION="${GCO_CONTAINERD_VERSION:-v2.4.2}"
CACHE_DIR="${GCO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gco}"
# CoreDNS and the images are keyed by their source, so editing them rebuilds them.
coredns_hash="$(cd "$here/node/coredns" && cat go.mod go.sum ./*.go | sha256sum | cut -c1-16)"
images_hash="$(cd "$here/node/images" && cat go.mod ./*/*.go "$here/node/make-image.sh" | sha256sum | cut -c1-16)"
KUBE_DIR="$CACHE_DIR/node/k8s-$K8S_VERSION"
CONTAINERD_DIR="$CACHE_DIR/node/containerd-$CONTAINERD_VERSION"
COREDNS="$CACHE_DIR/node/coredns-$coredns_hash/coredns"
IMAGES_DIR="$CACHE_DIR/node/images-$images_hash"

print_paths() {
  cat <<EOF
KUBELET=$KUBE_DIR/kubelet
KUBE_CONTROLLER_MANAGER=$KUBE_DIR/kube-controller-manager
KUBE_SCHEDULER=$KUBE_DIR/kube-scheduler
KUBE_PROXY=$KUBE_DIR/kube-proxy
CONTAINERD=$CONTAINERD_DIR/containerd
CONTAINERD_SHIM=$CONTAINERD_DIR/containerd-shim-runc-v2
CTR=$CONTAINERD_DIR/ctr
COREDNS=$COREDNS
PAUSE_IMAGE=$IMAGES_DIR/pause.tar
PAUSE_IMAGE_REF=gco.local/node/pause:v1
PROBE_IMAGE=$IMAGES_DIR/probe.tar
PROBE_IMAGE_REF=gco.local/node/probe:v1
EOF
}

if [ "${1:-}" = "--print-paths" ]; then
  print_paths
  exit 0
fi

log() { printf '[node] %s\n' "$*" >&2; }

if ! command -v go >/dev/null 2>&1; then
  log "Go is required to build the test node (kubelet, containerd, CoreDNS...)."
  log "Install Go >= 1.26 (https://go.dev/dl) and make sure the Go module proxy is reachable."
  exit 1
fi

# shellcheck source=hack/lib/cache.sh
source "$here/lib/cache.sh"
export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--buildvcs=false}"

# The wrapper module is made once per run, by the first build that needs it (none when all is cached).
kube_module="$(mktemp -d)"
trap 'rm -rf "$kube_module"' EXIT


build_containerd() {
  local out="$1"
  log "building containerd $CONTAINERD_VERSION, its runc shim and ctr (first time only, a few minutes)..."
  mkdir -p "$out"
  local pkg=github.com/containerd/containerd/v2
  # The tags leave out the snapshotters that need cgo or host tools; the node uses overlayfs.
  GOBIN="$out" go install -trimpath -tags "no_btrfs no_devmapper no_zfs" \
    -ldflags "-s -w -X $pkg/version.Version=$CONTAINERD_VERSION" \
    "$pkg/cmd/containerd@$CONTAINERD_VERSION" "$pkg/cmd/containerd-shim-runc-v2@$CONTAINERD_VERSION" \
    "$pkg/cmd/ctr@$CONTAINERD_VERSION"
}

build_coredns() {
  local out="$1"
  log "building CoreDNS (hack/node/coredns; first time only, a few minutes)..."
  cd "$here/node/coredns"
  go build -trimpath -ldflags "-s -w" -o "$out" .
}

build_images() {
  local out="$1" work
  work="$(mktemp -d)"
  # shellcheck disable=SC2064 # expanded now: the trap runs after this function's locals are gone
  trap "rm -rf '$work'" EXIT
  log "building the node's pause and probe images (hack/node/images)..."
  mkdir -p "$out"
  (cd "$here/node/images" && go build -trimpath -ldflags "-s -w" -o "$work/pause" ./pause)
  (cd "$here/node/images" && go build -trimpath -ldflags "-s -w" -o "$work/probe" ./probe)
  bash "$here/node/make-image.sh" "$work/pause" gco.local/node/pause:v1 "$out/pause.tar"
  bash "$here/node/make-image.sh" "$work/probe" gco.local/node/probe:v1 "$out/probe.tar"
}

for b in kubelet kube-controller-manager kube-scheduler kube-proxy; do
  cached_build "$KUBE_DIR/$b" build_kube "$b"
done
cached_build "$CONTAINERD_DIR" build_containerd
cached_build "$COREDNS" build_coredns
cached_build "$IMAGES_DIR" build_images
log "ready"
print_paths
