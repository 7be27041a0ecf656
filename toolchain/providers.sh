#!/usr/bin/env bash
# Build the Pulumi resource provider plugins the stack uses, from the Go module proxy.
#
# No Pulumi download site is reachable here, so each plugin is built from source: the provider
# module (github.com/pulumi/pulumi-NAME/provider/vN at the release tag's commit) is copied out of
# the module cache, the upstream Terraform provider it replaces with ../upstream is put beside it,
# our own shims fill what upstream Pulumi adds by patch (docker) or keeps as a nested module
# (random), schema-embed.json is generated from the committed schema.json, and the binary is built
# with its version stamped in. Versions and commits come from versions.env only.
#
# Usage: toolchain/providers.sh [docker|keycloak|postgresql|random ...]   (default: all four)
# Env:   MKS_CACHE  cache dir (default ~/.cache/mlflow-keycloak-stack)
#        PULUMI_<NAME>_PSEUDO / PULUMI_<NAME>_UPSTREAM_PSEUDO (optional, e.g. in versions.env):
#                   exact module versions to fetch instead of resolving the commits through the
#                   proxy, for a proxy that serves exact versions only.
# Output: $MKS_CACHE/plugins/pulumi-resource-NAME-v<version>; the plugins dir is the last stdout
#         line. A plugin already there (non-empty) is not rebuilt. Logs: $MKS_CACHE/providers/logs.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHIM_DIR="$REPO_ROOT/toolchain/providers"
MKS_CACHE="${MKS_CACHE:-$HOME/.cache/mlflow-keycloak-stack}"
PLUGINS_DIR="$MKS_CACHE/plugins"
WORK_ROOT="$MKS_CACHE/providers"
LOG_DIR="$WORK_ROOT/logs"
ALL_PROVIDERS=(docker keycloak postgresql random)

log() { echo "==> providers: $*" >&2; }
die() { echo "ERROR: providers: $*" >&2; exit 1; }

# shellcheck source=../versions.env
source "$REPO_ROOT/versions.env"
command -v go >/dev/null 2>&1 || die "no go on PATH; the provider plugins are built with Go (>= the go line of each provider's go.mod)"
command -v python3 >/dev/null 2>&1 || die "no python3 on PATH; it reads 'go ... -json' output"

# The modules are fetched through the proxy only; never from GitHub directly.
export GOFLAGS="${GOFLAGS:--buildvcs=false}" GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
case " $GOFLAGS " in *" -buildvcs=false "*) ;; *) GOFLAGS="$GOFLAGS -buildvcs=false" ;; esac

json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1]) or "")' "$1"; }

# fetch_module PATH QUERY -> prints the module's directory in the module cache.
# QUERY is an exact version or a commit; `go mod download` resolves a commit to its pseudo-version.
fetch_module() {
  local path="$1" query="$2" out err dir
  out="$(cd "$WORK_ROOT" && go mod download -json "$path@$query" 2>/dev/null || true)"
  err="$(printf '%s' "$out" | json_field Error 2>/dev/null || true)"
  dir="$(printf '%s' "$out" | json_field Dir 2>/dev/null || true)"
  if [ -z "$dir" ] || [ ! -d "$dir" ]; then
    echo "ERROR: providers: cannot fetch $path@$query from the Go module proxy: ${err:-no output from go mod download}" >&2
    return 1
  fi
  log "fetched $path@$(printf '%s' "$out" | json_field Version)"
  printf '%s\n' "$dir"
}

# modfile_json DIR -> `go mod edit -json` of DIR/go.mod
modfile_json() { (cd "$1" && go mod edit -json); }

# require_version GOMOD_JSON MODULE -> the version GOMOD_JSON requires MODULE at
require_version() {
  python3 -c '
import json, sys
mod = json.loads(sys.argv[1])
for r in mod.get("Require") or []:
    if r["Path"] == sys.argv[2]:
        print(r["Version"]); break' "$1" "$2"
}

# local_replaces GOMOD_JSON -> "old-path<TAB>relative-dir" for each replace pointing at a directory
local_replaces() {
  python3 -c '
import json, sys
mod = json.loads(sys.argv[1])
for r in mod.get("Replace") or []:
    new = r["New"]
    if "Version" not in new and (new["Path"].startswith("./") or new["Path"].startswith("../")):
        print(r["Old"]["Path"] + "\t" + new["Path"])' "$1"
}

