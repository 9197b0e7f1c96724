#!/usr/bin/env bash
# The whole test suite, on a fresh machine or a warm one: installs what is missing (hack/setup.sh),
# then runs every suite in one mocha run (lint, types and generated files are checked as tests too),
# which ends with one line `N passed, N failed`. Extra arguments go to mocha (e.g. --grep CRDs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash hack/setup.sh
export PATH="$PWD/node_modules/.bin:$PATH"
exec mocha "$@"
