#!/usr/bin/env bash
# Pebble, Let's Encrypt's ACME test server, and its challenge/DNS test server, at PEBBLE_VERSION
# (versions.env), built with `go install module@version` from the Go module proxy (the release's
# own go.sum) into the cache. Only the ACME e2e test (tests/e2e/test_23_acme.py) runs them.
# Prints the directory that holds `pebble` and `pebble-challtestsrv`.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck disable=SC1091 # versions.env: plain KEY=value pins
source "$REPO_ROOT/versions.env"
MKS_CACHE="${MKS_CACHE:-$HOME/.cache/mlflow-keycloak-stack}"
bin="$MKS_CACHE/pebble/$PEBBLE_VERSION"
if [ ! -x "$bin/pebble" ] || [ ! -x "$bin/pebble-challtestsrv" ]; then
  command -v go >/dev/null 2>&1 || { echo "ERROR: acme: go is not on PATH (install Go >= 1.25)" >&2; exit 1; }
  echo "==> acme: go install github.com/letsencrypt/pebble/v2/cmd/{pebble,pebble-challtestsrv}@v$PEBBLE_VERSION" >&2
  mkdir -p "$bin"
  CGO_ENABLED=0 GOBIN="$bin" go install -trimpath \
    "github.com/letsencrypt/pebble/v2/cmd/pebble@v$PEBBLE_VERSION" \
    "github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv@v$PEBBLE_VERSION" >&2
fi
echo "$bin"
