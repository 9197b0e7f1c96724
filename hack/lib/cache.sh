# Shared by the build scripts (source it): cache entries that two runs at once can build safely.
#
# cached_build OUT BUILDER [ARGS...]
#   Makes OUT (a file in the cache) unless it exists. Under an exclusive lock on OUT.lock, so a second
#   run waits for the first and then finds OUT built. BUILDER is called with a fresh temporary path in
#   OUT's directory (same file system) followed by ARGS; it writes the result there, and that is renamed
#   to OUT only when BUILDER succeeds, so no run ever sees or trusts a half-written entry. Call it as a
#   plain command, never inside `if` or `||`: bash ignores `set -e` in BUILDER there, even in subshells.

cached_build() {
  local out="$1" builder="$2"
  shift 2
  [ -e "$out" ] && return 0
  mkdir -p "$(dirname "$out")"
  local fd
  exec {fd}>"$out.lock"
  if ! flock -n "$fd"; then
    printf '[cache] waiting for another run that is building %s...\n' "$out" >&2
    flock "$fd"
  fi
  local status=0
  if [ ! -e "$out" ]; then
    # Whatever a killed run left under the lock we now hold is garbage.
    rm -rf "$out".tmp.*
    local tmp
    tmp="$(mktemp -d "$out.tmp.XXXXXX")"
    # A subshell outside any `if`/`||`, so `set -e` holds inside the builder.
    local errexit=0 started=$SECONDS
    [[ $- == *e* ]] && errexit=1
    set +e
    (
      set -e
      "$builder" "$tmp/out" "$@"
    )
    status=$?
    [ "$errexit" = 1 ] && set -e
    if [ "$status" = 0 ] && [ -e "$tmp/out" ]; then
      mv -f "$tmp/out" "$out"
      printf '[cache] built %s in %ss\n' "$out" "$((SECONDS - started))" >&2
    elif [ "$status" = 0 ]; then
      status=1
    fi
    rm -rf "$tmp"
  fi
  exec {fd}>&-
  return "$status"
}

# prepare_kubernetes_module DIR VERSION
#   A wrapper module in DIR that builds commands of k8s.io/kubernetes@VERSION. Its go.mod replaces every
#   staging module with a local path; the wrapper replaces each with its published version instead. The
#   wrapper imports every command the scripts build, so the control plane and the node resolve the same
#   module graph and share one Go build cache.
prepare_kubernetes_module() {
  local mod="$1" version="$2"
  local staging="v0.${version#v1.}"
  (
    cd "$mod"
    go mod init gco.local/kube-build >/dev/null 2>&1
    local modfile
    modfile="$(go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
    [ -f "$modfile" ] || {
      echo "could not find the go.mod of k8s.io/kubernetes@$version (is the Go module proxy reachable?)" >&2
      exit 1
    }
    {
      echo "require k8s.io/kubernetes $version"
      grep -oE 'k8s.io/[a-z0-9-]+ => ./staging/src/k8s.io/[a-z0-9-]+' "$modfile" | awk '{print $1}' | sort -u |
        while read -r m; do echo "replace $m => $m $staging"; done
    } >>go.mod
    # The wrapper needs imports so that `go mod tidy` keeps the requirements.
    cat >tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubectl/pkg/cmd"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
GO
    go mod tidy >&2
  )
}

# kubernetes_ldflags VERSION: what `kubectl version` and the API server's /version report.
kubernetes_ldflags() {
  local version="$1" minor
  minor="${version#v1.}"
  minor="${minor%%.*}"
  printf '%s' "-s -w -X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1" \
    " -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/client-go/pkg/version.gitVersion=$version"
}

# build_kube OUT NAME: builds k8s.io/kubernetes/cmd/NAME at $K8S_VERSION into OUT, through the wrapper
# module in $kube_module, which the first build of a run prepares (none when all is cached). Run through
# cached_build, whose subshell keeps the cd.
build_kube() {
  local out="$1" name="$2"
  if [ ! -f "$kube_module/go.sum" ]; then
    log "preparing the k8s.io/kubernetes $K8S_VERSION module..."
    prepare_kubernetes_module "$kube_module" "$K8S_VERSION"
  fi
  log "building $name $K8S_VERSION (first time only: kube-apiserver 10-25 minutes on 2 cores, the others 1-3 once its build cache is warm)..."
  cd "$kube_module"
  go build -trimpath -ldflags "$(kubernetes_ldflags "$K8S_VERSION")" -o "$out" "k8s.io/kubernetes/cmd/$name"
}
