#!/usr/bin/env bash
# Make sure a Docker daemon answers on this machine.
#
# No container registry is reachable here, so the engine comes from Debian's `docker.io` package
# and is started by hand (CI machines boot without one). A daemon that already answers is left
# alone; one started here keeps running after the script exits.
#
# Usage: toolchain/docker-engine.sh
# Env:   MKS_CACHE            cache dir (default ~/.cache/mlflow-keycloak-stack); dockerd.log lives there
#        DOCKERD_WAIT_SECONDS how long to wait for the daemon (default 60)
set -euo pipefail

MKS_SCRIPT=docker-engine
# shellcheck source=../scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
DOCKERD_WAIT_SECONDS="${DOCKERD_WAIT_SECONDS:-60}"
DOCKERD_LOG="$MKS_CACHE/dockerd.log"


as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

mkdir -p "$MKS_CACHE"

if ! command -v dockerd >/dev/null 2>&1; then
  step "installing Debian's docker.io (dockerd is missing)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
    || die "apt-get update failed; check that the host's apt mirror is reachable"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    docker.io iptables >&2 \
    || die "apt-get install docker.io failed; see the apt output above"
  command -v dockerd >/dev/null 2>&1 || die "docker.io installed but dockerd is still not on PATH"
fi
command -v docker >/dev/null 2>&1 || die "no docker client on PATH (docker.io should provide /usr/bin/docker)"

if docker info >/dev/null 2>&1; then
  step "dockerd already answers; nothing to do"
  exit 0
fi

if pgrep -x dockerd >/dev/null 2>&1; then
  step "a dockerd process exists but does not answer yet; waiting for it instead of starting another"
else
  step "starting dockerd in the background (log: $DOCKERD_LOG)"
  # setsid + nohup: the daemon must outlive this script and the shell that ran it.
  as_root setsid nohup dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
  disown || true
fi

deadline=$((SECONDS + DOCKERD_WAIT_SECONDS))
until docker info >/dev/null 2>&1; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "---- last lines of $DOCKERD_LOG ----" >&2
    tail -n 30 "$DOCKERD_LOG" >&2 2>/dev/null || true
    die "dockerd did not answer 'docker info' within ${DOCKERD_WAIT_SECONDS}s; read $DOCKERD_LOG, fix the cause, and rerun (DOCKERD_WAIT_SECONDS raises the wait)"
  fi
  sleep 1
done
step "dockerd answers ($(docker version --format 'server {{.Server.Version}}, API {{.Server.APIVersion}}' 2>/dev/null))"
