#!/usr/bin/env bash
# The whole test suite, on a fresh machine or a warm one: installs what is missing (hack/setup.sh),
# then runs every suite (lint, types and generated files are checked as tests too) and ends with one
# line `N passed, N failed`. Extra arguments go to one mocha run over the suites they select (e.g.
# --grep CRDs, or a file).
#
# The whole suite runs in three lanes at once, each its own mocha process, because the slow suites on
# the real node mostly wait (pods starting, probes failing three times, Leases expiring), not compute:
#   node:      e2e/test/node*.test.ts on the shared node, in mocha's order (they hand the node's
#              install to one another: node-faults and node-probes restore it for node.test.ts)
#   own-nodes: the suites that start a node of their own (the Helm install, tilt ci)
#   main:      everything else
# Each lane's output is printed whole when it ends (main's as it runs); the last line sums the lanes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash hack/setup.sh
export PATH="$PWD/node_modules/.bin:$PATH"
if [ $# -gt 0 ]; then exec mocha "$@"; fi

own_nodes=(e2e/test/node-helm.test.ts hack/testenv/test/tilt-ci.test.ts)
shared_node=()
for f in e2e/test/node*.test.ts; do
  [ "$f" = e2e/test/node-helm.test.ts ] || shared_node+=("$f")
done
# mocha sorts the files it is given like this (localeCompare): keep that order for the shared node.
mapfile -t shared_node < <(node -e 'console.log(process.argv.slice(1).sort((a, b) => a.localeCompare(b)).join("\n"))' "${shared_node[@]}")

logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
lane() {
  local name="$1"
  shift
  mocha --no-config --extension ts --require hack/testenv/src/mocha-hooks.ts \
    --reporter hack/testenv/src/summary-reporter.cjs --timeout 60000 --exit "$@" >"$logs/$name" 2>&1
}
lane node "${shared_node[@]}" &
node_pid=$!
lane own-nodes "${own_nodes[@]}" &
own_pid=$!
ignored=()
for f in "${own_nodes[@]}" "${shared_node[@]}"; do ignored+=(--ignore "$f"); done
set +e
mocha "${ignored[@]}" 2>&1 | tee "$logs/main"
main_status=${PIPESTATUS[0]}
wait "$node_pid"
node_status=$?
wait "$own_pid"
own_status=$?
set -e
passed=0
failed=0
for name in node own-nodes; do
  printf '\n===== lane %s =====\n' "$name"
  cat "$logs/$name"
done
for name in main node own-nodes; do
  summary="$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$logs/$name" | tail -1 || true)"
  if [ -z "$summary" ]; then
    echo "[test] lane $name ended without its summary line (crashed?)" >&2
    failed=$((failed + 1))
    continue
  fi
  passed=$((passed + $(echo "$summary" | cut -d' ' -f1)))
  failed=$((failed + $(echo "$summary" | cut -d' ' -f3)))
done
printf '\n%s passed, %s failed\n' "$passed" "$failed"
[ "$main_status" = 0 ] && [ "$node_status" = 0 ] && [ "$own_status" = 0 ] && [ "$failed" = 0 ]
