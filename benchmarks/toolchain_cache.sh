#!/usr/bin/env bash
# How much the toolchain cache saves: sets up the Pulumi CLI and the four provider plugins from
# the release mirror into an empty cache (checksums, unpack, `pulumi plugin install`), then runs
# the same step again warm, and runs the whole scripts/toolchain.sh warm. Prints the times and
# the cold/warm ratio measured in this one run.
#   MKS_PULUMI_MIRROR=DIR bash benchmarks/toolchain_cache.sh
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$REPO_ROOT"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

seconds() { # command...: wall seconds of one run (output discarded)
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null 2>&1 || die "benchmark step failed: $*"
  end=$(date +%s.%N)
  python3 -c "print($end - $start)"
}

[ -n "${MKS_PULUMI_MIRROR:-}" ] || die "set MKS_PULUMI_MIRROR to the release mirror (this measures setting up from it)"
step "cold: Pulumi CLI + plugins from the mirror into an empty cache"
cold=$(MKS_CACHE="$scratch/cache" PULUMI_HOME="$scratch/home" seconds bash toolchain/pulumi.sh)
warm=$(MKS_CACHE="$scratch/cache" PULUMI_HOME="$scratch/home" seconds bash toolchain/pulumi.sh)
whole=$(seconds bash scripts/toolchain.sh)

printf 'pulumi CLI + plugins, cold:    %8.1f s\n' "$cold"
printf 'pulumi CLI + plugins, warm:    %8.2f s\n' "$warm"
printf 'cold / warm:                   %8.0fx\n' "$(python3 -c "print($cold / $warm)")"
printf 'whole scripts/toolchain.sh, warm (engine, CLI, plugins, policy venv, images): %.1f s\n' "$whole"
