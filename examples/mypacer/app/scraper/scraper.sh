#!/bin/sh
# The periodic job, as Supercronic would run it: one row in scrape_runs per run.  SIGTERM stops
# it at once (PID 1 has no default handler).
trap 'exit 0' TERM INT
export PGPASSWORD="$POSTGRES_PASSWORD"
while :; do
  psql -q -h "$POSTGRES_HOST" -U "$POSTGRES_USER" -d "$POSTGRES_DB" -c \
    "CREATE TABLE IF NOT EXISTS scrape_runs (at timestamptz DEFAULT now(), version text);
     INSERT INTO scrape_runs (version) VALUES ('$VERSION');" || echo "scrape failed, next run in ${SCRAPER_INTERVAL}s"
  sleep "$SCRAPER_INTERVAL" & wait $!
done
