#!/usr/bin/env bash
# How much the toolchain cache saves: builds the Pulumi CLI + Python host from the Go module
# proxy with empty caches (a fresh Go build cache and bin dir; downloaded modules are shared),
# then runs the same step again warm, and runs the whole scripts/toolchain.sh warm. Prints the
# times and the cold/warm ratio measured in this one run.
#   bash benchmarks/toolchain_cache.sh
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

step "cold: Pulumi CLI + host with an empty Go build cache (minutes)"
cold=$(GOCACHE="$scratch/go-build" MKS_CACHE="$scratch/cache" seconds bash toolchain/pulumi-cli.sh)
warm=$(GOCACHE="$scratch/go-build" MKS_CACHE="$scratch/cache" seconds bash toolchain/pulumi-cli.sh)
whole=$(MKS_ALLOW_MISSING_PLUGINS=1 seconds bash scripts/toolchain.sh)

printf 'pulumi CLI + host, cold:       %8.1f s\n' "$cold"
printf 'pulumi CLI + host, warm:       %8.2f s\n' "$warm"
printf 'cold / warm:                   %8.0fx\n' "$(python3 -c "print($cold / $warm)")"
printf 'whole scripts/toolchain.sh, warm (engine, CLI, plugins attempt, images): %.1f s\n' "$whole"
