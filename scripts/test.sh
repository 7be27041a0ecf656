#!/usr/bin/env bash
# The project's test command (README, .ci/run).
#   scripts/test.sh          everything: fast checks, then the toolchain and the real suites
#   scripts/test.sh --fast   lint, types and the unit suites only (no Docker, seconds)
# A missing prerequisite fails loudly.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

fast=0
case "${1:-}" in
  --fast) fast=1 ;;
  "") ;;
  *) die "usage: scripts/test.sh [--fast]" ;;
esac

# Every tier's wall time, printed as it ends and again as a table when the run ends (even a
# failed one), so a slowdown is seen the day it lands.
run_started=$SECONDS
tier_times=()
tier() { # name command...: run one tier of the suite and record its wall time
  local name=$1 started=$SECONDS rc=0 took; shift
  step "$name"
  "$@" || rc=$?
  took=$((SECONDS - started))
  tier_times+=("$(printf '%-58s %5ds%s' "$name" "$took" "$([ "$rc" = 0 ] || echo "  FAILED (exit $rc)")")")
  # benchmarks/suite.py reads them from here: name, seconds, exit code.
  [ -z "${MKS_TIER_TIMES:-}" ] || printf '%s\t%s\t%s\n' "$name" "$took" "$rc" >>"$MKS_TIER_TIMES"
  step "$name: ${took}s"
  return "$rc"
}
print_tier_times() {
  [ "${#tier_times[@]}" -gt 0 ] || return 0
  printf '\n==> wall time per tier\n' >&2
  printf '  %s\n' "${tier_times[@]}" >&2
  printf '  %-58s %5ds\n' "total" $((SECONDS - run_started)) >&2
}
trap print_tier_times EXIT
# The slowest tests of each real tier, for the same reason.
DURATIONS=(--durations=15 --durations-min=5)
# A tier's function runs as the left of `||`, where bash ignores set -e: each one chains its
# commands with && so that a failing one fails the tier.

tier "python venv" ensure_venv
PY="$REPO_ROOT/.venv/bin"

lint() {
  "$PY/ruff" check . && "$PY/ruff" format --check .
}
# mypy's cache lives outside the repo, so a fresh clone checks only what changed (mypy keys
# each entry by the source's hash, its options and its own version).
types() {
  "$PY/mypy" --cache-dir "$MKS_CACHE/mypy" stackconfig components wiring stackctl stackrules tests benchmarks __main__.py \
    && (cd policy && MYPYPATH="$REPO_ROOT" "$PY/mypy" --cache-dir "$MKS_CACHE/mypy-policy" --strict --config-file /dev/null --ignore-missing-imports stack_policies __main__.py)
}
tier "lint: ruff" lint
tier "types: mypy (stack, stackctl, tests, policy pack)" types
tier "unit suites: stack under Pulumi mocks, stackctl, policy pack" \
  "$PY/python" -m pytest tests/unit policy/tests -q

