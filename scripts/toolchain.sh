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
  local name=$1 t=$SECONDS rc=0; shift
  "$@" || rc=$?
  step "$name: $([ "$rc" = 0 ] && echo done || echo "FAILED (exit $rc)") in $((SECONDS - t))s"
  return "$rc"
}

timed "docker engine" bash toolchain/docker-engine.sh >&2
bin_dir="$(timed "pulumi cli" bash toolchain/pulumi-cli.sh | tail -n 1)"
[ -x "$bin_dir/pulumi" ] || die "pulumi CLI missing in '$bin_dir' after toolchain/pulumi-cli.sh"

# The official provider plugins: built from the Go module proxy where it serves their modules.
# Where it refuses them (this workplace: 403 for every pulumi-<name>/provider module), no real
# `pulumi up`/`preview` of the stack can run; say so loudly and let the caller decide
# (MKS_ALLOW_MISSING_PLUGINS=1: continue, recording it in the env file).
plugins_state=ready
if plugins_dir="$(timed "provider plugins" bash toolchain/providers.sh | tail -n 1)"; then
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
else
  plugins_state=missing
  cat >&2 <<'BANNER'
################################################################################################
BLOCKED: the provider plugins (pulumi-resource-docker/-keycloak/-postgresql/-random) could not be
built: the Go module proxy refuses their modules (see the log above and
toolchain/providers/README.md). Without them no real `pulumi up` or `pulumi preview` of the
stack can run on this machine.
################################################################################################
BANNER
  [ "${MKS_ALLOW_MISSING_PLUGINS:-0}" = 1 ] || die "provider plugins missing (set MKS_ALLOW_MISSING_PLUGINS=1 to go on without them)"
fi

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
export MKS_PROVIDER_PLUGINS=$plugins_state
ENV
step "toolchain ready in $((SECONDS - started))s: pulumi $("$bin_dir/pulumi" version) in $bin_dir; provider plugins: $plugins_state ($PULUMI_HOME/plugins); env in $env_file"
echo "$env_file"
