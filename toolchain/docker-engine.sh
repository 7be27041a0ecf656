#!/usr/bin/env bash
# Make sure a Docker daemon answers on this machine.
#
# On our machines (no container registry, root, Linux) the engine comes from Debian's
# `docker.io` package and is started by hand (CI machines boot without one). Anyone else gets
# the reason and the fix for their case (not in the docker group, Docker Desktop stopped on
# macOS or WSL2, no Docker at all). A daemon that already answers is left
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


# Why Docker does not answer and what to do, for everyone this script does not set Docker up
# for itself: it installs and starts Debian's docker.io only as root on Linux (CI, our
# machines). Nobody else is sent to apt or sudo for a Docker Desktop that is stopped or a
# socket their user may not open.
# WSL2 runs Docker Desktop's engine (or one the user installed), never one this script starts.
on_wsl() { grep -qi microsoft /proc/version 2>/dev/null; }

explain_and_stop() {
  local said=""
  if command -v docker >/dev/null 2>&1; then
    said="$(docker info 2>&1 >/dev/null | grep -m1 -iE 'error|denied|cannot' || true)"
  fi
  case "$said" in
    *"permission denied"*)
      die "your user may not use the Docker engine ($said). Fix: sudo usermod -aG docker $(id -un), then log out and in again (or use sudo), and rerun" ;;
  esac
  if [ "$(uname -s)" = Darwin ]; then
    die "Docker does not answer${said:+ ($said)}. Fix: start Docker Desktop and wait until it says it is running, then rerun"
  fi
  if on_wsl; then
    die "Docker does not answer in this WSL2 distribution${said:+ ($said)}. Fix: start Docker Desktop on Windows with Settings > Resources > WSL integration on for this distribution (or install Docker Engine in it), then rerun"
  fi
  if ! command -v dockerd >/dev/null 2>&1 && ! command -v docker >/dev/null 2>&1; then
    die "no Docker on this machine. Fix: install Docker Engine (https://docs.docker.com/engine/install/; on Debian or Ubuntu: sudo apt-get install docker.io), then rerun"
  fi
  die "the Docker engine does not answer${said:+ ($said)}. Fix: start it (sudo systemctl start docker, or Docker Desktop), then rerun"
}

if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  step "dockerd already answers; nothing to do"
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || [ "$(uname -s)" != Linux ] || on_wsl; then
  explain_and_stop
fi

mkdir -p "$MKS_CACHE"

if ! command -v dockerd >/dev/null 2>&1; then
  step "installing Debian's docker.io (dockerd is missing)"
  env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
    || die "apt-get update failed; check that the host's apt mirror is reachable"
  env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    docker.io iptables >&2 \
    || die "apt-get install docker.io failed; see the apt output above"
  command -v dockerd >/dev/null 2>&1 || die "docker.io installed but dockerd is still not on PATH"
fi
command -v docker >/dev/null 2>&1 || die "no docker client on PATH (docker.io should provide /usr/bin/docker)"

# A dockerd that exited but is not reaped yet (a zombie: this VM's init reaps late) is not a
# daemon to wait for; pgrep would count it, pidof does not.
if ps -C dockerd -o stat= 2>/dev/null | grep -qv '^Z'; then
  step "a dockerd process exists but does not answer yet; waiting for it instead of starting another"
else
  step "starting dockerd in the background (log: $DOCKERD_LOG)"
  # setsid + nohup: the daemon must outlive this script and the shell that ran it.
  setsid nohup dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
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
