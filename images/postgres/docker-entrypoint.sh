#!/usr/bin/env bash
# Entrypoint with the official postgres image's contract, for Debian's postgresql package:
#   POSTGRES_PASSWORD (required on first start, or POSTGRES_HOST_AUTH_METHOD=trust),
#   POSTGRES_USER (default postgres), POSTGRES_DB (default $POSTGRES_USER),
#   PGDATA (default /var/lib/postgresql/data), POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD
#   (default scram-sha-256), *_FILE variants of the secrets, /docker-entrypoint-initdb.d/*.{sh,sql}.
# An empty data directory is initialised once; afterwards the existing cluster is used as is.
set -euo pipefail

log() { echo "entrypoint: $*" >&2; }
die() { echo "entrypoint: ERROR: $*" >&2; exit 1; }

# VAR or VAR_FILE (docker/pulumi secrets as files), never both.
file_env() {
  local var="$1" default="${2:-}" file_var="${1}_FILE"
  if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
    die "both $var and $file_var are set; set only one"
  fi
  local value="$default"
  if [ -n "${!var:-}" ]; then
    value="${!var}"
  elif [ -n "${!file_var:-}" ]; then
    value="$(<"${!file_var}")"
  fi
  export "$var"="$value"
  unset "$file_var"
}

# The first argument may be a postgres option: `docker run image -c shared_buffers=256MB`.
if [ "${1:0:1}" = '-' ]; then
  set -- postgres "$@"
fi

# Anything other than the server (psql, bash, pg_dump...) runs as asked.
if [ "$1" != postgres ]; then
  exec "$@"
fi

export PGDATA="${PGDATA:-/var/lib/postgresql/data}"

if [ "$(id -u)" = 0 ]; then
  # Volumes arrive owned by root: hand them to postgres, then drop privileges for good.
  mkdir -p "$PGDATA" /var/run/postgresql
  chmod 0700 "$PGDATA"
  chmod 2775 /var/run/postgresql
  find "$PGDATA" /var/run/postgresql \! -user postgres -exec chown postgres:postgres '{}' +
  exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_USER postgres
  file_env POSTGRES_DB "$POSTGRES_USER"
  file_env POSTGRES_INITDB_ARGS
  auth_method="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
  if [ -z "$POSTGRES_PASSWORD" ] && [ "$auth_method" != trust ]; then
    die "the database is uninitialised and POSTGRES_PASSWORD is empty; set POSTGRES_PASSWORD \
(or POSTGRES_PASSWORD_FILE). POSTGRES_HOST_AUTH_METHOD=trust allows no password, for tests only."
  fi

  log "initialising a new cluster in $PGDATA (superuser $POSTGRES_USER)"
  pwfile="$(mktemp)"
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of options, as in the official image.
  initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust \
    --auth-host="$auth_method" $POSTGRES_INITDB_ARGS >&2
  rm -f "$pwfile"
  # Network clients (other containers) authenticate with a password; the socket stays trusted
  # for the health check and for init scripts.
  printf '\n# Added by the image entrypoint: network connections from anywhere.\nhost all all all %s\n' \
    "$auth_method" >>"$PGDATA/pg_hba.conf"
  printf "\n# Added by the image entrypoint: other containers connect over the network.\nlisten_addresses = '*'\n" \
    >>"$PGDATA/postgresql.conf"

  # The one-time setup runs on a server listening only on a private socket: neither clients nor
  # a pg_isready health check can mistake it for the finished database.
  setup_socket="$(mktemp -d)"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories=$setup_socket" \
    -w start >&2
  export PGHOST="$setup_socket"
  psql_setup=(psql -v ON_ERROR_STOP=1 --no-password --no-psqlrc --username "$POSTGRES_USER")
  if [ "$POSTGRES_DB" != postgres ]; then
    "${psql_setup[@]}" --dbname postgres --set db="$POSTGRES_DB" <<'EOSQL' >&2
CREATE DATABASE :"db";
EOSQL
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    [ -e "$f" ] || continue
    case "$f" in
      *.sh) log "running $f"; bash "$f" ;;
      *.sql) log "running $f"; "${psql_setup[@]}" --dbname "$POSTGRES_DB" -f "$f" >&2 ;;
      *) log "ignoring $f" ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop >&2
  unset POSTGRES_PASSWORD PGHOST
  rmdir "$setup_socket"
  log "cluster initialised"
fi

# exec: postgres is PID 1 and gets docker's stop signal itself.
exec "$@"
