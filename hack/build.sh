#!/usr/bin/env bash
# Compiles the TypeScript of the packages that run in production (default: all four) to JavaScript in
# each package's dist/, which the images run and the benchmarks measure. Tests and `npm start` run the
# sources themselves (Node strips the types as it loads them); a process that does so carries Node's
# WebAssembly type stripper and the stripped sources, ~30 MB of memory it never gives back (README,
# "Memory"). The compiled files are found through the `gco-compiled` export condition of each package
# (`node --conditions=gco-compiled operator/dist/main.js`); without the condition, imports resolve to
# the sources, so nothing in dist/ is ever loaded by accident.
#   bash hack/build.sh [package ...]      e.g. bash hack/build.sh common sidecar-api operator
set -euo pipefail
cd "$(dirname "$0")/.."
packages=("$@")
[ ${#packages[@]} -gt 0 ] || packages=(common sidecar-api operator git-sidecar)
for p in "${packages[@]}"; do
  rm -rf "$p/dist"
  node_modules/.bin/tsc -p "$p/tsconfig.build.json"
done
