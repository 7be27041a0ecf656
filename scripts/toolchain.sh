#!/usr/bin/env bash
# Everything a real `pulumi up` and the test suites need on a machine that reaches only package
# registries: Docker engine, Pulumi CLI + Python host, provider plugins, local images, Chromium.
# Idempotent and cached under $MKS_CACHE. Prints the path of an env file to source:
#   source "$(scripts/toolchain.sh)"          everything (tests; needs root for apt and dockerd)
#   source "$(scripts/toolchain.sh --cli)"    the Pulumi CLI and provider plugins only
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

cli_only=0
case "${1:-}" in
  --cli) cli_only=1 ;;
  "") ;;
  *) die "usage: scripts/toolchain.sh [--cli]" ;;
esac
command -v go >/dev/null 2>&1 \
  || die "Go is missing: the Pulumi CLI and plugins are built from the Go module proxy (install Go >= 1.25)"

export PULUMI_HOME="${PULUMI_HOME:-$MKS_CACHE/pulumi-home}"
started=$SECONDS
timed() { # name command...: run a step, report its duration
  local name=$1 t=$SECONDS rc=0; shift
  "$@" || rc=$?
  step "$name: $([ "$rc" = 0 ] && echo done || echo "FAILED (exit $rc)") in $((SECONDS - t))s"
  return "$rc"
}

[ "$cli_only" = 1 ] || timed "docker engine" bash toolchain/docker-engine.sh >&2
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

if [ "$cli_only" = 0 ]; then
  apt_packages=()
  [ -x /usr/bin/chromium ] || apt_packages+=(chromium)      # browser tests
  command -v mvn >/dev/null 2>&1 || apt_packages+=(maven)   # Keycloak from Maven Central
  if [ "${#apt_packages[@]}" -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "missing ${apt_packages[*]}: install them (apt-get install ${apt_packages[*]}) or run as root"
    step "apt: installing ${apt_packages[*]}"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_packages[@]}"; } >&2 \
      || die "apt-get install ${apt_packages[*]} failed"
  fi
  timed "images" bash toolchain/images.sh >&2
fi

env_file="$MKS_CACHE/env.sh"
[ "$cli_only" = 0 ] || env_file="$MKS_CACHE/env-cli.sh"
cat >"$env_file" <<ENV
# Written by scripts/toolchain.sh: the registry-built Pulumi toolchain.
export PATH="$bin_dir:\$PATH"
export PULUMI_HOME="$PULUMI_HOME"
export PULUMI_SKIP_UPDATE_CHECK=true
export MKS_PROVIDER_PLUGINS=$plugins_state
ENV
# With our plugins installed, and always for the tests, nothing may be downloaded; a user's CLI
# without them fetches them itself where it can reach the plugin sites.
if [ "$plugins_state" = ready ] || [ "$cli_only" = 0 ]; then
  echo "export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true" >>"$env_file"
fi
step "toolchain ready in $((SECONDS - started))s: pulumi $("$bin_dir/pulumi" version) in $bin_dir; provider plugins: $plugins_state ($PULUMI_HOME/plugins); env in $env_file"
echo "$env_file"