# serves_grpc BINARY -> succeeds when BINARY prints a port and accepts a TCP connection on it
# (how a Pulumi plugin announces its gRPC server to the engine)
serves_grpc() {
  local bin="$1" out pid port="" i
  out="$(mktemp)"
  "$bin" >"$out" 2>/dev/null &
  pid=$!
  for i in $(seq 1 100); do
    port="$(head -n1 "$out" | tr -dc '0-9')"
    [ -n "$port" ] && break
    sleep 0.1
  done
  local ok=1
  if [ -n "$port" ] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then ok=0; fi
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$out"
  [ "$ok" -eq 0 ] && log "$(basename "$bin") printed port $port and accepts connections there"
  return "$ok"
}

build_provider() {
  local name="$1" upper version commit upstream_commit major module_path
  upper="$(echo "$name" | tr '[:lower:]' '[:upper:]')"
  version="$(eval "echo \${PULUMI_${upper}_VERSION:-}")"
  commit="$(eval "echo \${PULUMI_${upper}_COMMIT:-}")"
  upstream_commit="$(eval "echo \${PULUMI_${upper}_UPSTREAM_COMMIT:-}")"
  local pseudo upstream_pseudo
  pseudo="$(eval "echo \${PULUMI_${upper}_PSEUDO:-}")"
  upstream_pseudo="$(eval "echo \${PULUMI_${upper}_UPSTREAM_PSEUDO:-}")"
  [ -n "$version" ] && [ -n "$commit" ] \
    || die "versions.env has no PULUMI_${upper}_VERSION / PULUMI_${upper}_COMMIT for provider '$name'"
  major="${version%%.*}"
  module_path="github.com/pulumi/pulumi-$name/provider/v$major"

  local target="$PLUGINS_DIR/pulumi-resource-$name-v$version"
  local work="$WORK_ROOT/build/$name-v$version"

  log "step 1/6 $name: provider module $module_path@${pseudo:-${commit:0:12}}"
  local src
  src="$(fetch_module "$module_path" "${pseudo:-${commit:0:12}}")" \
    || die "provider module for $name $version is not available. The proxy must serve $module_path at commit $commit; if it serves exact versions only, put that commit's pseudo-version (v$major.0.0-<UTC commit time>-${commit:0:12}) in versions.env as PULUMI_${upper}_PSEUDO"
  rm -rf "$work"
  mkdir -p "$work"
  cp -r "$src" "$work/provider"
  chmod -R u+w "$work/provider"

  local modjson
  modjson="$(modfile_json "$work/provider")"
  [ "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["Module"]["Path"])' "$modjson")" = "$module_path" ] \
    || die "$work/provider/go.mod does not declare module $module_path"

  log "step 2/6 $name: local replaces of the provider's go.mod"
  local old rel
  local replaces
  replaces="$(local_replaces "$modjson")" || die "could not read the local replaces of $name's go.mod"
  while IFS=$'\t' read -r old rel; do
    [ -n "$old" ] || continue
    case "$rel" in
      ../upstream)
        [ -n "$upstream_commit" ] || die "$name's go.mod replaces $old with ../upstream but versions.env has no PULUMI_${upper}_UPSTREAM_COMMIT"
        local up
        up="$(fetch_module "$old" "${upstream_pseudo:-${upstream_commit:0:12}}")" \
          || die "upstream Terraform provider $old@${upstream_commit:0:12} for $name is not available from the proxy; if it serves exact versions only, put its pseudo-version in versions.env as PULUMI_${upper}_UPSTREAM_PSEUDO"
        cp -r "$up" "$work/upstream"
        chmod -R u+w "$work/upstream"
        ;;
      ./shim)
        [ -f "$SHIM_DIR/$name-shim/shim.go" ] || die "$name's go.mod replaces $old with ./shim and there is no $SHIM_DIR/$name-shim/shim.go"
        local upstream_mod="${old%/shim}" up_version fw_version go_line
        up_version="$(require_version "$modjson" "$upstream_mod")"
        fw_version="$(require_version "$modjson" github.com/hashicorp/terraform-plugin-framework)"
        go_line="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["Go"])' "$modjson")"
        [ -n "$up_version" ] || die "$name's go.mod does not require $upstream_mod; cannot pin the shim's upstream"
        mkdir -p "$work/provider/shim"
        cp "$SHIM_DIR/$name-shim/shim.go" "$work/provider/shim/shim.go"
        {
          echo "module $old"
          echo
          echo "go $go_line"
          echo
          echo "require $upstream_mod $up_version"
          [ -z "$fw_version" ] || echo "require github.com/hashicorp/terraform-plugin-framework $fw_version"
        } >"$work/provider/shim/go.mod"
        ;;
      *) die "$name's go.mod replaces $old with $rel, which this script does not know how to provide" ;;
    esac
  done <<<"$replaces"

  # pulumi-docker imports a shim package that upstream Pulumi patches into ../upstream.
  if grep -rqs --include='*.go' '"github.com/terraform-providers/terraform-provider-docker/shim"' "$work/provider"; then
    [ -d "$work/upstream" ] || die "$name imports the docker shim but has no ../upstream"
    log "step 3/6 $name: adding our shim package to ../upstream"
    mkdir -p "$work/upstream/shim"
    cp "$SHIM_DIR/docker-shim/shim.go" "$work/upstream/shim/shim.go"
    local used
    used="$(grep -rhoE --include='*.go' '\bshim\.[A-Z][A-Za-z0-9_]*' "$work/provider" | sort -u | tr '\n' ' ')"
    [ "$used" = "shim.NewProvider " ] \
      || die "$name uses '$used' from the docker shim; toolchain/providers/docker-shim/shim.go exposes shim.NewProvider only"
  else
    log "step 3/6 $name: no shim package to add"
  fi

  log "step 4/6 $name: schema-embed.json for $version"
  local cmd_dir="$work/provider/cmd/pulumi-resource-$name"
  [ -f "$cmd_dir/schema.json" ] || die "$cmd_dir/schema.json is missing from the provider module"
  [ -f "$cmd_dir/generate.go" ] || die "$cmd_dir/generate.go is missing from the provider module"
  (cd "$cmd_dir" && VERSION="$version" go run ./generate.go) \
    || die "generating schema-embed.json for $name failed (see above)"
  [ -s "$cmd_dir/schema-embed.json" ] || die "generate.go ran but left no $cmd_dir/schema-embed.json"

  log "step 5/6 $name: go build (slow the first time: the provider's dependencies are downloaded and compiled)"
  local tmp="$PLUGINS_DIR/.pulumi-resource-$name-v$version.tmp.$$"
  (cd "$work/provider" && GOFLAGS="$GOFLAGS -mod=mod" go build -trimpath -o "$tmp" \
      -ldflags "-s -w -X $module_path/pkg/version.Version=$version" "./cmd/pulumi-resource-$name") \
    || { rm -f "$tmp"; die "go build of pulumi-resource-$name $version failed (see above)"; }

  log "step 6/6 $name: checking the binary starts and listens on the port it prints"
  serves_grpc "$tmp" || { rm -f "$tmp"; die "pulumi-resource-$name $version built but did not print a port and listen on it when started"; }
  mv -f "$tmp" "$target"
  rm -rf "$work"
  log "built $target"
}

