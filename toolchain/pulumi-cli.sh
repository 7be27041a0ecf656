#!/usr/bin/env bash
# Builds the Pulumi CLI (pulumi) and this project's Python language host (pulumi-language-python, plus the
# Python scripts the CLI and host exec) from the Go module proxy, at PULUMI_VERSION from versions.env, into
#   ${MKS_CACHE:-$HOME/.cache/mlflow-keycloak-stack}/pulumi/$PULUMI_VERSION/bin
# and prints that directory as the last (and only) line on stdout; progress goes to stderr.
#
# A second run with unchanged inputs only checks `pulumi version` and input stamps, and builds nothing.
# The wrapper module in toolchain/pulumi-cli/ pins pkg/v3 and sdk/v3 (go.mod + go.sum) and repeats the
# clipboard replace that pkg/v3's own go.mod needs; see toolchain/pulumi-cli/README.md.
set -euo pipefail

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'toolchain/pulumi-cli.sh: error: %s\n' "$*" >&2; exit 1; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
module="$here/pulumi-cli"

# shellcheck source=../versions.env
source "$repo/versions.env"
[[ -n "${PULUMI_VERSION:-}" ]] || die "PULUMI_VERSION is not set in $repo/versions.env"

root="${MKS_CACHE:-$HOME/.cache/mlflow-keycloak-stack}/pulumi/$PULUMI_VERSION"
bin="$root/bin"
stamps="$root/stamps"
mkdir -p "$bin" "$stamps"

command -v go >/dev/null || die "the go command is not on PATH; install Go >= $(sed -n 's/^go //p' "$module/go.mod")"
# Never let the go command fetch a different toolchain behind our back: fail with the local one instead.
export GOTOOLCHAIN=local
export GOFLAGS="${GOFLAGS:-} -mod=readonly -buildvcs=false"

# One build at a time per version: a second caller waits, then finds everything up to date.
exec 9>"$root/.lock"
flock 9
rm -rf "$root"/.build.*  # scratch left by a build that was killed; no build can be running now

sha() { sha256sum | cut -d' ' -f1; }
go_version=$(go env GOVERSION)
ldflags="-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION"

# What each artifact is built from; a change in any of these rebuilds it, anything else leaves it alone.
cli_inputs=$( { echo "$PULUMI_VERSION $go_version $ldflags"; cat "$module/go.mod" "$module/go.sum"; } | sha)
host_inputs=$( { echo "$PULUMI_VERSION $go_version $ldflags"; cat "$module/go.mod" "$module/go.sum";
                 find "$module/cmd" -type f -name '*.go' | LC_ALL=C sort | xargs cat; } | sha)

cli_current() {
  [[ -x "$bin/pulumi" && "$(cat "$stamps/pulumi" 2>/dev/null)" == "$cli_inputs" ]] || return 1
  local printed
  printed=$("$bin/pulumi" version 2>/dev/null) || return 1
  [[ "$printed" == "v$PULUMI_VERSION" ]]
}
host_current() {
  [[ -x "$bin/pulumi-language-python" && -x "$bin/pulumi-language-python-exec" \
     && -x "$bin/pulumi-resource-pulumi-python" \
     && "$(cat "$stamps/pulumi-language-python" 2>/dev/null)" == "$host_inputs" ]]
}

if cli_current && host_current; then
  log "pulumi v$PULUMI_VERSION and the Python language host are up to date in $bin"
  printf '%s\n' "$bin"
  exit 0
fi

# The -X flag only labels the binary: make sure go.mod really pins the version we are about to call it.
for mod in github.com/pulumi/pulumi/pkg/v3 github.com/pulumi/pulumi/sdk/v3; do
  pinned=$(cd "$module" && go list -m -f '{{.Version}}' "$mod") || die "could not read the $mod pin from $module/go.mod"
  [[ "$pinned" == "v$PULUMI_VERSION" ]] || die "$module/go.mod pins $mod $pinned but versions.env says" \
    "$PULUMI_VERSION; run: cd $module && go get -tool github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@v$PULUMI_VERSION" \
    "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION && go mod tidy"
done

# Build into a scratch directory beside bin/ (same filesystem), then rename into place: an interrupted build
# leaves no half-written binary under a name that looks valid.
work=$(mktemp -d "$root/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT

build() { # build <output name> <package>
  log "go build $2 (v$PULUMI_VERSION) -> $1 (the CLI takes ~9 min cold on 2 cores, a relink when Go caches are warm)"
  (cd "$module" && go build -trimpath -ldflags "$ldflags" -o "$work/$1" "$2") >&2 \
    || die "go build of $2 failed (see the go output above). Check that the Go module proxy is reachable" \
           "and that $module/go.mod and go.sum are intact (cd $module && go mod verify)."
}

if ! cli_current; then
  build pulumi github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  printed=$("$work/pulumi" version) || die "the freshly built $work/pulumi does not run"
  [[ "$printed" == "v$PULUMI_VERSION" ]] \
    || die "the freshly built pulumi reports '$printed', expected v$PULUMI_VERSION (is the -X ldflag path right?)"
  mv -f "$work/pulumi" "$bin/pulumi"
  echo "$cli_inputs" >"$stamps/pulumi"
fi

if ! host_current; then
  build pulumi-language-python ./cmd/pulumi-language-python

  # The Python halves ship as scripts inside the sdk/v3 module: the program runner the host execs, and the
  # dynamic-provider plugin the CLI starts for pulumi.dynamic resources.
  sdk_dir=$(cd "$module" && go list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3) \
    || die "could not locate github.com/pulumi/pulumi/sdk/v3 in the module cache"
  for script in python/cmd/pulumi-language-python-exec python/dist/pulumi-resource-pulumi-python; do
    [[ -f "$sdk_dir/$script" ]] || die "$sdk_dir/$script is missing; has sdk/v3 moved it in v$PULUMI_VERSION?"
    install -m 0755 "$sdk_dir/$script" "$work/${script##*/}"
  done

  for name in pulumi-language-python-exec pulumi-resource-pulumi-python pulumi-language-python; do
    mv -f "$work/$name" "$bin/$name"
  done
  echo "$host_inputs" >"$stamps/pulumi-language-python"
fi

log "pulumi v$PULUMI_VERSION and the Python language host are ready in $bin"
printf '%s\n' "$bin"
