#!/bin/sh
# The page is written at start: the environment comes from the container's APP_ENV.
printf 'MyPacer web %s (%s)\n' "$VERSION" "${APP_ENV:-unknown}" > /usr/share/nginx/html/index.html
exec "$@"
