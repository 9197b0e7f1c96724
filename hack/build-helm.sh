#!/usr/bin/env bash
# Builds helm from Go modules (`go install helm.sh/helm/v4/cmd/helm@<version>`, no prebuilt download),
# cached by version outside the checkout, and prints the binary's path.
#
#   hack/build-helm.sh               # build it if missing, print its path
#   hack/build-helm.sh --print-path  # only print where it is (or will be)
#
# Environment:
#   GCO_HELM_VERSION  (default v4.3.2)
#   GCO_CACHE_DIR     (default ${XDG_CACHE_HOME:-$HOME/.cache}/gco)
set -euo pipefail
# shellcheck source=lib/cache.sh
. "$(dirname "$0")/lib/cache.sh"

HELM_VERSION="${GCO_HELM_VERSION:-v4.3.2}"
CACHE_DIR="${GCO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gco}"
TOOLS_DIR="$CACHE_DIR/tools"
out="$TOOLS_DIR/helm-$HELM_VERSION"

if [ "${1:-}" = "--print-path" ]; then
  echo "$out"
  exit 0
fi
if [ -x "$out" ]; then
  echo "$out"
  exit 0
fi

log() { printf '[helm] %s\n' "$*" >&2; }

if ! command -v go >/dev/null 2>&1; then
  log "Go is required to build helm $HELM_VERSION (the Helm chart's tests use it)."
  log "Install Go >= 1.26 (https://go.dev/dl) and make sure the Go module proxy is reachable."
  exit 1
fi

# Two runs at once (a test run and the demo) wait for each other here instead of building twice, and
# each builds into a directory of its own, renamed into place: no run ever sees a half-written binary.
build() {
  local gobin
  gobin="$(dirname "$1")/gobin"
  log "building helm $HELM_VERSION from Go modules (first time only, a few minutes)..."
  # `go install module@version` builds with the module's own go.mod, as Helm's release builds do; the
  # -X sets what `helm version` and .Capabilities.HelmVersion report, as Helm's Makefile does.
  GOBIN="$gobin" CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--buildvcs=false}" \
    go install -trimpath -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v4/cmd/helm@$HELM_VERSION" >&2
  mv "$gobin/helm" "$1"
}
cached_build "$out" build
log "helm ready: $out"
echo "$out"
