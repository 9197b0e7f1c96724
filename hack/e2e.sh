#!/usr/bin/env bash
# The e2e suite alone (e2e/test), against E2E_TARGET: `local` (default; starts everything as processes)
# or `cluster` (the cluster of KUBECONFIG, with manifests/overlays/development deployed; see
# hack/kind-e2e.sh). `npm test` runs the same suite with the local target, among all the others.
set -euo pipefail
cd "$(dirname "$0")/.."
bash hack/setup.sh
export PATH="$PWD/node_modules/.bin:$PATH"
exec mocha --no-config --require hack/testenv/src/mocha-hooks.ts --extension ts --timeout 60000 --exit \
  --reporter spec "$@" 'e2e/test/**/*.test.ts'
