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

# uv, which installs a hashed lock in seconds where pip takes most of a minute: itself installed
# once by pip from images/mlflow/installer.lock (hash-checked, the version the MLflow image
# uses), into the cache outside the repo. Its package cache is uv's own (~/.cache/uv).
ensure_uv() {
  local version tools
  version="$(grep -o '^uv==[^ ]*' "$REPO_ROOT/images/mlflow/installer.lock" | cut -d= -f3)"
  tools="$MKS_CACHE/uv-$version"
  UV="$tools/bin/uv"
  [ -x "$UV" ] && return 0
  step "uv: installing it from images/mlflow/installer.lock into $tools"
  rm -rf "$tools"
  python3 -m venv "$tools" || { rm -rf "$tools"; die "python3 -m venv failed: install python3-venv"; }
  "$tools/bin/pip" install --quiet --disable-pip-version-check --require-hashes \
    -r "$REPO_ROOT/images/mlflow/installer.lock" \
    || { rm -rf "$tools"; die "pip install -r images/mlflow/installer.lock failed (see above)"; }
}

# A virtualenv with a hashed lock and the project itself (editable, no dependencies), made by
# uv: --require-hashes, so every file installed is the one reviewed (scripts/lock.sh); the
# bytecode compiled at install, as pip does, not by the first test run of each process.
install_locked() { # venv lock what
  local venv=$1 lock=$2 what=$3
  rm -rf "$venv"
  python3 -m venv "$venv" || { rm -rf "$venv"; die "python3 -m venv failed: install python3-venv"; }
  "$UV" pip install --quiet --compile-bytecode --python "$venv/bin/python" --require-hashes -r "$lock" \
    || { rm -rf "$venv"; die "installing $lock into $what failed (see above; scripts/lock.sh rewrites it)"; }
  # The project itself: the `stackctl` command, and the shared rules (stackrules/).
  "$UV" pip install --quiet --python "$venv/bin/python" --no-deps -e "$REPO_ROOT" \
    || { rm -rf "$venv"; die "installing the project into $what failed (see above)"; }
}

# The project's virtualenv (.venv, as Pulumi.yaml names it), remade only when its requirements
# change: `ensure_venv runtime` (scripts/up.sh, scripts/pulumi.sh) is content with the program's
# and stackctl's packages (requirements.lock) or the whole development set; `ensure_venv`
# (scripts/test.sh) wants the development set (requirements-dev.lock: the test tools, linters,
# Playwright, the benchmarks' plotting and profiling).
ensure_venv() {
  local want=${1:-dev} venv="$REPO_ROOT/.venv" dev runtime
  dev="$venv/.requirements-dev-$(cat "$REPO_ROOT"/requirements* "$REPO_ROOT/pyproject.toml" | sha256sum | cut -c1-16)"
  runtime="$venv/.requirements-runtime-$(cat "$REPO_ROOT"/requirements.txt "$REPO_ROOT"/requirements.lock "$REPO_ROOT/pyproject.toml" | sha256sum | cut -c1-16)"
  if [ -f "$dev" ] || { [ "$want" = runtime ] && [ -f "$runtime" ]; }; then return 0; fi
  ensure_uv
  if [ "$want" = runtime ]; then
    step "python venv: installing requirements.lock (the program's and stackctl's packages) into .venv"
    install_locked "$venv" "$REPO_ROOT/requirements.lock" .venv && touch "$runtime"
  else
    step "python venv: installing requirements-dev.lock into .venv"
    install_locked "$venv" "$REPO_ROOT/requirements-dev.lock" .venv && touch "$dev"
  fi
}

# The policy pack's own virtualenv (policy/venv, as PulumiPolicy.yaml names it): without it the
# CLI's `--policy-pack` hangs silently, so it is made before any preview or up.
ensure_policy_venv() {
  local venv="$REPO_ROOT/policy/venv" stamp
  stamp="$venv/.requirements-$(cat "$REPO_ROOT"/policy/requirements* "$REPO_ROOT/pyproject.toml" | sha256sum | cut -c1-16)"
  if [ -f "$stamp" ]; then return 0; fi
  ensure_uv
  step "policy pack: installing policy/requirements.lock into policy/venv"
  install_locked "$venv" "$REPO_ROOT/policy/requirements.lock" policy/venv && touch "$stamp"
}

# The Pulumi environment of every script: the CLI and plugins (toolchain/pulumi.sh), a local
# file:// backend and a generated passphrase, no account.
ensure_pulumi_env() {
  local env_file
  env_file="$(bash "$REPO_ROOT/toolchain/pulumi.sh" | tail -n 1)" || die "no usable Pulumi toolchain (see above)"
  # shellcheck disable=SC1090
  source "$env_file"
  ensure_policy_venv
  # The user's own backend when they have one (PULUMI_BACKEND_URL, or a `pulumi login`),
  # else ours: a file:// backend on this host (MKS_OWN_BACKEND=1).
  local login
  login="$(PYTHONPATH="$REPO_ROOT" python3 -m stackrules.local_state --login)"
  MKS_OWN_BACKEND=0
  if [ -n "${PULUMI_BACKEND_URL:-}" ]; then
    :
  elif [ -n "$login" ]; then
    step "pulumi: using your login, $login (set PULUMI_BACKEND_URL to choose another backend)"
  else
    mkdir -p "$MKS_STATE_DIR"
    export PULUMI_BACKEND_URL="file://$MKS_STATE_DIR"
    MKS_OWN_BACKEND=1
  fi
  export MKS_OWN_BACKEND
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
