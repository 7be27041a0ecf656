#!/usr/bin/env bash
# Pebble, Let's Encrypt's ACME test server, and its challenge/DNS test server, at PEBBLE_VERSION
# (versions.env), built with `go install module@version` from the Go module proxy (the release's
# own go.sum) into the cache. Only the ACME e2e test (tests/e2e/test_23_acme.py) runs them.
# Prints the directory that holds `pebble` and `pebble-challtestsrv`.
set -euo pipefail
MKS_SCRIPT=acme
# shellcheck source=../scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
bin="$MKS_CACHE/pebble/$PEBBLE_VERSION"
if [ ! -x "$bin/pebble" ] || [ ! -x "$bin/pebble-challtestsrv" ]; then
  command -v go >/dev/null 2>&1 || die "go is not on PATH. Fix: install Go >= 1.25"
  step "go install github.com/letsencrypt/pebble/v2/cmd/{pebble,pebble-challtestsrv}@v$PEBBLE_VERSION"
  mkdir -p "$bin"
  CGO_ENABLED=0 GOBIN="$bin" go install -trimpath \
    "github.com/letsencrypt/pebble/v2/cmd/pebble@v$PEBBLE_VERSION" \
    "github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv@v$PEBBLE_VERSION" >&2
fi
echo "$bin"
