#!/usr/bin/env bash
# The project's test command: prepare the machine (idempotent), then run pytest.
# Arguments go to pytest, e.g. `bash scripts/test.sh tests/integration -x`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/pytest "$@"
