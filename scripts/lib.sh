# Shared by the project's scripts: paths, logging and the Python environment.
# shellcheck shell=bash

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export MKS_CACHE="${MKS_CACHE:-$HOME/.cache/mlflow-keycloak-stack}"
# shellcheck source=../versions.env
set -a; source "$REPO_ROOT/versions.env"; set +a

step() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The project's virtualenv (.venv, as Pulumi.yaml names it), reinstalled only when a
# requirements file changes; pip's own cache lives outside the repo.
ensure_venv() {
  local venv="$REPO_ROOT/.venv" stamp hash
  hash="$(cat "$REPO_ROOT"/requirements*.txt "$REPO_ROOT/pyproject.toml" | sha256sum | cut -c1-16)"
  stamp="$venv/.requirements-$hash"
  if [ -f "$stamp" ]; then return 0; fi
  step "python venv: installing pinned requirements into .venv"
  if [ ! -x "$venv/bin/pip" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv" || { rm -rf "$venv"; die "python3 -m venv failed: install python3-venv"; }
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$REPO_ROOT/requirements-dev.txt" \
    || die "pip install -r requirements-dev.txt failed (see above)"
  # The project itself, for the `stackctl` command (dependencies are pinned above).
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -e "$REPO_ROOT" \
    || die "pip install -e . failed (see above)"
  rm -f "$venv"/.requirements-* && touch "$stamp"
}

# The Pulumi environment of every script: a CLI (the user's own if it is recent enough, else
# the registry-built one), a local file:// backend and a generated passphrase, no account.
ensure_pulumi_env() {
  local have=""
  if command -v pulumi >/dev/null 2>&1; then have="$(pulumi version 2>/dev/null | sed 's/^v//')"; fi
  if [ -z "$have" ] || [ "$(printf '%s\n%s\n' "$PULUMI_VERSION" "$have" | sort -V | head -n1)" != "$PULUMI_VERSION" ]; then
    local env_file
    env_file="$(MKS_ALLOW_MISSING_PLUGINS=1 bash "$REPO_ROOT/scripts/toolchain.sh" --cli)" \
      || die "no usable Pulumi CLI (see above): install a Pulumi CLI >= $PULUMI_VERSION, or Go >= 1.25 to build one"
    # shellcheck disable=SC1090
    source "$env_file"
  fi
  export PULUMI_SKIP_UPDATE_CHECK=true
  local state="${MKS_STATE_DIR:-$HOME/.local/share/mlflow-keycloak-stack/state}"
  if [ -z "${PULUMI_BACKEND_URL:-}" ]; then
    mkdir -p "$state"
    export PULUMI_BACKEND_URL="file://$state"
  fi
  if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
    local file="${MKS_PASSPHRASE_FILE:-$HOME/.config/mlflow-keycloak-stack/passphrase}"
    if [ ! -s "$file" ]; then
      step "secrets: generating the stack passphrase in $file (keep it: it decrypts the stack's secrets)"
      mkdir -p "$(dirname "$file")"
      (umask 077; python3 -c 'import secrets; print(secrets.token_urlsafe(32))' >"$file")
    fi
    export PULUMI_CONFIG_PASSPHRASE_FILE="$file"
  fi
}
