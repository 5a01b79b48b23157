#!/bin/sh
printf '{"version": "%s", "environment": "%s"}\n' "$VERSION" "${APP_ENV:-unknown}" > /usr/share/nginx/html/version.json
exec "$@"
