#!/usr/bin/env bash
# Installs everything the tests and the demo need on a fresh Debian machine, and nothing twice:
#   - Debian packages: git, OpenSSH server and client (the SSH git server in tests), openssl (a private
#     CA for the HTTPS git server in tests), faketime (libfaketime: a replica with a skewed clock in the
#     leader election tests), ca-certificates, Docker's engine (docker.io: builds and runs the images in
#     tests, hack/testenv/src/docker.ts, on its own socket and data) and debootstrap (the images' base)
#   - npm packages (npm ci; Node 24 itself comes from the registry's `node` package)
#   - etcd, kube-apiserver and kubectl built from Go modules (hack/build-control-plane.sh, cached)
#   - helm built from Go modules, for the Helm chart's tests (hack/build-helm.sh, cached)
#   - Tilt and a registry built from Go modules, for `tilt ci` on the test node (hack/build-tilt.sh,
#     cached); Tilt needs cgo, so gcc and libc6-dev from Debian
#   - Debian packages for the test node: runc and containernetworking-plugins (what containerd runs pods
#     with), iptables (kube-proxy, the kubelet), iproute2
#   - the test node's kubelet, kube-proxy, kube-controller-manager, kube-scheduler, containerd, CoreDNS
#     and its two local images, built from Go modules (hack/build-node.sh, cached)
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*" >&2; }

missing=()
command -v git >/dev/null || missing+=(git)
command -v ssh-keygen >/dev/null || missing+=(openssh-client)
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v openssl >/dev/null || missing+=(openssl)
command -v faketime >/dev/null || missing+=(faketime)
[ -x /usr/sbin/dockerd ] && [ -x /usr/bin/docker ] || missing+=(docker.io)
[ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)
[ -x /usr/sbin/runc ] || missing+=(runc)
[ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
command -v iptables >/dev/null || missing+=(iptables)
command -v ip >/dev/null || missing+=(iproute2)
command -v gcc >/dev/null || missing+=(gcc)
[ -f /usr/include/stdio.h ] || missing+=(libc6-dev)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" ca-certificates >/dev/null
  else
    log "missing: ${missing[*]}. Install them (Debian/Ubuntu: sudo apt-get install ${missing[*]}) and run again."
    exit 1
  fi
fi

if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
fi

bash hack/build-control-plane.sh >/dev/null
bash hack/build-helm.sh >/dev/null
bash hack/build-node.sh >/dev/null
bash hack/build-tilt.sh >/dev/null
log "ready"
