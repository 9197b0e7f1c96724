#!/usr/bin/env bash
# One command, fresh machine: installs what is missing (the first run builds the control plane from Go
# modules and shows its progress), then runs the local demo until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash hack/setup.sh
exec node_modules/.bin/node hack/demo.ts "$@"
