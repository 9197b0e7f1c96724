#!/usr/bin/env bash
# The host side of the test node (hack/testenv/src/node.ts starts the node's processes; this owns what
# they do to the machine). A node lives in a numbered slot, so two runs at once (a test run and the
# demo) each get their own: its own network namespace (the bridge, the pods' veths, every iptables rule
# of kube-proxy and the kubelet stay in there, away from the machine's own rules and from the other
# developers on it), joined to the host by one veth pair; its own cgroup subtree (every node process
# and container, so a killed run's leftovers can all be found); its own directories.
#
#   node.sh layout SLOT               the slot's names, paths and addresses (NAME=value lines)
#   node.sh up SLOT                   make the slot's network, cgroups and directories (after `down`)
#   node.sh exec SLOT CMD [ARGS...]   run CMD in the slot's cgroup and network namespace
#   node.sh exec SLOT --host CMD...   run CMD in the slot's cgroup, on the machine's network (the API
#                                     server and etcd: `down` finds them too)
#   node.sh import-image SLOT TAR     load a docker-archive tar (`docker save`) into the slot's containerd
#   node.sh down SLOT                 remove everything the slot left: processes, containers, mounts,
#                                     network, cgroups, files; copes with a run killed half-way
#   node.sh down --all                the same for every slot that no running test holds
#
# The caller of up/down/exec holds the slot's lock (`flock LOCK`, see layout): a slot is in use exactly
# while its lock is held. Needs root (network namespaces, cgroups, mounts).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
MAX_SLOTS=8

layout() {
  local s="$1"
  case "$s" in
    [0-9]) [ "$s" -lt "$MAX_SLOTS" ] || die "slot $s: slots are 0..$((MAX_SLOTS - 1))" ;;
    *) die "slot must be a number 0..$((MAX_SLOTS - 1)), not '$s'" ;;
  esac
  SLOT="$s"
  NODE_NAME="gco-node-$s"
  NETNS="gco-node$s"
  CGROUP="gco-node$s"
  HOST_IF="gco$s-host"
  NODE_IF="gco$s-node"
  BRIDGE="gco0"
  # The host's end of the veth: where the API server listens and pods reach this machine.
  HOST_ADDRESS="10.89.$s.1"
  NODE_LINK_ADDRESS="10.89.$s.2"
  POD_SUBNET="10.88.$s.0/24"
  # The bridge's address: the pods' gateway, the node's InternalIP, the cluster DNS address.
  GATEWAY="10.88.$s.1"
  STATE_DIR="/var/lib/gco/node$s"
  RUN_DIR="/run/gco/node$s"
  LOCK="/run/gco/node$s.lock"
  CONTAINERD_SOCKET="$RUN_DIR/containerd.sock"
}

log() { printf '[node] %s\n' "$*" >&2; }
die() {
  log "$*"
  exit 1
}

require_root() {
  [ "$(id -u)" = 0 ] || die "the test node needs root (network namespaces, cgroups, mounts); run the tests as root, as CI does."
  for tool in ip nsenter iptables /usr/sbin/runc; do
    command -v "$tool" >/dev/null ||
      die "missing $tool: run \`npm run setup\` (hack/setup.sh installs runc, containernetworking-plugins, iptables, iproute2)."
  done
  [ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/host-local ] ||
    die "missing the CNI plugins in /usr/lib/cni: run \`npm run setup\` (Debian package containernetworking-plugins)."
}

# Every v1 hierarchy and the v2 one (in hybrid mode runc puts containers in both).
cgroup_roots() {
  awk '$3 == "cgroup" || $3 == "cgroup2" { print $2 }' /proc/self/mounts
}

