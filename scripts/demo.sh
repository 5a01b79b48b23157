#!/usr/bin/env bash
# The main job, on a fresh Debian machine: prepare it (Docker engine, compose, venv), start a
# local test server, deploy the DM example stack to it with `moorage deploy`, print the URL.
# `bash scripts/demo.sh --down` removes the server.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/python scripts/demo.py "$@"
