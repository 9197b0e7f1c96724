#!/usr/bin/env bash
# Makes a one-layer image holding one static binary, as a docker-archive tar (the format of `docker
# save`, which `ctr images import` reads), without Docker or a registry. The binary is /NAME and the
# entrypoint; the image runs as uid 65532 unless a pod says otherwise.
#
#   hack/node/make-image.sh BINARY REFERENCE OUT.tar
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 BINARY REFERENCE OUT.tar" >&2; exit 2; }
binary="$1" reference="$2" out="$(realpath -m "$3")"
name="$(basename "$binary")"
arch="${GOARCH:-$(go env GOARCH 2>/dev/null || echo amd64)}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rootfs" "$work/archive"
install -m 0755 "$binary" "$work/rootfs/$name"
# Reproducible: the same binary gives the same layer digest.
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$work/rootfs" -cf "$work/layer.tar" .
layer="$(sha256sum "$work/layer.tar" | cut -d' ' -f1)"
mkdir "$work/archive/$layer"
mv "$work/layer.tar" "$work/archive/$layer/layer.tar"

cat >"$work/config.json" <<EOF
{"architecture":"$arch","os":"linux","created":"1970-01-01T00:00:00Z",
 "config":{"Entrypoint":["/$name"],"User":"65532:65532","WorkingDir":"/"},
 "rootfs":{"type":"layers","diff_ids":["sha256:$layer"]},
 "history":[{"created":"1970-01-01T00:00:00Z","created_by":"hack/node/make-image.sh $name"}]}
EOF
config="$(sha256sum "$work/config.json" | cut -d' ' -f1)"
mv "$work/config.json" "$work/archive/$config.json"
printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]\n' "$config" "$reference" "$layer" \
  >"$work/archive/manifest.json"
# Entries named as `docker save` names them (manifest.json, not ./manifest.json).
(cd "$work/archive" && tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$out" -- *)