up() {
  require_root
  mkdir -p "$STATE_DIR" "$RUN_DIR" /run/gco
  save_kernel_tunables

  ip netns add "$NETNS"
  ip link add "$HOST_IF" type veth peer name "$NODE_IF" netns "$NETNS"
  ip addr add "$HOST_ADDRESS/30" dev "$HOST_IF"
  ip link set "$HOST_IF" up
  ip -n "$NETNS" link set lo up
  ip -n "$NETNS" addr add "$NODE_LINK_ADDRESS/30" dev "$NODE_IF"
  ip -n "$NETNS" link set "$NODE_IF" up
  # Made before the CNI plugin would, so CoreDNS and the kubelet can use the gateway from the start.
  ip -n "$NETNS" link add "$BRIDGE" type bridge
  ip -n "$NETNS" addr add "$GATEWAY/24" dev "$BRIDGE"
  ip -n "$NETNS" link set "$BRIDGE" up
  # The host reaches pods and the node through the veth. The namespace gets no default route: traffic
  # from pods goes nowhere but this machine.
  ip route add "$POD_SUBNET" via "$NODE_LINK_ADDRESS" dev "$HOST_IF"
  nsenter --net="/run/netns/$NETNS" sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward'

  local root
  for root in $(cgroup_roots); do
    mkdir -p "$root/$CGROUP"
    if [ -f "$root/cpuset.cpus" ]; then
      cat "$root/cpuset.cpus" >"$root/$CGROUP/cpuset.cpus"
      cat "$root/cpuset.mems" >"$root/$CGROUP/cpuset.mems"
    fi
  done
  mkdir -p "$(pids_root)/$CGROUP/system"
}

pids_root() {
  local root
  root="$(awk '$3 == "cgroup" && $4 ~ /(^|,)pids(,|$)/ { print $2; exit }' /proc/self/mounts)"
  [ -n "$root" ] || die "no cgroup v1 pids hierarchy on this machine: the test node expects one (cgroup v1 host)."
  echo "$root"
}

node_exec() {
  [ -e "/run/netns/$NETNS" ] || die "slot $SLOT is not up (no network namespace $NETNS)"
  echo $$ >"$(pids_root)/$CGROUP/system/cgroup.procs"
  if [ "${1:-}" = --host ]; then
    shift
    exec "$@"
  fi
  exec nsenter --net="/run/netns/$NETNS" -- "$@"
}

import_image() {
  local tar="$1" ctr
  ctr="$(bash "$here/../build-node.sh" --print-paths | sed -n 's/^CTR=//p')"
  [ -x "$ctr" ] || die "ctr is not built: run \`npm run setup\` (hack/build-node.sh)."
  [ -S "$CONTAINERD_SOCKET" ] || die "slot $SLOT has no containerd running ($CONTAINERD_SOCKET)"
  # The CRI plugin reads images from the k8s.io namespace; unpacked for its overlayfs snapshotter.
  "$ctr" --address "$CONTAINERD_SOCKET" --namespace k8s.io images import --snapshotter overlayfs "$tar" >&2
}

# The kubelet sets these machine-wide sysctls when it starts (vm.overcommit_memory=1, kernel.panic=10,
# kernel.panic_on_oops=1...). They are written back once the last node on the machine is down.
TUNABLES="vm/overcommit_memory vm/panic_on_oom kernel/panic kernel/panic_on_oops kernel/keys/root_maxkeys kernel/keys/root_maxbytes"
TUNABLES_FILE=/run/gco/kernel-tunables

save_kernel_tunables() {
  (
    flock 8
    if [ ! -f "$TUNABLES_FILE" ]; then
      local t
      for t in $TUNABLES; do echo "$t $(cat "/proc/sys/$t")"; done >"$TUNABLES_FILE.tmp"
      mv "$TUNABLES_FILE.tmp" "$TUNABLES_FILE"
    fi
  ) 8>/run/gco/host.lock
}

# True when a running test holds any slot other than $1.
other_slot_in_use() {
  local lock
  for lock in /run/gco/node[0-9].lock; do
    [ -e "$lock" ] || continue
    [ "$lock" = "/run/gco/node$1.lock" ] && continue
    flock -n "$lock" true || return 0
  done
  return 1
}

