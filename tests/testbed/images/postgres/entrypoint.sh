#!/bin/bash
# Entrypoint of moorage-test/postgres, after the official image's docker-entrypoint.sh:
# - `docker run IMAGE -c shared_buffers=64MB` passes flags to postgres;
# - as root: fix $PGDATA ownership, then re-exec as the postgres user;
# - first start (no $PGDATA/PG_VERSION): initdb with POSTGRES_USER/POSTGRES_PASSWORD,
#   create POSTGRES_DB, run /docker-entrypoint-initdb.d/*.sh|*.sql on a socket-only
#   server (so network clients and `pg_isready -h 127.0.0.1` see nothing until done);
# - finally exec postgres in the foreground: PID 1, gets docker's stop signal.
set -Eeuo pipefail

if [ "${1:0:1}" = '-' ]; then
  set -- postgres "$@"
fi

if [ "$1" != 'postgres' ]; then
  exec "$@"
fi

if [ "$(id -u)" = '0' ]; then
  install -d -m 0700 -o postgres -g postgres "$PGDATA"
  [ "$(stat -c %U "$PGDATA")" = postgres ] || chown -R postgres:postgres "$PGDATA"
  chmod 0700 "$PGDATA"
  install -d -m 3777 -o postgres -g postgres /var/run/postgresql
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$BASH_SOURCE" "$@"
fi

POSTGRES_USER="${POSTGRES_USER:-postgres}"
POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
AUTH="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"

log() { echo "postgres-entrypoint: $*" >&2; }

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$AUTH" != trust ]; then
    cat >&2 <<'MSG'
Error: Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD to a non-empty value for the
       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".
       (Or set POSTGRES_HOST_AUTH_METHOD=trust to allow connections without a password.)
MSG
    exit 1
  fi
  log "initialising $PGDATA (user $POSTGRES_USER, database $POSTGRES_DB)"
  # shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS is a list of flags
  initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "${POSTGRES_PASSWORD:-}") \
         --encoding=UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host="$AUTH" \
         ${POSTGRES_INITDB_ARGS:-} -D "$PGDATA" >/dev/null
  {
    echo "listen_addresses = '*'"
    echo "password_encryption = scram-sha-256"
    echo "jit = off  # the image leaves LLVM out"
  } >>"$PGDATA/postgresql.conf"
  {
    echo '# written by docker-entrypoint.sh'
    echo 'local all all trust'
    echo 'host all all 127.0.0.1/32 trust'
    echo 'host all all ::1/128 trust'
    echo "host all all all $AUTH"
  } >"$PGDATA/pg_hba.conf"

  # a temporary server on the unix socket only
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w -t 60 start >/dev/null
  psql=(psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --no-password)
  if [ "$POSTGRES_DB" != postgres ]; then
    "${psql[@]}" --dbname postgres --set db="$POSTGRES_DB" -q <<'SQL'
CREATE DATABASE :"db";
SQL
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh) log "running $f"; . "$f" ;;
      *.sql) log "running $f"; "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f" ;;
      *.sql.gz) log "running $f"; gunzip -c "$f" | "${psql[@]}" --dbname "$POSTGRES_DB" ;;
      *) if [ -e "$f" ]; then log "ignoring $f"; fi ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  log "init done; ready for start up"
fi

exec "$@"
