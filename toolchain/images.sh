#!/usr/bin/env bash
# Build the local images the test stack runs on, without any container registry.
#
#   LOCAL_BASE_IMAGE      Debian $DEBIAN_SUITE made with debootstrap and `docker import`
#   LOCAL_POSTGRES_IMAGE  images/postgres  (Debian's postgresql-$POSTGRES_MAJOR, official-image contract)
#   LOCAL_KEYCLOAK_IMAGE  images/keycloak  (Quarkus distribution from Maven Central + Debian's JRE 21)
#   LOCAL_PYTHON_IMAGE    images/python    (Debian's python3 + the host's CA bundle for pip)
#   LOCAL_CADDY_IMAGE     images/caddy     (Caddy CADDY_VERSION from the Go module proxy, the official image's layout)
#   LOCAL_LDAP_IMAGE      images/ldap      (Debian's slapd, for the LDAP federation test)
#   LOCAL_CNPG_IMAGE      images/cnpg      (the CloudNativePG operator from $MKS_CNPG_DIR, for the
#                         real Kubernetes node)
#   LOCAL_PREVIOUS_KEYCLOAK_IMAGE, LOCAL_PREVIOUS_MLFLOW_IMAGE   the previous release's Keycloak
#                         and MLflow (PREVIOUS_* in versions.env), for the upgrade test only
#
# Every image carries a label with the hash of its inputs (recipe, build context, build args,
# the base's hash); an image whose label matches is left alone, so a warm run takes seconds and
# editing a Dockerfile rebuilds that image and the ones built on it. Downloads (the debootstrap
# rootfs tarball, the Keycloak distribution) are cached in $MKS_CACHE and survive a wiped Docker.
#
# Usage: toolchain/images.sh [base|postgres|keycloak|python|caddy|ldap|cnpg|keycloak-previous|mlflow-previous ...]
#        (default: all)
# Needs: a running dockerd (toolchain/docker-engine.sh), root for debootstrap, mvn for Keycloak.
set -euo pipefail

MKS_SCRIPT=images
# shellcheck source=../scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

IMAGES_CACHE="$MKS_CACHE/images"
HOST_CA_BUNDLE="${HOST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
HASH_LABEL="org.mlflow-stack.inputs-hash"
# docker.io 20.10 from Debian ships no buildx plugin, and the 28.x client refuses BuildKit
# without it: use the legacy builder (it does multi-stage builds and COPY --chown).
export DOCKER_BUILDKIT=0


# The Debian mirrors are the ones this host's apt uses (override with DEBIAN_MIRROR and
# DEBIAN_SECURITY_MIRROR): containers get the same plain-http mirror the host reaches.
host_apt_uris() {
  cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ {print $2}'
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '$1=="deb" {print $2}'
}
DEBIAN_MIRROR="${DEBIAN_MIRROR:-$(host_apt_uris | grep -v -- '-security' | head -n 1 || true)}"
DEBIAN_SECURITY_MIRROR="${DEBIAN_SECURITY_MIRROR:-$(host_apt_uris | grep -- '-security' | head -n 1 || true)}"
[ -n "$DEBIAN_MIRROR" ] || die "no Debian mirror found in this host's apt sources; set DEBIAN_MIRROR"
[ -n "$DEBIAN_SECURITY_MIRROR" ] || DEBIAN_SECURITY_MIRROR="${DEBIAN_MIRROR%/debian}/debian-security"

sha256_of_text() { sha256sum | cut -d' ' -f1; }

