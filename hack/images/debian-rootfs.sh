#!/usr/bin/env bash
# A minimal Debian root filesystem as a tar, for `docker import`: the bottom of the images' base when no
# registry is reachable (hack/testenv/src/images.ts). debootstrap's minbase variant (essential and
# required packages, apt), trimmed as Debian's own slim images are: no documentation, manual pages or
# translations, empty package lists and caches, and nothing of this machine (resolv.conf, hostname).
#
#   hack/images/debian-rootfs.sh OUT.tar
#
# Environment: GCO_DEBIAN_SUITE (bookworm), GCO_DEBIAN_MIRROR (http://deb.debian.org/debian). Needs root
# (debootstrap) and the debootstrap package (hack/setup.sh installs it).
set -euo pipefail

out="${1:?usage: $0 OUT.tar}"
suite="${GCO_DEBIAN_SUITE:-bookworm}"
mirror="${GCO_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

log() { printf '[debian-rootfs] %s\n' "$*" >&2; }

if [ "$(id -u)" != 0 ]; then
  log "debootstrap needs root: run as root (the image builds make their base with it)."
  exit 1
fi
if ! command -v debootstrap >/dev/null; then
  log "debootstrap is missing: run \`npm run setup\` (hack/setup.sh) or \`apt-get install -y debootstrap\`."
  exit 1
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/gco-rootfs.XXXXXX")"
target="$work/root"
cleanup() {
  # debootstrap mounts /proc and /sys in the target; a failed run can leave them.
  { findmnt -rn -o TARGET | grep -F "$target" | sort -r | while read -r m; do umount -l "$m"; done; } || true
  rm -rf "$work"
}
trap cleanup EXIT

log "debootstrap --variant=minbase $suite from $mirror"
debootstrap --variant=minbase "$suite" "$target" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2
  exit 1
}

# What Debian's slim images leave out, for every package installed later too.
cat >"$target/etc/dpkg/dpkg.cfg.d/excludes" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
CFG
find "$target/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$target/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$target"/usr/share/{man,groff,info,lintian,linda,locale}/*

cat >"$target/etc/apt/apt.conf.d/docker-clean" <<'CFG'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CFG
echo 'Acquire::Languages "none";' >"$target/etc/apt/apt.conf.d/docker-no-languages"

# The suite with its updates and security fixes, as Debian's images have it.
rm -f "$target/etc/apt/sources.list"
cat >"$target/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES

rm -rf "$target"/var/lib/apt/lists/* "$target"/var/cache/debconf/*-old "$target"/tmp/*
find "$target/var/cache/apt" "$target/var/log" -type f -delete
# The container runtime provides these; debootstrap copied this machine's.
rm -f "$target/etc/resolv.conf" "$target/etc/hostname"
: >"$target/etc/machine-id"

tar --numeric-owner --xattrs -C "$target" -cf "$out" .
log "$(du -sh "$target" | cut -f1) root filesystem in $out"
