#!/usr/bin/env bash
# What the real Kubernetes node of the tests needs besides toolchain/kube.sh's binaries
# (tests/k8s/node.py): Debian's runc, CNI plugins (bridge, host-local, loopback, portmap),
# iptables, conntrack and socat (the pods' way to the API server), and the pause image every
# pod sandbox runs, built from build/pause/linux/pause.c of the k8s.io/kubernetes module kube.sh
# builds from (as upstream's Makefile does: gcc -Os -static, then an image of that one binary,
# user 65535).
#
# Prints, as its last line on stdout, the pause image's tarball (`docker save`), which the node
# imports into its containerd; progress goes to stderr. Idempotent: the tarball is rebuilt only
# when pause.c or this recipe changes.
# Needs: root (apt), gcc, go (to locate the module), a running dockerd.
set -euo pipefail

MKS_SCRIPT=node
# shellcheck source=../scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

# Debian package -> a file it installs (checked, so a half-installed package is seen).
declare -A PACKAGES=(
  [runc]=/usr/sbin/runc
  [containernetworking-plugins]=/usr/lib/cni/bridge
  [iptables]=/usr/sbin/iptables
  [conntrack]=/usr/sbin/conntrack
  [socat]=/usr/bin/socat
)
missing=()
for package in "${!PACKAGES[@]}"; do
  [ -x "${PACKAGES[$package]}" ] || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "${missing[*]} missing and not root. Fix: sudo apt-get install ${missing[*]}"
  step "apt-get install ${missing[*]}"
  env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 \
    || die "apt-get update failed; check that the host's apt mirror is reachable"
  env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 \
    || die "apt-get install ${missing[*]} failed; see the apt output above"
fi

# The module kube.sh builds kubelet from, from Go's module cache (downloaded there if absent).
module="$(cd "$REPO_ROOT/toolchain/kube/apiserver" \
  && go mod download -json "k8s.io/kubernetes@v$KUBERNETES_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')" \
  || die "go mod download k8s.io/kubernetes@v$KUBERNETES_VERSION failed"
source_dir="$module/build/pause"
tag="${LOCAL_PAUSE_IMAGE##*:}"
grep -qx "TAG ?= $tag" "$source_dir/Makefile" \
  || die "$source_dir/Makefile does not say 'TAG ?= $tag' (LOCAL_PAUSE_IMAGE in versions.env). Fix: set the tag it says there"
image="$LOCAL_PAUSE_IMAGE"

out="$MKS_CACHE/node/pause-$tag"
key="$(cat "$source_dir/linux/pause.c" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16)"
if [ -f "$out/pause.tar" ] && [ "$(cat "$out/key" 2>/dev/null)" = "$key" ]; then
  step "pause image $image: already built"
else
  step "building the pause image $image from $source_dir/linux/pause.c"
  rm -rf "$out" && mkdir -p "$out/context"
  gcc -Os -Wall -Werror -static -DVERSION="v$tag-mks" -o "$out/context/pause" \
    "$source_dir/linux/pause.c" >&2 || die "gcc pause.c failed (see above)"
  strip "$out/context/pause"
  printf 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n' \
    >"$out/context/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q -t "$image" "$out/context" >&2 || die "docker build $image failed"
  docker save -o "$out/pause.tar.new" "$image" || die "docker save $image failed"
  mv "$out/pause.tar.new" "$out/pause.tar"
  echo "$key" >"$out/key"
fi
echo "$out/pause.tar"
