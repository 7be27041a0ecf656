#!/usr/bin/env bash
# Everything a real `pulumi up` needs on a machine that reaches only package registries:
# Docker engine, Pulumi CLI + Python host, provider plugins, local images, Chromium.
# Idempotent and cached under $MKS_CACHE. Prints the path of an env file to source:
#   source "$(scripts/toolchain.sh)"
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

export PULUMI_HOME="${PULUMI_HOME:-$MKS_CACHE/pulumi-home}"
started=$SECONDS
timed() { # name command...: run a step, report its duration
  local name=$1 t=$SECONDS; shift
  "$@"
  step "$name: done in $((SECONDS - t))s"
}

timed "docker engine" bash toolchain/docker-engine.sh >&2
bin_dir="$(timed "pulumi cli" bash toolchain/pulumi-cli.sh | tail -n 1)"
plugins_dir="$(timed "provider plugins" bash toolchain/providers.sh | tail -n 1)"
[ -x "$bin_dir/pulumi" ] || die "pulumi CLI missing in '$bin_dir' after toolchain/pulumi-cli.sh"

installed="$("$bin_dir/pulumi" plugin ls 2>/dev/null || true)"
for name in keycloak docker postgresql random; do
  var="PULUMI_${name^^}_VERSION"; version="${!var}"
  if ! awk -v n="$name" -v v="$version" '$1==n && $2=="resource" && $3==v {f=1} END {exit !f}' <<<"$installed"; then
    step "plugin: installing resource $name $version from $plugins_dir"
    "$bin_dir/pulumi" plugin install resource "$name" "$version" \
      --file "$plugins_dir/pulumi-resource-$name-v$version" >&2 \
      || die "pulumi plugin install resource $name $version failed"
  fi
done

if [ ! -x /usr/bin/chromium ]; then
  step "chromium: installing Debian's package (browser tests)"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >&2 \
    || die "apt-get install chromium failed"
fi

timed "images" bash toolchain/images.sh >&2

env_file="$MKS_CACHE/env.sh"
cat >"$env_file" <<ENV
# Written by scripts/toolchain.sh: the registry-built Pulumi toolchain.
export PATH="$bin_dir:\$PATH"
export PULUMI_HOME="$PULUMI_HOME"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
ENV
step "toolchain ready in $((SECONDS - started))s: pulumi $("$bin_dir/pulumi" version) in $bin_dir; plugins in $PULUMI_HOME/plugins; env in $env_file"
echo "$env_file"
