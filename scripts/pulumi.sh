#!/usr/bin/env bash
# `pulumi` with this project's environment (CLI, file:// backend, generated passphrase, venv),
# the policy pack on every `up` and `preview`:
#   scripts/pulumi.sh stack output --stack dev
#   scripts/pulumi.sh destroy --stack dev --yes
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
ensure_venv runtime
ensure_pulumi_env
# Every preview and update runs the policy pack (scripts/up.sh does too): an `up` typed by hand
# is judged like the pull request's preview.
case "${1:-}" in
  up | update | preview) exec pulumi "$1" --policy-pack "$REPO_ROOT/policy" "${@:2}" ;;
esac
exec pulumi "$@"