actionlint() {
  command -v go >/dev/null 2>&1 || die "Go is missing: actionlint is built from the Go module proxy (install Go >= 1.25)"
  local bin="$MKS_CACHE/bin/actionlint-$ACTIONLINT_VERSION"
  if [ ! -x "$bin" ]; then
    GOBIN="$MKS_CACHE/gobin-actionlint" go install "github.com/rhysd/actionlint/cmd/actionlint@v$ACTIONLINT_VERSION" \
      && mkdir -p "$MKS_CACHE/bin" && mv "$MKS_CACHE/gobin-actionlint/actionlint" "$bin" || return
  fi
  "$bin" -shellcheck= .github/workflows/*.yml
}
tier "workflows: actionlint" actionlint

[ "$fast" = 1 ] && exit 0

toolchain() { env_file="$(bash scripts/toolchain.sh)"; }
tier "toolchain: docker engine, pulumi CLI + provider plugins, policy pack venv, images, chromium" \
  toolchain || die "toolchain setup failed (see above)"
# shellcheck disable=SC1090
source "$env_file"
step "pulumi CLI: $(pulumi version) ($(command -v pulumi)); plugins: $(pulumi plugin ls 2>/dev/null | awk '$2=="resource" {printf "%s %s  ", $1, $3}')"

# The Kubernetes binaries (toolchain/kube.sh: kube-apiserver, etcd, the controllers, kwok, and
# the real node's kubelet, kube-proxy, containerd and CoreDNS, built from the Go module proxy,
# about 15 min cold, cached by version) build at low priority
# while the Docker suites run, which spend much of their time waiting on containers.
kube_log="$MKS_CACHE/kube-toolchain.log"
mkdir -p "$MKS_CACHE"
step "kubernetes toolchain: building in the background if not cached (log: $kube_log)"
nice -n 10 bash toolchain/kube.sh >"$kube_log.out" 2>"$kube_log" &
kube_pid=$!
# A failing suite ends the run: the build goes with it (it resumes from Go's caches next time).
e2e_own_pid=""
trap 'kill "$kube_pid" 2>/dev/null || true; [ -z "$e2e_own_pid" ] || pkill -P "$e2e_own_pid" || true; print_tier_times' EXIT
wait_kube_toolchain() {
  wait "$kube_pid" || { tail -n 40 "$kube_log" >&2; die "toolchain/kube.sh failed (log: $kube_log)"; }
  step "kubernetes toolchain: $(grep -c 'already built' "$kube_log") cached, log $kube_log"
  MKS_KUBE_BIN="$(tail -n 1 "$kube_log.out")"
  export MKS_KUBE_BIN
}

# The CLI tier's previews are independent (a project copy and stacks per worker): they run in
# MKS_CLI_WORKERS parallel workers (default 2, these machines' cores; 1 runs them in turn).
cli_workers="${MKS_CLI_WORKERS:-2}"
case "$cli_workers" in ''|*[!0-9]*|0) die "MKS_CLI_WORKERS must be a whole number >= 1, not '$cli_workers'" ;; esac
workers=()
[ "$cli_workers" = 1 ] || workers=(-n "$cli_workers")
tier "real pulumi CLI: bad configs refused, the policy pack on real previews ($cli_workers workers)" \
  "$PY/python" -m pytest tests/cli -q -p no:cacheprovider -rA "${workers[@]}" "${DURATIONS[@]}"

# MKS_E2E_LANES=2 runs the e2e suite's two lanes (tests/e2e/lanes.py: the shared stack's files,
# and files with a stack of their own) side by side; the faults and destroy tests wait for the
# other lane to end. On 2 cores the suite is CPU-bound: two lanes took 1467 s against 1632-1702 s
# in one (each test 1.7x slower beside the other lane), and one test failed beside the other
# lane that passes alone (docs/performance.md), so one lane is the default.
e2e_lanes="${MKS_E2E_LANES:-1}"
case "$e2e_lanes" in 1|2) ;; *) die "MKS_E2E_LANES must be 1 or 2, not '$e2e_lanes'" ;; esac
e2e_pytest=("$PY/python" -m pytest tests/e2e -p no:cacheprovider -rA "${DURATIONS[@]}")
e2e() {
  [ "$e2e_lanes" = 2 ] || { "${e2e_pytest[@]}"; return; }
  local own_log="$REPO_ROOT/artifacts/e2e-lane-own.log" done_file started=$SECONDS
  local rc_shared=0 rc_own shared_took
  done_file="$(mktemp -u "${TMPDIR:-/tmp}/mks-e2e-own-lane.XXXXXX")"
  mkdir -p "$REPO_ROOT/artifacts"
  ( rc=0; "${e2e_pytest[@]}" --lane own >"$own_log" 2>&1 || rc=$?
    echo "$rc" >"$done_file.rc" && mv "$done_file.rc" "$done_file"
    echo "$((SECONDS - started))" >"$done_file.took" ) &
  e2e_own_pid=$!
  step "e2e lane 'own' runs in the background (its output follows the 'shared' lane's; live: $own_log)"
  MKS_E2E_OTHER_LANE_DONE="$done_file" "${e2e_pytest[@]}" --lane shared || rc_shared=$?
  shared_took=$((SECONDS - started))
  wait "$e2e_own_pid" || true
  rc_own="$(cat "$done_file" 2>/dev/null || echo 1)"
  step "e2e lane 'own': its output"
  cat "$own_log"
  step "e2e lanes: 'shared' ${shared_took}s (exit $rc_shared), 'own' $(cat "$done_file.took" 2>/dev/null || echo '?')s (exit $rc_own)"
  rm -f "$done_file" "$done_file.took"
  [ "$rc_shared" = 0 ] && [ "$rc_own" = 0 ]
}
tier "end-to-end suite on the real engine ($e2e_lanes lane(s))" e2e

tier "kubernetes toolchain: waiting for the background build" wait_kube_toolchain
tier "kubernetes target: rendered, checked by a real API server, up on kwok, pods on a real node" \
  "$PY/python" -m pytest tests/k8s -q -p no:cacheprovider -rA "${DURATIONS[@]}"
