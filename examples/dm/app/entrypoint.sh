#!/bin/sh
# DM container entrypoint (like the seed's entrypoint.sh): apply migrations, then
# become the web server (exec: the server is PID 1 and gets docker's SIGTERM).
# With arguments, run them instead (`docker run IMAGE app migrate`, `... app check`).
# MIGRATE_ON_START=0 skips the migrations (a deploy may run `app migrate` itself).
set -e
if [ "$#" -gt 0 ]; then
  exec "$@"
fi
if [ "${MIGRATE_ON_START:-1}" != "0" ]; then
  app migrate
fi
exec app serve
