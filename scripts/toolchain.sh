#!/usr/bin/env bash
# Everything a real `pulumi up` and the test suites need: Docker engine, the Pulumi CLI and
# provider plugins (toolchain/pulumi.sh: from MKS_PULUMI_MIRROR, or the user's own CLI), the
# policy pack's virtualenv, and for the tests the local images and Chromium.
# Idempotent and cached under $MKS_CACHE. Prints the path of an env file to source:
#   source "$(scripts/toolchain.sh)"          everything (tests; needs root for apt and dockerd)
#   source "$(scripts/toolchain.sh --cli)"    the Pulumi CLI, plugins and policy pack only
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

cli_only=0
case "${1:-}" in
  --cli) cli_only=1 ;;
  "") ;;
  *) die "usage: scripts/toolchain.sh [--cli]" ;;
esac

started=$SECONDS
timed() { # name command...: run a step, report its duration
  local name=$1 t=$SECONDS rc=0; shift
  "$@" || rc=$?
  step "$name: $([ "$rc" = 0 ] && echo done || echo "FAILED (exit $rc)") in $((SECONDS - t))s"
  return "$rc"
}

[ "$cli_only" = 1 ] || timed "docker engine" bash toolchain/docker-engine.sh >&2
pulumi_env="$(timed "pulumi cli + plugins" bash toolchain/pulumi.sh | tail -n 1)" \
  || die "Pulumi toolchain setup failed (see above)"
timed "policy pack venv" ensure_policy_venv

if [ "$cli_only" = 0 ]; then
  apt_packages=()
  [ -x /usr/bin/chromium ] || apt_packages+=(chromium)      # browser tests
  command -v certutil >/dev/null 2>&1 || apt_packages+=(libnss3-tools)  # the browser trusts the test CA
  command -v mvn >/dev/null 2>&1 || apt_packages+=(maven)   # Keycloak from Maven Central
  if [ "${#apt_packages[@]}" -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "missing ${apt_packages[*]}: install them (apt-get install ${apt_packages[*]}) or run as root"
    step "apt: installing ${apt_packages[*]}"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_packages[@]}"; } >&2 \
      || die "apt-get install ${apt_packages[*]} failed"
  fi
  timed "images" bash toolchain/images.sh >&2
  timed "hosts" bash toolchain/hosts.sh >&2  # the TLS test stacks' names
  timed "pebble (ACME test server)" bash toolchain/acme.sh >/dev/null
fi
step "toolchain ready in $((SECONDS - started))s; env in $pulumi_env"
echo "$pulumi_env"
