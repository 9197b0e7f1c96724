#!/usr/bin/env bash
# Builds what `tilt ci` on the test node needs (hack/testenv/test/tilt-ci.test.ts), from Go modules,
# cached outside the checkout, and prints where they are (NAME=path lines):
#   - Tilt, through the wrapper module in hack/tilt (its go.mod says why, and how the hashes are pinned)
#   - a registry (CNCF Distribution), which Tilt pushes its builds to and the node's containerd pulls
#     from, as with kind and a local registry
#
#   hack/build-tilt.sh                # build what is missing, print the paths
#   hack/build-tilt.sh --print-paths  # only print where they are (or will be)
#
# Environment:
#   GCO_REGISTRY_VERSION  (default v3.1.2)
#   GCO_CACHE_DIR         (default ${XDG_CACHE_HOME:-$HOME/.cache}/gco)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

REGISTRY_VERSION="${GCO_REGISTRY_VERSION:-v3.1.2}"
CACHE_DIR="${GCO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gco}"
# Tilt's version is the one hack/tilt/go.mod requires; the key also changes with any other pin, the
# page, or the recipe (bump it when build_tilt changes what it makes).
recipe=tilt-build-2
TILT_VERSION="$(sed -n 's|^[[:space:]]*github.com/tilt-dev/tilt \(v[^ ]*\).*|\1|p' "$here/tilt/go.mod")"
tilt_hash="$( (echo "$recipe" && cat "$here/tilt/go.mod" "$here/tilt/go.sum" "$here/tilt/web-ui-placeholder.html") | sha256sum | cut -c1-12)"
TILT="$CACHE_DIR/tools/tilt-$TILT_VERSION-$tilt_hash"
REGISTRY="$CACHE_DIR/tools/registry-$REGISTRY_VERSION"

if [ "${1:-}" = "--print-paths" ]; then
  printf 'TILT=%s\nREGISTRY=%s\n' "$TILT" "$REGISTRY"
  exit 0
fi

log() { printf '[tilt] %s\n' "$*" >&2; }

if ! command -v go >/dev/null 2>&1; then
  log "Go is required to build Tilt $TILT_VERSION and the registry its test pushes to."
  log "Install Go >= 1.26 (https://go.dev/dl) and make sure the Go module proxy is reachable."
  exit 1
fi
if ! command -v gcc >/dev/null 2>&1; then
  # Tilt's Tiltfile language server parses with tree-sitter, a C library.
  log "gcc is required to build Tilt (cgo): apt-get install gcc libc6-dev (hack/setup.sh does)."
  exit 1
fi

# shellcheck source=hack/lib/cache.sh
source "$here/lib/cache.sh"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"

build_tilt() {
  local out="$1" work
  work="$(dirname "$out")"
  log "building Tilt $TILT_VERSION from Go modules (first time only, 5-10 minutes on 2 cores)..."
  # Tilt's web UI is a React app that its release builds with yarn into pkg/assets/build before
  # compiling, and the Go module does not have it (only robots.txt): a binary built from the module
  # alone refuses to start ("running in prod mode, but JS/CSS files are not available"), and a
  # development build runs `yarn install` inside the module instead. So the build compiles the
  # module's source (the copy go.sum verified) with a page in the UI's place; `tilt ci` and the
  # terminal UI do not use it.
  local src
  src="$(cd "$here/tilt" && go mod download -json "github.com/tilt-dev/tilt@$TILT_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
  [ -f "$src/go.mod" ] || {
    log "could not download github.com/tilt-dev/tilt@$TILT_VERSION (is the Go module proxy reachable?)"
    exit 1
  }
  cp -r "$src" "$work/tilt"
  chmod -R u+w "$work/tilt"
  cp "$here/tilt/web-ui-placeholder.html" "$work/tilt/pkg/assets/build/index.html"
  mkdir "$work/module"
  cp "$here/tilt/go.mod" "$here/tilt/go.sum" "$work/module/"
  cd "$work/module"
  go mod edit -replace "github.com/tilt-dev/tilt=$work/tilt"
  # As Tilt's release builds (.goreleaser.yml), less their static musl linking: version and date are
  # what `tilt version` reports; with a version, Tilt serves its embedded UI, not a development server.
  CGO_ENABLED=1 go build -trimpath -ldflags "-s -w -X main.version=${TILT_VERSION#v} -X main.date=2025-03-11" \
    -o "$out" github.com/tilt-dev/tilt/cmd/tilt
}

build_registry() {
  local out="$1"
  log "building the registry (distribution $REGISTRY_VERSION) from Go modules (first time only, a few minutes)..."
  local gobin
  gobin="$(dirname "$out")/bin"
  mkdir -p "$gobin"
  GOBIN="$gobin" CGO_ENABLED=0 go install -trimpath \
    -ldflags "-s -w -X github.com/distribution/distribution/v3/version.version=$REGISTRY_VERSION" \
    "github.com/distribution/distribution/v3/cmd/registry@$REGISTRY_VERSION"
  mv "$gobin/registry" "$out"
}

cached_build "$TILT" build_tilt
cached_build "$REGISTRY" build_registry
printf 'TILT=%s\nREGISTRY=%s\n' "$TILT" "$REGISTRY"