main() {
  local names=("$@")
  [ "${#names[@]}" -gt 0 ] || names=("${ALL_PROVIDERS[@]}")
  local n
  for n in "${names[@]}"; do
    case " ${ALL_PROVIDERS[*]} " in *" $n "*) ;; *) die "unknown provider '$n' (known: ${ALL_PROVIDERS[*]})" ;; esac
  done
  mkdir -p "$PLUGINS_DIR" "$LOG_DIR" "$WORK_ROOT"

  local failed=()
  for n in "${names[@]}"; do
    local upper version target
    upper="$(echo "$n" | tr '[:lower:]' '[:upper:]')"
    version="$(eval "echo \${PULUMI_${upper}_VERSION:-}")"
    target="$PLUGINS_DIR/pulumi-resource-$n-v$version"
    if [ -n "$version" ] && [ -s "$target" ]; then
      log "$n $version already built: $target"
      continue
    fi
    local logf="$LOG_DIR/$n-v$version.log" started=$SECONDS
    log "building $n $version (log: $logf)"
    # A subshell so that one provider's failure does not stop the others.
    if (build_provider "$n") >"$logf" 2>&1; then
      log "$n $version done in $((SECONDS - started))s"
    else
      echo "ERROR: providers: building $n $version failed after $((SECONDS - started))s; last lines of $logf:" >&2
      tail -n 5 "$logf" | sed 's/^/    /' >&2
      failed+=("$n")
    fi
  done
  [ "${#failed[@]}" -eq 0 ] || die "failed: ${failed[*]} (logs in $LOG_DIR)"
  echo "$PLUGINS_DIR"
}

main "$@"
