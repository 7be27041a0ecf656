#!/usr/bin/env bash
# The hostnames of a TLS stack on this machine resolve for every program, not just browsers:
# Chromium resolves *.localhost by itself, but Python's resolver (glibc without
# nss-myhostname) does not. Adds the missing names to /etc/hosts (root), else says how.
#   toolchain/hosts.sh [NAME...]     default: the names of the TLS and ACME test stacks
set -euo pipefail
MKS_SCRIPT=hosts
# shellcheck source=../scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
names=("$@")
[ "${#names[@]}" -gt 0 ] || names=(mlflow.localhost auth.localhost mlflow.acme.test auth.acme.test)
missing=()
for name in "${names[@]}"; do
  getent hosts "$name" >/dev/null || missing+=("$name")
done
[ "${#missing[@]}" -eq 0 ] && exit 0
[ -w /etc/hosts ] \
  || die "${missing[*]} do not resolve. Fix: add '127.0.0.1 ${missing[*]}' to /etc/hosts (or install libnss-myhostname)"
echo "127.0.0.1 ${missing[*]}  # mlflow-keycloak-stack (toolchain/hosts.sh)" >>/etc/hosts
step "${missing[*]} -> 127.0.0.1 in /etc/hosts"
