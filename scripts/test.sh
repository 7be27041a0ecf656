#!/usr/bin/env bash
# The project's test command (README, .ci/run): lint, types and the unit suite first (fast, no
# Docker), then the real suites.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

ensure_venv
PY="$REPO_ROOT/.venv/bin"

step "lint: ruff"
"$PY/ruff" check .
"$PY/ruff" format --check .
step "types: mypy"
"$PY/mypy" components tests __main__.py
step "unit suite (Pulumi mocks, no Docker)"
"$PY/python" -m pytest tests/unit -q
