#!/usr/bin/env bash
# The e2e suite against a real cluster: creates a kind cluster (or reuses it), builds the operator, git
# sidecar and development git server images, loads them into kind, deploys manifests/overlays/e2e (the
# installation users get, plus the development git server) and runs e2e/test with E2E_TARGET=cluster.
# Skips (exit 0, with the reason) when Docker or kind is missing, so it can sit in any pipeline;
# `npm test` covers the same suite with local processes.
#
#   KIND_CLUSTER_NAME  cluster to create or reuse (default gco-e2e)
#   KEEP_CLUSTER=1     leave the cluster running afterwards (default: delete it if this script made it)
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[kind-e2e] %s\n' "$*" >&2; }
skip() {
  log "SKIPPED: $*"
  log "The same suite runs without Docker against a local control plane: npm run e2e"
  exit 0
}

command -v docker >/dev/null || skip "docker is not installed (https://docs.docker.com/engine/install/)."
docker info >/dev/null 2>&1 || skip "the docker CLI is here but no Docker engine answers (docker info failed)."
command -v kind >/dev/null || skip "kind is not installed: go install sigs.k8s.io/kind@v0.33.0 (or https://kind.sigs.k8s.io)."

bash hack/setup.sh
kubectl="${KUBECTL:-$(bash hack/build-control-plane.sh --print-dir)/kubectl}"
cluster="${KIND_CLUSTER_NAME:-gco-e2e}"
kubeconfig="$(mktemp)"
created=0
cleanup() {
  rm -f "$kubeconfig"
  if [ "$created" = 1 ] && [ "${KEEP_CLUSTER:-0}" != 1 ]; then
    log "deleting kind cluster $cluster (KEEP_CLUSTER=1 keeps it)"
    kind delete cluster --name "$cluster" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

if ! kind get clusters 2>/dev/null | grep -qx "$cluster"; then
  log "creating kind cluster $cluster"
  created=1 # set first: a create that fails half-way leaves a cluster to delete
  kind create cluster --name "$cluster" --wait 180s
fi
kind get kubeconfig --name "$cluster" >"$kubeconfig"

# The tags of manifests/overlays/e2e (not :latest, which kind would try to pull).
images=(
  "git-change-operator:dev operator/Dockerfile"
  "git-change-operator-git-sidecar:dev git-sidecar/Dockerfile"
  "gco-dev-git-server:dev hack/testenv/Dockerfile"
)
for entry in "${images[@]}"; do
  read -r image dockerfile <<<"$entry"
  log "building $image ($dockerfile)"
  # BuildKit: the Dockerfiles mount a build secret (RUN --mount), which the legacy builder cannot.
  DOCKER_BUILDKIT=1 docker build --quiet -t "$image" -f "$dockerfile" . >/dev/null
  kind load docker-image "$image" --name "$cluster"
done

log "deploying manifests/overlays/e2e"
KUBECONFIG="$kubeconfig" "$kubectl" apply --server-side -k manifests/overlays/e2e
# The StatefulSet is rolled even when only the images changed (same :dev tag, new content).
KUBECONFIG="$kubeconfig" "$kubectl" rollout restart -n git-change-operator-system \
  statefulset/git-change-operator deployment/gco-dev-git-server

log "running the e2e suite against kind-$cluster"
E2E_TARGET=cluster KUBECONFIG="$kubeconfig" KUBECTL="$kubectl" bash hack/e2e.sh
