#!/usr/bin/env bash
# Bring the stack up (default: the dev stack) with no account and no hand-made secret.
#   scripts/up.sh [STACK] [--local-images]
# On a machine that cannot pull the official images (no registry), or with --local-images,
# the stack is pointed at images built here from Debian packages (toolchain/images.sh).
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

ensure_venv
ensure_pulumi_env
docker info >/dev/null 2>&1 || bash toolchain/docker-engine.sh >&2

step "stack: $stack on $PULUMI_BACKEND_URL"
pulumi stack select --create --secrets-provider passphrase "$stack" >&2

image_available() { docker image inspect "$1" >/dev/null 2>&1 || timeout 300 docker pull -q "$1" >/dev/null 2>&1; }
if [ "$local_images" = 0 ]; then
  for image in "$POSTGRES_IMAGE" "$KEYCLOAK_IMAGE" "$PYTHON_BASE_IMAGE"; do
    if ! image_available "$image"; then
      step "images: cannot pull $image; using images built from Debian packages instead"
      local_images=1
      break
    fi
  done
fi
if [ "$local_images" = 1 ]; then
  bash toolchain/images.sh >&2
  pulumi config set postgresImage "$LOCAL_POSTGRES_IMAGE" --stack "$stack"
  pulumi config set keycloakImage "$LOCAL_KEYCLOAK_IMAGE" --stack "$stack"
  pulumi config set mlflowBaseImage "$LOCAL_PYTHON_IMAGE" --stack "$stack"
fi

pulumi up --yes --stack "$stack"
pulumi stack output --stack "$stack"
cat >&2 <<MSG

Signed-in users' one-time passwords:  scripts/pulumi.sh stack output userInitialPasswords --show-secrets --stack $stack
Keycloak admin password:               scripts/pulumi.sh stack output keycloakAdminPassword --show-secrets --stack $stack
Tear down:                             scripts/pulumi.sh destroy --yes --stack $stack
MSG
