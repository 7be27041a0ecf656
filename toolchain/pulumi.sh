#!/usr/bin/env bash
# The Pulumi CLI (with its Python language host) and the provider plugins the stack needs.
#
# With MKS_PULUMI_MIRROR=DIR (a directory holding the official release archives and their
# SHA256SUMS, as an air-gapped team keeps them): the archives are checked against SHA256SUMS,
# the CLI is unpacked into $MKS_CACHE/pulumi/$PULUMI_VERSION and each plugin is installed with
# `pulumi plugin install --file` into $PULUMI_HOME. Nothing is downloaded, ever.
# Without it: the user's own `pulumi` (>= PULUMI_VERSION) is used and Pulumi acquires the plugins
# itself, as on any machine with internet.
#
# Prints, as its last line on stdout, the env file to source; progress goes to stderr.
# Idempotent: a second run with the same archives only compares stamps.
set -euo pipefail

MKS_SCRIPT=pulumi
# shellcheck source=../scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
# PULUMI_HOME: the user's own (their login, their plugins) unless this toolchain installs the
# plugins from a mirror, which go into a home of the cache's unless PULUMI_HOME names one.
OWN_HOME="$MKS_CACHE/pulumi-home"
export PULUMI_SKIP_UPDATE_CHECK=true


# name:version of every provider plugin the stack's SDKs ask for (versions.env).
plugins=(
  "docker:$PULUMI_DOCKER_VERSION"
  "keycloak:$PULUMI_KEYCLOAK_VERSION"
  "postgresql:$PULUMI_POSTGRESQL_VERSION"
  "random:$PULUMI_RANDOM_VERSION"
  "kubernetes:$PULUMI_KUBERNETES_VERSION"
)

version_at_least() { # have wanted
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}

write_env() { # bin_dir offline
  local file="$MKS_CACHE/pulumi-env.sh"
  mkdir -p "$MKS_CACHE"
  {
    echo "# Written by toolchain/pulumi.sh."
    [ -z "$1" ] || echo "export PATH=\"$1:\$PATH\""
    [ -z "${PULUMI_HOME:-}" ] || echo "export PULUMI_HOME=\"$PULUMI_HOME\""
    echo "export PULUMI_SKIP_UPDATE_CHECK=true"
    [ "$2" != 1 ] || echo "export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true"
  } >"$file"
  echo "$file"
}

if [ -z "${MKS_PULUMI_MIRROR:-}" ]; then
  command -v pulumi >/dev/null 2>&1 \
    || die "no pulumi on PATH. Fix: install the Pulumi CLI >= $PULUMI_VERSION, or set MKS_PULUMI_MIRROR=DIR to a directory of Pulumi release archives (docs/development.md: Air-gapped machines)"
  have="$(pulumi version 2>/dev/null | sed 's/^v//')"
  version_at_least "$have" "$PULUMI_VERSION" \
    || die "pulumi $have on PATH is older than $PULUMI_VERSION. Fix: upgrade the Pulumi CLI, or set MKS_PULUMI_MIRROR=DIR"
  bin_dir="$(dirname "$(command -v pulumi)")"
  case "$bin_dir" in
    "$MKS_CACHE"/*) # this toolchain's own install from a mirror, found on PATH: keep it so
      export PULUMI_HOME="${PULUMI_HOME:-$OWN_HOME}"
      step "using $bin_dir/pulumi v$have (installed from a mirror earlier)"
      write_env "$bin_dir" 1 ;;
    *)
      step "using $bin_dir/pulumi v$have; provider plugins come from Pulumi's normal acquisition"
      write_env "$bin_dir" 0 ;;
  esac
  exit 0
fi

export PULUMI_HOME="${PULUMI_HOME:-$OWN_HOME}"
mirror=$(cd "$MKS_PULUMI_MIRROR" 2>/dev/null && pwd) \
  || die "MKS_PULUMI_MIRROR=$MKS_PULUMI_MIRROR is not a directory. Fix: point it at the directory holding pulumi-v$PULUMI_VERSION-linux-x64.tar.gz and SHA256SUMS"
[ -f "$mirror/SHA256SUMS" ] || die "$mirror/SHA256SUMS is missing. Fix: write it with (cd $mirror && sha256sum *.tar.gz > SHA256SUMS)"

cli_archive="pulumi-v$PULUMI_VERSION-linux-x64.tar.gz"
archives=("$cli_archive")
for plugin in "${plugins[@]}"; do
  archives+=("pulumi-resource-${plugin%%:*}-v${plugin#*:}-linux-amd64.tar.gz")
done

# Verify exactly the archives we use; a missing one is named with the file it should be.
for archive in "${archives[@]}"; do
  [ -f "$mirror/$archive" ] || die "$mirror/$archive is missing. Fix: copy it from the Pulumi release of that version into the mirror and add its line to SHA256SUMS"
  grep -q "  $archive\$" "$mirror/SHA256SUMS" || die "$archive has no line in $mirror/SHA256SUMS. Fix: (cd $mirror && sha256sum $archive >> SHA256SUMS)"
done
(cd "$mirror" && grep -F -f <(printf '  %s\n' "${archives[@]}") SHA256SUMS | sha256sum --quiet -c -) >&2 \
  || die "an archive in $mirror does not match SHA256SUMS (see above). Fix: replace it with the release file"

root="$MKS_CACHE/pulumi/$PULUMI_VERSION"
bin="$root/bin"  # the layout of an installed CLI (~/.pulumi/bin), which the Automation API expects
cli_sha=$(grep "  $cli_archive\$" "$mirror/SHA256SUMS" | cut -d' ' -f1)
mkdir -p "$root"
exec 9>"$root/.lock"
flock 9
if [ "$(cat "$root/.archive-sha256" 2>/dev/null)" != "$cli_sha" ] || [ ! -x "$bin/pulumi" ]; then
  step "unpacking $cli_archive into $root"
  scratch=$(mktemp -d "$root/.unpack.XXXXXX")
  tar -xzf "$mirror/$cli_archive" -C "$scratch"
  for tool in pulumi pulumi-language-python pulumi-language-python-exec pulumi-resource-pulumi-python; do
    [ -x "$scratch/pulumi/$tool" ] || die "$cli_archive has no pulumi/$tool. Fix: use the release archive of the CLI, which carries the Python language host"
  done
  rm -rf "$bin" && mv "$scratch/pulumi" "$bin" && rm -rf "$scratch"
  echo "$cli_sha" >"$root/.archive-sha256"
fi
printed=$("$bin/pulumi" version) || die "$bin/pulumi does not run"
[ "$printed" = "v$PULUMI_VERSION" ] || die "$bin/pulumi reports $printed, expected v$PULUMI_VERSION"

installed="$("$bin/pulumi" plugin ls 2>/dev/null || true)"
for plugin in "${plugins[@]}"; do
  name=${plugin%%:*} version=${plugin#*:}
  if awk -v n="$name" -v v="$version" '$1==n && $2=="resource" && $3==v {f=1} END {exit !f}' <<<"$installed"; then
    continue
  fi
  step "installing plugin resource $name $version from the mirror"
  "$bin/pulumi" plugin install resource "$name" "$version" \
    --file "$mirror/pulumi-resource-$name-v$version-linux-amd64.tar.gz" >&2 \
    || die "pulumi plugin install resource $name $version failed (see above)"
done
step "pulumi v$PULUMI_VERSION in $bin; plugins ${plugins[*]} in $PULUMI_HOME (offline: no plugin downloads)"
write_env "$bin" 1