# Hash of every file under a directory, names included, independent of mtimes.
sha256_of_dir() {
  (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256_of_text
}

image_inputs_hash() {
  docker image inspect --format "{{ index .Config.Labels \"$HASH_LABEL\" }}" "$1" 2>/dev/null || true
}

image_id() {
  docker image inspect --format '{{.Id}}' "$1" 2>/dev/null || true
}

# After a rebuild the previous image under the same name is left untagged: drop it unless a
# container or another image still uses it.
remove_if_untagged() {
  local old="$1"
  [ -n "$old" ] || return 0
  if [ -z "$(docker image inspect --format '{{join .RepoTags ","}}' "$old" 2>/dev/null)" ]; then
    docker image rm "$old" >/dev/null 2>&1 || true
  fi
}

image_is_current() {
  [ "$(image_inputs_hash "$1")" = "$2" ]
}

require_docker() {
  docker info >/dev/null 2>&1 \
    || die "dockerd does not answer 'docker info'; run toolchain/docker-engine.sh first"
}

# ---------------------------------------------------------------------------------------------
# Base image: debootstrap rootfs -> tarball (cached) -> docker import.

# Turns a freshly bootstrapped directory ($1) into the base image's rootfs: images/debian/rootfs
# is laid over it and apt points at Debian's mirror (plain http works from inside containers).
# This function's source and images/debian are part of the base hash.
configure_base_rootfs() {
  local root="$1" overlay="$REPO_ROOT/images/debian"
  # Owned by root and not group-writable whoever checked the repository out; existing
  # directories of the rootfs keep their own metadata.
  tar -C "$overlay/rootfs" --owner=0 --group=0 --mode=go-w -c . | tar -C "$root" -x --no-overwrite-dir
  chmod 0755 "$root/usr/sbin/policy-rc.d"
  rm -f "$root/etc/apt/sources.list"
  sed -e "s|@DEBIAN_MIRROR@|$DEBIAN_MIRROR|g" -e "s|@DEBIAN_SECURITY_MIRROR@|$DEBIAN_SECURITY_MIRROR|g" \
    -e "s|@DEBIAN_SUITE@|$DEBIAN_SUITE|g" "$overlay/debian.sources.in" \
    >"$root/etc/apt/sources.list.d/debian.sources"
  chroot "$root" apt-get clean
  # debootstrap installed its packages before the dpkg excludes existed.
  find "$root/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/log/*.log \
    "$root"/usr/share/man/* "$root"/usr/share/info/*
  # update-alternatives links man pages even when dpkg leaves them out (openjdk's postinst fails
  # without these directories).
  mkdir -p "$root"/usr/share/man/man{1..9}
  find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf '{}' +
}

base_hash() {
  { echo "$DEBIAN_SUITE $DEBIAN_MIRROR $DEBIAN_SECURITY_MIRROR minbase"; declare -f configure_base_rootfs
    sha256_of_dir "$REPO_ROOT/images/debian"; } | sha256_of_text
}

ensure_debootstrap() {
  command -v debootstrap >/dev/null 2>&1 && return 0
  step "installing debootstrap (apt)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq \
    || die "apt-get update failed; check that $DEBIAN_MIRROR is reachable"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >&2 \
    || die "apt-get install debootstrap failed; see the apt output above"
}

build_base() {
  local hash tarball rootfs old_id
  hash="$(base_hash)"
  if image_is_current "$LOCAL_BASE_IMAGE" "$hash"; then
    step "base: $LOCAL_BASE_IMAGE is current"
    return 0
  fi
  tarball="$IMAGES_CACHE/debian-$DEBIAN_SUITE-minbase-${hash:0:12}.tar"
  if [ ! -s "$tarball" ]; then
    [ "$(id -u)" -eq 0 ] || die "debootstrap needs root; rerun as root (or with sudo)"
    ensure_debootstrap
    mkdir -p "$IMAGES_CACHE"
    rootfs="$(mktemp -d "$IMAGES_CACHE/rootfs.XXXXXX")"
    # A failed run must not leave a half-made rootfs behind.
    trap 'rm -rf "$rootfs" "$tarball.partial"' EXIT
    step "base: debootstrap --variant=minbase $DEBIAN_SUITE (about a minute; log: $IMAGES_CACHE/debootstrap.log)"
    if ! debootstrap --variant=minbase "$DEBIAN_SUITE" "$rootfs" "$DEBIAN_MIRROR" \
      >"$IMAGES_CACHE/debootstrap.log" 2>&1; then
      tail -n 20 "$IMAGES_CACHE/debootstrap.log" >&2
      [ -f "$rootfs/debootstrap/debootstrap.log" ] && tail -n 20 "$rootfs/debootstrap/debootstrap.log" >&2
      die "debootstrap of $DEBIAN_SUITE failed; see $IMAGES_CACHE/debootstrap.log"
    fi
    configure_base_rootfs "$rootfs"
    step "base: packing rootfs into $tarball"
    tar --numeric-owner --xattrs -C "$rootfs" --exclude='./dev/*' --exclude='./proc/*' \
      --exclude='./sys/*' -cf "$tarball.partial" .
    mv "$tarball.partial" "$tarball"
    rm -rf "$rootfs"
    trap - EXIT
    # Older tarballs of other recipes are dead weight.
    find "$IMAGES_CACHE" -maxdepth 1 -name "debian-$DEBIAN_SUITE-minbase-*.tar" ! -name "${tarball##*/}" -delete
  else
    step "base: reusing cached rootfs $tarball"
  fi
  step "base: docker import -> $LOCAL_BASE_IMAGE"
  old_id="$(image_id "$LOCAL_BASE_IMAGE")"
  docker import \
    --change "LABEL $HASH_LABEL=$hash" \
    --change 'ENV LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    - "$LOCAL_BASE_IMAGE" <"$tarball" >/dev/null \
    || die "docker import of $tarball failed"
  remove_if_untagged "$old_id"
}

# ---------------------------------------------------------------------------------------------
# Dockerfile images: the build context is a staging copy of images/<name> plus any large or
# host-specific files, so nothing big ever lands in the repository.

# inputs_hash NAME EXTRA [docker build args...]: what an image of images/NAME is made of.
inputs_hash() {
  local name="$1" extra="$2" base
  shift 2
  base="$(base_hash)" || die "could not hash the base image's inputs"
  { sha256_of_dir "$REPO_ROOT/images/$name"; echo "$extra"; echo "base=$base"; printf '%s\n' "$@"; } \
    | sha256_of_text
}

# build_image IMAGE NAME HASH [docker build args...]
# Stages images/NAME into $IMAGES_CACHE/context/NAME plus the STAGE_EXTRA files
# ("source:name-in-context" pairs), then builds it with the inputs hash as a label.
build_image() {
  local image="$1" name="$2" hash="$3"
  shift 3
  local src="$REPO_ROOT/images/$name" ctx="$IMAGES_CACHE/context/$name" start pair old_id
  [ -f "$src/Dockerfile" ] || die "$src/Dockerfile is missing"
  rm -rf "$ctx"
  mkdir -p "$ctx"
  cp -a "$src/." "$ctx/"
  for pair in "${STAGE_EXTRA[@]+"${STAGE_EXTRA[@]}"}"; do
    # Hard link when possible: the Keycloak tarball is large.
    ln -f "${pair%%:*}" "$ctx/${pair#*:}" 2>/dev/null || cp -f "${pair%%:*}" "$ctx/${pair#*:}"
  done
  step "$name: docker build -> $image (log: $IMAGES_CACHE/build-$name.log)"
  start=$SECONDS
  old_id="$(image_id "$image")"
  if ! docker build --force-rm --label "$HASH_LABEL=$hash" -t "$image" "$@" "$ctx" \
    >"$IMAGES_CACHE/build-$name.log" 2>&1; then
    tail -n 30 "$IMAGES_CACHE/build-$name.log" >&2
    die "docker build of $image failed; see $IMAGES_CACHE/build-$name.log"
  fi
  rm -rf "$ctx"
  remove_if_untagged "$old_id"
  # The legacy builder keeps every intermediate stage as an untagged image.
  docker image prune -f --filter "label=org.mlflow-stack.build-stage" >/dev/null
  step "$name: built $image in $((SECONDS - start))s"
}

# ensure_image IMAGE NAME EXTRA [docker build args...]: build unless the label matches.
ensure_image() {
  local image="$1" name="$2" extra="$3" hash
  shift 3
  hash="$(inputs_hash "$name" "$extra" "$@")"
  if image_is_current "$image" "$hash"; then
    step "$name: $image is current"
    return 0
  fi
  if [ "$(type -t "stage_$name")" = function ]; then "stage_$name"; fi
  build_image "$image" "$name" "$hash" "$@"
}

build_postgres() {
  ensure_image "$LOCAL_POSTGRES_IMAGE" postgres "" \
    --build-arg "BASE_IMAGE=$LOCAL_BASE_IMAGE" --build-arg "POSTGRES_MAJOR=$POSTGRES_MAJOR"
}

# Only called when the Keycloak image must be (re)built: a warm run never touches Maven.
# The distribution's version is KEYCLOAK_DIST_VERSION (build_keycloak_previous), else KEYCLOAK_VERSION.
stage_keycloak() {
  local dir="$MKS_CACHE/keycloak" file version="${KEYCLOAK_DIST_VERSION:-$KEYCLOAK_VERSION}"
  file="$dir/keycloak-quarkus-dist-$version.tar.gz"
  if [ ! -s "$file" ]; then
    command -v mvn >/dev/null 2>&1 || die "mvn is not on PATH; install Maven to fetch Keycloak from Maven Central"
    step "keycloak: fetching org.keycloak:keycloak-quarkus-dist:$version:tar.gz from Maven Central"
    mkdir -p "$dir"
    # Debian's mvn writes colour codes to stdout even with -q -B: keep its output in a log.
    if ! mvn -q -B "org.apache.maven.plugins:maven-dependency-plugin:$MAVEN_DEPENDENCY_PLUGIN_VERSION:copy" \
      "-Dartifact=org.keycloak:keycloak-quarkus-dist:$version:tar.gz" \
      "-DoutputDirectory=$dir" >"$dir/mvn.log" 2>&1; then
      tail -n 20 "$dir/mvn.log" >&2
      die "mvn could not fetch keycloak-quarkus-dist $version; check Maven Central access ($dir/mvn.log)"
    fi
    [ -s "$file" ] || die "mvn finished but $file is missing"
  fi
  STAGE_EXTRA=("$file:keycloak.tar.gz")
}

build_keycloak() {
  # A Maven Central release never changes: its version is its identity in the hash.
  ensure_image "$LOCAL_KEYCLOAK_IMAGE" keycloak "keycloak-quarkus-dist=$KEYCLOAK_VERSION" \
    --build-arg "BASE_IMAGE=$LOCAL_BASE_IMAGE"
}

build_keycloak_previous() {
  KEYCLOAK_DIST_VERSION=$PREVIOUS_KEYCLOAK_VERSION ensure_image "$LOCAL_PREVIOUS_KEYCLOAK_IMAGE" keycloak \
    "keycloak-quarkus-dist=$PREVIOUS_KEYCLOAK_VERSION" --build-arg "BASE_IMAGE=$LOCAL_BASE_IMAGE"
}

# The current MLflow image is built by the stack itself; this one is images/mlflow with the
# previous release's lock, on the local Python image.
PREVIOUS_MLFLOW_LOCK="$REPO_ROOT/images/mlflow-previous/requirements.lock"
stage_mlflow() {
  STAGE_EXTRA=("$PREVIOUS_MLFLOW_LOCK:requirements.lock")
}

build_mlflow_previous() {
  [ -s "$PREVIOUS_MLFLOW_LOCK" ] || die "$PREVIOUS_MLFLOW_LOCK is missing; run images/mlflow/lock.sh --previous"
  ensure_image "$LOCAL_PREVIOUS_MLFLOW_IMAGE" mlflow "lock=$(sha256sum <"$PREVIOUS_MLFLOW_LOCK" | cut -d' ' -f1)" \
    --build-arg "BASE_IMAGE=$LOCAL_PYTHON_IMAGE" \
    --build-arg "MLFLOW_VERSION=$PREVIOUS_MLFLOW_VERSION" \
    --build-arg "MLFLOW_OIDC_AUTH_VERSION=$PREVIOUS_MLFLOW_OIDC_AUTH_VERSION" \
    --build-arg "PSYCOPG_VERSION=$PSYCOPG_VERSION"
}

stage_python() {
  STAGE_EXTRA=("$HOST_CA_BUNDLE:host-ca-bundle.crt")
}

build_python() {
  [ -s "$HOST_CA_BUNDLE" ] \
    || die "host CA bundle $HOST_CA_BUNDLE is missing; set HOST_CA_BUNDLE to the bundle pip on this host trusts"
  ensure_image "$LOCAL_PYTHON_IMAGE" python "host-ca-bundle=$(sha256sum <"$HOST_CA_BUNDLE" | cut -d' ' -f1)" \
    --build-arg "BASE_IMAGE=$LOCAL_BASE_IMAGE"
}

build_ldap() {
  ensure_image "$LOCAL_LDAP_IMAGE" ldap "" \
    --build-arg "BASE_IMAGE=$LOCAL_BASE_IMAGE" --build-arg "SLAPD_VERSION=$SLAPD_VERSION"
}

# Only called when the Caddy image must be (re)built: `go install module@version` builds with
# the release's own go.mod and go.sum (its exact dependency set), from the Go module proxy.
stage_caddy() {
  local bin="$MKS_CACHE/caddy/$CADDY_VERSION/caddy"
  if [ ! -x "$bin" ]; then
    command -v go >/dev/null 2>&1 || die "go is not on PATH; install Go >= 1.25 to build Caddy $CADDY_VERSION"
    step "caddy: go install github.com/caddyserver/caddy/v2/cmd/caddy@v$CADDY_VERSION"
    mkdir -p "$(dirname "$bin")"
    CGO_ENABLED=0 GOBIN="$(dirname "$bin")" go install -trimpath \
      "github.com/caddyserver/caddy/v2/cmd/caddy@v$CADDY_VERSION" >&2 \
      || die "could not build Caddy $CADDY_VERSION from the Go module proxy"
  fi
  STAGE_EXTRA=("$bin:caddy")
}

build_caddy() {
  # A module version never changes on the proxy (go.sum checks it): its version is its identity.
  ensure_image "$LOCAL_CADDY_IMAGE" caddy "caddy-module=$CADDY_VERSION" \
    --build-arg "BASE_IMAGE=$LOCAL_BASE_IMAGE"
}

# The operator's release binary, checked against its SHA256SUMS (../shared/cnpg by default).
MKS_CNPG_DIR="${MKS_CNPG_DIR:-$REPO_ROOT/../shared/cnpg}"
stage_cnpg() {
  local archive="cloudnative-pg-manager-v$CNPG_VERSION-linux-amd64.tar.gz" out="$MKS_CACHE/cnpg/$CNPG_VERSION"
  [ -s "$MKS_CNPG_DIR/$archive" ] \
    || die "$MKS_CNPG_DIR/$archive is missing. Fix: set MKS_CNPG_DIR to the folder holding CloudNativePG $CNPG_VERSION's manager archive and SHA256SUMS"
  (cd "$MKS_CNPG_DIR" && grep -F " $archive" SHA256SUMS | sha256sum -c --quiet -) >&2 \
    || die "$MKS_CNPG_DIR/$archive does not match its SHA256SUMS"
  rm -rf "$out" && mkdir -p "$out"
  tar -xzf "$MKS_CNPG_DIR/$archive" -C "$out" || die "could not unpack $archive"
  [ -x "$out/manager" ] || die "$archive holds no manager binary"
  STAGE_EXTRA=("$out/manager:manager")
}

build_cnpg() {
  ensure_image "$LOCAL_CNPG_IMAGE" cnpg "cnpg=$CNPG_VERSION $(cat "$MKS_CNPG_DIR/SHA256SUMS" 2>/dev/null | sha256sum | cut -c1-16)" \
    --build-arg "BASE_IMAGE=$LOCAL_BASE_IMAGE"
}

main() {
  local targets=("$@") t
  [ "${#targets[@]}" -gt 0 ] || targets=(base postgres keycloak python caddy ldap cnpg keycloak-previous mlflow-previous)
  for t in "${targets[@]}"; do
    case "$t" in
      base | postgres | keycloak | python | caddy | ldap | cnpg | keycloak-previous | mlflow-previous) ;;
      *) die "unknown image '$t'; choose from: base postgres keycloak python caddy ldap cnpg keycloak-previous mlflow-previous" ;;
    esac
  done
  require_docker
  mkdir -p "$IMAGES_CACHE"
  # Every other image is built on the base.
  build_base
  for t in "${targets[@]}"; do
    [ "$t" = base ] && continue
    STAGE_EXTRA=()
    "build_${t//-/_}"
  done
}

main "$@"
