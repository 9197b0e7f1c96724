#!/usr/bin/env bash
# Builds tiltfile-check (main.go) once per version of its source, cached outside the checkout like
# hack/build-control-plane.sh's binaries, and prints the binary's path. Needs Go and the module proxy.
#
#   "$(bash hack/tiltfile-check/build.sh)" -kubectl "$(bash hack/build-control-plane.sh --print-dir)/kubectl" Tiltfile
#
# Environment: GCO_CACHE_DIR (default ${XDG_CACHE_HOME:-$HOME/.cache}/gco)
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=../lib/cache.sh
. ../lib/cache.sh

CACHE_DIR="${GCO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gco}"
hash="$(cat go.mod go.sum ./*.go | sha256sum | cut -c1-16)"
out="$CACHE_DIR/tools/tiltfile-check-$hash"

build() { CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--buildvcs=false}" go build -trimpath -o "$1" . >&2; }

if [ ! -x "$out" ]; then
  if ! command -v go >/dev/null 2>&1; then
    echo "[tiltfile-check] Go >= 1.26 is required to build hack/tiltfile-check (https://go.dev/dl)." >&2
    exit 1
  fi
  # Under a lock per entry, into a unique temporary name (hack/lib/cache.sh): two runs at once build once.
  cached_build "$out" build
fi
echo "$out"
