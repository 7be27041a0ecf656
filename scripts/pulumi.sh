#!/usr/bin/env bash
# `pulumi` with this project's environment (CLI, file:// backend, generated passphrase, venv):
#   scripts/pulumi.sh stack output --stack dev
#   scripts/pulumi.sh destroy --stack dev --yes
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
ensure_venv
ensure_pulumi_env
exec pulumi "$@"
