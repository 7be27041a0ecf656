#!/usr/bin/env bash
# The hostnames of a TLS stack on this machine resolve for every program, not just browsers:
# Chromium resolves *.localhost by itself, but Python's resolver (glibc without
# nss-myhostname) does not. Adds the missing names to /etc/hosts (root), else says how.
#   toolchain/hosts.sh [NAME...]     default: the names of the TLS and ACME test stacks
set -euo pipefail
names=("$@")
[ "${#names[@]}" -gt 0 ] || names=(mlflow.localhost auth.localhost mlflow.acme.test auth.acme.test)
missing=()
for name in "${names[@]}"; do
  getent hosts "$name" >/dev/null || missing+=("$name")
done
[ "${#missing[@]}" -eq 0 ] && exit 0
if [ ! -w /etc/hosts ]; then
  echo "error: ${missing[*]} do not resolve; add '127.0.0.1 ${missing[*]}' to /etc/hosts (or install libnss-myhostname)" >&2
  exit 1
fi
echo "127.0.0.1 ${missing[*]}  # mlflow-keycloak-stack (toolchain/hosts.sh)" >>/etc/hosts
echo "==> hosts: ${missing[*]} -> 127.0.0.1 in /etc/hosts" >&2
