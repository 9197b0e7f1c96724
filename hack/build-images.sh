#!/usr/bin/env bash
# Builds the operator, git sidecar and development git server images from their Dockerfiles with a
# private Docker engine, cached by their inputs (a warm run builds nothing), and prints each `:dev` tag
# with its `docker save` archive, ready for `ctr -n k8s.io images import <archive>`. See
# hack/testenv/src/images.ts. Needs root (debootstrap makes the base the first time) and Debian's
# docker.io and debootstrap (hack/setup.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
exec node_modules/.bin/node hack/build-images.ts "$@"
