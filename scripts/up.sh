#!/usr/bin/env bash
# Bring the stack up (default: the dev stack) with no account and no hand-made secret, the
# policy pack on the update.
#   scripts/up.sh [STACK] [--local-images]
# --local-images: for a machine that reaches no container registry, build equivalent images from
# Debian packages (toolchain/images.sh; needs root) and point the stack's config at them.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

stack=dev local_images=${MKS_LOCAL_IMAGES:-0}
for arg in "$@"; do
  case "$arg" in
    --local-images) local_images=1 ;;
    -*) die "unknown option '$arg' (usage: scripts/up.sh [STACK] [--local-images])" ;;
    *) stack=$arg ;;
  esac
done

ensure_venv runtime
ensure_pulumi_env
docker info >/dev/null 2>&1 || bash toolchain/docker-engine.sh >&2

step "stack: $stack on $PULUMI_BACKEND_URL"
# On our file backend the stack's secrets are encrypted with the generated passphrase; on the
# user's own backend, with that backend's default (Pulumi Cloud's service, or a passphrase).
provider=()
[ "$MKS_OWN_BACKEND" != 1 ] || provider=(--secrets-provider passphrase)
pulumi stack select --create "${provider[@]}" "$stack" >&2

if [ "$local_images" = 1 ]; then
  bash toolchain/images.sh >&2
  pulumi config set postgresImage "$LOCAL_POSTGRES_IMAGE" --stack "$stack"
  pulumi config set keycloakImage "$LOCAL_KEYCLOAK_IMAGE" --stack "$stack"
  pulumi config set mlflowBaseImage "$LOCAL_PYTHON_IMAGE" --stack "$stack"
fi

# --refresh: Keycloak and Docker are read first, so a change made by hand is undone, not
# trusted from the state. The policy pack guards every update.
if ! pulumi up --yes --refresh --policy-pack "$REPO_ROOT/policy" --stack "$stack"; then
  die "pulumi up failed (see above). If an image could not be pulled because this machine reaches no container registry, run: scripts/up.sh $stack --local-images"
fi
pulumi stack output --stack "$stack"
# People of a directory or an identity provider are not in the config: offboard who left.
"$REPO_ROOT/.venv/bin/stackctl" --stack "$stack" users reconcile --yes ||
  die "the stack is up, but offboarding (stackctl users reconcile) failed (see above); run it again once fixed"
teardown="scripts/pulumi.sh destroy --yes --stack $stack"
if [ "$(pulumi config get protectData --stack "$stack" 2>/dev/null || echo true)" != false ]; then
  teardown="the data is protected: docs/operations.md, \"Destroying a protected stack\""
fi
# Where to go and who to sign in as: the first person the config declares.
mlflow_url="$(pulumi stack output mlflowUrl --stack "$stack")"
first="$(pulumi config get users --stack "$stack" 2>/dev/null \
  | "$REPO_ROOT/.venv/bin/python" -c 'import json, sys; print(json.load(sys.stdin)[0]["username"])' 2>/dev/null || true)"
signin="The one-time passwords of the people the config declares:"
[ -z "$first" ] || signin="Sign in as $first with the one-time password from:"
cat >&2 <<MSG

Ready: open $mlflow_url (MLflow sends you to Keycloak to sign in).
$signin
  scripts/pulumi.sh stack output userInitialPasswords --show-secrets --stack $stack
Keycloak then asks for a new password; members of requireOtpFor's groups (mlflow-admin by
default) also set up an authenticator app (TOTP) at that first sign-in.
Keycloak admin password:  scripts/pulumi.sh stack output keycloakAdminPassword --show-secrets --stack $stack
Tear down:                $teardown
MSG
