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
  hash="$(cat "$REPO_ROOT"/requirements*.txt | sha256sum | cut -c1-16)"
  stamp="$venv/.requirements-$hash"
  if [ -f "$stamp" ]; then return 0; fi
  step "python venv: installing pinned requirements into .venv"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv" || die "python3 -m venv failed: install python3-venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$REPO_ROOT/requirements-dev.txt" \
    || die "pip install -r requirements-dev.txt failed (see above)"
  rm -f "$venv"/.requirements-* && touch "$stamp"
}
