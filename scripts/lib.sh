# Shared by the project's scripts and the toolchain's: paths, the pins, the cache, messages
# and the Python environment. A toolchain script sets MKS_SCRIPT (its name in its messages).
# shellcheck shell=bash

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The defaults stackctl uses too (stackrules/local_state.py): cache, state dir, passphrase file.
eval "$(PYTHONPATH="$REPO_ROOT" python3 -m stackrules.local_state)" \
  || { printf 'error: python3 could not read stackrules/local_state.py\n' >&2; exit 1; }
export MKS_CACHE MKS_STATE_DIR MKS_PASSPHRASE_FILE
# shellcheck source=../versions.env
set -a; source "$REPO_ROOT/versions.env"; set +a

step() { printf '==> %s%s\n' "${MKS_SCRIPT:+$MKS_SCRIPT: }" "$*" >&2; }
die() { printf 'error: %s%s\n' "${MKS_SCRIPT:+$MKS_SCRIPT: }" "$*" >&2; exit 1; }

# The project's virtualenv (.venv, as Pulumi.yaml names it), reinstalled only when a
# requirements file changes; pip's own cache lives outside the repo. Installed from the hashed
# lock (scripts/lock.sh), so every file pip gets is the one reviewed.
ensure_venv() {
  local venv="$REPO_ROOT/.venv" stamp hash
  hash="$(cat "$REPO_ROOT"/requirements* "$REPO_ROOT/pyproject.toml" | sha256sum | cut -c1-16)"
  stamp="$venv/.requirements-$hash"
  if [ -f "$stamp" ]; then return 0; fi
  step "python venv: installing pinned requirements into .venv"
  if [ ! -x "$venv/bin/pip" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv" || { rm -rf "$venv"; die "python3 -m venv failed: install python3-venv"; }
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check --require-hashes \
    -r "$REPO_ROOT/requirements-dev.lock" \
    || die "pip install -r requirements-dev.lock failed (see above; scripts/lock.sh rewrites it)"
  # The project itself, for the `stackctl` command (dependencies are pinned above).
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -e "$REPO_ROOT" \
    || die "pip install -e . failed (see above)"
  rm -f "$venv"/.requirements-* && touch "$stamp"
}

# The policy pack's own virtualenv (policy/venv, as PulumiPolicy.yaml names it): without it the
# CLI's `--policy-pack` hangs silently, so it is made before any preview or up.
ensure_policy_venv() {
  local venv="$REPO_ROOT/policy/venv" stamp
  stamp="$venv/.requirements-$(cat "$REPO_ROOT"/policy/requirements* "$REPO_ROOT/pyproject.toml" | sha256sum | cut -c1-16)"
  if [ -f "$stamp" ]; then return 0; fi
  step "policy pack: installing policy/requirements.lock into policy/venv"
  rm -rf "$venv"
  python3 -m venv "$venv" || { rm -rf "$venv"; die "python3 -m venv failed: install python3-venv"; }
  "$venv/bin/pip" install --quiet --disable-pip-version-check --require-hashes \
    -r "$REPO_ROOT/policy/requirements.lock" \
    || { rm -rf "$venv"; die "pip install -r policy/requirements.lock failed (see above)"; }
  # The shared rules (stackrules/), without the stack's own dependencies.
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -e "$REPO_ROOT" \
    || { rm -rf "$venv"; die "pip install -e . into policy/venv failed (see above)"; }
  touch "$stamp"
}

# The Pulumi environment of every script: the CLI and plugins (toolchain/pulumi.sh), a local
# file:// backend and a generated passphrase, no account.
ensure_pulumi_env() {
  local env_file
  env_file="$(bash "$REPO_ROOT/toolchain/pulumi.sh" | tail -n 1)" || die "no usable Pulumi toolchain (see above)"
  # shellcheck disable=SC1090
  source "$env_file"
  ensure_policy_venv
  if [ -z "${PULUMI_BACKEND_URL:-}" ]; then
    mkdir -p "$MKS_STATE_DIR"
    export PULUMI_BACKEND_URL="file://$MKS_STATE_DIR"
  fi
  if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
    local file="$MKS_PASSPHRASE_FILE"
    if [ ! -s "$file" ]; then
      step "secrets: generating the stack passphrase in $file (keep it: it decrypts the stack's secrets)"
      mkdir -p "$(dirname "$file")"
      (umask 077; python3 -c 'import secrets; print(secrets.token_urlsafe(32))' >"$file")
    fi
    export PULUMI_CONFIG_PASSPHRASE_FILE="$file"
  fi
}