last_node_out() {
  (
    flock 8
    other_slot_in_use "$SLOT" && exit 0
    if [ -f "$TUNABLES_FILE" ]; then
      local t v
      while read -r t v; do echo "$v" >"/proc/sys/$t"; done <"$TUNABLES_FILE"
      rm -f "$TUNABLES_FILE"
    fi
    # The kubelet makes the first for its log symlinks (a fixed path); nothing else here uses it.
    rmdir /var/log/containers /var/lib/gco 2>/dev/null || true
  ) 8>/run/gco/host.lock
}

# Mount points at or under $1, deepest first (mountinfo escapes spaces and such as octal).
mounts_under() {
  awk -v dir="$1" '{ p = $5; gsub(/\\040/, " ", p); if (p == dir || index(p, dir "/") == 1) print p }' \
    /proc/self/mountinfo | sort -r -u
}

kill_slot_processes() {
  local pids_dir
  pids_dir="$(pids_root)/$CGROUP"
  [ -d "$pids_dir" ] || return 0
  local i pids
  for i in $(seq 100); do
    pids="$(find "$pids_dir" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u)"
    [ -z "$pids" ] && return 0
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    sleep 0.1
  done
  die "processes of slot $SLOT survive SIGKILL: $pids"
}

down() {
  require_root
  kill_slot_processes

  local dir m
  for dir in "$STATE_DIR" "$RUN_DIR"; do
    mounts_under "$dir" | while IFS= read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
  done

  # Deleting the namespace takes the veth pair with it, but asynchronously: a link that is still listed
  # can be gone by the time it is deleted ("Cannot find device"), or still be there when the next run
  # adds it again ("File exists"). Deleting the host end first removes both ends at once; the wait
  # covers a namespace deletion already under way (a run killed during `down`).
  local i
  ip link del "$HOST_IF" 2>/dev/null || true
  [ -e "/run/netns/$NETNS" ] && ip netns del "$NETNS"
  for i in $(seq 50); do
    ip link show "$HOST_IF" >/dev/null 2>&1 || break
    sleep 0.1
  done
  ip link show "$HOST_IF" >/dev/null 2>&1 && die "cannot remove $HOST_IF"

  local root
  for root in $(cgroup_roots); do
    [ -d "$root/$CGROUP" ] || continue
    # A killed process leaves its cgroup a moment after it is reaped.
    for i in $(seq 50); do
      find "$root/$CGROUP" -depth -type d -exec rmdir {} + 2>/dev/null || true
      [ -d "$root/$CGROUP" ] || break
      sleep 0.1
    done
    [ -d "$root/$CGROUP" ] && die "cannot remove cgroup $root/$CGROUP"
  done

  if [ -d /var/log/containers ]; then
    find /var/log/containers -maxdepth 1 -type l -lname "$STATE_DIR/*" -delete
  fi
  for dir in "$STATE_DIR" "$RUN_DIR"; do
    # Never delete through a mount that is still there (a hostPath volume could be the host's own files).
    [ -z "$(mounts_under "$dir")" ] || die "still mounted under $dir: $(mounts_under "$dir" | tr '\n' ' ')"
    rm -rf --one-file-system "$dir"
  done
  last_node_out
}

cmd="${1:-}"
shift || true
case "$cmd" in
  layout)
    layout "${1:-}"
    for v in SLOT NODE_NAME NETNS CGROUP HOST_IF NODE_IF BRIDGE HOST_ADDRESS NODE_LINK_ADDRESS POD_SUBNET GATEWAY \
      STATE_DIR RUN_DIR LOCK CONTAINERD_SOCKET; do
      echo "$v=${!v}"
    done
    ;;
  up)
    layout "${1:-}"
    up
    ;;
  exec)
    layout "${1:-}"
    shift
    node_exec "$@"
    ;;
  import-image)
    [ $# -eq 2 ] || die "usage: node.sh import-image SLOT TAR"
    layout "$1"
    import_image "$2"
    ;;
  down)
    if [ "${1:-}" = "--all" ]; then
      for s in $(seq 0 $((MAX_SLOTS - 1))); do
        layout "$s"
        mkdir -p /run/gco
        (
          if flock -n 9; then down; else log "slot $s is in use by a running test: left alone"; fi
        ) 9>"$LOCK"
      done
    else
      layout "${1:-}"
      down
    fi
    ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
