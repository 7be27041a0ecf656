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

ensure_venv
PY="$REPO_ROOT/.venv/bin"

step "lint: ruff"
"$PY/ruff" check .
"$PY/ruff" format --check .
step "types: mypy (stack, stackctl, tests, policy pack)"
"$PY/mypy" components wiring stackctl stackrules tests benchmarks __main__.py
(cd policy && MYPYPATH="$REPO_ROOT" "$PY/mypy" --strict --config-file /dev/null --ignore-missing-imports stack_policies __main__.py)
step "unit suites: stack under Pulumi mocks, stackctl, policy pack"
"$PY/python" -m pytest tests/unit policy/tests -q

step "workflows: actionlint"
command -v go >/dev/null 2>&1 || die "Go is missing: actionlint is built from the Go module proxy (install Go >= 1.25)"
actionlint_bin="$MKS_CACHE/bin/actionlint-$ACTIONLINT_VERSION"
if [ ! -x "$actionlint_bin" ]; then
  GOBIN="$MKS_CACHE/gobin-actionlint" go install "github.com/rhysd/actionlint/cmd/actionlint@v$ACTIONLINT_VERSION"
  mkdir -p "$MKS_CACHE/bin" && mv "$MKS_CACHE/gobin-actionlint/actionlint" "$actionlint_bin"
fi
"$actionlint_bin" -shellcheck= .github/workflows/*.yml

[ "$fast" = 1 ] && exit 0

step "toolchain: docker engine, pulumi CLI + provider plugins, policy pack venv, images, chromium"
env_file="$(bash scripts/toolchain.sh)" || die "toolchain setup failed (see above)"
# shellcheck disable=SC1090
source "$env_file"
step "pulumi CLI: $(pulumi version) ($(command -v pulumi)); plugins: $(pulumi plugin ls 2>/dev/null | awk '$2=="resource" {printf "%s %s  ", $1, $3}')"

# The Kubernetes binaries (toolchain/kube.sh: kube-apiserver, etcd, the controllers and kwok,
# built from the Go module proxy, about 15 min cold, cached by version) build at low priority
# while the Docker suites run, which spend much of their time waiting on containers.
kube_log="$MKS_CACHE/kube-toolchain.log"
mkdir -p "$MKS_CACHE"
step "kubernetes toolchain: building in the background if not cached (log: $kube_log)"
nice -n 10 bash toolchain/kube.sh >"$kube_log.out" 2>"$kube_log" &
kube_pid=$!
# A failing suite ends the run: the build goes with it (it resumes from Go's caches next time).
trap 'kill "$kube_pid" 2>/dev/null || true' EXIT
wait_kube_toolchain() {
  local started=$SECONDS
  wait "$kube_pid" || { tail -n 40 "$kube_log" >&2; die "toolchain/kube.sh failed (log: $kube_log)"; }
  step "kubernetes toolchain ready (waited $((SECONDS - started))s): $(grep -c 'already built' "$kube_log") cached, log $kube_log"
  MKS_KUBE_BIN="$(tail -n 1 "$kube_log.out")"
  export MKS_KUBE_BIN
}

step "real pulumi CLI: bad configs refused, the policy pack on real previews"
"$PY/python" -m pytest tests/cli -q -p no:cacheprovider -rA

step "end-to-end suite on the real engine"
"$PY/python" -m pytest tests/e2e -p no:cacheprovider -rA

step "kubernetes target: manifests rendered by a real pulumi up, checked by a real API server"
wait_kube_toolchain
"$PY/python" -m pytest tests/k8s -q -p no:cacheprovider -rA
