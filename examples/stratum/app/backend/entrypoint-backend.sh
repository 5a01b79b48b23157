#!/bin/sh
# Stratum's entrypoint-backend.sh (guide, section 5): migrations first when AUTORUN_MIGRATIONS=true
# (`prisma migrate deploy` in the real image; idempotent), a seed when SEED_ON_START=true, then the app.
set -e
if [ "${AUTORUN_MIGRATIONS:-false}" = "true" ]; then
  stratum-backend migrate
fi
if [ "${SEED_ON_START:-false}" = "true" ]; then
  stratum-backend seed
fi
exec "$@"
